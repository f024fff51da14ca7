package tunnel

import (
	"io"
	"syscall"
	"testing"
	"time"
)

// notsentLowat reads c's TCP_NOTSENT_LOWAT.
func notsentLowat(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotsentLowat)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatalf("getsockopt TCP_NOTSENT_LOWAT: %v", gerr)
	}
	return v
}

// A direction that turns bulk caps what its destination leaves unsent; one
// that only moves a few small messages leaves the kernel's default.
func TestBulkDirectionCapsItsDestinationsUnsentBytes(t *testing.T) {
	j := startTunnel(t, modes[0], Options{Idle: 10 * time.Second})
	def := notsentLowat(t, j.proxyO)

	// Small: a request upstream.
	if _, err := j.client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(j.origin, make([]byte, 18)); err != nil {
		t.Fatal(err)
	}
	// Bulk: 8 MiB downstream.
	const n = 8 << 20
	go func() {
		_, _ = j.origin.Write(make([]byte, n))
		_ = j.origin.CloseWrite()
	}()
	if got, err := io.Copy(io.Discard, j.client); err != nil || got != n {
		t.Fatalf("client read %d bytes, %v; want %d", got, err, n)
	}
	if got := notsentLowat(t, j.proxyC); got != bulkNotsent {
		t.Errorf("client side's TCP_NOTSENT_LOWAT after a bulk download = %d, want %d", got, bulkNotsent)
	}
	if got := notsentLowat(t, j.proxyO); got != def {
		t.Errorf("origin side's TCP_NOTSENT_LOWAT after a small request = %d, want the default %d", got, def)
	}
}
