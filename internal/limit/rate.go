package limit

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Rate is a request-rate limit: Count events per Per, of which Burst may
// come at once.
type Rate struct {
	Count int           // events per Per; > 0
	Per   time.Duration // > 0
	Burst int           // events allowed back to back; 0 means Count
}

// Interval is the time one event costs (Per/Count).
func (r Rate) Interval() time.Duration { return r.Per / time.Duration(r.Count) }

func (r Rate) burst() int {
	if r.Burst <= 0 {
		return r.Count
	}
	return r.Burst
}

// Validate reports a rate that cannot be enforced.
func (r Rate) Validate() error {
	if r.Count <= 0 || r.Per <= 0 {
		return fmt.Errorf("rate %d per %s: count and period must be positive", r.Count, r.Per)
	}
	if r.Interval() <= 0 {
		return fmt.Errorf("rate %d per %s: more than one event per nanosecond", r.Count, r.Per)
	}
	return nil
}

func (r Rate) String() string {
	return fmt.Sprintf("%d/%s burst %d", r.Count, r.Per, r.burst())
}

// Decision is the outcome of one rate decision.
type Decision struct {
	Allowed bool
	// Limit is the burst: how many events may come back to back.
	Limit int
	// Remaining is how many more events would be allowed right now.
	Remaining int
	// Reset is how long until Remaining is back at Limit if nothing else
	// comes.
	Reset time.Duration
	// RetryAfter is how long until this request would be allowed; 0 when
	// Allowed. It is exact: GCRA knows it.
	RetryAfter time.Duration
}

// RateStats are a limiter's counters since it was made.
type RateStats struct {
	Allowed uint64 // decisions that allowed
	Limited uint64 // decisions that refused
	Evicted uint64 // keys forgotten before they were idle (MaxKeys reached)
	Keys    int    // keys remembered now
}

// RateLimiter is a keyed GCRA (generic cell rate algorithm, ITU-T I.371):
// each key holds one word, its theoretical arrival time (TAT). An event
// at now is allowed when TAT+interval-now ≤ burst×interval, and moves TAT
// on by one interval. A key whose TAT is in the past is exactly a key
// never seen, which is why idle keys can be forgotten without changing
// any decision. A RateLimiter is safe for concurrent use; the zero value
// is not usable: call NewRateLimiter.
type RateLimiter struct {
	name     string
	rate     Rate
	interval int64 // ns per event
	tau      int64 // burst × interval
	clk      clock
	tab      table[rateEntry]

	allowed, limited, evicted atomic.Uint64
}

type rateEntry struct{ tat atomic.Int64 }

const dead = math.MinInt64 // a swept entry's TAT

// NewRateLimiter makes a limiter named name (the name is reported in
// Stats and in the RateLimit fields).
func NewRateLimiter(name string, r Rate, o Options) (*RateLimiter, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("limit %q: %w", name, err)
	}
	l := &RateLimiter{name: name, rate: r, clk: newClock(o.Clock)}
	l.interval = int64(r.Interval())
	l.tau = l.interval * int64(r.burst())
	l.tab.init(o.MaxKeys)
	return l, nil
}

// Name is the limit's name.
func (l *RateLimiter) Name() string { return l.name }

// Rate is the limit's rate.
func (l *RateLimiter) Rate() Rate { return l.rate }

// Allow decides one event for key.
func (l *RateLimiter) Allow(key []byte) Decision { return l.AllowN(key, 1) }

// AllowN decides n events at once for key (all or none). n larger than
// the burst is never allowed; its RetryAfter is how long until the bucket
// is full, which is the best the client can do.
func (l *RateLimiter) AllowN(key []byte, n int) Decision {
	now := l.clk.nanos()
	s := l.tab.shard(key)
	for {
		e := s.get(key)
		if e == nil {
			var ev int
			e, ev = s.insert(key, l.tab.perShard, newRateEntry, func(e *rateEntry) bool {
				return l.kill(e, now)
			}, func(e *rateEntry) bool { e.tat.Store(dead); return true })
			l.evicted.Add(uint64(ev))
		}
		d, ok := l.decide(e, now, n)
		if ok {
			return d
		}
		// The entry was swept between lookup and decision: look again.
	}
}

func newRateEntry() *rateEntry { return new(rateEntry) }

// kill marks an idle entry dead: one whose TAT is not in the future.
func (l *RateLimiter) kill(e *rateEntry, now int64) bool {
	t := e.tat.Load()
	return t <= now && e.tat.CompareAndSwap(t, dead)
}

// decide is GCRA on one entry; ok is false if the entry is dead.
func (l *RateLimiter) decide(e *rateEntry, now int64, n int) (Decision, bool) {
	burst := l.rate.burst()
	cost := l.interval * int64(n)
	for {
		tat := e.tat.Load()
		if tat == dead {
			return Decision{}, false
		}
		base := max(tat, now)
		next := base + cost
		if next-now > l.tau {
			l.limited.Add(1)
			d := Decision{Limit: burst, Reset: time.Duration(base - now)}
			d.Remaining = int((l.tau - (base - now)) / l.interval)
			d.RetryAfter = time.Duration(next - now - l.tau)
			if cost > l.tau {
				d.RetryAfter = d.Reset
			}
			return d, true
		}
		if e.tat.CompareAndSwap(tat, next) {
			l.allowed.Add(1)
			return Decision{
				Allowed:   true,
				Limit:     burst,
				Remaining: int((l.tau - (next - now)) / l.interval),
				Reset:     time.Duration(next - now),
			}, true
		}
	}
}

// Peek reports what Allow would decide for key without spending anything.
func (l *RateLimiter) Peek(key []byte) Decision {
	now := l.clk.nanos()
	tat := int64(0)
	if e := l.tab.shard(key).get(key); e != nil {
		if t := e.tat.Load(); t != dead {
			tat = t
		}
	}
	base := max(tat, now)
	d := Decision{Limit: l.rate.burst(), Reset: time.Duration(base - now)}
	d.Remaining = int((l.tau - (base - now)) / l.interval)
	if d.Remaining > 0 {
		d.Allowed = true
	} else {
		d.RetryAfter = time.Duration(base + l.interval - now - l.tau)
	}
	return d
}

// Sweep forgets idle keys now. Limiters sweep a shard by themselves when
// it doubles; a caller may also sweep on a timer to give memory back
// after a burst of keys.
func (l *RateLimiter) Sweep() int {
	now := l.clk.nanos()
	return l.tab.sweep(func(e *rateEntry) bool { return l.kill(e, now) })
}

// Stats reads the counters.
func (l *RateLimiter) Stats() RateStats {
	return RateStats{
		Allowed: l.allowed.Load(),
		Limited: l.limited.Load(),
		Evicted: l.evicted.Load(),
		Keys:    l.tab.len(),
	}
}

// Record counts a decision made elsewhere (by a shared limiter in
// Redis) in Stats, so that one limit's metrics count every decision.
func (l *RateLimiter) Record(allowed bool) {
	if allowed {
		l.allowed.Add(1)
	} else {
		l.limited.Add(1)
	}
}
