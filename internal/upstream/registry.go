package upstream

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds the live state of every upstream host, keyed by pool name
// and address, across config reloads: NewPool for a name and address that a
// live pool already has returns the same *Host, so health, ejection and
// latency survive a reload. A host is forgotten when the last pool holding
// it stops. The server makes one Registry and keeps it for its lifetime.
type Registry struct {
	clock clock

	mu     sync.Mutex
	groups map[string]*group
}

// NewRegistry returns an empty registry reading time from now (nil means
// time.Now). Tests pass a fake clock so that ejection backoff, slow start,
// latency decay and budgets run without sleeping.
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	// The base lies a second in the past so that every reading is positive:
	// 0 means "never" in the hosts' timestamps.
	return &Registry{clock: clock{now: now, base: now().Add(-time.Second)}, groups: map[string]*group{}}
}

// clock turns the injected time into int64 nanoseconds since a base, which
// fit in atomics. time.Time.Sub uses the monotonic reading when both times
// have one, so a wall-clock step does not end an ejection early.
type clock struct {
	now  func() time.Time
	base time.Time
}

func (c *clock) nanos() int64 { return int64(c.now().Sub(c.base)) }

// time converts a reading back; 0 is the zero Time.
func (c *clock) time(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return c.base.Add(time.Duration(n))
}

// group is the state shared by every pool of one name: its hosts with
// reference counts, the last DNS answers, the retry budget, and the newest
// live pool, whose options govern passive ejection.
type group struct {
	name   string
	reg    *Registry
	budget *Budget

	// Guarded by reg.mu.
	hosts    map[netip.AddrPort]*entry
	resolved map[string][]netip.Addr // last good answer per DNS name
	pools    []*Pool                 // live pools, oldest first

	cur atomic.Pointer[Pool] // the newest live pool; nil when none

	// ejectMu serialises ejection decisions, so that two hosts failing at
	// once cannot both pass the max-share check.
	ejectMu sync.Mutex
}

type entry struct {
	host *Host
	refs int
}

// join registers p as the newest pool of its name and returns the group.
func (r *Registry) join(p *Pool) *group {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[p.name]
	if g == nil {
		g = &group{
			name:     p.name,
			reg:      r,
			budget:   NewBudget(BudgetOptions{}, r.clock.now),
			hosts:    map[netip.AddrPort]*entry{},
			resolved: map[string][]netip.Addr{},
		}
		r.groups[p.name] = g
	}
	g.pools = append(g.pools, p)
	g.cur.Store(p)
	return g
}

// leave unregisters p; the newest remaining pool takes over.
func (r *Registry) leave(g *group, p *Pool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, q := range g.pools {
		if q == p {
			g.pools = append(g.pools[:i], g.pools[i+1:]...)
			break
		}
	}
	if n := len(g.pools); n > 0 {
		g.cur.Store(g.pools[n-1])
	} else {
		g.cur.Store(nil)
	}
	if len(g.pools) == 0 && len(g.hosts) == 0 {
		delete(r.groups, g.name)
	}
}

// member is one address a pool wants, before it is a Host.
type member struct {
	target string // as configured
	name   string // the target's host part
	addr   netip.AddrPort
	weight int32
}

// acquire returns the hosts for ms, creating the missing ones and taking a
// reference on each. A host new to a group that already had hosts (a target
// added by a reload, an address added by DNS) starts in slow start, so it is
// not flooded with its full share at once.
func (r *Registry) acquire(g *group, ms []member) []*Host {
	r.mu.Lock()
	defer r.mu.Unlock()
	established := len(g.hosts) > 0
	now := r.clock.nanos()
	hosts := make([]*Host, len(ms))
	for i, m := range ms {
		e := g.hosts[m.addr]
		if e == nil {
			h := newHost(g, m)
			if established {
				h.slowFrom.Store(now)
			}
			h.lastChange.Store(now)
			e = &entry{host: h}
			g.hosts[m.addr] = e
		}
		e.refs++
		hosts[i] = e.host
	}
	return hosts
}

// release drops a reference on each host; a host without references is
// forgotten.
func (r *Registry) release(g *group, hosts []*Host) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range hosts {
		e := g.hosts[h.addr]
		if e == nil || e.host != h {
			continue
		}
		if e.refs--; e.refs <= 0 {
			delete(g.hosts, h.addr)
		}
	}
	if len(g.pools) == 0 && len(g.hosts) == 0 {
		delete(r.groups, g.name)
	}
}

// lastAnswer returns the last good DNS answer for name in g.
func (r *Registry) lastAnswer(g *group, name string) ([]netip.Addr, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := g.resolved[name]
	return a, ok
}

func (r *Registry) setAnswer(g *group, name string, addrs []netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.resolved[name] = addrs
}
