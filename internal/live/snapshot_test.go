package live

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestRecentListsKeepTheLastNewestFirst(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now, Recent: 5, Tail: 8})
	for i := range 20 {
		e := fwd("http://h"+strconv.Itoa(i)+"/", 200, 1, 1, time.Millisecond)
		switch i % 3 {
		case 1:
			e.Status, e.Denied, e.Rule, e.Error = 403, true, "r1", "refused by rule r1"
		case 2:
			e.Status, e.Error = 502, "dial: refused"
		}
		l.Log(e)
	}
	s := l.Snapshot()
	targets := func(rs []Record) (out []string) {
		for _, r := range rs {
			out = append(out, r.Target)
		}
		return out
	}
	for _, tc := range []struct {
		desc string
		got  []Record
		want []int
	}{
		{"tail", s.Tail, []int{19, 18, 17, 16, 15, 14, 13, 12}},
		// A denial is not also an error, though the entry carries one.
		{"denials", s.RecentDenials, []int{19, 16, 13, 10, 7}},
		{"errors", s.RecentErrors, []int{17, 14, 11, 8, 5}},
	} {
		var want []string
		for _, i := range tc.want {
			want = append(want, "http://h"+strconv.Itoa(i)+"/")
		}
		if got := targets(tc.got); !equal(got, want) {
			t.Errorf("%s: %q, want %q", tc.desc, got, want)
		}
	}
	if r := s.RecentDenials[0]; r.Rule != "r1" || !r.Denied || r.Class != "4xx" || r.Client != testClient {
		t.Errorf("denial record %+v", r)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSnapshotJSONShape pins the field names the dashboard and the admin
// API read, against testdata/snapshot.json (go test -update rewrites it).
// The series are cut to their last three points to keep the file readable.
func TestSnapshotJSONShape(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now, TopN: 2, Recent: 2, Tail: 2})
	e := fwd("example.com:443", 200, 300, 4000, time.Minute)
	e.Protocol, e.Method, e.User, e.Rule = "connect", "CONNECT", "alice", "office#1"
	l.Log(e)
	d := fwd("http://10.0.0.1/", 403, 0, 0, time.Millisecond)
	d.Denied, d.Rule, d.UserAgent = true, "no-private", "curl/8"
	l.Log(d)
	q := fwd("http://example.org/", 429, 0, 0, time.Millisecond)
	q.Denied, q.Limited, q.Rule, q.User = true, true, "per-user", "bob"
	l.Log(q)
	r := rev(502, 0, 3*time.Millisecond)
	r.Error = "upstream app: connection refused"
	l.Log(r)
	c.Add(1500 * time.Millisecond)

	s := l.Snapshot()
	for k, f := range s.Faces {
		cut := func(xs []int64) []int64 { return xs[len(xs)-3:] }
		f.Series.Start += int64(f.Series.Len - 3)
		f.Series.Len = 3
		f.Series.Requests, f.Series.BytesIn, f.Series.BytesOut = cut(f.Series.Requests), cut(f.Series.BytesIn), cut(f.Series.BytesOut)
		f.Series.Errors, f.Series.Denied = cut(f.Series.Errors), cut(f.Series.Denied)
		for c, col := range f.Series.Classes {
			f.Series.Classes[c] = cut(col)
		}
		s.Faces[k] = f
	}
	got, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "snapshot.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("snapshot JSON differs from %s (run with -update after checking):\n%s", path, got)
	}
}

func TestEventJSONShape(t *testing.T) {
	l := New(Options{Now: newFakeClock().Now})
	ch, cancel := l.Subscribe(Filter{})
	defer cancel()
	l.Log(fwd("http://a/", 200, 1, 2, 1500*time.Microsecond))
	ev := <-ch
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"entry","entry":{"time":"` + t0.Format(time.RFC3339) + `","listener":"proxy","face":"forward","client":"127.0.0.9:40000","protocol":"http","method":"GET","target":"http://a/","status":200,"class":"2xx","bytes_in":1,"bytes_out":2,"duration_ms":1.5}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(Event{Type: "tick", Tick: &Tick{Time: t0, Faces: map[string]TickFace{}}})
	if want := `{"type":"tick","tick":{"time":"` + t0.Format(time.RFC3339) + `","faces":{}}}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
