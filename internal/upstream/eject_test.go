package upstream

import (
	"testing"
	"time"
)

// failN reports n failed attempts on h.
func failN(h *Host, n int, o Outcome) {
	for range n {
		h.Begin()
		h.End(o)
	}
}

// usable reports whether Pick can return h at the pool's current time.
func usable(p *Pool, h *Host) bool {
	m := p.members.Load()
	c := candidates{pool: p, hosts: m.hosts, weights: m.weights}
	for i, x := range m.hosts {
		if x == h {
			return c.weight(i) > 0
		}
	}
	return false
}

// TestPassiveEjectionBackoffGrows: each ejection lasts twice the one
// before (30s, 60s, 120s), capped at Max, and the host comes back by
// itself when it ends.
func TestPassiveEjectionBackoffGrows(t *testing.T) {
	clk := newFakeClock()
	var log logBuffer
	p := newPool(t, NewRegistry(clk.Now), Options{
		Targets: targets(4),
		Eject:   Eject{Consecutive: 3, Base: 30 * time.Second, Max: 100 * time.Second},
		Logger:  log.logger(),
	})
	h := hostAt(t, p, "127.0.0.1:8080")
	for k, want := range []time.Duration{30 * time.Second, 60 * time.Second, 100 * time.Second, 100 * time.Second} {
		failN(h, 2, Outcome{ConnectFailed: true})
		if !usable(p, h) {
			t.Fatalf("ejection %d: ejected after 2 failures, want 3", k+1)
		}
		failN(h, 1, Outcome{Status: 503, Latency: time.Millisecond})
		if usable(p, h) {
			t.Fatalf("ejection %d: not ejected after 3 failures", k+1)
		}
		st := p.Stats(nil)[0]
		if st.State != Ejected || st.Ejections != int64(k+1) || !st.EjectedUntil.Equal(clk.Now().Add(want)) {
			t.Fatalf("ejection %d: stats %+v, want ejected until now+%s", k+1, st, want)
		}
		clk.Advance(want - time.Millisecond)
		if usable(p, h) {
			t.Fatalf("ejection %d: back before %s", k+1, want)
		}
		clk.Advance(time.Millisecond)
		if !usable(p, h) {
			t.Fatalf("ejection %d: not back after %s", k+1, want)
		}
	}
	if !hasLine(log.String(), "upstream host ejected") || !hasLine(log.String(), "upstream host back") {
		t.Errorf("transitions not logged:\n%s", log.String())
	}
}

// TestEjectionBackoffDecays: a host that stays out of trouble for Max
// drops back one step.
func TestEjectionBackoffDecays(t *testing.T) {
	clk := newFakeClock()
	p := newPool(t, NewRegistry(clk.Now), Options{
		Targets: targets(2),
		Eject:   Eject{Consecutive: 1, Base: 10 * time.Second, Max: 40 * time.Second},
	})
	h := hostAt(t, p, "127.0.0.1:8080")
	failN(h, 1, Outcome{ConnectFailed: true}) // 10s
	clk.Advance(10 * time.Second)
	usable(p, h)
	failN(h, 1, Outcome{ConnectFailed: true}) // 20s
	clk.Advance(20 * time.Second)
	usable(p, h)
	clk.Advance(40 * time.Second) // one Max of good behaviour
	failN(h, 1, Outcome{ConnectFailed: true})
	if got := p.Stats(nil)[0].EjectedUntil.Sub(clk.Now()); got != 20*time.Second {
		t.Fatalf("after a quiet Max the ejection lasts %s, want 20s (one step down from 40s)", got)
	}
}

// TestEjectionNeverExceedsMaxShare: with every host failing, at most half
// (the default) are ejected; the others keep serving.
func TestEjectionNeverExceedsMaxShare(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		hosts int
		share float64
		want  int
	}{
		{desc: "default half of 4", hosts: 4, want: 2},
		{desc: "default half of 5 rounds down", hosts: 5, want: 2},
		{desc: "a third of 6", hosts: 6, share: 1. / 3, want: 2},
		{desc: "a single host is never ejected", hosts: 1, want: 0},
		{desc: "all may go when configured", hosts: 3, share: 1, want: 3},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			clk := newFakeClock()
			p := newPool(t, NewRegistry(clk.Now), Options{Targets: targets(tc.hosts), Eject: Eject{MaxShare: tc.share}})
			for _, h := range p.members.Load().hosts {
				failN(h, 20, Outcome{ConnectFailed: true})
			}
			ejected := 0
			for _, s := range p.Stats(nil) {
				if s.State == Ejected {
					ejected++
				}
			}
			if ejected != tc.want {
				t.Fatalf("%d of %d hosts ejected, want %d", ejected, tc.hosts, tc.want)
			}
		})
	}
}

