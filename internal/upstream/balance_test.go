package upstream

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestSmoothRoundRobinSpreadsHeavyHost pins nginx's sequence: weights
// 5, 1, 1 give a a b a c a a, not a a a a a b c.
func TestSmoothRoundRobinSpreadsHeavyHost(t *testing.T) {
	p := newPool(t, NewRegistry(nil), Options{Targets: targets(3, 5, 1, 1)})
	name := map[string]string{"127.0.0.1:8080": "a", "127.0.0.2:8080": "b", "127.0.0.3:8080": "c"}
	var seq strings.Builder
	for range 14 {
		h, err := p.Pick(nil)
		if err != nil {
			t.Fatal(err)
		}
		seq.WriteString(name[h.addr.String()])
	}
	if got, want := seq.String(), "aabacaaaabacaa"; got != want {
		t.Fatalf("sequence %s, want %s", got, want)
	}
}

// TestBalancersFollowWeights: over many picks with nothing in flight,
// each balancer's shares match its contract.
func TestBalancersFollowWeights(t *testing.T) {
	const n = 20000
	uri := func(i int) *Request { return &Request{URI: fmt.Appendf(nil, "/item/%d", i)} }
	for _, tc := range []struct {
		desc    string
		balance Balance
		weights []int
		req     func(int) *Request
		want    []float64
		tol     float64
	}{
		{desc: "round robin equal", balance: RoundRobin, weights: []int{1, 1, 1, 1}, want: []float64{.25, .25, .25, .25}, tol: .001},
		{desc: "round robin weighted", balance: RoundRobin, weights: []int{5, 1, 1}, want: []float64{5. / 7, 1. / 7, 1. / 7}, tol: .001},
		{desc: "least conn idle follows weights", balance: LeastConn, weights: []int{3, 1}, want: []float64{.75, .25}, tol: .001},
		{desc: "random equal", balance: Random, weights: []int{1, 1, 1, 1}, want: []float64{.25, .25, .25, .25}, tol: .02},
		{desc: "random weighted", balance: Random, weights: []int{3, 1}, want: []float64{.75, .25}, tol: .02},
		{desc: "p2c equal", balance: P2C, weights: []int{1, 1, 1, 1}, want: []float64{.25, .25, .25, .25}, tol: .02},
		// Idle: the heavier host wins every pair it is in (load 1/3 < 1/1),
		// and a pair holds it two times in three.
		{desc: "p2c weighted idle", balance: P2C, weights: []int{3, 1, 1}, want: []float64{2. / 3, 1. / 6, 1. / 6}, tol: .02},
		{desc: "ewma equal", balance: EWMA, weights: []int{1, 1, 1, 1}, want: []float64{.25, .25, .25, .25}, tol: .02},
		{desc: "hash by uri equal", balance: Hash, weights: []int{1, 1, 1, 1}, req: uri, want: []float64{.25, .25, .25, .25}, tol: .02},
		{desc: "hash by uri weighted", balance: Hash, weights: []int{3, 1}, req: uri, want: []float64{.75, .25}, tol: .02},
		{desc: "hash without key goes round robin", balance: Hash, weights: []int{1, 1}, want: []float64{.5, .5}, tol: .001},
		{desc: "cookie without cookie goes round robin", balance: Cookie, weights: []int{2, 1}, want: []float64{2. / 3, 1. / 3}, tol: .001},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p := newPool(t, NewRegistry(nil), Options{Targets: targets(len(tc.weights), tc.weights...), Balance: tc.balance, Hash: HashKey{Source: HashURI}})
			counts := pickCounts(t, p, n, tc.req)
			for i, w := range tc.want {
				within(t, fmt.Sprintf("host %d", i+1), counts[fmt.Sprintf("127.0.0.%d:8080", i+1)], n, w, tc.tol)
			}
		})
	}
}

// TestLoadAwareBalancersAvoidBusyHost: least_conn, p2c and ewma steer
// around a host with many attempts in flight.
func TestLoadAwareBalancersAvoidBusyHost(t *testing.T) {
	for _, b := range []Balance{LeastConn, P2C, EWMA} {
		t.Run(b.String(), func(t *testing.T) {
			p := newPool(t, NewRegistry(nil), Options{Targets: targets(3), Balance: b})
			busy := hostAt(t, p, "127.0.0.1:8080")
			for range 10 {
				busy.Begin()
			}
			counts := pickCounts(t, p, 3000, nil)
			if counts["127.0.0.1:8080"] != 0 {
				t.Errorf("busy host picked %d times: %v", counts["127.0.0.1:8080"], counts)
			}
		})
	}
}

// TestLeastConnPicksFewestInFlight with weights: 4 in flight on weight 4
// is lighter than 2 in flight on weight 1.
func TestLeastConnPicksFewestInFlight(t *testing.T) {
	p := newPool(t, NewRegistry(nil), Options{Targets: targets(2, 4, 1), Balance: LeastConn})
	a, b := hostAt(t, p, "127.0.0.1:8080"), hostAt(t, p, "127.0.0.2:8080")
	for range 4 {
		a.Begin()
	}
	b.Begin()
	b.Begin()
	for range 10 {
		if h, _ := p.Pick(nil); h != a {
			t.Fatalf("picked %s, want %s (4/4 < 2/1)", h.addr, a.addr)
		}
	}
}

