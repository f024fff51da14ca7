package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/internal/outbound"
)

// Options builds a Pool. The zero value of every field but Name and Targets
// is a working default.
type Options struct {
	// Name is the pool's name, its key in the Registry (required).
	Name string
	// Targets are the pool's addresses (at least one).
	Targets []Target
	// Balance is the algorithm; the zero value is RoundRobin.
	Balance Balance
	// Hash is the key of the Hash balancer.
	Hash HashKey
	// CookieName is the Cookie balancer's cookie; empty means
	// DefaultCookie.
	CookieName string
	// Health configures active health checks; a zero Health.Path turns
	// them off.
	Health Health
	// Eject configures passive outlier ejection.
	Eject Eject
	// SlowStart is how long a host that comes back (or joins a running
	// pool) takes to ramp from 10% to 100% of its weight; 0 means 30s,
	// negative turns slow start off.
	SlowStart time.Duration
	// Decay is the peak-EWMA latency's time constant τ; 0 means 10s (as
	// Finagle's default).
	Decay time.Duration
	// Retry configures the pool's retry budget.
	Retry BudgetOptions
	// ResolveInterval is how often DNS-named targets are resolved again;
	// 0 means 30s.
	ResolveInterval time.Duration

	// Resolver resolves DNS-named targets; nil means net.DefaultResolver.
	// Use the dialer's resolver so that resolver.hosts applies.
	Resolver outbound.Resolver
	// Dialer opens health-check connections; required when Health.Path is
	// set.
	Dialer Dialer
	// Check is passed to Dialer.DialTCP for health checks; nil allows
	// every address.
	Check outbound.Check
	// Logger receives host transitions; nil discards them.
	Logger *slog.Logger
}

