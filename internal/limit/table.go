package limit

import (
	"hash/maphash"
	"sync"
	"time"
)

// Options are shared by the keyed limiters.
type Options struct {
	// MaxKeys bounds the keys a limiter remembers (0: 1<<20). Idle keys
	// (a full rate bucket, no slot held) are swept first; past the bound a
	// rate limiter forgets arbitrary keys (each then starts with a full
	// burst: memory pressure fails open, counted in Stats.Evicted) and a
	// concurrency limiter refuses new keys (counted in Stats.Overflow).
	MaxKeys int
	// Clock reads the time (nil: time.Now). Tests pass a fake clock.
	Clock func() time.Time
}

const nShards = 64 // a power of two

// clock turns Options.Clock into nanoseconds since the limiter was made.
// The default reads only the monotonic clock (time.Since: half the cost
// of time.Now, which also reads the wall clock).
type clock struct {
	fake func() time.Time // nil: the real clock
	base time.Time
}

// epoch puts the clock's zero an hour back, so that a fresh key's zero
// state is already in the past ("full bucket") from the first decision.
const epoch = int64(time.Hour)

func newClock(f func() time.Time) clock {
	if f == nil {
		return clock{base: time.Now()}
	}
	return clock{fake: f, base: f()}
}

func (c clock) nanos() int64 {
	if c.fake == nil {
		return int64(time.Since(c.base)) + epoch
	}
	return int64(c.fake().Sub(c.base)) + epoch
}

// table is a sharded map from key to *E. Readers take a shard's read lock
// only for the lookup; entries carry their own atomics. Sweeps delete
// entries that idle reports as idle; an entry is marked dead by idle (in
// the entry's own atomic) before it is deleted, so a reader that found it
// just before retries instead of updating a forgotten entry.
type table[E any] struct {
	seed     maphash.Seed
	perShard int
	shards   [nShards]shard[E]
}

type shard[E any] struct {
	mu      sync.RWMutex
	m       map[string]*E
	sweepAt int
	_       [40]byte // keep shards on separate cache lines
}

const minSweep = 256

func (t *table[E]) init(maxKeys int) {
	if maxKeys <= 0 {
		maxKeys = 1 << 20
	}
	t.seed = maphash.MakeSeed()
	t.perShard = max(maxKeys/nShards, 1)
	for i := range t.shards {
		t.shards[i].m = make(map[string]*E)
		t.shards[i].sweepAt = min(minSweep, t.perShard)
	}
}

func (t *table[E]) shard(key []byte) *shard[E] {
	return &t.shards[maphash.Bytes(t.seed, key)&(nShards-1)]
}

// get returns key's entry or nil.
func (s *shard[E]) get(key []byte) *E {
	s.mu.RLock()
	e := s.m[string(key)]
	s.mu.RUnlock()
	return e
}

// insert adds key's entry made by mk unless one exists. Before growing
// past sweepAt it sweeps entries for which kill returns true (kill marks
// them dead); at the bound it calls evict on arbitrary entries until one
// is freed, and returns nil if none could be (the table is full).
func (s *shard[E]) insert(key []byte, perShard int, mk func() *E, kill func(*E) bool, evict func(*E) bool) (e *E, evicted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[string(key)]; e != nil {
		return e, 0
	}
	if len(s.m) >= s.sweepAt {
		for k, v := range s.m {
			if kill(v) {
				delete(s.m, k)
			}
		}
		// Sweep again when the shard has doubled, so sweeping costs O(1)
		// per insert on average.
		s.sweepAt = min(max(2*len(s.m), minSweep), perShard)
	}
	if len(s.m) >= perShard {
		for k, v := range s.m { // map order is random: arbitrary victims
			if evict(v) {
				delete(s.m, k)
				evicted++
				break
			}
		}
		if len(s.m) >= perShard {
			return nil, evicted
		}
	}
	e = mk()
	s.m[string(key)] = e
	return e, evicted
}

// len counts the entries (for tests and Stats).
func (t *table[E]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// sweep deletes every entry kill reports dead.
func (t *table[E]) sweep(kill func(*E) bool) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, v := range s.m {
			if kill(v) {
				delete(s.m, k)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}
