package socks

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
	"github.com/janus-proxy/janus/internal/sniff"
)

// hostsOnly resolves localhost and nothing else, so that random input can
// never send a query off this machine.
type hostsOnly struct{}

func (hostsOnly) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host == "localhost" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// loopbackOnly is a gate that lets nothing leave loopback.
func loopbackOnly() *gate.Gate {
	return &gate.Gate{Policy: &gate.Policy{Rules: []gate.Rule{
		{Name: "loopback", Allow: true, Dests: addrsetLoopback()},
	}}}
}

func TestHandshakeTimeoutBoundsTheWholeHandshake(t *testing.T) {
	checkLeaks(t)
	const limit = 300 * time.Millisecond
	ts := startServer(t, Options{Gate: loopbackOnly(), Dialer: &outbound.Dialer{Resolver: hostsOnly{}},
		AllowSOCKS5: true, AllowSOCKS4: true, HandshakeTimeout: limit})
	long := append(append([]byte{5, 1, 0, 3, 200}, bytes.Repeat([]byte{'a'}, 200)...), 0, 80)
	for _, tc := range []struct {
		desc    string
		first   []byte // sent at once
		trickle []byte // then one byte every 50ms
	}{
		{desc: "version byte then silence", first: []byte{5}},
		{desc: "greeting then silence", first: []byte{5, 1, 0}},
		{desc: "socks4 without the userid NUL", first: []byte{4, 1, 0, 80, 127, 0, 0, 1, 'u'}},
		{desc: "request trickled a byte at a time", first: []byte{5, 1, 0}, trickle: long},
		{desc: "socks4 userid trickled", first: []byte{4, 1, 0, 80, 127, 0, 0, 1}, trickle: bytes.Repeat([]byte{'u'}, 100)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			start := time.Now()
			if _, err := c.Write(tc.first); err != nil {
				t.Fatal(err)
			}
			go func() {
				for _, b := range tc.trickle {
					time.Sleep(50 * time.Millisecond)
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
				}
			}()
			expectClosed(t, c, 3*time.Second)
			if d := time.Since(start); d < limit-50*time.Millisecond || d > limit+time.Second {
				t.Fatalf("closed after %s, want about %s", d, limit)
			}
			e := ts.access.wait(t, func(e *observe.Entry) bool { return e.Client == netip.MustParseAddrPort(c.LocalAddr().String()) })
			if !strings.Contains(e.Error, "timeout") {
				t.Fatalf("entry error %q does not say timeout", e.Error)
			}
		})
	}
}

func TestGarbageClosesTheConnectionWithoutLeaks(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Options{Gate: loopbackOnly(), Dialer: &outbound.Dialer{Resolver: hostsOnly{}},
		AllowSOCKS5: true, AllowSOCKS4: true, HandshakeTimeout: time.Second})
	authTS := startServer(t, Options{Gate: &gate.Gate{AuthRequired: true, Users: newUsers(t, "a", "b")},
		Dialer: &outbound.Dialer{Resolver: hostsOnly{}}, AllowSOCKS5: true, HandshakeTimeout: time.Second})
	cases := []struct {
		desc string
		srv  *testServer
		in   []byte
	}{
		{desc: "zero methods", srv: ts, in: []byte{5, 0}},
		{desc: "http after the greeting", srv: ts, in: []byte("\x05\x01\x00GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{desc: "request with socks4 version", srv: ts, in: []byte{5, 1, 0, 4, 1, 0, 1, 127, 0, 0, 1, 0, 80}},
		{desc: "socks4 userid of 1000 bytes", srv: ts, in: append([]byte{4, 1, 0, 80, 127, 0, 0, 1}, bytes.Repeat([]byte{'u'}, 1000)...)},
		{desc: "socks4a name of 1000 bytes", srv: ts, in: append([]byte{4, 1, 0, 80, 0, 0, 0, 1, 0}, bytes.Repeat([]byte{'h'}, 1000)...)},
		{desc: "user/password with socks5 version", srv: authTS, in: []byte{5, 1, 2, 5, 1, 'a', 1, 'b'}},
		{desc: "user/password truncated", srv: authTS, in: []byte{5, 1, 2, 1, 200, 'a'}},
		{desc: "all 255 methods then junk", srv: ts, in: append(append([]byte{5, 255}, bytes.Repeat([]byte{0}, 255)...), 0xde, 0xad)},
	}
	// Random input with a SOCKS first byte, the same every run.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100; i++ {
		in := make([]byte, 1+rng.IntN(64))
		for j := range in {
			in[j] = byte(rng.IntN(256))
		}
		in[0] = 4 + byte(i%2)
		cases = append(cases, struct {
			desc string
			srv  *testServer
			in   []byte
		}{desc: "random", srv: ts, in: in})
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			c := dialRaw(t, tc.srv.addr)
			if _, err := c.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			// The client is done talking; whatever it sent must end the
			// session (a random request may even have succeeded).
			_ = c.(*net.TCPConn).CloseWrite()
			expectClosed(t, c, 3*time.Second)
		})
	}
}