// Pool is one named set of upstream hosts and the way requests pick among
// them. Pick, StickyCookie, Budget and Stats are safe for concurrent use and
// keep working after Stop (in-flight requests of an old config finish on
// it), only without health checks and DNS updates.
type Pool struct {
	name     string
	reg      *Registry
	group    *group
	opts     Options
	targets  []target
	resolver outbound.Resolver
	log      *slog.Logger
	noHost   error
	cookie   string

	decay     float64 // τ in ns
	slowStart int64   // ns; 0: off

	members atomic.Pointer[members]

	mu      sync.Mutex // membership changes and lifecycle
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// members is one set of hosts with their weights and its balancer.
type members struct {
	hosts   []*Host
	weights []int32
	bal     balancer
	byID    map[string]int // Cookie pools: Host.ID → index
}

// NewPool builds the pool o describes, reusing the hosts that live pools of
// the same name already have. DNS-named targets take the last answer a pool
// of this name had, or are resolved now within ctx; a name that does not
// resolve is logged and retried every ResolveInterval once the pool is
// started, not an error (DNS may be down during a reload).
//
// Every pool built must be stopped, started or not: Stop releases its
// hosts. The server builds the new graph's pools, swaps the graph, starts
// the new pools and stops the old ones, so health checks never pause.
func (r *Registry) NewPool(ctx context.Context, o Options) (*Pool, error) {
	p := &Pool{name: o.Name, reg: r, resolver: o.Resolver}
	if err := p.configure(o); err != nil {
		return nil, err
	}
	p.group = r.join(p)
	p.group.budget.SetOptions(p.opts.Retry)
	ms := p.collect(ctx, false)
	hosts := r.acquire(p.group, ms)
	p.members.Store(p.newMembers(hosts, ms))
	return p, nil
}

// configure validates o and fills in the defaults.
func (p *Pool) configure(o Options) error {
	if o.Name == "" {
		return fmt.Errorf("upstream pool: no name")
	}
	if len(o.Targets) == 0 {
		return fmt.Errorf("upstream %s: no targets", o.Name)
	}
	seen := map[string]bool{}
	for _, t := range o.Targets {
		pt, err := parseTarget(t)
		if err != nil {
			return fmt.Errorf("upstream %s: %w", o.Name, err)
		}
		if seen[t.Addr] {
			return fmt.Errorf("upstream %s: target %q listed twice", o.Name, t.Addr)
		}
		seen[t.Addr] = true
		p.targets = append(p.targets, pt)
	}
	if int(o.Balance) >= len(balanceNames) {
		return fmt.Errorf("upstream %s: unknown balancer %s", o.Name, o.Balance)
	}
	if o.Balance == Hash {
		switch o.Hash.Source {
		case HashClientIP, HashURI:
		case HashHeader, HashCookie:
			if o.Hash.Name == "" {
				return fmt.Errorf("upstream %s: hash by %s needs a name", o.Name, o.Hash.Source)
			}
		default:
			return fmt.Errorf("upstream %s: unknown hash source %s", o.Name, o.Hash.Source)
		}
	}
	if err := o.Health.normalize(); err != nil {
		return fmt.Errorf("upstream %s: health: %w", o.Name, err)
	}
	if o.Health.Path != "" && o.Dialer == nil {
		return fmt.Errorf("upstream %s: health checks need a dialer", o.Name)
	}
	if err := o.Eject.normalize(); err != nil {
		return fmt.Errorf("upstream %s: eject: %w", o.Name, err)
	}
	if err := o.Retry.normalize(); err != nil {
		return fmt.Errorf("upstream %s: retry budget: %w", o.Name, err)
	}
	if o.SlowStart == 0 {
		o.SlowStart = 30 * time.Second
	}
	if o.Decay <= 0 {
		o.Decay = 10 * time.Second
	}
	if o.ResolveInterval <= 0 {
		o.ResolveInterval = 30 * time.Second
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookie
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p.opts = o
	p.log = o.Logger
	p.cookie = o.CookieName
	p.noHost = fmt.Errorf("upstream %s: %w", o.Name, ErrNoHost)
	p.decay = float64(o.Decay)
	p.slowStart = max(int64(o.SlowStart), 0)
	return nil
}

func (e *Eject) normalize() error {
	if e.Consecutive == 0 {
		e.Consecutive = 5
	}
	if e.Base <= 0 {
		e.Base = 30 * time.Second
	}
	if e.Max <= 0 {
		e.Max = 5 * time.Minute
	}
	if e.Max < e.Base {
		return fmt.Errorf("max %s is below base %s", e.Max, e.Base)
	}
	if e.MaxShare == 0 {
		e.MaxShare = 0.5
	}
	if !(e.MaxShare > 0 && e.MaxShare <= 1) {
		return fmt.Errorf("max share %v is not in (0, 1]", e.MaxShare)
	}
	return nil
}

// newMembers builds the member set of hosts, whose weights are in ms.
func (p *Pool) newMembers(hosts []*Host, ms []member) *members {
	m := &members{hosts: hosts, weights: make([]int32, len(ms))}
	for i := range ms {
		m.weights[i] = ms[i].weight
	}
	m.bal = newBalancer(p.opts.Balance, m.hosts, m.weights)
	if p.opts.Balance == Cookie {
		m.byID = make(map[string]int, len(hosts))
		for i, h := range hosts {
			m.byID[h.id] = i
		}
	}
	return m
}

// setMembers replaces the member set when DNS changed it.
func (p *Pool) setMembers(ms []member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	old := p.members.Load()
	hosts := p.reg.acquire(p.group, ms)
	p.members.Store(p.newMembers(hosts, ms))
	p.reg.release(p.group, old.hosts)
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Budget returns the pool's retry budget, shared by every pool of this
// name so that a reload does not refill it.
func (p *Pool) Budget() *Budget { return p.group.budget }

// Pick returns a host for r that is healthy, not ejected and not one of
// exclude (the hosts a retry already tried), or an error wrapping ErrNoHost.
// r may be nil for balancers that need no key. Pick allocates nothing
// (unless more than 4 hosts are excluded) and retains nothing of r.
func (p *Pool) Pick(r *Request, exclude ...*Host) (*Host, error) {
	m := p.members.Load()
	c := candidates{pool: p, hosts: m.hosts, weights: m.weights}
	if n := copy(c.ex[:], exclude); n < len(exclude) {
		c.more = slices.Clone(exclude[n:])
	}
	switch p.opts.Balance {
	case Hash:
		c.key, c.hasKey = p.hashKey(r)
	case Cookie:
		if h := p.sticky(r, m, &c); h != nil {
			return h, nil
		}
	}
	if h := m.bal.pick(c); h != nil {
		return h, nil
	}
	return nil, p.noHost
}

// Start begins the pool's active health checks and DNS re-resolution, if
// it has any. Start after Stop does nothing.
func (p *Pool) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return
	}
	p.started = true
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	if p.opts.Health.Path != "" {
		p.wg.Go(func() { p.healthLoop(ctx) })
	}
	if slices.ContainsFunc(p.targets, func(t target) bool { return !t.ip.IsValid() }) {
		p.wg.Go(func() { p.resolveLoop(ctx) })
	}
}

// Stop ends the pool's goroutines, waits for them, and releases its hosts
// (the Registry forgets those no other live pool holds). The pool keeps
// answering Pick with the hosts it had. Stop is idempotent.
func (p *Pool) Stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	cancel := p.cancel
	p.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	p.wg.Wait()
	p.reg.release(p.group, p.members.Load().hosts)
	p.reg.leave(p.group, p)
}
