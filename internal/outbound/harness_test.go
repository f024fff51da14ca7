package outbound

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingListener accepts on addr (port 0 for any) and counts connections.
type countingListener struct {
	ln       *net.TCPListener
	accepted atomic.Int64
}

func listenCounting(t *testing.T, addr netip.AddrPort) *countingListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	cl := &countingListener{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return cl
}

func (cl *countingListener) addrPort() netip.AddrPort {
	return cl.ln.Addr().(*net.TCPAddr).AddrPort()
}

// closedPort returns a port on 127.0.0.1 where nothing listens: connecting
// is refused at once.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	ln.Close()
	return port
}

// blackhole makes ip:port (port 0 for any) a listener whose accept queue is
// full, so the kernel drops further SYNs and a connect there hangs until it
// times out: a silent origin, on loopback. It returns the port.
func blackhole(t *testing.T, ip netip.Addr, port uint16) uint16 {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: ip.As4(), Port: int(port)}); err != nil {
		t.Fatalf("bind %s:%d: %v", ip, port, err)
	}
	// Backlog 0: one connection fills the accept queue.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port = uint16(sa.(*syscall.SockaddrInet4).Port)
	addr := netip.AddrPortFrom(ip, port).String()
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return port // the queue is full: SYNs are dropped now
			}
			t.Fatalf("filling %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("could not fill the accept queue of %s", addr)
	return 0
}

// checkGoroutines fails if the goroutine count does not come back to the
// count before the test, within a bounded wait.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// addr parses an address for test tables.
func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = addr(s)
	}
	return out
}
