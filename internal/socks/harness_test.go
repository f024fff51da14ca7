package socks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
	"github.com/janus-proxy/janus/internal/sniff"
)

// testServer serves a Server on a loopback listener the way the server
// package does: accept, sniff one byte, ServeConn.
type testServer struct {
	addr   string
	access *accessRecorder
	logs   *lockedBuffer
}

func startServer(t testing.TB, o Options) *testServer {
	t.Helper()
	ts := &testServer{access: &accessRecorder{}, logs: &lockedBuffer{}}
	if o.Access == nil {
		o.Access = ts.access
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.Dialer == nil {
		o.Dialer = &outbound.Dialer{Resolver: testResolver{}, Timeout: 5 * time.Second}
	}
	srv := New(o)
	ts.addr = serveLoopback(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		proto, sc, err := sniff.Sniff(c, 5*time.Second)
		if err != nil || (proto != sniff.SOCKS4 && proto != sniff.SOCKS5) {
			c.Close()
			return
		}
		srv.ServeConn(sc)
	}).String()
	return ts
}

// serveLoopback listens on addr and runs handle on each connection in its
// own goroutine until the test ends; then it closes the listener and waits
// for the handlers. It skips the test if addr cannot be listened on (::1 on
// a host without IPv6).
func serveLoopback(t testing.TB, network, addr string, handle func(net.Conn)) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		waitGroupTimeout(t, &wg, 10*time.Second)
	})
	return ln.Addr().(*net.TCPAddr)
}

func waitGroupTimeout(t testing.TB, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Errorf("sessions still running %s after the test", d)
	}
}

// testResolver fails names under .invalid at once (RFC 6761 §6.4: they
// never resolve) so no test waits on an outside DNS server, and asks the
// system resolver for the rest (localhost comes from /etc/hosts).
type testResolver struct{}

func (testResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if strings.HasSuffix(strings.TrimSuffix(host, "."), ".invalid") {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// accessRecorder is an AccessLog that keeps copies of its entries.
type accessRecorder struct {
	mu      sync.Mutex
	entries []observe.Entry
}

func (r *accessRecorder) Log(e *observe.Entry) {
	r.mu.Lock()
	r.entries = append(r.entries, *e)
	r.mu.Unlock()
}

// wait returns the first entry that match accepts, waiting up to 5s.
func (r *accessRecorder) wait(t testing.TB, match func(*observe.Entry) bool) observe.Entry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		for i := range r.entries {
			if match(&r.entries[i]) {
				e := r.entries[i]
				r.mu.Unlock()
				return e
			}
		}
		n := len(r.entries)
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no matching access-log entry among %d: %+v", n, r.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nth returns entry i (from 0), waiting up to 5s for it.
func (r *accessRecorder) nth(t testing.TB, i int) observe.Entry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if all := r.all(); len(all) > i {
			return all[i]
		} else if time.Now().After(deadline) {
			t.Fatalf("want entry %d, have %d: %+v", i, len(all), all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *accessRecorder) all() []observe.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observe.Entry(nil), r.entries...)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newUsers builds a user database with cheap bcrypt hashes.
func newUsers(t testing.TB, namePassword ...string) *gate.Users {
	t.Helper()
	var users []gate.User
	for i := 0; i+1 < len(namePassword); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(namePassword[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, gate.User{Name: namePassword[i], Hash: h})
	}
	u, err := gate.NewUsers(users, time.Minute, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// denyLoopbackAlias is a policy that forbids 127.0.0.2 and allows the rest.
func denyLoopbackAlias() *gate.Policy {
	return &gate.Policy{Rules: []gate.Rule{
		{Name: "no-127.0.0.2", Dests: addrset.New(netip.MustParsePrefix("127.0.0.2/32"))},
		{Name: "rest", Allow: true},
	}}
}

// tcpEcho starts an origin that echoes each connection back.
func tcpEcho(t testing.TB, network, addr string) *net.TCPAddr {
	t.Helper()
	return serveLoopback(t, network, addr, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(c, c)
	})
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t testing.TB) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return uint16(port)
}

// dialRaw opens a raw connection to the server with a deadline on it.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// handshake5 runs a no-auth SOCKS5 greeting and a request on c and returns
// the reply.
func handshake5(t testing.TB, c net.Conn, req Request) (Reply, Addr) {
	t.Helper()
	b := AppendGreeting(nil, MethodNoAuth)
	b, err := AppendRequest(b, req)
	if err != nil {
		t.Fatal(err)
	}
	// Greeting and request in one write: the server must not lose what
	// it buffered past the greeting.
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil {
		t.Fatalf("read method choice: %v", err)
	}
	if sel != [2]byte{5, byte(MethodNoAuth)} {
		t.Fatalf("method choice % x", sel)
	}
	rep, bnd, err := ReadReply(c)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	return rep, bnd
}

// expectClosed reads until the server closes c, failing on timeout or data.
func expectClosed(t testing.TB, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %s (%d bytes read)", within, n)
	}
}

// checkLeaks fails the test if goroutines or file descriptors started
// during it are still there once it is over (waiting up to 5s for them).
func checkLeaks(t *testing.T) {
	t.Helper()
	netpollOnce.Do(func() {
		// The runtime opens its poller's descriptors on first use; do that
		// before counting.
		if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			ln.Close()
		}
	})
	g0, f0 := runtime.NumGoroutine(), countFDs()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), countFDs()
			if g <= g0 && f <= f0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("leak: goroutines %d → %d, sockets %d → %d (%s)\n%s", g0, g, f0, f, fdNames(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

var netpollOnce sync.Once

func fdNames() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var names []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		names = append(names, e.Name()+"="+l)
	}
	return strings.Join(names, " ")
}

// countFDs counts open sockets. Pipes are left out: the runtime and the
// tunnel keep a pool of splice pipes that outlives connections by design.
func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}
