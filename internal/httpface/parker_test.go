package httpface

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// keepAliveClient is a raw client connection that sent one request.
type keepAliveClient struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, proxy string) *keepAliveClient {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAliveClient{c: c, br: bufio.NewReader(c)}
}

func (k *keepAliveClient) get(t *testing.T, origin string) {
	t.Helper()
	k.c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(k.c, "GET http://%s/small HTTP/1.1\r\nHost: %s\r\n\r\n", origin, origin)
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello, world!\n" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func TestParkedConnectionsHoldNoGoroutineAndResume(t *testing.T) {
	checkNoLeaks(t)
	origin := tinyOrigin(t)
	p := startParkedProxy(t, Options{})
	before := runtime.NumGoroutine()
	const n = 50
	clients := make([]*keepAliveClient, n)
	for i := range clients {
		clients[i] = dialKeepAlive(t, p.addr)
		clients[i].get(t, origin)
	}
	// After parkAfter, the connections' goroutines are gone.
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before %d idle connections, %d after", before, n, runtime.NumGoroutine())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.srv.Active() != n || p.done.get() != 0 {
		t.Fatalf("active %d, done %d", p.srv.Active(), p.done.get())
	}
	// Each wakes up for its next request, and parks again.
	for round := 0; round < 2; round++ {
		for _, k := range clients {
			k.get(t, origin)
		}
		time.Sleep(parkAfter + 100*time.Millisecond)
	}
	for _, k := range clients {
		k.c.Close()
	}
	waitFor(t, func() bool { return p.done.get() == n && p.srv.Active() == 0 })
}

func TestParkedConnectionExpiresAtIdleTimeout(t *testing.T) {
	origin := tinyOrigin(t)
	p := startParkedProxy(t, Options{IdleTimeout: 700 * time.Millisecond})
	k := dialKeepAlive(t, p.addr)
	k.get(t, origin)
	start := time.Now()
	k.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := k.br.ReadByte(); err != io.EOF {
		t.Fatalf("read: %v, want EOF", err)
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 700*time.Millisecond+sweepEvery+500*time.Millisecond {
		t.Fatalf("closed after %v", d)
	}
	waitFor(t, func() bool { return p.done.get() == 1 })
}

func TestShutdownClosesParkedConnections(t *testing.T) {
	origin := tinyOrigin(t)
	p := startParkedProxy(t, Options{})
	k := dialKeepAlive(t, p.addr)
	k.get(t, origin)
	time.Sleep(parkAfter + 100*time.Millisecond)
	start := time.Now()
	p.srv.Shutdown()
	k.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := k.br.ReadByte(); err != io.EOF {
		t.Fatalf("read: %v, want EOF", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("closed after %v", time.Since(start))
	}
	waitFor(t, func() bool { return p.done.get() == 1 })
}

func TestParkedClientThatLeavesIsClosed(t *testing.T) {
	origin := tinyOrigin(t)
	p := startParkedProxy(t, Options{})
	k := dialKeepAlive(t, p.addr)
	k.get(t, origin)
	time.Sleep(parkAfter + 100*time.Millisecond)
	k.c.Close()
	waitFor(t, func() bool { return p.done.get() == 1 && p.srv.Active() == 0 })
}

func TestParkedServerServesEverythingElseAsBefore(t *testing.T) {
	// A short run of the main behaviours on a parked server: keep-alive,
	// CONNECT, bodies.
	origin := echoOrigin(t)
	p := startParkedProxy(t, Options{})
	cl := p.client(t)
	for i := 0; i < 3; i++ {
		resp, err := cl.Post(origin.URL+"/?size=100000", "text/plain", bytesReader(200000))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 100000 || resp.Header.Get("X-Body-Len") != "200000" {
			t.Fatalf("%d bytes, origin saw %s", len(b), resp.Header.Get("X-Body-Len"))
		}
		time.Sleep(parkAfter + 50*time.Millisecond)
	}
	tunnel := rawOrigin(t, func(c net.Conn) { io.Copy(c, c) })
	k := dialKeepAlive(t, p.addr)
	fmt.Fprintf(k.c, "CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\nping", tunnel)
	resp, err := http.ReadResponse(k.br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(k.br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
}
