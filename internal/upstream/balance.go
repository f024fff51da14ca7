package upstream

import (
	"math/rand/v2"
	"sync"
)

// balancer chooses one host among a pool's members. Each set of members
// gets its own balancer (round-robin positions and hash tables depend on
// the set), rebuilt when DNS or a reload changes the set.
//
// candidates is passed by value and holds no pointer to the caller's stack,
// so an interface call does not force Pick's arguments to the heap: Pick
// allocates nothing.
type balancer interface {
	pick(c candidates) *Host
}

var (
	_ balancer = (*roundRobin)(nil)
	_ balancer = (*leastConn)(nil)
	_ balancer = randomPick{}
	_ balancer = p2c{}
	_ balancer = peakEWMA{}
	_ balancer = (*maglev)(nil)
)

func newBalancer(kind Balance, hosts []*Host, weights []int32) balancer {
	switch kind {
	case LeastConn:
		return &leastConn{rr: roundRobin{current: make([]int64, len(hosts))}}
	case Random:
		return randomPick{}
	case P2C:
		return p2c{}
	case EWMA:
		return peakEWMA{}
	case Hash:
		return newMaglev(hosts, weights)
	default: // RoundRobin, and Cookie for clients without a usable cookie
		return &roundRobin{current: make([]int64, len(hosts))}
	}
}

// maxExclude is how many excluded hosts a pick holds inline; more are
// copied to the heap (a caller rarely retries that often).
const maxExclude = 4

// candidates is one pick's view of the pool: the members, their configured
// weights, what the caller excluded, and the hash key.
type candidates struct {
	pool    *Pool
	hosts   []*Host
	weights []int32
	ex      [maxExclude]*Host
	more    []*Host
	key     uint64
	hasKey  bool
	now     int64 // read from the clock when first needed
}

func (c *candidates) clock() int64 {
	if c.now == 0 {
		c.now = c.pool.reg.clock.nanos()
	}
	return c.now
}

func (c *candidates) excluded(h *Host) bool {
	for _, x := range c.ex {
		if x == h {
			return true
		}
	}
	for _, x := range c.more {
		if x == h {
			return true
		}
	}
	return false
}

// weight returns host i's effective weight in weightUnit (slow start
// applied), 0 when it may not be picked: unhealthy, ejected or excluded. An
// ejection that has run out ends here, lazily, so no timer is needed.
func (c *candidates) weight(i int) int64 {
	h := c.hosts[i]
	if c.pool.unhealthy(h) || c.excluded(h) {
		return 0
	}
	if to := h.ejectedTo.Load(); to != 0 {
		if c.clock() < to {
			return 0
		}
		c.pool.unEject(h, to, to, "ejection expired")
	}
	w := int64(c.weights[i]) * weightUnit
	if h.slowFrom.Load() != 0 {
		w = c.pool.slowWeight(h, w, c.clock())
	}
	return w
}

// randomUsable returns the index of a random usable host other than avoid,
// or -1. A few random probes find one in O(1) when most hosts are usable; a
// scan from a random start finds one otherwise.
func (c *candidates) randomUsable(avoid int) int {
	n := len(c.hosts)
	if n == 0 {
		return -1
	}
	for range 3 {
		if i := rand.IntN(n); i != avoid && c.weight(i) > 0 {
			return i
		}
	}
	start := rand.IntN(n)
	for k := range n {
		if i := (start + k) % n; i != avoid && c.weight(i) > 0 {
			return i
		}
	}
	return -1
}

// pair returns two distinct usable hosts chosen at random; b is -1 when
// only a is usable, and a is -1 when none is.
func (c *candidates) pair() (a, b int) {
	if a = c.randomUsable(-1); a < 0 {
		return -1, -1
	}
	return a, c.randomUsable(a)
}

// host returns host i, nil for -1.
func (c *candidates) host(i int) *Host {
	if i < 0 {
		return nil
	}
	return c.hosts[i]
}

