package upstream

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestReloadKeepsHostState: a new pool of the same name gets the same
// *Host for an address it keeps, with its ejection, latency and in-flight
// count; a target added by the reload starts in slow start; one removed is
// forgotten once the old pool stops.
func TestReloadKeepsHostState(t *testing.T) {
	clk := newFakeClock()
	reg := NewRegistry(clk.Now)
	v1, err := reg.NewPool(context.Background(), Options{Name: "app", Targets: targets(3), Eject: Eject{Consecutive: 1}})
	if err != nil {
		t.Fatal(err)
	}
	v1.Start()
	a := hostAt(t, v1, "127.0.0.1:8080")
	b := hostAt(t, v1, "127.0.0.2:8080")
	gone := hostAt(t, v1, "127.0.0.3:8080")
	failN(a, 1, Outcome{ConnectFailed: true}) // ejected
	b.Begin()                                 // an attempt still in flight across the reload
	b.Begin()
	b.End(Outcome{Status: 200, Latency: 40 * time.Millisecond})

	// v2 keeps 1 and 2, drops 3, adds 4.
	ts := append(targets(2), Target{Addr: "127.0.0.4:8080"})
	v2, err := reg.NewPool(context.Background(), Options{Name: "app", Targets: ts, Eject: Eject{Consecutive: 1}})
	if err != nil {
		t.Fatal(err)
	}
	v2.Start()
	v1.Stop()
	defer v2.Stop()

	if hostAt(t, v2, "127.0.0.1:8080") != a || hostAt(t, v2, "127.0.0.2:8080") != b {
		t.Fatal("the reload made new hosts for kept addresses")
	}
	st := v2.Stats(nil)
	if st[0].State != Ejected || st[0].Ejections != 1 {
		t.Errorf("ejection lost across the reload: %+v", st[0])
	}
	if st[1].InFlight != 1 || st[1].Latency != 40*time.Millisecond {
		t.Errorf("in-flight or latency lost across the reload: %+v", st[1])
	}
	if st[2].SlowStart != true {
		t.Errorf("a target added by a reload should start slowly: %+v", st[2])
	}
	if st[0].SlowStart || st[1].SlowStart {
		t.Error("kept hosts entered slow start")
	}
	b.End(Outcome{Status: 200}) // the old graph's attempt finishes
	if b.InFlight() != 0 {
		t.Errorf("in flight %d", b.InFlight())
	}

	// The dropped address is forgotten: listing it again starts afresh.
	v3 := newPool(t, reg, Options{Name: "app", Targets: targets(3)})
	if hostAt(t, v3, "127.0.0.3:8080") == gone {
		t.Error("a host removed by a reload was kept")
	}
}

// TestReloadWithoutChecksIgnoresOldVerdict: a host that active checks
// found down is usable in a new pool without checks (nothing would ever
// bring it back otherwise), and down again if checks return.
func TestReloadWithoutChecksIgnoresOldVerdict(t *testing.T) {
	reg := NewRegistry(nil)
	v1 := newPool(t, reg, checked(Options{Targets: targets(2)}))
	h := hostAt(t, v1, "127.0.0.1:8080")
	h.unhealthy.Store(true)
	v2 := newPool(t, reg, Options{Targets: targets(2)})
	v1.Stop()
	if !usable(v2, h) || v2.Stats(nil)[0].State != Healthy {
		t.Fatal("a pool without checks kept the old verdict")
	}
	v3 := newPool(t, reg, checked(Options{Targets: targets(2)}))
	if usable(v3, h) {
		t.Fatal("a pool with checks ignored the verdict")
	}
}

// TestStoppedPoolsReleaseTheirHosts: when every pool of a name stops, the
// registry holds nothing of it.
func TestStoppedPoolsReleaseTheirHosts(t *testing.T) {
	reg := NewRegistry(nil)
	p1 := newPool(t, reg, Options{Name: "a", Targets: targets(2)})
	p2 := newPool(t, reg, Options{Name: "a", Targets: targets(3)})
	p1.Stop()
	p1.Stop() // idempotent
	if n := len(reg.groups["a"].hosts); n != 3 {
		t.Fatalf("%d hosts held, want 3 (p2's)", n)
	}
	p2.Stop()
	if len(reg.groups) != 0 {
		t.Fatalf("registry still holds %d groups", len(reg.groups))
	}
	// A stopped pool still answers (an old graph's requests finish).
	if _, err := p2.Pick(nil); err != nil {
		t.Fatalf("stopped pool: %v", err)
	}
	p2.Start() // does nothing after Stop
}

