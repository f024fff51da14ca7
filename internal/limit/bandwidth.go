package limit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Bucket is a bandwidth limit in bytes per second that any number of
// connections draw from. It reserves time, GCRA-style: a transfer of n
// bytes moves the bucket's TAT on by n/rate and waits until TAT−burst has
// come. Transfers are served in the order they reserve, so connections
// that move chunks of equal size share the rate equally (fairness among a
// user's connections). A nil *Bucket is no limit.
type Bucket struct {
	rate  int64 // bytes per second
	tau   int64 // burst, as time (ns)
	chunk int   // largest transfer to reserve at once
	clk   clock
	tat   atomic.Int64

	// Set by BucketSet; refs counts the holders.
	set  *BucketSet
	key  string
	refs int
}

// NewBucket makes a bucket of rate bytes/s that lets burst bytes pass at
// once (0: rate/20, i.e. 50 ms worth, at least 4 KiB). It returns nil
// (no limit) for rate ≤ 0.
func NewBucket(rate, burst int64) *Bucket {
	return newBucket(rate, burst, nil)
}

func newBucket(rate, burst int64, now func() time.Time) *Bucket {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(rate/20, 4<<10)
	}
	b := &Bucket{rate: rate, clk: newClock(now)}
	b.tau = int64(float64(burst) / float64(rate) * float64(time.Second)) // no overflow at any rate
	// A chunk is about 20 ms of the rate, between 1 KiB and 64 KiB: small
	// enough to interleave connections finely, large enough to keep the
	// number of sleeps per second low.
	b.chunk = int(min(max(rate/50, 1<<10), 64<<10, burst))
	return b
}

// Rate is the bucket's rate in bytes per second (0 for nil).
func (b *Bucket) Rate() int64 {
	if b == nil {
		return 0
	}
	return b.rate
}

// reserve books n bytes and returns how long to wait before they may
// pass.
func (b *Bucket) reserve(n int) time.Duration {
	cost := int64(n) * int64(time.Second) / b.rate
	now := b.clk.nanos()
	for {
		tat := b.tat.Load()
		next := max(tat, now) + cost
		if b.tat.CompareAndSwap(tat, next) {
			return time.Duration(max(next-b.tau-now, 0))
		}
	}
}

// Chain is the bandwidth limits that apply to one direction of one
// connection: its own bucket, its user's, its listener's (up to four).
// All apply: a transfer waits for the slowest. The zero Chain is
// unlimited; Unlimited says so in one comparison, so a face can keep its
// splice path when no limit is set.
type Chain struct {
	b [4]*Bucket
	n uint8
}

// With returns c with b added; a nil b (no limit) leaves c as it is. A
// chain holds at most four buckets: a fifth panics (a wiring bug).
func (c Chain) With(b *Bucket) Chain {
	if b == nil {
		return c
	}
	if int(c.n) == len(c.b) {
		panic(fmt.Sprintf("limit: a chain holds at most %d buckets", len(c.b)))
	}
	c.b[c.n] = b
	c.n++
	return c
}

// Unlimited reports whether no bucket applies.
func (c Chain) Unlimited() bool { return c.n == 0 }

// chunk is the largest transfer to book at once: the smallest bucket's.
func (c Chain) chunk() int {
	k := 64 << 10
	for _, b := range c.b[:c.n] {
		k = min(k, b.chunk)
	}
	return k
}

// reserve books n bytes on every bucket and returns the longest wait.
func (c Chain) reserve(n int) time.Duration {
	var w time.Duration
	for _, b := range c.b[:c.n] {
		w = max(w, b.reserve(n))
	}
	return w
}

// BucketSet hands out one shared Bucket per key (per user, say): every
// connection of a key draws from the same bucket while any holds it. A
// bucket nobody holds is forgotten once it is idle (its debt paid), so a
// client cannot earn a fresh burst by reconnecting.
type BucketSet struct {
	rate, burst int64
	now         func() time.Time
	mu          sync.Mutex
	m           map[string]*Bucket
	sweepAt     int
}

// NewBucketSet makes a set whose buckets have rate bytes/s and burst
// bytes (see NewBucket). A rate ≤ 0 gives a set whose Get returns nil.
func NewBucketSet(rate, burst int64) *BucketSet {
	return &BucketSet{rate: rate, burst: burst, m: map[string]*Bucket{}, sweepAt: minSweep}
}

// Get returns key's bucket and holds it: call Put once when the
// connection ends. It returns nil (no limit) when the set has no rate.
func (s *BucketSet) Get(key []byte) *Bucket {
	if s == nil || s.rate <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m[string(key)]
	if b == nil {
		if len(s.m) >= s.sweepAt {
			s.sweepLocked()
		}
		b = newBucket(s.rate, s.burst, s.now)
		b.set, b.key = s, string(key)
		s.m[b.key] = b
	}
	b.refs++
	return b
}

// Put gives back a bucket from Get; nil is ignored.
func (s *BucketSet) Put(b *Bucket) {
	if b == nil || b.set != s {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.refs--
	if b.refs <= 0 && b.idle() && s.m[b.key] == b {
		delete(s.m, b.key)
	}
}

func (b *Bucket) idle() bool { return b.tat.Load() <= b.clk.nanos() }

// sweepLocked forgets idle buckets nobody holds; it runs when the map has
// doubled since the last sweep, so its cost is O(1) per Get on average.
func (s *BucketSet) sweepLocked() {
	for k, b := range s.m {
		if b.refs <= 0 && b.idle() {
			delete(s.m, k)
		}
	}
	s.sweepAt = max(2*len(s.m), minSweep)
}

// Len is the number of buckets remembered now.
func (s *BucketSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
