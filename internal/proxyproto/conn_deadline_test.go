package proxyproto

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConnTimesOutOnASilentPeer(t *testing.T) {
	checkGoroutines(t)
	cases := []struct {
		desc string
		opts Options
		from string
		send string
	}{
		{desc: "trusted, nothing sent", opts: Options{Trusted: trustLoopback, Required: true}, from: "127.0.0.1"},
		{desc: "trusted, half a v1 line", opts: Options{Trusted: trustLoopback}, from: "127.0.0.1", send: "PROXY TCP4 1.2"},
		{desc: "trusted, v2 fixed part only", opts: Options{Trusted: trustLoopback}, from: "127.0.0.1",
			send: mustV2(t, Header{Command: Proxy, Source: ap("192.0.2.1:1"), Destination: ap("192.0.2.2:2")})[:16]},
		{desc: "untrusted, nothing sent", opts: Options{Trusted: trustLoopback}, from: "127.0.0.2"},
		{desc: "untrusted, a signature prefix", opts: Options{Trusted: trustLoopback}, from: "127.0.0.2", send: "\r\n\r\n"},
	}
	const timeout = 150 * time.Millisecond
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			p := dialPair(t, tc.from)
			if tc.send != "" {
				_, _ = p.client.Write([]byte(tc.send))
			}
			tc.opts.Timeout = timeout
			start := time.Now()
			_, err := Accept(p.server, tc.opts)
			d := time.Since(start)
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Accept = %v, want ErrTimeout wrapping the deadline", err)
			}
			if d < timeout || d > timeout+2*time.Second {
				t.Errorf("timed out after %v, want about %v", d, timeout)
			}
			if !strings.Contains(err.Error(), "bytes received") {
				t.Errorf("error %q does not say how much arrived", err)
			}
		})
	}
}

// The handshake's own deadline must neither outlast an earlier one the
// caller set nor erase the caller's after the header.
func TestConnKeepsTheCallersReadDeadline(t *testing.T) {
	t.Run("an earlier caller deadline cuts the header wait", func(t *testing.T) {
		p := dialPair(t, "127.0.0.1")
		pc := NewConn(p.server, Options{Trusted: trustLoopback, Timeout: 10 * time.Second})
		_ = pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		start := time.Now()
		_, err := pc.Read(make([]byte, 10))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %v, want a deadline error", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the header wait took %v, past the caller's deadline", d)
		}
	})
	t.Run("the caller's deadline applies again after the header", func(t *testing.T) {
		p := dialPair(t, "127.0.0.1")
		pc := NewConn(p.server, Options{Trusted: trustLoopback, Timeout: 10 * time.Second})
		_ = pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _ = p.client.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nab"))
		if got := readN(t, pc, 2); got != "ab" {
			t.Fatalf("read %q", got)
		}
		_ = pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		start := time.Now()
		if _, err := pc.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %v, want the caller's deadline", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Read waited %v", d)
		}
	})
	t.Run("a deadline set during the handshake is kept", func(t *testing.T) {
		p := dialPair(t, "127.0.0.1")
		pc := NewConn(p.server, Options{Trusted: trustLoopback, Timeout: 10 * time.Second})
		done := make(chan error, 1)
		go func() {
			_, err := pc.Header()
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // the handshake is waiting
		_ = pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		select {
		case err := <-done:
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("Header = %v, want ErrTimeout", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a deadline set during the handshake did not interrupt it")
		}
	})
}
