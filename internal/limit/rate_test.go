package limit

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newRate(t testing.TB, r Rate, o Options) *RateLimiter {
	t.Helper()
	l, err := NewRateLimiter("test", r, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRateGCRADecisions(t *testing.T) {
	key := []byte("k")
	type step struct {
		advance time.Duration
		n       int
		want    Decision
	}
	tests := []struct {
		desc  string
		rate  Rate
		steps []step
	}{
		{"burst passes back to back, then one per interval", Rate{Count: 10, Per: time.Second, Burst: 3}, []step{
			{0, 1, Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 100 * time.Millisecond}},
			{0, 1, Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 200 * time.Millisecond}},
			{0, 1, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * time.Millisecond}},
			{0, 1, Decision{Limit: 3, Remaining: 0, Reset: 300 * time.Millisecond, RetryAfter: 100 * time.Millisecond}},
			{40 * time.Millisecond, 1, Decision{Limit: 3, Remaining: 0, Reset: 260 * time.Millisecond, RetryAfter: 60 * time.Millisecond}},
			{60 * time.Millisecond, 1, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * time.Millisecond}},
			{time.Second, 1, Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 100 * time.Millisecond}},
		}},
		{"burst 0 means a whole period's count", Rate{Count: 2, Per: time.Minute}, []step{
			{0, 1, Decision{Allowed: true, Limit: 2, Remaining: 1, Reset: 30 * time.Second}},
			{0, 1, Decision{Allowed: true, Limit: 2, Remaining: 0, Reset: time.Minute}},
			{0, 1, Decision{Limit: 2, Reset: time.Minute, RetryAfter: 30 * time.Second}},
		}},
		{"AllowN takes all or none", Rate{Count: 5, Per: time.Second, Burst: 5}, []step{
			{0, 4, Decision{Allowed: true, Limit: 5, Remaining: 1, Reset: 800 * time.Millisecond}},
			{0, 2, Decision{Limit: 5, Remaining: 1, Reset: 800 * time.Millisecond, RetryAfter: 200 * time.Millisecond}},
			{0, 1, Decision{Allowed: true, Limit: 5, Remaining: 0, Reset: time.Second}},
		}},
		{"more than the burst is never allowed; retry when full", Rate{Count: 5, Per: time.Second, Burst: 2}, []step{
			{0, 3, Decision{Limit: 2, Remaining: 2, Reset: 0, RetryAfter: 0}},
			{0, 1, Decision{Allowed: true, Limit: 2, Remaining: 1, Reset: 200 * time.Millisecond}},
			{0, 3, Decision{Limit: 2, Remaining: 1, Reset: 200 * time.Millisecond, RetryAfter: 200 * time.Millisecond}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			clk := newFakeClock()
			l := newRate(t, tt.rate, Options{Clock: clk.Now})
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				if got := l.AllowN(key, s.n); got != s.want {
					t.Errorf("step %d: got %+v, want %+v", i, got, s.want)
				}
			}
		})
	}
}

func TestRateKeysAreIndependent(t *testing.T) {
	clk := newFakeClock()
	l := newRate(t, Rate{Count: 1, Per: time.Second, Burst: 1}, Options{Clock: clk.Now})
	if !l.Allow([]byte("a")).Allowed || l.Allow([]byte("a")).Allowed {
		t.Fatal("a: want one allowed, then limited")
	}
	if !l.Allow([]byte("b")).Allowed {
		t.Error("b was limited by a's use")
	}
	if s := l.Stats(); s.Allowed != 2 || s.Limited != 1 {
		t.Errorf("stats %+v, want 2 allowed, 1 limited", s)
	}
}

func TestRatePeekSpendsNothing(t *testing.T) {
	clk := newFakeClock()
	l := newRate(t, Rate{Count: 1, Per: time.Second, Burst: 1}, Options{Clock: clk.Now})
	for range 3 {
		if d := l.Peek([]byte("a")); !d.Allowed || d.Remaining != 1 {
			t.Fatalf("peek %+v, want allowed with 1 remaining", d)
		}
	}
	l.Allow([]byte("a"))
	if d := l.Peek([]byte("a")); d.Allowed || d.RetryAfter != time.Second {
		t.Errorf("peek after use %+v, want refused, retry in 1s", d)
	}
}

