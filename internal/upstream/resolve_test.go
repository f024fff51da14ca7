package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// changingResolver answers from a map a test changes while pools run.
type changingResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	err     error
	calls   atomic.Int32
}

func (r *changingResolver) set(name string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answers == nil {
		r.answers = map[string][]netip.Addr{}
	}
	r.answers[name] = nil
	for _, a := range addrs {
		r.answers[name] = append(r.answers[name], netip.MustParseAddr(a))
	}
	r.err = nil
}

func (r *changingResolver) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *changingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	a, ok := r.answers[host]
	if !ok {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	return append([]netip.Addr(nil), a...), nil
}

// memberList renders a pool's members as "addr/weight" in order.
func memberList(p *Pool) string {
	m := p.members.Load()
	var parts []string
	for i, h := range m.hosts {
		parts = append(parts, fmt.Sprintf("%s/%d", h.addr, m.weights[i]))
	}
	return strings.Join(parts, " ")
}

// TestPoolFollowsDNS: a DNS-named target's addresses are re-resolved; each
// address is a host with the target's weight; a kept address keeps its
// Host; a failed lookup keeps the last answer; a removed address is
// forgotten.
func TestPoolFollowsDNS(t *testing.T) {
	checkGoroutines(t)
	res := &changingResolver{}
	res.set("app.test", "127.0.0.1")
	reg := NewRegistry(nil)
	p := newPool(t, reg, Options{
		Targets:         []Target{{Addr: "app.test:8080", Weight: 3}, {Addr: "127.0.0.9:8080"}},
		ResolveInterval: 10 * time.Millisecond,
		Resolver:        res,
	})
	if got, want := memberList(p), "127.0.0.1:8080/3 127.0.0.9:8080/1"; got != want {
		t.Fatalf("members %s, want %s", got, want)
	}
	first := hostAt(t, p, "127.0.0.1:8080")
	if first.Target() != "app.test:8080" || first.Name() != "app.test" {
		t.Errorf("host target %q name %q", first.Target(), first.Name())
	}
	p.Start()

	res.set("app.test", "127.0.0.2", "::1", "127.0.0.1")
	want := "127.0.0.1:8080/3 127.0.0.2:8080/3 [::1]:8080/3 127.0.0.9:8080/1"
	eventually(t, "new addresses", func() bool { return memberList(p) == want })
	if hostAt(t, p, "127.0.0.1:8080") != first {
		t.Error("a kept address got a new Host")
	}
	if !p.Stats(nil)[1].SlowStart {
		t.Error("an address added by DNS is not in slow start")
	}

	res.fail(errors.New("server misbehaving"))
	calls := res.calls.Load()
	eventually(t, "failed lookups", func() bool { return res.calls.Load() >= calls+3 })
	if got := memberList(p); got != want {
		t.Fatalf("a failed lookup changed the members to %s", got)
	}

	res.set("app.test", "127.0.0.2")
	eventually(t, "address removed", func() bool { return memberList(p) == "127.0.0.2:8080/3 127.0.0.9:8080/1" })
	reg.mu.Lock()
	_, kept := reg.groups["app"].hosts[netip.MustParseAddrPort("127.0.0.1:8080")]
	reg.mu.Unlock()
	if kept {
		t.Error("the registry kept a host DNS removed")
	}
	p.Stop()
}

// TestReloadReusesLastDNSAnswer: a reload does not wait for DNS (and does
// not fail when DNS is down): the new pool starts from the last answer.
func TestReloadReusesLastDNSAnswer(t *testing.T) {
	res := &changingResolver{}
	res.set("app.test", "127.0.0.1", "127.0.0.2")
	reg := NewRegistry(nil)
	o := Options{Targets: []Target{{Addr: "app.test:80"}}, Resolver: res}
	v1 := newPool(t, reg, o)
	res.fail(errors.New("dns down"))
	calls := res.calls.Load()
	v2 := newPool(t, reg, o)
	v1.Stop()
	if res.calls.Load() != calls {
		t.Error("the reload looked the name up again")
	}
	if got := memberList(v2); got != "127.0.0.1:80/1 127.0.0.2:80/1" {
		t.Fatalf("members after reload %s", got)
	}
}

// TestUnresolvedNameFillsLater: a name that does not resolve at build time
// leaves the pool without its hosts (Pick says ErrNoHost), is logged, and
// is filled once DNS answers.
func TestUnresolvedNameFillsLater(t *testing.T) {
	checkGoroutines(t)
	res := &changingResolver{}
	var log logBuffer
	p := newPool(t, NewRegistry(nil), Options{
		Targets:         []Target{{Addr: "late.test:80"}},
		Resolver:        res,
		ResolveInterval: 10 * time.Millisecond,
		Logger:          log.logger(),
	})
	if _, err := p.Pick(nil); !errors.Is(err, ErrNoHost) {
		t.Fatalf("Pick = %v, want ErrNoHost", err)
	}
	if !hasLine(log.String(), "upstream name not resolved") {
		t.Errorf("not logged:\n%s", log.String())
	}
	p.Start()
	res.set("late.test", "127.0.0.5")
	eventually(t, "late answer", func() bool { _, err := p.Pick(nil); return err == nil })
	p.Stop()
}

// TestDuplicateAddressesMerge: two targets reaching the same address are
// one host with the sum of their weights.
func TestDuplicateAddressesMerge(t *testing.T) {
	res := &changingResolver{}
	res.set("a.test", "127.0.0.1", "127.0.0.2")
	res.set("b.test", "127.0.0.2")
	p := newPool(t, NewRegistry(nil), Options{
		Targets:  []Target{{Addr: "a.test:80", Weight: 2}, {Addr: "b.test:80", Weight: 5}, {Addr: "127.0.0.1:80"}},
		Resolver: res,
	})
	if got, want := memberList(p), "127.0.0.1:80/3 127.0.0.2:80/7"; got != want {
		t.Fatalf("members %s, want %s", got, want)
	}
}

// FuzzParseTarget: never panics; what it accepts has a port and a host
// that is an IP or a plausible name, and its weight is at least 1.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"127.0.0.1:80", "[::1]:443", "app.internal:8080", "a:0", ":80", "[fe80::1%lo]:80", "a b:1", "x:65536", "host:http"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, addr string, weight int) {
		pt, err := parseTarget(Target{Addr: addr, Weight: weight})
		if err != nil {
			return
		}
		if pt.port == 0 || pt.weight < 1 || pt.weight > MaxWeight {
			t.Fatalf("parseTarget(%q, %d) = %+v", addr, weight, pt)
		}
		if !pt.ip.IsValid() && !validName(pt.host) {
			t.Fatalf("parseTarget(%q) accepted host %q", addr, pt.host)
		}
	})
}
