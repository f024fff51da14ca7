package upstream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// targets returns n literal targets on loopback aliases 127.0.0.1.. with
// the given weights (1 when weights is shorter). Nothing dials them unless
// a test enables health checks.
func targets(n int, weights ...int) []Target {
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{Addr: fmt.Sprintf("127.0.0.%d:8080", i+1)}
		if i < len(weights) {
			ts[i].Weight = weights[i]
		}
	}
	return ts
}

// newPool builds and registers a pool, stopping it when the test ends.
func newPool(t testing.TB, r *Registry, o Options) *Pool {
	t.Helper()
	if o.Name == "" {
		o.Name = "app"
	}
	p, err := r.NewPool(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// checked turns on active health checks that never run (the pool is not
// started), so that a test may mark hosts unhealthy by hand: a pool
// without checks ignores that state.
func checked(o Options) Options {
	o.Health = Health{Path: "/"}
	o.Dialer = nopDialer{}
	return o
}

// hostAt returns the pool's host with the given address.
func hostAt(t testing.TB, p *Pool, addr string) *Host {
	t.Helper()
	for _, h := range p.members.Load().hosts {
		if h.addr.String() == addr {
			return h
		}
	}
	t.Fatalf("pool %s has no host %s", p.name, addr)
	return nil
}

// pickCounts picks n times (each attempt begun and ended at once) and
// counts picks per address.
func pickCounts(t testing.TB, p *Pool, n int, req func(i int) *Request) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := range n {
		var r *Request
		if req != nil {
			r = req(i)
		}
		h, err := p.Pick(r)
		if err != nil {
			t.Fatal(err)
		}
		h.Begin()
		h.End(Outcome{Status: 200, Latency: time.Millisecond})
		counts[h.addr.String()]++
	}
	return counts
}

// within fails unless got is within tol (a share of n) of want·n.
func within(t testing.TB, what string, got, n int, want, tol float64) {
	t.Helper()
	if share := float64(got) / float64(n); share < want-tol || share > want+tol {
		t.Errorf("%s: share %.3f (%d of %d), want %.3f ± %.3f", what, share, got, n, want, tol)
	}
}

// logBuffer collects a pool's log records as text.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// eventually polls cond every 5ms for up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkGoroutines fails the test if more goroutines run after its
// cleanups than before it (with a bounded settle time). Call it first.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		n := runtime.NumGoroutine()
		for n > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		if n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
		}
	})
}

func hasLine(log, msg string) bool {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) {
			return true
		}
	}
	return false
}
