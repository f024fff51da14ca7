// Package janustest is the kit for Janus's end-to-end tests: loopback
// origins that report what they received, a Janus started in-process from a
// YAML string, access-log capture, external-program checks and leak checks.
package janustest

import (
	"bytes"
	"encoding/json"
	"github.com/janus-proxy/janus/internal/testenv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// RequireExternal returns the path of an external program the test needs.
// When it is missing the test is skipped, or fails under
// JANUS_REQUIRE_EXTERNAL=1 (CI installs every such program).
func RequireExternal(t testing.TB, name string) string {
	t.Helper()
	return testenv.RequireExternal(t, name)
}

// Seen is what an echo origin received, as it returns it in JSON.
type Seen struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Host    string      `json:"host"`
	Proto   string      `json:"proto"`
	Header  http.Header `json:"header"`
	Body    string      `json:"body"`
	Trailer http.Header `json:"trailer"`
	Remote  string      `json:"remote"`
}

// EchoHandler answers every request with a JSON Seen describing it.
func EchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := Seen{Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Proto: r.Proto, Header: r.Header, Body: string(body), Trailer: r.Trailer, Remote: r.RemoteAddr}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
}

// EchoOrigin starts an HTTP origin on 127.0.0.1 that echoes requests.
func EchoOrigin(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(EchoHandler())
	t.Cleanup(srv.Close)
	return srv
}

// DecodeSeen reads an echo origin's answer.
func DecodeSeen(t testing.TB, r io.Reader) Seen {
	t.Helper()
	var s Seen
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		t.Fatalf("decode echo answer: %v", err)
	}
	return s
}

// LogBuffer collects access-log lines written by Janus; safe for concurrent
// use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Lines returns the JSON access-log lines written so far, decoded.
func (b *LogBuffer) Lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(b.buf.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// String returns everything written.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CheckGoroutines fails the test if, after the test's cleanups, more
// goroutines run than before it started (allowing a bounded settle time).
// Call it first in a test so its check runs last.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	testenv.CheckGoroutines(t)
}

// OpenFDs counts this process's open file descriptors (Linux).
func OpenFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}