// TestWhatCountsAsFailure: a success breaks a run; abandoned attempts count
// neither way; ConnectOnly ignores 5xx and lost responses; 4xx is not a
// failure.
func TestWhatCountsAsFailure(t *testing.T) {
	for _, tc := range []struct {
		desc        string
		connectOnly bool
		outcomes    []Outcome
		ejected     bool
	}{
		{desc: "three connect failures", outcomes: []Outcome{{ConnectFailed: true}, {ConnectFailed: true}, {ConnectFailed: true}}, ejected: true},
		{desc: "three 5xx", outcomes: []Outcome{{Status: 500}, {Status: 502}, {Status: 503}}, ejected: true},
		{desc: "three lost responses", outcomes: []Outcome{{}, {}, {}}, ejected: true},
		{desc: "success breaks the run", outcomes: []Outcome{{Status: 500}, {Status: 500}, {Status: 200}, {Status: 500}, {Status: 500}}},
		{desc: "4xx is the client's fault", outcomes: []Outcome{{Status: 404}, {Status: 429}, {Status: 400}}},
		{desc: "abandoned counts neither way", outcomes: []Outcome{{Status: 500}, {Status: 500}, {Abandoned: true}, {Status: 500}}, ejected: true},
		{desc: "connect only ignores 5xx", connectOnly: true, outcomes: []Outcome{{Status: 500}, {Status: 500}, {}, {Status: 500}}},
		{desc: "connect only counts connect failures", connectOnly: true, outcomes: []Outcome{{Status: 500}, {ConnectFailed: true}, {ConnectFailed: true}, {ConnectFailed: true}}, ejected: true},
		// A connection made, whatever it answered, shows the host is there.
		{desc: "connect only: a connection breaks the run", connectOnly: true, outcomes: []Outcome{{ConnectFailed: true}, {ConnectFailed: true}, {Status: 500}, {ConnectFailed: true}}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p := newPool(t, NewRegistry(newFakeClock().Now), Options{Targets: targets(2), Eject: Eject{Consecutive: 3, ConnectOnly: tc.connectOnly}})
			h := hostAt(t, p, "127.0.0.1:8080")
			for _, o := range tc.outcomes {
				h.Begin()
				h.End(o)
			}
			if got := p.Stats(nil)[0].State == Ejected; got != tc.ejected {
				t.Fatalf("ejected = %v, want %v", got, tc.ejected)
			}
			if h.InFlight() != 0 {
				t.Fatalf("in flight %d after every End", h.InFlight())
			}
		})
	}
}

// TestEjectionDisabled: a negative Consecutive turns ejection off.
func TestEjectionDisabled(t *testing.T) {
	p := newPool(t, NewRegistry(newFakeClock().Now), Options{Targets: targets(2), Eject: Eject{Consecutive: -1}})
	h := hostAt(t, p, "127.0.0.1:8080")
	failN(h, 100, Outcome{ConnectFailed: true})
	if !usable(p, h) {
		t.Fatal("host ejected with ejection disabled")
	}
}

// TestSlowStartRamp: a host back from ejection gets about 10% of its
// weight, rising linearly to 100% over the window, in the picks it wins.
func TestSlowStartRamp(t *testing.T) {
	clk := newFakeClock()
	p := newPool(t, NewRegistry(clk.Now), Options{
		Targets:   targets(2),
		Eject:     Eject{Consecutive: 1, Base: time.Second},
		SlowStart: 10 * time.Second,
	})
	h := hostAt(t, p, "127.0.0.1:8080")
	failN(h, 1, Outcome{ConnectFailed: true})
	clk.Advance(time.Second) // ejection over: slow start begins now
	const n = 10000
	for _, tc := range []struct {
		at    time.Duration // into the window
		share float64       // of the returning host: w/(w+1)
	}{
		{0, 0.1 / 1.1},
		{2500 * time.Millisecond, 0.325 / 1.325},
		{5 * time.Second, 0.55 / 1.55},
		{7500 * time.Millisecond, 0.775 / 1.775},
		{10 * time.Second, 0.5},
		{20 * time.Second, 0.5},
	} {
		if tc.at > 0 {
			clk.Advance(tc.at - ramp(p, clk))
		}
		counts := pickCounts(t, p, n, nil)
		within(t, "returning host at "+tc.at.String(), counts["127.0.0.1:8080"], n, tc.share, 0.005)
		if got := p.Stats(nil)[0].SlowStart; got != (tc.at < 10*time.Second) {
			t.Errorf("at %s Stats says slow start %v", tc.at, got)
		}
	}
}

// ramp returns how far into the slow-start window the test clock is; the
// window began when the host came back, one second after the start.
func ramp(p *Pool, clk *fakeClock) time.Duration {
	start := time.Date(2025, 1, 1, 0, 0, 1, 0, time.UTC)
	return clk.Now().Sub(start)
}

// TestSlowStartDisabled: a negative window brings a host back at full
// weight.
func TestSlowStartDisabled(t *testing.T) {
	clk := newFakeClock()
	p := newPool(t, NewRegistry(clk.Now), Options{Targets: targets(2), Eject: Eject{Consecutive: 1, Base: time.Second}, SlowStart: -1})
	h := hostAt(t, p, "127.0.0.1:8080")
	failN(h, 1, Outcome{ConnectFailed: true})
	clk.Advance(time.Second)
	counts := pickCounts(t, p, 1000, nil)
	within(t, "returning host", counts["127.0.0.1:8080"], 1000, 0.5, 0.001)
}
