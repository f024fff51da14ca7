package upstream

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func benchPool(tb testing.TB, b Balance) *Pool {
	return newPool(tb, NewRegistry(nil), Options{
		Targets: targets(8, 1, 2, 3, 1, 2, 3, 1, 2),
		Balance: b,
		Hash:    HashKey{Source: HashHeader, Name: "X-User"},
	})
}

// TestPickAllocatesNothing: a pick with a Request built on the caller's
// stack, an exclusion, and Begin/End, allocates nothing, for every
// balancer.
func TestPickAllocatesNothing(t *testing.T) {
	var hdr httpmsg.Header
	hdr.AddString("X-User", "alice")
	hdr.AddString("Cookie", "janus_upstream=0000000000000000")
	for b := RoundRobin; b <= Cookie; b++ {
		t.Run(b.String(), func(t *testing.T) {
			p := benchPool(t, b)
			other := p.members.Load().hosts[0]
			allocs := testing.AllocsPerRun(1000, func() {
				r := Request{ClientIP: netip.AddrFrom4([4]byte{192, 0, 2, 1}), URI: []byte("/x"), Header: &hdr}
				h, err := p.Pick(&r, other)
				if err != nil {
					t.Fatal(err)
				}
				h.Begin()
				h.End(Outcome{Status: 200, Latency: time.Millisecond})
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per pick", allocs)
			}
		})
	}
}

// TestConcurrentPicksWhileMembersChange: picks and outcomes from many
// goroutines while health and membership change (run with -race).
func TestConcurrentPicksWhileMembersChange(t *testing.T) {
	for b := RoundRobin; b <= Cookie; b++ {
		t.Run(b.String(), func(t *testing.T) {
			p := newPool(t, NewRegistry(nil), checked(Options{Targets: targets(8), Balance: b}))
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for range 4 {
				wg.Go(func() {
					r := &Request{URI: []byte("/x")}
					for {
						select {
						case <-stop:
							return
						default:
						}
						h, err := p.Pick(r)
						if err != nil {
							continue
						}
						h.Begin()
						h.End(Outcome{Status: 500, Latency: time.Millisecond})
						p.Stats(nil)
					}
				})
			}
			for i := range 50 {
				ms := p.collect(t.Context(), false)
				p.setMembers(ms[:1+i%len(ms)])
				p.members.Load().hosts[0].unhealthy.Store(i%2 == 0)
			}
			close(stop)
			wg.Wait()
		})
	}
}

// BenchmarkPick: one pick and its Begin/End on a pool of 8 weighted hosts.
func BenchmarkPick(b *testing.B) {
	var hdr httpmsg.Header
	hdr.AddString("X-User", "alice")
	for kind := RoundRobin; kind <= Cookie; kind++ {
		b.Run(kind.String(), func(b *testing.B) {
			p := benchPool(b, kind)
			r := &Request{Header: &hdr}
			b.ReportAllocs()
			for b.Loop() {
				h, _ := p.Pick(r)
				h.Begin()
				h.End(Outcome{Status: 200, Latency: time.Millisecond})
			}
		})
	}
}

// BenchmarkPickParallel: the same from every P at once (lock contention
// in round robin and least_conn, cache-line sharing in the counters).
func BenchmarkPickParallel(b *testing.B) {
	for _, kind := range []Balance{RoundRobin, LeastConn, P2C, EWMA} {
		b.Run(kind.String(), func(b *testing.B) {
			p := benchPool(b, kind)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h, _ := p.Pick(nil)
					h.Begin()
					h.End(Outcome{Status: 200, Latency: time.Millisecond})
				}
			})
		})
	}
}

// BenchmarkBeginEnd: the per-attempt bookkeeping alone.
func BenchmarkBeginEnd(b *testing.B) {
	p := benchPool(b, RoundRobin)
	h := p.members.Load().hosts[0]
	b.ReportAllocs()
	for b.Loop() {
		h.Begin()
		h.End(Outcome{Status: 200, Latency: time.Millisecond})
	}
}

// BenchmarkBudget: Request on every request, Allow on a failure.
func BenchmarkBudget(b *testing.B) {
	bud := NewBudget(BudgetOptions{}, nil)
	b.ReportAllocs()
	for b.Loop() {
		bud.Request()
	}
}
