package cluster

import (
	"context"
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

	shared, fallback atomic.Uint64
}

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
	return &RateLimiter{c: c, local: local, name: name, rate: r, interval: iv, tau: iv * int64(burst)}, nil
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