// TestEjectionFollowsNewestPool: End uses the newest live pool's options;
// when it stops without the swap (a failed reload), the older one's again.
func TestEjectionFollowsNewestPool(t *testing.T) {
	clk := newFakeClock()
	reg := NewRegistry(clk.Now)
	old := newPool(t, reg, Options{Targets: targets(2), Eject: Eject{Consecutive: 2}})
	h := hostAt(t, old, "127.0.0.1:8080")
	failed, err := reg.NewPool(context.Background(), Options{Name: "app", Targets: targets(2), Eject: Eject{Consecutive: -1}})
	if err != nil {
		t.Fatal(err)
	}
	failN(h, 5, Outcome{ConnectFailed: true})
	if !usable(old, h) {
		t.Fatal("ejected under the newer pool's options, which disable ejection")
	}
	failed.Stop()
	failN(h, 2, Outcome{ConnectFailed: true})
	if usable(old, h) {
		t.Fatal("not ejected under the remaining pool's options")
	}
}

// TestNewPoolRejectsBadOptions: every error names the pool and the value.
func TestNewPoolRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		desc string
		o    Options
		want string
	}{
		{desc: "no name", o: Options{Targets: targets(1)}, want: "no name"},
		{desc: "no targets", o: Options{Name: "x"}, want: "x: no targets"},
		{desc: "no port", o: Options{Name: "x", Targets: []Target{{Addr: "127.0.0.1"}}}, want: `"127.0.0.1"`},
		{desc: "port zero", o: Options{Name: "x", Targets: []Target{{Addr: "127.0.0.1:0"}}}, want: "bad port"},
		{desc: "bad name", o: Options{Name: "x", Targets: []Target{{Addr: "a b:80"}}}, want: "neither"},
		{desc: "zone", o: Options{Name: "x", Targets: []Target{{Addr: "[fe80::1%eth0]:80"}}}, want: "zoned"},
		{desc: "weight", o: Options{Name: "x", Targets: []Target{{Addr: "127.0.0.1:80", Weight: -1}}}, want: "weight -1"},
		{desc: "duplicate", o: Options{Name: "x", Targets: []Target{{Addr: "127.0.0.1:80"}, {Addr: "127.0.0.1:80"}}}, want: "twice"},
		{desc: "hash header without name", o: Options{Name: "x", Targets: targets(1), Balance: Hash, Hash: HashKey{Source: HashHeader}}, want: "needs a name"},
		{desc: "unknown balancer", o: Options{Name: "x", Targets: targets(1), Balance: 99}, want: "Balance(99)"},
		{desc: "health path", o: Options{Name: "x", Targets: targets(1), Health: Health{Path: "health"}, Dialer: nopDialer{}}, want: `"health"`},
		{desc: "health path injection", o: Options{Name: "x", Targets: targets(1), Health: Health{Path: "/ HTTP/1.1\r\nX: y"}, Dialer: nopDialer{}}, want: "origin-form"},
		{desc: "health without dialer", o: Options{Name: "x", Targets: targets(1), Health: Health{Path: "/"}}, want: "dialer"},
		{desc: "health status", o: Options{Name: "x", Targets: targets(1), Health: Health{Path: "/", StatusMin: 300, StatusMax: 200}, Dialer: nopDialer{}}, want: "300-200"},
		{desc: "eject share", o: Options{Name: "x", Targets: targets(1), Eject: Eject{MaxShare: 1.5}}, want: "1.5"},
		{desc: "eject max below base", o: Options{Name: "x", Targets: targets(1), Eject: Eject{Base: time.Minute, Max: time.Second}}, want: "below base"},
		{desc: "budget ratio", o: Options{Name: "x", Targets: targets(1), Retry: BudgetOptions{Ratio: 2}}, want: "ratio 2"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p, err := NewRegistry(nil).NewPool(context.Background(), tc.o)
			if err == nil {
				p.Stop()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
