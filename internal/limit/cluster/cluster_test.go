package cluster

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/limit/quota"
	"github.com/janus-proxy/janus/internal/testenv"
)

// hammer asks l for key from two goroutines until stop and counts the
// allowed decisions and the slowest one.
func hammer(l *RateLimiter, key []byte, stop time.Time) (allowed int64, slowest time.Duration) {
	var n atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t0 := time.Now()
				if l.Allow(key).Allowed {
					n.Add(1)
				}
				d := time.Since(t0)
				mu.Lock()
				slowest = max(slowest, d)
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return n.Load(), slowest
}

// TestTwoInstancesShareOneRate: two clients ("instances") on one real
// redis-server enforce one limit: their combined allowed rate is the
// configured one within ±10%.
func TestTwoInstancesShareOneRate(t *testing.T) {
	testenv.CheckGoroutines(t)
	const rate, burst = 100, 10
	ls, got, want := twoInstancesFor2s(t, "per-ip", rate, burst, limit.AppendString(nil, limit.KindUser, "bob"))
	if got < want*0.9 || got > want*1.1 {
		t.Errorf("two instances allowed %v together, want %v ±10%%", got, want)
	}
	for i, l := range ls {
		s := l.Stats()
		if s.Fallback != 0 || s.Shared == 0 {
			t.Errorf("instance %d: %+v: every decision should be shared", i, s)
		}
		t.Logf("instance %d: %+v", i, s)
	}
}

