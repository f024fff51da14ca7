package http1

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// loopbackPair returns the two ends of a real loopback TCP connection.
func loopbackPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return c.(*net.TCPConn), r.c.(*net.TCPConn)
}

func TestPoolReusesMostRecentConnection(t *testing.T) {
	var p Pool
	defer p.Close()
	c1, _ := loopbackPair(t)
	c2, _ := loopbackPair(t)
	a := NewClientConn(c1, "origin:80")
	b := NewClientConn(c2, "origin:80")
	if !p.Put(a) || !p.Put(b) {
		t.Fatal("Put refused a healthy connection")
	}
	if got := p.Get([]byte("origin:80")); got != b || !got.Reused {
		t.Fatalf("Get returned %p (reused=%v), want the most recent %p", got, got != nil && got.Reused, b)
	}
	if got := p.Get([]byte("other:80")); got != nil {
		t.Fatal("Get returned a connection for another key")
	}
	if p.Len() != 1 {
		t.Fatalf("Len = %d", p.Len())
	}
}

func TestPoolDiscardsConnectionsTheOriginClosed(t *testing.T) {
	var p Pool
	defer p.Close()
	c, s := loopbackPair(t)
	p.Put(NewClientConn(c, "k"))
	s.Close()
	// The FIN travels over loopback; give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if got := p.Get([]byte("k")); got != nil {
			p.Put(got) // not seen yet; put back and retry
			continue
		}
		return
	}
	t.Fatal("a connection closed by the origin was handed out")
}

func TestPoolDiscardsConnectionsWithUnexpectedBytes(t *testing.T) {
	var p Pool
	defer p.Close()
	c, s := loopbackPair(t)
	p.Put(NewClientConn(c, "k"))
	if _, err := s.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := p.Get([]byte("k")); got != nil {
		t.Fatal("a connection with unsolicited bytes was handed out")
	}
}

func TestPoolKeepsAtMostMaxIdlePerKey(t *testing.T) {
	p := Pool{MaxIdlePerKey: 2}
	defer p.Close()
	var conns []*ClientConn
	for i := 0; i < 3; i++ {
		c, _ := loopbackPair(t)
		conns = append(conns, NewClientConn(c, "k"))
		p.Put(conns[i])
	}
	if p.Len() != 2 {
		t.Fatalf("Len = %d, want 2", p.Len())
	}
	// The oldest went.
	if _, err := conns[0].Conn.Write([]byte("x")); err == nil {
		t.Fatal("the evicted connection is still open")
	}
}

func TestPoolRefusesConnectionsWithBufferedBytes(t *testing.T) {
	var p Pool
	defer p.Close()
	c, s := loopbackPair(t)
	cc := NewClientConn(c, "k")
	s.Write([]byte("extra"))
	if err := cc.R.Fill(); err != nil {
		t.Fatal(err)
	}
	if p.Put(cc) {
		t.Fatal("Put kept a connection with unread bytes")
	}
}

func TestPoolExpiresIdleConnections(t *testing.T) {
	p := Pool{IdleTimeout: 50 * time.Millisecond}
	defer p.Close()
	c, _ := loopbackPair(t)
	p.Put(NewClientConn(c, "k"))
	time.Sleep(80 * time.Millisecond)
	if got := p.Get([]byte("k")); got != nil {
		t.Fatal("an expired connection was handed out")
	}
}

func TestPoolSweeperClosesExpiredAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	p := Pool{IdleTimeout: 100 * time.Millisecond}
	c, s := loopbackPair(t)
	p.Put(NewClientConn(c, "k"))
	// The sweeper runs at least every second; the origin sees the close.
	s.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("origin read: %v, want EOF from the sweeper's close", err)
	}
	waitGoroutines(t, before)
	p.Close()
}

func TestPoolCloseClosesIdleAndLaterPuts(t *testing.T) {
	var p Pool
	c1, s1 := loopbackPair(t)
	p.Put(NewClientConn(c1, "k"))
	p.Close()
	s1.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := s1.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection not closed: %v", err)
	}
	c2, _ := loopbackPair(t)
	if p.Put(NewClientConn(c2, "k")) {
		t.Fatal("Put after Close kept the connection")
	}
}

func TestReaderFillIdleHoldsNoBufferWhileWaiting(t *testing.T) {
	c, s := loopbackPair(t)
	var r Reader
	r.Reset(c)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	r.SetRawConn(rc)
	done := make(chan error, 1)
	go func() { done <- r.FillIdle() }()
	time.Sleep(50 * time.Millisecond)
	s.Write([]byte("GET / HTTP/1.1\r\n"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(r.Bytes()) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("read %q", r.Bytes())
	}
	// A deadline ends the wait, and no buffer is left behind.
	r.Discard(r.Buffered())
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if err := r.FillIdle(); err == nil {
		t.Fatal("FillIdle ignored the deadline")
	}
	if r.buf != nil {
		t.Fatal("a buffer is held after an idle wait ended")
	}
	c.SetReadDeadline(time.Time{})
	s.Close()
	if err := r.FillIdle(); err != io.EOF {
		t.Fatalf("at close: %v, want io.EOF", err)
	}
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), want, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
