package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/janus-proxy/janus/internal/limit"
)

// gcraScript is limit.RateLimiter's GCRA on a Redis string holding the
// TAT in microseconds of Redis's own clock (TIME), so instances with
// skewed clocks agree. Lua numbers are doubles: microseconds since 1970
// fit their 53 bits. It returns {allowed, base-now, retry}.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local cost = interval * tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local base = math.max(tat, now)
local nxt = base + cost
if nxt - now > tau then
  return {0, base - now, nxt - now - tau}
end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {1, nxt - now, 0}
`)

// RateLimiter is a request-rate limit shared by every instance on the
// same Redis: each decision is one script call. While Redis is away it
// decides with a local limit.RateLimiter of the same rate (so N instances
// then allow up to N times the rate between them, per key).
type RateLimiter struct {
	c        *Client
	local    *limit.RateLimiter
	name     string
	rate     limit.Rate
	interval int64 // µs
	tau      int64 // µs

	// lease is how many events one Redis call takes at once for a key
	// (1: every decision is shared). A large burst is spent in leases of a
	// tenth of it, at most leaseMax: the instances then ask Redis once per
	// lease, and between them may run ahead of the shared count by at
	// most a lease each, for at most leaseTTL.
	lease  int
	mu     sync.Mutex
	leases map[string]*leased

	shared, fallback, leasedN atomic.Uint64
}

// leased is what an instance holds of a key's shared allowance.
type leased struct {
	left    int
	until   time.Time
	d       limit.Decision // Redis's last answer for the key
	refused bool           // until then the key is refused without asking
}

// Leasing bounds.
const (
	leaseMax    = 1000
	leaseTTL    = time.Second
	leaseKeyCap = 1 << 16 // keys with a lease held; beyond, they are all dropped
)

// RateStats are a shared limiter's counters: the local limiter's (its
// Allowed and Limited count every decision, shared or not) and how many
// decisions Redis made.
type RateStats struct {
	limit.RateStats
	Shared   uint64 // decisions made by Redis
	Fallback uint64 // decisions made locally because Redis failed
}

// NewRateLimiter makes a shared limit. o configures the local fallback.
func (c *Client) NewRateLimiter(name string, r limit.Rate, o limit.Options) (*RateLimiter, error) {
	local, err := limit.NewRateLimiter(name, r, o)
	if err != nil {
		return nil, err
	}
	burst := r.Burst
	if burst <= 0 {
		burst = r.Count
	}
	iv := max(int64(r.Interval()/time.Microsecond), 1)
	return &RateLimiter{c: c, local: local, name: name, rate: r, interval: iv, tau: iv * int64(burst),
		lease: min(max(burst/10, 1), leaseMax), leases: map[string]*leased{}}, nil
}

// Name is the limit's name.
func (l *RateLimiter) Name() string { return l.name }

// Rate is the limit's rate.
func (l *RateLimiter) Rate() limit.Rate { return l.rate }

// Allow decides one event for key.
func (l *RateLimiter) Allow(key []byte) limit.Decision { return l.AllowN(key, 1) }

// AllowN decides n events for key, in Redis when it answers within the
// client's timeout, else locally.
func (l *RateLimiter) AllowN(key []byte, n int) limit.Decision {
	if n == 1 && l.lease > 1 {
		if d, ok := l.fromLease(key); ok {
			return d
		}
		// Take a lease; if the shared allowance has less than that left,
		// decide the one event exactly.
		if d := l.allowShared(key, l.lease); d.Allowed {
			l.mu.Lock()
			if len(l.leases) >= leaseKeyCap {
				clear(l.leases)
			}
			// Requests that found no lease at the same moment each took
			// one: add them up, or the allowance Redis granted to all but
			// the last would be lost.
			until := time.Now().Add(leaseTTL)
			if cur := l.leases[string(key)]; cur != nil && !cur.refused && time.Now().Before(cur.until) {
				cur.left += l.lease - 1
				cur.until, cur.d = until, d
			} else {
				l.leases[string(key)] = &leased{left: l.lease - 1, until: until, d: d}
			}
			l.mu.Unlock()
			return d
		}
		d := l.allowShared(key, 1)
		if !d.Allowed && d.RetryAfter > 0 {
			// Refused: so is every event of the key until RetryAfter,
			// whoever asks; this instance stops asking meanwhile.
			// (Unless a request at the same moment took a lease: its
			// events are this instance's to spend.)
			l.mu.Lock()
			if cur := l.leases[string(key)]; cur == nil || cur.refused || cur.left <= 0 || time.Now().After(cur.until) {
				l.leases[string(key)] = &leased{until: time.Now().Add(d.RetryAfter), d: d, refused: true}
			}
			l.mu.Unlock()
		}
		return d
	}
	return l.allowShared(key, n)
}

// fromLease spends one event of key's lease, when one is held.
func (l *RateLimiter) fromLease(key []byte) (limit.Decision, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.leases[string(key)]
	if ls == nil || time.Now().After(ls.until) {
		return limit.Decision{}, false
	}
	if ls.refused {
		d := ls.d
		d.RetryAfter = time.Until(ls.until)
		l.local.Record(false)
		return d, true
	}
	if ls.left <= 0 {
		return limit.Decision{}, false
	}
	ls.left--
	l.leasedN.Add(1)
	l.local.Record(true)
	return ls.d, true
}

// allowShared decides n events for key in Redis, or locally when Redis
// does not answer.
func (l *RateLimiter) allowShared(key []byte, n int) limit.Decision {
	var res []int64
	ok := l.c.call(func(ctx context.Context) error {
		var err error
		res, err = gcraScript.Run(ctx, l.c.rdb, []string{l.c.key("rl", l.name, key)}, l.interval, l.tau, n).Int64Slice()
		return err
	})
	if !ok || len(res) != 3 {
		l.fallback.Add(1)
		return l.local.AllowN(key, n)
	}
	l.shared.Add(1)
	burst := int64(l.rate.Burst)
	if burst <= 0 {
		burst = int64(l.rate.Count)
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	d := limit.Decision{Allowed: res[0] == 1, Limit: int(burst), Reset: us(res[1]), RetryAfter: us(res[2])}
	d.Remaining = int(max((l.tau-res[1])/l.interval, 0))
	l.local.Record(d.Allowed)
	return d
}

// Stats reads the counters.
func (l *RateLimiter) Stats() RateStats {
	return RateStats{RateStats: l.local.Stats(), Shared: l.shared.Load(), Fallback: l.fallback.Load()}
}