func TestRateInvalid(t *testing.T) {
	for _, r := range []Rate{{}, {Count: 1}, {Count: 2, Per: 1}, {Count: -1, Per: time.Second}} {
		if _, err := NewRateLimiter("x", r, Options{}); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}

// TestRateMemoryIsBounded: a million distinct keys (a spoofing flood of
// IPv6 addresses) never hold more than MaxKeys entries, and idle ones are
// swept first so that live keys keep their state.
func TestRateMemoryIsBounded(t *testing.T) {
	clk := newFakeClock()
	const maxKeys = 1 << 14
	l := newRate(t, Rate{Count: 1, Per: time.Second, Burst: 1}, Options{Clock: clk.Now, MaxKeys: maxKeys})
	var b [64]byte
	base := netip.MustParseAddr("2001:db8::").As16()
	n := 1_000_000
	if raceEnabled {
		n = 200_000 // the race detector makes each insert ~20× slower
	}
	for i := range n {
		a := base
		a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		l.Allow(AppendIP(b[:0], netip.AddrFrom16(a), 32, 128))
		if i%(n/10) == 0 {
			clk.Advance(2 * time.Second) // all earlier keys idle now
		}
	}
	s := l.Stats()
	if s.Keys > maxKeys {
		t.Errorf("%d keys remembered, bound %d", s.Keys, maxKeys)
	}
	if s.Evicted == 0 {
		t.Error("no key was evicted although 100k live keys exceed the bound")
	}
	clk.Advance(2 * time.Second)
	if n := l.Sweep(); l.Stats().Keys != 0 {
		t.Errorf("after sweeping %d, %d keys left", n, l.Stats().Keys)
	}
}

func TestRateSweptKeyKeepsItsDecisions(t *testing.T) {
	clk := newFakeClock()
	l := newRate(t, Rate{Count: 1, Per: time.Second, Burst: 1}, Options{Clock: clk.Now})
	l.Allow([]byte("busy"))
	l.Allow([]byte("idle"))
	clk.Advance(500 * time.Millisecond)
	if n := l.Sweep(); n != 0 {
		t.Fatalf("swept %d keys whose debt is not paid", n)
	}
	clk.Advance(500 * time.Millisecond)
	if n := l.Sweep(); n != 2 {
		t.Fatalf("swept %d keys, want 2", n)
	}
	if !l.Allow([]byte("busy")).Allowed {
		t.Error("a swept key was refused: sweeping changed a decision")
	}
}

// TestRateRealTimeWithinTenPercent: many goroutines hammer one key for
// 2 s of real time; the allowed count is rate×time+burst within ±10%.
func TestRateRealTimeWithinTenPercent(t *testing.T) {
	const rate, burst = 200, 10
	l := newRate(t, Rate{Count: rate, Per: time.Second, Burst: burst}, Options{})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(2 * time.Second)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []byte("one")
			for time.Now().Before(stop) {
				if l.Allow(key).Allowed {
					allowed.Add(1)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	want := rate*time.Since(start).Seconds() + burst
	got := float64(allowed.Load())
	if got < want*0.9 || got > want*1.1 {
		t.Errorf("allowed %v in %v, want %v ±10%%", got, time.Since(start), want)
	}
}

func TestRateConcurrentKeysRace(t *testing.T) {
	clk := newFakeClock()
	l := newRate(t, Rate{Count: 100, Per: time.Second, Burst: 5}, Options{Clock: clk.Now, MaxKeys: 256})
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20000 {
				k := fmt.Appendf(nil, "k%d", (i*7+g)%1000)
				if l.Allow(k).Allowed {
					allowed.Add(1)
				}
				if i%5000 == 0 {
					l.Sweep()
				}
			}
		}()
	}
	wg.Wait()
	if s := l.Stats(); s.Allowed+s.Limited != 80000 || int64(s.Allowed) != allowed.Load() {
		t.Errorf("stats %+v do not add up to 80000 decisions (%d allowed seen)", s, allowed.Load())
	}
}

func TestRateAllowDoesNotAllocate(t *testing.T) {
	l := newRate(t, Rate{Count: 1000, Per: time.Second}, Options{})
	ip := netip.MustParseAddr("192.0.2.1")
	var b [64]byte
	l.Allow(AppendIP(b[:0], ip, 32, 64))
	n := testing.AllocsPerRun(1000, func() {
		var b [64]byte
		l.Allow(AppendIP(b[:0], ip, 32, 64))
	})
	if n != 0 {
		t.Errorf("%v allocations per decision on a known key, want 0", n)
	}
}

func BenchmarkRateAllow(b *testing.B) {
	l := newRate(b, Rate{Count: 1e9, Per: time.Second}, Options{})
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		var k [64]byte
		l.Allow(AppendIP(k[:0], ip, 32, 64))
	}
}

func BenchmarkRateAllowParallel(b *testing.B) {
	l := newRate(b, Rate{Count: 1e9, Per: time.Second}, Options{})
	b.ReportAllocs()
	var n atomic.Int32
	b.RunParallel(func(pb *testing.PB) {
		ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(n.Add(1))})
		for pb.Next() {
			var k [64]byte
			l.Allow(AppendIP(k[:0], ip, 32, 64))
		}
	})
}
