package observe

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleEntry() *Entry {
	return &Entry{
		Time:      time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC),
		Listener:  "proxy",
		Client:    netip.MustParseAddrPort("127.0.0.1:5555"),
		User:      "alice",
		Protocol:  "http",
		Method:    "GET",
		Target:    "http://127.0.0.1:9000/x",
		Status:    200,
		BytesUp:   10,
		BytesDown: 1234,
		Duration:  1500 * time.Microsecond,
		Rule:      "local#1",
		UserAgent: "curl/7.88",
	}
}

func TestJSONAccessLogHasEveryField(t *testing.T) {
	var buf bytes.Buffer
	out := NewOutput(&buf)
	NewAccessLog(FormatJSON, out).Log(sampleEntry())
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"msg": "access", "listener": "proxy", "client": "127.0.0.1:5555", "user": "alice", "proto": "http",
		"method": "GET", "target": "http://127.0.0.1:9000/x", "status": float64(200), "bytes_up": float64(10),
		"bytes_down": float64(1234), "duration_ms": 1.5, "rule": "local#1", "error": "", "user_agent": "curl/7.88",
		"time": "2026-11-25T20:00:00Z",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
		}
	}
	if _, ok := m["level"]; ok {
		t.Error("access log lines carry no level")
	}
}

func TestCombinedAccessLog(t *testing.T) {
	var buf bytes.Buffer
	out := NewOutput(&buf)
	e := sampleEntry()
	e.UserAgent = `evil" agent`
	NewAccessLog(FormatCombined, out).Log(e)
	_ = out.Flush()
	want := `127.0.0.1 - alice [25/Nov/2026:20:00:00 +0000] "GET http://127.0.0.1:9000/x HTTP/1.1" 200 1234 "-" "evil\x22\x20agent" proto=http up=10 ms=1.500 listener=proxy rule=local#1` + "\n"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
}

func TestOutputReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	out, err := OpenOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	l := NewAccessLog(FormatCombined, out)
	l.Log(sampleEntry())
	_ = out.Flush()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := out.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Log(sampleEntry())
	_ = out.Close()
	for _, p := range []string{path, path + ".1"} {
		data, err := os.ReadFile(p)
		if err != nil || strings.Count(string(data), "\n") != 1 {
			t.Errorf("%s: %q, %v: want one line", p, data, err)
		}
	}
}

func TestOutputFlushesOnItsOwn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	out, err := OpenOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	_, _ = out.Write([]byte("line\n"))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if data, _ := os.ReadFile(path); string(data) == "line\n" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("buffered line never reached the file")
}
