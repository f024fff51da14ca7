package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/outbound"
)

// nopDialer refuses every dial; for option tests that never start.
type nopDialer struct{}

func (nopDialer) DialTCP(context.Context, string, uint16, outbound.Check) (*net.TCPConn, error) {
	return nil, errors.New("no dialing here")
}

// origin is a loopback HTTP server whose health answer a test flips, and
// which records the checks it receives.
type origin struct {
	srv    *httptest.Server
	addr   string
	status atomic.Int32
	checks atomic.Int32
	mu     sync.Mutex
	seen   []string // "Host path"
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	o := &origin{}
	o.status.Store(200)
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.checks.Add(1)
		o.mu.Lock()
		o.seen = append(o.seen, r.Host+" "+r.URL.RequestURI()+" "+r.Header.Get("Connection"))
		o.mu.Unlock()
		w.WriteHeader(int(o.status.Load()))
	}))
	o.addr = o.srv.Listener.Addr().String()
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) lastSeen() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.seen) == 0 {
		return ""
	}
	return o.seen[len(o.seen)-1]
}

func stateOf(p *Pool, addr string) State {
	for _, s := range p.Stats(nil) {
		if s.Addr.String() == addr {
			return s.State
		}
	}
	return 255
}

// TestActiveHealthFallAndRise: a target whose checks fail goes unhealthy
// after Fall failures and gets no traffic; it comes back after Rise passes,
// in slow start. A target whose server stops (connection refused) goes
// unhealthy too, and returns when a server listens on its port again.
func TestActiveHealthFallAndRise(t *testing.T) {
	checkGoroutines(t)
	a, b := newOrigin(t), newOrigin(t)
	var log logBuffer
	p := newPool(t, NewRegistry(nil), Options{
		Targets: []Target{{Addr: a.addr}, {Addr: b.addr}},
		Health:  Health{Path: "/healthz?full=1", Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 3},
		Dialer:  &outbound.Dialer{},
		Logger:  log.logger(),
	})
	p.Start()
	eventually(t, "first checks", func() bool { return a.checks.Load() > 0 && b.checks.Load() > 0 })
	if got, want := b.lastSeen(), b.addr+" /healthz?full=1 close"; got != want {
		t.Errorf("check seen as %q, want %q", got, want)
	}

	b.status.Store(500)
	failedFrom := b.checks.Load()
	eventually(t, "b unhealthy", func() bool { return stateOf(p, b.addr) == Unhealthy })
	if n := b.checks.Load() - failedFrom; n < 3 {
		t.Errorf("unhealthy after %d failed checks, want Fall = 3", n)
	}
	for range 100 {
		if h, _ := p.Pick(nil); h.addr.String() == b.addr {
			t.Fatal("picked an unhealthy host")
		}
	}

	b.status.Store(204)
	eventually(t, "b healthy", func() bool { return stateOf(p, b.addr) == Healthy })
	if !p.Stats(nil)[1].SlowStart {
		t.Error("a host back from unhealthy is not in slow start")
	}

	// Kill the server: connection refused is a failed check.
	b.srv.Close()
	eventually(t, "closed b unhealthy", func() bool { return stateOf(p, b.addr) == Unhealthy })
	// Serve on the same port again.
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", b.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(ln)
	defer srv.Close()
	eventually(t, "restarted b healthy", func() bool { return stateOf(p, b.addr) == Healthy })
	if stateOf(p, a.addr) != Healthy {
		t.Error("the steady host changed state")
	}

	l := log.String()
	for _, want := range []string{`msg="upstream host unhealthy"`, "failures=3", "status 500 not in 200-399", `msg="upstream host healthy"`, "passes=2", "connect: connection refused"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	p.Stop()
}

// TestHealthCheckOptions: the Host field, the status range, and a check
// that ends a passive ejection early.
func TestHealthCheckOptions(t *testing.T) {
	o := newOrigin(t)
	o.status.Store(404)
	p := newPool(t, NewRegistry(nil), Options{
		Name:    "api",
		Targets: []Target{{Addr: o.addr}, {Addr: "127.0.0.2:1"}},
		Health:  Health{Path: "/", Host: "api.example", StatusMin: 200, StatusMax: 404, Interval: 20 * time.Millisecond, Fall: 1, Rise: 1},
		Eject:   Eject{Consecutive: 1, Base: time.Hour, Max: time.Hour},
		Dialer:  &outbound.Dialer{},
	})
	h := hostAt(t, p, o.addr)
	failN(h, 1, Outcome{ConnectFailed: true})
	if stateOf(p, o.addr) != Ejected {
		t.Fatal("not ejected")
	}
	p.Start()
	eventually(t, "ejection ended by a passing check", func() bool { return stateOf(p, o.addr) == Healthy })
	if got := o.lastSeen(); !strings.HasPrefix(got, "api.example / ") {
		t.Errorf("check seen as %q, want Host api.example", got)
	}
	// 127.0.0.2:1 refuses: with Fall 1 it is unhealthy after one check.
	eventually(t, "refusing target unhealthy", func() bool { return stateOf(p, "127.0.0.2:1") == Unhealthy })
}

// TestStopEndsHangingChecks: an origin that accepts and never answers
// does not hold Stop up, and no goroutine or descriptor is left behind.
func TestStopEndsHangingChecks(t *testing.T) {
	checkGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	p, err := NewRegistry(nil).NewPool(context.Background(), Options{
		Name:    "hang",
		Targets: []Target{{Addr: ln.Addr().String()}},
		Health:  Health{Path: "/", Interval: time.Minute, Timeout: 30 * time.Second},
		Dialer:  &outbound.Dialer{},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	c := <-accepted
	defer c.Close()
	start := time.Now()
	p.Stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop took %s with a check hanging", d)
	}
	// The check's connection is closed: the origin reads EOF.
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := bufio.NewReader(c).ReadString('\x00'); !errors.Is(err, io.EOF) {
		t.Errorf("origin read %v, want EOF from a closed check", err)
	}
	if stateOf(p, ln.Addr().String()) != Healthy {
		t.Error("a check cut short by Stop changed the host's state")
	}
}

func TestReadStatus(t *testing.T) {
	for _, tc := range []struct {
		desc, in string
		want     int
		err      string
	}{
		{desc: "ok", in: "HTTP/1.1 200 OK\r\n", want: 200},
		{desc: "no reason", in: "HTTP/1.1 204 \r\n", want: 204},
		{desc: "no reason no space", in: "HTTP/1.1 503\r\n", want: 503},
		{desc: "bare LF", in: "HTTP/1.0 301 Moved\n", want: 301},
		{desc: "interim first", in: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n", want: 200},
		{desc: "100 continue first", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n", want: 500},
		{desc: "too many interim", in: strings.Repeat("HTTP/1.1 103 x\r\n\r\n", 6), err: "too many"},
		{desc: "http 2", in: "HTTP/2 200\r\n", err: "malformed"},
		{desc: "not http", in: "SSH-2.0-OpenSSH\r\n", err: "malformed"},
		{desc: "short code", in: "HTTP/1.1 20 OK\r\n", err: "malformed"},
		{desc: "long code", in: "HTTP/1.1 2000 OK\r\n", err: "malformed"},
		{desc: "leading zero", in: "HTTP/1.1 099 x\r\n", err: "malformed"},
		{desc: "eof", in: "HTTP/1.1 200", err: "EOF"},
		{desc: "endless line", in: "HTTP/1.1 200 " + strings.Repeat("x", 2000), err: "buffer full"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := readStatus(bufio.NewReaderSize(strings.NewReader(tc.in), 1024))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("readStatus = %d, %v; want error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("readStatus = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// FuzzParseStatusLine: never panics; what it accepts is an HTTP/1.x line
// with a three-digit code from 100 to 999 at its place.
func FuzzParseStatusLine(f *testing.F) {
	for _, s := range []string{"HTTP/1.1 200 OK\r\n", "HTTP/1.0 404\n", "HTTP/1.1 999 x", "HTTP/1.1 20", "HTTP/1.1  200", "", "HTTP/1.1 200\r\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		code, err := parseStatusLine(line)
		if err != nil {
			if code != 0 {
				t.Fatalf("error with code %d", code)
			}
			return
		}
		if code < 100 || code > 999 || !strings.HasPrefix(string(line), "HTTP/1.") || string(line[9:12]) != strconv.Itoa(code) {
			t.Fatalf("parseStatusLine(%q) = %d", line, code)
		}
	})
}
