package tunnel

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// opaque hides that a connection is a *net.TCPConn (keeping CloseWrite), so
// Join takes its buffer path as it would for a TLS or wrapped connection.
type opaque struct{ *net.TCPConn }

// mode says how the proxy side hands its connections to Join.
type mode struct {
	desc           string
	client, origin func(*net.TCPConn) net.Conn
}

func raw(c *net.TCPConn) net.Conn     { return c }
func wrapped(c *net.TCPConn) net.Conn { return opaque{c} }

var modes = []mode{
	{desc: "splice between two TCP conns", client: raw, origin: raw},
	{desc: "buffer copy between wrapped conns", client: wrapped, origin: wrapped},
	{desc: "buffer copy with a TCP side", client: wrapped, origin: raw},
}

// joined is one tunnel under test: the test holds the client's and the
// origin's ends, Join runs on the proxy's two ends.
type joined struct {
	client *net.TCPConn // the client's socket
	origin *net.TCPConn // the origin's accepted socket
	proxyC *net.TCPConn // proxy side, facing the client
	proxyO *net.TCPConn // proxy side, facing the origin
	done   chan outcome
}

type outcome struct {
	res Result
	err error
}

// connPair returns the two ends of one loopback TCP connection.
func connPair(t testing.TB) (dialed, accepted *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type acc struct {
		c   *net.TCPConn
		err error
	}
	ch := make(chan acc, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ch <- acc{c, err}
	}()
	d, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatal(a.err)
	}
	return d, a.c
}

// startTunnel builds client ⇄ proxy ⇄ origin over loopback and runs Join.
func startTunnel(t testing.TB, m mode, o Options) *joined {
	t.Helper()
	j := &joined{done: make(chan outcome, 1)}
	j.client, j.proxyC = connPair(t)
	j.proxyO, j.origin = connPair(t)
	go func() {
		res, err := Join(m.client(j.proxyC), m.origin(j.proxyO), o)
		j.done <- outcome{res, err}
	}()
	t.Cleanup(func() {
		j.client.Close()
		j.origin.Close()
	})
	return j
}

// wait returns Join's outcome, failing the test after d.
func (j *joined) wait(t testing.TB, d time.Duration) outcome {
	t.Helper()
	select {
	case o := <-j.done:
		return o
	case <-time.After(d):
		t.Fatalf("Join did not return within %v", d)
	}
	return outcome{}
}

// checkGoroutines fails if the goroutine count does not come back to the
// count before the test, within a bounded wait.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// naiveJoin is the tunnel PERFORMANCE.md warns about: two io.Copy calls
// between *net.TCPConn reach splice through TCPConn.ReadFrom, and each
// blocked call holds a splice pipe. Kept here as the baseline.
func naiveJoin(client, origin *net.TCPConn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(client, origin)
		client.CloseWrite()
	}()
	io.Copy(origin, client)
	origin.CloseWrite()
	wg.Wait()
	client.Close()
	origin.Close()
}
