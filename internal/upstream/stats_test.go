package upstream

import (
	"net/netip"
	"testing"
	"time"
)

// TestStatsSnapshot: every field the admin API shows, at a known time.
func TestStatsSnapshot(t *testing.T) {
	clk := newFakeClock()
	start := clk.Now()
	p := newPool(t, NewRegistry(clk.Now), Options{
		Targets: []Target{{Addr: "127.0.0.1:80", Weight: 4}, {Addr: "127.0.0.2:80"}, {Addr: "127.0.0.3:80"}},
		Eject:   Eject{Consecutive: 2, Base: time.Minute},
	})
	a, b, c := hostAt(t, p, "127.0.0.1:80"), hostAt(t, p, "127.0.0.2:80"), hostAt(t, p, "127.0.0.3:80")
	clk.Advance(time.Second)
	a.Begin()
	a.Begin()
	a.End(Outcome{Status: 200, Latency: 25 * time.Millisecond})
	b.Begin()
	b.End(Outcome{ConnectFailed: true})
	clk.Advance(time.Second)
	failN(c, 2, Outcome{Status: 502})
	ejectedAt := clk.Now()

	got := p.Stats(nil)
	want := []HostStats{
		{Pool: "app", Target: "127.0.0.1:80", Addr: netip.MustParseAddrPort("127.0.0.1:80"), ID: a.ID(), Weight: 4,
			State: Healthy, InFlight: 1, Latency: 25 * time.Millisecond, LastChange: start},
		{Pool: "app", Target: "127.0.0.2:80", Addr: netip.MustParseAddrPort("127.0.0.2:80"), ID: b.ID(), Weight: 1,
			State: Healthy, Failures: 1, LastChange: start},
		{Pool: "app", Target: "127.0.0.3:80", Addr: netip.MustParseAddrPort("127.0.0.3:80"), ID: c.ID(), Weight: 1,
			State: Ejected, Ejections: 1, EjectedUntil: ejectedAt.Add(time.Minute), LastChange: ejectedAt},
	}
	if len(got) != len(want) {
		t.Fatalf("%d stats, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.LastChange.Equal(w.LastChange) || !g.EjectedUntil.Equal(w.EjectedUntil) {
			t.Errorf("host %d times: last change %v until %v; want %v, %v", i, g.LastChange, g.EjectedUntil, w.LastChange, w.EjectedUntil)
		}
		g.LastChange, g.EjectedUntil, w.LastChange, w.EjectedUntil = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("host %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	for s := Healthy; s <= Ejected; s++ {
		if s.String() == "" || State(9).String() != "State(9)" {
			t.Errorf("State %d has no name", s)
		}
	}
}
