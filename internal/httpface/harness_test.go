package httpface

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
	"github.com/janus-proxy/janus/internal/sniff"
)

// proxyUnderTest is a httpface.Server on a loopback listener, served the way
// the server package does it: accept, sniff, ServeConn.
type proxyUnderTest struct {
	parked bool         // serve with ServeParked
	done   int32Counter // ServeParked done calls
	srv    *Server
	ln     net.Listener
	addr   string
	access *accessRecorder
	wg     sync.WaitGroup
}

// accessRecorder keeps access-log entries for assertions.
type accessRecorder struct {
	mu      sync.Mutex
	entries []observe.Entry
}

func (a *accessRecorder) Log(e *observe.Entry) {
	a.mu.Lock()
	a.entries = append(a.entries, *e)
	a.mu.Unlock()
}

func (a *accessRecorder) all() []observe.Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]observe.Entry(nil), a.entries...)
}

// find waits briefly for an entry that match accepts and returns the
// latest such entry.
func (a *accessRecorder) find(t *testing.T, match func(*observe.Entry) bool) observe.Entry {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		es := a.all()
		for i := len(es) - 1; i >= 0; i-- {
			if match(&es[i]) {
				return es[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching access-log entry among %d", len(es))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// count returns the number of entries.
func (a *accessRecorder) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

// last waits briefly for an entry (they are logged after the response is
// flushed) and returns the latest.
func (a *accessRecorder) last(t *testing.T) observe.Entry {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if es := a.all(); len(es) > 0 {
			return es[len(es)-1]
		}
		if time.Now().After(deadline) {
			t.Fatal("no access-log entry")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allowAll() *gate.Gate {
	return &gate.Gate{
		Policy:       &gate.Policy{Name: "test", Rules: []gate.Rule{{Name: "test#1", Allow: true}}},
		ConnectPorts: gate.PortSet{{Lo: 1, Hi: 65535}},
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startProxy serves a httpface.Server built from o (Gate, Dialer and Access
// filled in when empty) until the test ends.
func startProxy(t testing.TB, o Options) *proxyUnderTest {
	t.Helper()
	// JANUS_TEST_PARKED=1 runs every test on ServeParked instead.
	return startProxyMode(t, o, os.Getenv("JANUS_TEST_PARKED") != "")
}

// startParkedProxy is startProxy serving with ServeParked.
func startParkedProxy(t testing.TB, o Options) *proxyUnderTest {
	t.Helper()
	return startProxyMode(t, o, true)
}

func startProxyMode(t testing.TB, o Options, parked bool) *proxyUnderTest {
	t.Helper()
	if o.Gate == nil {
		o.Gate = allowAll()
	}
	if o.Dialer == nil {
		o.Dialer = &outbound.Dialer{Resolver: net.DefaultResolver}
	}
	p := &proxyUnderTest{access: &accessRecorder{}, parked: parked}
	if o.Access == nil {
		o.Access = p.access
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	if !o.AllowHTTP && !o.AllowCONNECT {
		o.AllowHTTP, o.AllowCONNECT = true, true
	}
	p.srv = New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	p.addr = ln.Addr().String()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				proto, sc, err := sniff.Sniff(c, 5*time.Second)
				if err != nil || proto != sniff.HTTP {
					c.Close()
					return
				}
				if !p.parked {
					p.srv.ServeConn(sc)
					return
				}
				p.wg.Add(1)
				p.srv.ServeParked(sc, func() {
					p.done.add()
					p.wg.Done()
				})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.srv.Shutdown()
		p.srv.Close()
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("connections still served 10s after the test")
		}
	})
	return p
}

// client returns an HTTP client that uses the proxy, with its own
// connection pool closed at the end of the test.
func (p *proxyUnderTest) client(t *testing.T) *http.Client {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: p.addr}
	tr := &http.Transport{
		Proxy:               http.ProxyURL(u),
		MaxIdleConnsPerHost: 16,
		DisableCompression:  true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// rawRequest sends raw bytes to the proxy and returns everything it
// answers until it closes the connection (or 5s pass).
func (p *proxyUnderTest) rawRequest(t *testing.T, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	io.Copy(&buf, c)
	return buf.String()
}

// statusOf reads the status code of the first response in raw.
func statusOf(raw string) string {
	if len(raw) < 12 || !strings.HasPrefix(raw, "HTTP/1.1 ") {
		return "none"
	}
	return raw[9:12]
}

// checkNoLeaks fails if goroutines stay above the count before the test,
// after a bounded wait.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// countFDs returns the number of sockets this process has open. Pipes are
// left out: splice keeps a cache of them.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// countingDialer counts the connections a client opens.
type countingDialer struct{ n *atomic.Int32 }

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

type contextContext = context.Context

type int32Counter struct{ n atomic.Int32 }

func (c *int32Counter) add()     { c.n.Add(1) }
func (c *int32Counter) get() int { return int(c.n.Load()) }

type outboundCheck = outbound.Check

func bytesReader(n int) io.Reader { return bytes.NewReader(bytes.Repeat([]byte("u"), n)) }
