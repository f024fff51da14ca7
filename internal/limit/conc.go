package limit

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Concurrency is a keyed concurrency limit: at most Max slots held per
// key (connections per client IP, tunnels per user, requests in flight per
// route). Safe for concurrent use; make it with NewConcurrency.
type Concurrency struct {
	name string
	max  int64
	tab  table[concEntry]

	allowed, limited, overflow atomic.Uint64
}

// concEntry counts the slots held for one key; -1 marks an entry swept
// while empty (see table).
type concEntry struct{ n atomic.Int64 }

// ConcStats are a concurrency limiter's counters.
type ConcStats struct {
	Allowed  uint64 // acquisitions granted
	Limited  uint64 // acquisitions refused at Max
	Overflow uint64 // acquisitions refused because MaxKeys keys held slots
	Keys     int    // keys remembered now (held or not yet swept)
}

// NewConcurrency makes a limit of max slots per key.
func NewConcurrency(name string, max int, o Options) (*Concurrency, error) {
	if max <= 0 {
		return nil, fmt.Errorf("limit %q: concurrency %d must be positive", name, max)
	}
	c := &Concurrency{name: name, max: int64(max)}
	c.tab.init(o.MaxKeys)
	return c, nil
}

// Name is the limit's name.
func (c *Concurrency) Name() string { return c.name }

// Max is the slots allowed per key.
func (c *Concurrency) Max() int { return int(c.max) }

// Acquire takes a slot for key. When ok, the caller must call
// Slot.Release exactly when the work ends (defer it, or call it from the
// connection's close path); Release is idempotent, so calling it from
// both is safe. When !ok the Slot is the zero Slot, whose Release does
// nothing.
func (c *Concurrency) Acquire(key []byte) (s Slot, ok bool) {
	sh := c.tab.shard(key)
	for {
		e := sh.get(key)
		if e == nil {
			e, _ = sh.insert(key, c.tab.perShard, newConcEntry, killConc, killConc)
			if e == nil {
				c.overflow.Add(1)
				return Slot{}, false
			}
		}
		for {
			n := e.n.Load()
			if n < 0 {
				break // swept: look again
			}
			if n >= c.max {
				c.limited.Add(1)
				return Slot{}, false
			}
			if e.n.CompareAndSwap(n, n+1) {
				c.allowed.Add(1)
				return newSlot(&e.n), true
			}
		}
	}
}

func newConcEntry() *concEntry { return new(concEntry) }

// killConc marks an entry with no slot held dead.
func killConc(e *concEntry) bool { return e.n.CompareAndSwap(0, -1) }

// Held is how many slots key holds now.
func (c *Concurrency) Held(key []byte) int {
	if e := c.tab.shard(key).get(key); e != nil {
		return int(max(e.n.Load(), 0))
	}
	return 0
}

// Sweep forgets keys that hold no slot.
func (c *Concurrency) Sweep() int { return c.tab.sweep(killConc) }

// Stats reads the counters.
func (c *Concurrency) Stats() ConcStats {
	return ConcStats{
		Allowed:  c.allowed.Load(),
		Limited:  c.limited.Load(),
		Overflow: c.overflow.Load(),
		Keys:     c.tab.len(),
	}
}

// Slot is one held unit of a concurrency limit (or of anything else that
// counts with an atomic counter). It is a small value: copy it freely;
// Release on any copy releases it once, and later Releases on any copy do
// nothing. The zero Slot releases nothing.
type Slot struct {
	t   *ticket
	gen uint64
}

// ticket is pooled; its generation moves on at each release, so a stale
// Slot (one whose ticket was released and reused) fails its
// compare-and-swap and does nothing: Release stays idempotent without an
// allocation per Acquire.
type ticket struct {
	gen atomic.Uint64
	n   *atomic.Int64
}

var tickets = sync.Pool{New: func() any { return new(ticket) }}

func newSlot(n *atomic.Int64) Slot {
	t := tickets.Get().(*ticket)
	t.n = n
	return Slot{t: t, gen: t.gen.Load()}
}

// Release gives the slot back. It is idempotent and safe to call from
// several goroutines.
func (s Slot) Release() {
	if s.t == nil || !s.t.gen.CompareAndSwap(s.gen, s.gen+1) {
		return
	}
	n := s.t.n
	s.t.n = nil
	n.Add(-1)
	tickets.Put(s.t)
}

// Held reports whether the slot has not been released yet.
func (s Slot) Held() bool { return s.t != nil && s.t.gen.Load() == s.gen }