// TestRedisDownFallsBackLocallyAndComesBack: Redis killed mid-test →
// decisions go on locally without delay; Redis back → shared again.
func TestRedisDownFallsBackLocallyAndComesBack(t *testing.T) {
	testenv.CheckGoroutines(t)
	r := startRedis(t)
	c := newClient(t, r, "a")
	l, err := c.NewRateLimiter("per-ip", limit.Rate{Count: 1000, Per: time.Second, Burst: 100}, limit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("k")
	if n, _ := hammer(l, key, time.Now().Add(300*time.Millisecond)); n == 0 {
		t.Fatal("nothing allowed with Redis up")
	}
	if s := l.Stats(); s.Fallback != 0 {
		t.Fatalf("fallbacks with Redis up: %+v", s)
	}

	r.Kill()
	n, slowest := hammer(l, key, time.Now().Add(time.Second))
	if n == 0 {
		t.Error("no decision allowed while Redis is down")
	}
	if limitMs := c.o.Timeout + 100*time.Millisecond; slowest > limitMs {
		t.Errorf("slowest decision with Redis down took %v, want under %v", slowest, limitMs)
	}
	st := c.Stats()
	if st.Up || st.Trips == 0 || st.Fallbacks == 0 || st.RedisErrors == 0 {
		t.Errorf("client stats with Redis down: %+v", st)
	}
	before := l.Stats().Shared

	r.Start()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Stats().Up && time.Now().Before(deadline) {
		l.Allow(key)
		time.Sleep(10 * time.Millisecond)
	}
	if !c.Stats().Up {
		t.Fatal("still local 5 s after Redis came back")
	}
	hammer(l, key, time.Now().Add(200*time.Millisecond))
	if l.Stats().Shared <= before {
		t.Error("no shared decision after Redis came back")
	}
}

// TestGlobalConcurrencyAcrossInstances: slots held on either instance
// count against one maximum; releasing on one frees room for the other;
// a dead instance's slots stop counting once its liveness key expires.
func TestGlobalConcurrencyAcrossInstances(t *testing.T) {
	testenv.CheckGoroutines(t)
	r := startRedis(t)
	ca, cb := newClient(t, r, "a"), newClient(t, r, "b")
	ga, _ := ca.NewConcurrency("tunnels", 3, limit.Options{})
	gb, _ := cb.NewConcurrency("tunnels", 3, limit.Options{})
	k := limit.AppendString(nil, limit.KindUser, "bob")
	a1, ok1 := ga.Acquire(k)
	a2, ok2 := ga.Acquire(k)
	b1, ok3 := gb.Acquire(k)
	_, ok4 := gb.Acquire(k)
	if !ok1 || !ok2 || !ok3 || ok4 {
		t.Fatalf("acquisitions %v %v %v %v, want the fourth refused", ok1, ok2, ok3, ok4)
	}
	if n, _ := ga.Total(k); n != 3 {
		t.Errorf("Redis counts %d, want 3", n)
	}
	a1.Release()
	a1.Release() // idempotent
	b2, ok := gb.Acquire(k)
	if !ok {
		t.Fatal("b refused after a released a slot")
	}
	for _, s := range []Slot{a2, b1, b2} {
		s.Release()
	}
	if n, _ := ga.Total(k); n != 0 {
		t.Errorf("Redis counts %d after every release, want 0", n)
	}

	// Instance a crashes holding 3 slots: its liveness key expires.
	for range 3 {
		ga.Acquire(k)
	}
	if _, ok := gb.Acquire(k); ok {
		t.Fatal("b acquired while a holds all slots")
	}
	ca.Close() // stops the heartbeat and deletes the liveness key, like an expiry
	if s, ok := gb.Acquire(k); !ok {
		t.Error("a dead instance's slots still count")
	} else {
		s.Release()
	}
}

// TestQuotaSharedBetweenInstances: two stores, each with its own bbolt
// file, count one account together through Redis; while Redis is away
// each goes on counting and pushes what it counted when Redis is back.
func TestQuotaSharedBetweenInstances(t *testing.T) {
	testenv.CheckGoroutines(t)
	r := startRedis(t)
	var stores [2]*quota.Store
	var accs [2]*quota.Account
	plan := quota.Plan{Limit: 1000, Mode: quota.Monthly}
	for i := range stores {
		c := newClient(t, r, "q"+string(rune('a'+i)))
		s, err := quota.Open(quota.Options{Path: filepath.Join(t.TempDir(), "q.db"), Flush: time.Hour, Sync: c.QuotaSync()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
		accs[i], _ = s.Account("user:bob", plan)
	}
	accs[0].Charge(400)
	accs[1].Charge(300)
	stores[0].Flush()
	stores[1].Flush()
	stores[0].Flush() // learns b's bytes
	if accs[0].Used() != 700 || accs[1].Used() != 700 {
		t.Fatalf("used %d and %d, want 700 on both", accs[0].Used(), accs[1].Used())
	}

	r.Kill()
	accs[0].Charge(200)
	stores[0].Flush()
	if accs[0].Used() != 900 {
		t.Errorf("used %d while Redis is down, want 900 (700 shared + 200 local)", accs[0].Used())
	}
	r.Start()
	stores[0].Flush()
	stores[1].Flush()
	if accs[1].Used() != 900 {
		t.Errorf("b sees %d after Redis came back, want 900", accs[1].Used())
	}
	accs[1].Charge(200)
	if err := accs[1].Check(); err == nil {
		t.Error("over the shared quota but allowed")
	}
}

// TestPurgeBroadcastReachesEveryInstance: a message published by one
// instance reaches every subscriber, with the sender's name.
func TestPurgeBroadcastReachesEveryInstance(t *testing.T) {
	testenv.CheckGoroutines(t)
	r := startRedis(t)
	ca, cb := newClient(t, r, "a"), newClient(t, r, "b")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 4)
	var wg sync.WaitGroup
	for _, c := range []*Client{ca, cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Subscribe(ctx, "purge", func(from, msg string) {
				// The loop below publishes until it has heard both, so more
				// may come than it reads: a full channel must not block
				// the subscriber past the test's end.
				select {
				case got <- c.Instance() + "<" + from + ":" + msg:
				case <-ctx.Done():
				}
			})
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	// Subscriptions are asynchronous: publish until both have heard.
	seen := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		ca.Publish(context.Background(), "purge", "/static/")
		select {
		case m := <-got:
			seen[m] = true
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !seen["a<a:/static/"] || !seen["b<a:/static/"] {
		t.Errorf("heard %v, want both instances to hear a's purge", seen)
	}
}

// BenchmarkRedisDecision is one shared rate decision: a script round trip
// to a redis-server on loopback.
func BenchmarkRedisDecision(b *testing.B) {
	r := startRedis(b)
	c := newClient(b, r, "bench")
	l, err := c.NewRateLimiter("bench", limit.Rate{Count: 1e9, Per: time.Second}, limit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	key := limit.AppendString(nil, limit.KindUser, "bob")
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(key)
	}
	if s := l.Stats(); s.Fallback != 0 {
		b.Errorf("%d decisions fell back", s.Fallback)
	}
}

// TestLeasesKeepALargeSharedLimit: a limit with a large burst is spent in
// leases (a tenth of the burst per Redis call), so instances ask Redis
// rarely, and together still hold the configured rate within ±10%.
func TestLeasesKeepALargeSharedLimit(t *testing.T) {
	testenv.CheckGoroutines(t)
	const rate, burst = 2000, 400
	ls, got, want := twoInstancesFor2s(t, "big", rate, burst, limit.AppendString(nil, limit.KindName, "all"))
	t.Logf("two instances allowed %v together (want %v); leased %d and %d, shared calls %d and %d",
		got, want, ls[0].leasedN.Load(), ls[1].leasedN.Load(), ls[0].shared.Load(), ls[1].shared.Load())
	if got < want*0.9 || got > want*1.1 {
		t.Errorf("allowed %v, want %v ±10%%", got, want)
	}
	if ls[0].leasedN.Load() == 0 {
		t.Errorf("no decision was made from a lease")
	}
}

// twoInstancesFor2s makes two instances of one shared limit on a real
// redis-server, hammers key through both for two seconds, and returns the
// limiters, how many events they allowed together and how many the rate
// and burst allow over that time.
func twoInstancesFor2s(t *testing.T, name string, rate, burst int, key []byte) (ls [2]*RateLimiter, got, want float64) {
	t.Helper()
	r := startRedis(t)
	for i := range ls {
		c := newClient(t, r, "inst"+string(rune('a'+i)))
		l, err := c.NewRateLimiter(name, limit.Rate{Count: rate, Per: time.Second, Burst: burst}, limit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
	}
	start := time.Now()
	stop := start.Add(2 * time.Second)
	var total atomic.Int64
	var wg sync.WaitGroup
	// Demand well above the rate, even on a loaded machine: each hammer
	// asks at most about 2000 times a second (two workers pausing 1 ms).
	hammers := max(1, rate/250)
	for _, l := range ls {
		for range hammers {
			wg.Go(func() { n, _ := hammer(l, key, stop); total.Add(n) })
		}
	}
	wg.Wait()
	return ls, float64(total.Load()), float64(rate)*time.Since(start).Seconds() + float64(burst)
}