// TestEWMAAvoidsSlowHost: a host answering in 200ms gets far less traffic
// than hosts answering in 2ms, and wins it back as its samples improve.
func TestEWMAAvoidsSlowHost(t *testing.T) {
	clk := newFakeClock()
	p := newPool(t, NewRegistry(clk.Now), Options{Targets: targets(3), Balance: EWMA})
	slow := hostAt(t, p, "127.0.0.1:8080")
	latency := func(h *Host) time.Duration {
		if h == slow {
			return 200 * time.Millisecond
		}
		return 2 * time.Millisecond
	}
	counts := map[*Host]int{}
	// One attempt in flight per pick while the others are still running,
	// as concurrent requests are.
	var open []*Host
	for i := range 3000 {
		h, err := p.Pick(nil)
		if err != nil {
			t.Fatal(err)
		}
		h.Begin()
		open = append(open, h)
		counts[h]++
		if len(open) > 4 {
			done := open[0]
			open = open[1:]
			done.End(Outcome{Status: 200, Latency: latency(done)})
		}
		if i%10 == 0 {
			clk.Advance(time.Millisecond)
		}
	}
	for _, h := range open {
		h.End(Outcome{Status: 200, Latency: latency(h)})
	}
	if share := float64(counts[slow]) / 3000; share > 0.1 {
		t.Errorf("slow host got %.2f of the picks, want < 0.1", share)
	}
	if got := slow.latency(); got < 150*time.Millisecond {
		t.Errorf("slow host's EWMA is %s, want near 200ms (peak)", got)
	}
	// Its estimate decays toward new, fast samples (τ = 10s).
	for range 60 {
		clk.Advance(time.Second)
		slow.Begin()
		slow.End(Outcome{Status: 200, Latency: 2 * time.Millisecond})
	}
	if got := slow.latency(); got > 10*time.Millisecond {
		t.Errorf("after 60s of fast samples the EWMA is %s, want near 2ms", got)
	}
}

// TestPickSkipsUnusableHosts: for every balancer, unhealthy, ejected and
// excluded hosts are never picked, and with none left Pick says
// ErrNoHost.
func TestPickSkipsUnusableHosts(t *testing.T) {
	clk := newFakeClock()
	for b := RoundRobin; b <= Cookie; b++ {
		t.Run(b.String(), func(t *testing.T) {
			p := newPool(t, NewRegistry(clk.Now), checked(Options{Targets: targets(4), Balance: b}))
			down := hostAt(t, p, "127.0.0.1:8080")
			down.unhealthy.Store(true)
			out := hostAt(t, p, "127.0.0.2:8080")
			now := p.reg.clock.nanos()
			out.ejectedAt.Store(now)
			out.ejectedTo.Store(now + int64(time.Minute))
			tried := hostAt(t, p, "127.0.0.3:8080")
			want := hostAt(t, p, "127.0.0.4:8080")
			for i := range 200 {
				r := &Request{ClientIP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}
				h, err := p.Pick(r, tried)
				if err != nil {
					t.Fatal(err)
				}
				if h != want {
					t.Fatalf("picked %s, want the only usable host %s", h.addr, want.addr)
				}
			}
			if h, err := p.Pick(nil, tried, want); !errors.Is(err, ErrNoHost) {
				t.Fatalf("Pick with every host unusable = %v, %v; want ErrNoHost", h, err)
			} else if !strings.Contains(err.Error(), "app") {
				t.Errorf("error %q does not name the pool", err)
			}
		})
	}
}

// TestPickHonoursManyExclusions: more excluded hosts than fit inline are
// still excluded.
func TestPickHonoursManyExclusions(t *testing.T) {
	p := newPool(t, NewRegistry(nil), Options{Targets: targets(7), Balance: Random})
	hosts := p.members.Load().hosts
	for range 100 {
		h, err := p.Pick(nil, hosts[:6]...)
		if err != nil {
			t.Fatal(err)
		}
		if h != hosts[6] {
			t.Fatalf("picked excluded host %s", h.addr)
		}
	}
}

// TestParseBalanceRoundTrips every name.
func TestParseBalanceRoundTrips(t *testing.T) {
	for b := RoundRobin; b <= Cookie; b++ {
		if got, ok := ParseBalance(b.String()); !ok || got != b {
			t.Errorf("ParseBalance(%q) = %v, %v", b.String(), got, ok)
		}
	}
	if _, ok := ParseBalance("weighted"); ok {
		t.Error("ParseBalance accepted an unknown name")
	}
	for s := HashClientIP; s <= HashURI; s++ {
		if got, ok := ParseHashSource(s.String()); !ok || got != s {
			t.Errorf("ParseHashSource(%q) = %v, %v", s.String(), got, ok)
		}
	}
}