func TestBytesSentWithTheRequestReachTheOrigin(t *testing.T) {
	checkLeaks(t)
	echo := tcpEcho(t, "tcp", "127.0.0.1:0")
	ts := startServer(t, Options{Gate: &gate.Gate{}, AllowSOCKS5: true, AllowSOCKS4: true})
	for _, tc := range []struct {
		desc  string
		hello []byte
		reply int // bytes of handshake replies before the echo
	}{
		{desc: "socks5", hello: mustRequest(t, AppendGreeting(nil, MethodNoAuth), Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(echo.AddrPort())}), reply: 2 + 10},
		{desc: "socks4", hello: mustRequest4(t, Request4{Cmd: CmdConnect, Addr: AddrFromAddrPort(echo.AddrPort())}), reply: 8},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			// Optimistic data in the same segment as the handshake (as Tor
			// and some clients send it).
			if _, err := c.Write(append(tc.hello, "early bytes"...)); err != nil {
				t.Fatal(err)
			}
			_ = c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < tc.reply || string(got[tc.reply:]) != "early bytes" {
				t.Fatalf("got % x", got)
			}
			e := ts.access.wait(t, func(e *observe.Entry) bool { return e.Client == netip.MustParseAddrPort(c.LocalAddr().String()) })
			if e.BytesUp != int64(len("early bytes")) || e.BytesDown != e.BytesUp {
				t.Fatalf("entry %+v", e)
			}
		})
	}
}

func mustRequest(t *testing.T, b []byte, req Request) []byte {
	t.Helper()
	b, err := AppendRequest(b, req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRequest4(t *testing.T, req Request4) []byte {
	t.Helper()
	b, err := AppendRequest4(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// panicDialer stands in for a bug below the face.
type panicDialer struct{ *outbound.Dialer }

func (panicDialer) DialTCP(context.Context, string, uint16, outbound.Check) (*net.TCPConn, error) {
	panic("dialer bug")
}

func TestPanicInASessionIsRecoveredAndLogged(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Options{Gate: &gate.Gate{}, Dialer: panicDialer{&outbound.Dialer{Resolver: hostsOnly{}}}, AllowSOCKS5: true})
	c := dialRaw(t, ts.addr)
	if _, err := c.Write(mustRequest(t, AppendGreeting(nil, MethodNoAuth), Request{Cmd: CmdConnect, Addr: Addr{Name: "localhost", Port: 1}})); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c, 2*time.Second)
	e := ts.access.wait(t, func(*observe.Entry) bool { return true })
	if !strings.Contains(e.Error, "dialer bug") || !strings.Contains(ts.logs.String(), "panic") {
		t.Fatalf("entry %+v; log %s", e, ts.logs.String())
	}
}

func TestShutdownClosesNewConnectionsAndKeepsTunnels(t *testing.T) {
	checkLeaks(t)
	echo := tcpEcho(t, "tcp", "127.0.0.1:0")
	srv := New(Options{Gate: &gate.Gate{}, Dialer: &outbound.Dialer{Resolver: hostsOnly{}}, AllowSOCKS5: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serve := func() chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, sc, err := sniff.Sniff(c, time.Second)
			if err != nil {
				c.Close()
				return
			}
			srv.ServeConn(sc)
		}()
		return done
	}
	first := serve()
	c := dialRaw(t, ln.Addr().String())
	if rep, _ := handshake5(t, c, Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(echo.AddrPort())}); rep != ReplySucceeded {
		t.Fatalf("reply %v", rep)
	}
	srv.Shutdown()
	echoThrough(t, c) // the tunnel in flight still works
	second := serve()
	c2 := dialRaw(t, ln.Addr().String())
	_, _ = c2.Write(AppendGreeting(nil, MethodNoAuth))
	expectClosed(t, c2, 2*time.Second)
	<-second
	c.Close()
	<-first
}

func TestTunnelIdleEndsAQuietTunnel(t *testing.T) {
	checkLeaks(t)
	echo := tcpEcho(t, "tcp", "127.0.0.1:0")
	ts := startServer(t, Options{Gate: &gate.Gate{}, AllowSOCKS5: true, TunnelIdle: 300 * time.Millisecond})
	c := dialRaw(t, ts.addr)
	if rep, _ := handshake5(t, c, Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(echo.AddrPort())}); rep != ReplySucceeded {
		t.Fatalf("reply %v", rep)
	}
	echoThrough(t, c)
	start := time.Now()
	expectClosed(t, c, 3*time.Second)
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("closed after %s, before the idle limit", d)
	}
	e := ts.access.wait(t, func(*observe.Entry) bool { return true })
	if !strings.Contains(e.Error, "idle") || e.BytesUp != 4 || e.BytesDown != 4 {
		t.Fatalf("entry %+v", e)
	}
}
