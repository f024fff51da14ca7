package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/janus-proxy/janus/bench/internal/loopbacktest"
	"github.com/janus-proxy/janus/bench/internal/procstat"
)

// TestMeasureSeesHeldConnections opens keep-alive connections to an origin
// inside this process: each costs a descriptor on both ends.
func TestMeasureSeesHeldConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, world!\n")
	}))
	defer srv.Close()
	open, cleanup, err := opener("origin", "", srv.Listener.Addr().String(), "/small")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	r, err := measure(procstat.Proc, os.Getpid(), 50, 100*time.Millisecond, open)
	if err != nil {
		t.Fatal(err)
	}
	if r.opened != 50 || r.errors != 0 || r.alive != 50 {
		t.Fatalf("opened=%d errors=%d alive=%d, want 50 open and alive", r.opened, r.errors, r.alive)
	}
	if d := r.loaded.FDs - r.before.FDs; d < 100 {
		t.Errorf("descriptor delta %d, want at least 100 (both ends of 50 connections)", d)
	}
}

// TestMeasureNoticesServerThatClosesIdle is the tinyproxy case: a reply
// without "Connection: close" followed by a close.
func TestMeasureNoticesServerThatClosesIdle(t *testing.T) {
	ln := loopbacktest.Serve(t, func(c net.Conn) {
		loopbacktest.ReadHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	open, cleanup, err := opener("origin", "", ln.Addr().String(), "/small")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	r, err := measure(procstat.Proc, os.Getpid(), 20, 100*time.Millisecond, open)
	if err != nil {
		t.Fatal(err)
	}
	if r.opened != 20 || r.alive != 0 {
		t.Fatalf("opened=%d alive=%d, want 20 opened and none alive", r.opened, r.alive)
	}
}

func TestOpenerRejectsBadFlags(t *testing.T) {
	tests := []struct {
		desc, mode, proxy, target string
	}{
		{desc: "unknown mode", mode: "socks4", proxy: "127.0.0.1:1"},
		{desc: "connect without proxy", mode: "connect"},
		{desc: "http without proxy", mode: "http", target: "127.0.0.1:80"},
		{desc: "http without target", mode: "http", proxy: "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if _, _, err := opener(tt.mode, tt.proxy, tt.target, "/"); err == nil {
				t.Errorf("opener(%q, %q, %q) succeeded, want an error", tt.mode, tt.proxy, tt.target)
			}
		})
	}
}
