package main

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/bench/internal/loopbacktest"
	"github.com/janus-proxy/janus/bench/internal/proxyclient"
)

// origin answers one request per connection and closes, like nginx with
// "Connection: close".
func origin(t *testing.T, reply string) net.Listener {
	return loopbacktest.Serve(t, func(c net.Conn) {
		if loopbacktest.ReadHead(c) {
			io.WriteString(c, reply)
		}
	})
}

func TestRunCountsOnlyCompleteExchanges(t *testing.T) {
	tests := []struct {
		desc      string
		reply     string
		wantOK    bool
		wantError string
	}{
		{desc: "200 and close counts", reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", wantOK: true},
		{desc: "404 is an error", reply: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", wantError: "not 200"},
		{desc: "close without reply is an error", reply: "", wantError: "closed before any reply"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ln := origin(t, tt.reply)
			target := ln.Addr().(*net.TCPAddr).AddrPort()
			r := run(config{
				dialer:  proxyclient.Dialer{Mode: proxyclient.Direct, Target: target},
				request: []byte("GET /small HTTP/1.1\r\nHost: " + target.String() + "\r\nConnection: close\r\n\r\n"),
				workers: 4,
				warmup:  50 * time.Millisecond,
				dur:     200 * time.Millisecond,
			})
			if tt.wantOK && (r.ok == 0 || r.errors != 0) {
				t.Fatalf("ok=%d errors=%d %v, want only successes", r.ok, r.errors, r.samples)
			}
			if tt.wantOK && (r.p50 <= 0 || r.p99 < r.p50 || r.max < r.p99) {
				t.Errorf("latencies p50=%v p99=%v max=%v, want 0 < p50 <= p99 <= max", r.p50, r.p99, r.max)
			}
			if tt.wantError != "" {
				if r.ok != 0 || r.errors == 0 || !strings.Contains(r.samples[0].Error(), tt.wantError) {
					t.Fatalf("ok=%d errors=%d %v, want only errors saying %q", r.ok, r.errors, r.samples, tt.wantError)
				}
				if len(r.samples) > 5 {
					t.Errorf("kept %d error samples, want at most 5", len(r.samples))
				}
			}
			ln.Close()
			waitGoroutines(t, before)
		})
	}
}

// waitGoroutines fails if goroutines started by the test outlive it.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > want {
		t.Errorf("%d goroutines left, want %d", n, want)
	}
}