// roundRobin is nginx's smooth weighted round robin
// (ngx_http_upstream_get_peer): every pick adds each usable host's
// effective weight to its current weight, takes the highest, and subtracts
// the total from it. Weights 5, 1, 1 give a a b a c a a: a heavy host's
// turns are spread out, not bunched.
type roundRobin struct {
	mu      sync.Mutex
	current []int64
}

func (b *roundRobin) pick(c candidates) *Host {
	b.mu.Lock()
	defer b.mu.Unlock()
	best, total := -1, int64(0)
	for i := range c.hosts {
		w := c.weight(i)
		if w == 0 {
			continue
		}
		b.current[i] += w
		total += w
		if best < 0 || b.current[i] > b.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b.current[best] -= total
	return c.hosts[best]
}

// leastConn picks the host with the fewest in-flight attempts per unit of
// effective weight; ties go by smooth weighted round robin among the tied
// hosts, as nginx's least_conn does, so idle pools still follow weights.
type leastConn struct {
	rr roundRobin
}

func (b *leastConn) pick(c candidates) *Host {
	b.rr.mu.Lock()
	defer b.rr.mu.Unlock()
	// n/w < bn/bw, compared as n·bw < bn·w to stay in integers.
	bi, bn, bw := -1, int64(0), int64(0)
	for i, h := range c.hosts {
		w := c.weight(i)
		if w == 0 {
			continue
		}
		if n := h.inflight.Load(); bi < 0 || n*bw < bn*w {
			bi, bn, bw = i, n, w
		}
	}
	if bi < 0 {
		return nil
	}
	cur := b.rr.current
	best, total := -1, int64(0)
	for i, h := range c.hosts {
		w := c.weight(i)
		if w == 0 || h.inflight.Load()*bw > bn*w {
			continue
		}
		cur[i] += w
		total += w
		if best < 0 || cur[i] > cur[best] {
			best = i
		}
	}
	if best < 0 { // the counts moved between the passes
		return c.hosts[bi]
	}
	cur[best] -= total
	return c.hosts[best]
}

// randomPick picks at random in proportion to effective weight.
type randomPick struct{}

func (randomPick) pick(c candidates) *Host {
	var total int64
	for i := range c.hosts {
		total += c.weight(i)
	}
	if total == 0 {
		return nil
	}
	r := rand.Int64N(total)
	last := -1
	for i := range c.hosts {
		w := c.weight(i)
		if w == 0 {
			continue
		}
		if r < w {
			return c.hosts[i]
		}
		r -= w
		last = i
	}
	if last < 0 { // every host went away between the passes
		return nil
	}
	return c.hosts[last]
}

// p2c is the power of two choices (Mitzenmacher): two distinct usable hosts
// at random, the one with fewer in-flight attempts per unit of weight wins.
// It avoids least_conn's herd onto one idle host when many picks run at once.
type p2c struct{}

func (p2c) pick(c candidates) *Host {
	a, b := c.pair()
	if b >= 0 && fewerInFlight(&c, b, a) {
		a = b
	}
	return c.host(a)
}

// fewerInFlight: a has fewer in-flight attempts per unit of weight than
// b, (na+1)/wa < (nb+1)/wb, crossed out of the division.
func fewerInFlight(c *candidates, a, b int) bool {
	na, nb := c.hosts[a].inflight.Load()+1, c.hosts[b].inflight.Load()+1
	return na*c.weight(b) < nb*c.weight(a)
}

// peakEWMA is p2c on peak-EWMA latency × (in-flight + 1) per unit of
// weight, as Finagle's and Linkerd's balancers: a host that slows down
// loses traffic before it fails outright.
type peakEWMA struct{}

func (peakEWMA) pick(c candidates) *Host {
	a, b := c.pair()
	if b >= 0 && lowerLatencyLoad(&c, b, a) {
		a = b
	}
	return c.host(a)
}

// lowerLatencyLoad: a's latency load per unit of weight is below b's.
func lowerLatencyLoad(c *candidates, a, b int) bool {
	now, tau := c.clock(), c.pool.decay
	return c.hosts[a].load(now, tau)/float64(c.weight(a)) < c.hosts[b].load(now, tau)/float64(c.weight(b))
}
