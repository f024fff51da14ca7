package cluster

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/janus-proxy/janus/internal/limit"
)

// Global concurrency: a Redis hash per key maps each instance to the slots
// it holds for that key, as "count:seq". An instance always writes its
// absolute count (never an increment), so a lost write is repaired by the
// next one and the shared count converges to the truth after an outage.
// Writes of one instance race each other (two acquisitions read their
// counts, then reach Redis in the other order), so each carries a sequence
// number taken before its count was read, and Redis keeps only the
// newest: the count read by the holder of the highest number includes
// every change numbered before it. Fields of instances whose liveness key
// has expired (a crashed instance) are dropped by the next acquisition.
// The acquiring instance renews its own liveness key first: one that has
// just started may not have beaten yet, and the slots it holds must not be
// taken for a dead instance's.
var acquireScript = redis.NewScript(`
local inst, mine, maxn, prefix, ttl, seq = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('SET', prefix .. inst, 1, 'PX', ttl)
local all = redis.call('HGETALL', KEYS[1])
local others, stored = 0, 0
for i = 1, #all, 2 do
  local f, v = all[i], all[i+1]
  if f == inst then
    stored = tonumber(string.match(v, ':(%d+)$')) or 0
  elseif redis.call('EXISTS', prefix .. f) == 1 then
    others = others + (tonumber(string.match(v, '^(-?%d+)')) or 0)
  else
    redis.call('HDEL', KEYS[1], f)
  end
end
if others + mine > maxn then
  return 0
end
if seq > stored then
  redis.call('HSET', KEYS[1], inst, mine .. ':' .. seq)
  redis.call('PEXPIRE', KEYS[1], 3600000)
end
return 1
`)

var publishScript = redis.NewScript(`
local inst, mine, seq = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HGET', KEYS[1], inst)
if v and (tonumber(string.match(v, ':(%d+)$')) or 0) >= seq then
  return 0
end
redis.call('HSET', KEYS[1], inst, mine .. ':' .. seq)
redis.call('PEXPIRE', KEYS[1], 3600000)
return 1
`)

// Concurrency is a concurrency limit counted across every instance. It
// holds a local limit.Concurrency with the same maximum, which counts this
// instance's slots and decides alone while Redis is away.
type Concurrency struct {
	c     *Client
	local *limit.Concurrency
	name  string
	seq   atomic.Uint64 // orders this instance's writes (see acquireScript)
	// refused counts acquisitions the local limit allowed and Redis
	// refused (other instances held the rest).
	refused atomic.Uint64
}

// Stats reads the counters: the local limiter's, with the refusals
// Redis made moved from Allowed to Limited.
func (g *Concurrency) Stats() limit.ConcStats {
	st := g.local.Stats()
	r := g.refused.Load()
	st.Allowed -= min(r, st.Allowed)
	st.Limited += r
	return st
}

// NewConcurrency makes a global limit of max slots per key.
func (c *Client) NewConcurrency(name string, max int, o limit.Options) (*Concurrency, error) {
	local, err := limit.NewConcurrency(name, max, o)
	if err != nil {
		return nil, err
	}
	return &Concurrency{c: c, local: local, name: name}, nil
}

// Local is the local limiter (its Stats count every acquisition).
func (g *Concurrency) Local() *limit.Concurrency { return g.local }

// Slot is a slot of a global limit. Release it once when the work ends;
// Release is idempotent.
type Slot struct {
	local limit.Slot
	g     *Concurrency
	key   string // the limit key, as given to Acquire
}

// Acquire takes a slot for key: first locally (never more than max on
// this instance), then in Redis against the slots of every live instance.
// While Redis is away the local decision stands.
func (g *Concurrency) Acquire(key []byte) (Slot, bool) {
	ls, ok := g.local.Acquire(key)
	if !ok {
		return Slot{}, false
	}
	seq := g.seq.Add(1)
	mine := g.local.Held(key)
	var allowed int64 = 1
	shared := g.c.call(func(ctx context.Context) error {
		var err error
		allowed, err = acquireScript.Run(ctx, g.c.rdb, []string{g.c.key("cc", g.name, key)},
			g.c.o.Instance, mine, g.local.Max(), g.c.o.Prefix+"inst:", (3 * heartbeat).Milliseconds(), seq).Int64()
		return err
	})
	if shared && allowed == 0 {
		g.refused.Add(1)
		ls.Release()
		// A write of this instance's may have counted the slot while it
		// was held locally; the next write puts the count right.
		g.publish(string(key))
		return Slot{}, false
	}
	return Slot{local: ls, g: g, key: string(key)}, true
}

// Take is Acquire for the gate: the slot's Release as a function.
func (g *Concurrency) Take(key []byte) (func(), bool) {
	s, ok := g.Acquire(key)
	if !ok {
		return nil, false
	}
	return s.Release, true
}

// Release gives the slot back and publishes this instance's new count.
func (s Slot) Release() {
	if !s.local.Held() {
		return
	}
	s.local.Release()
	s.g.publish(s.key)
}

func (g *Concurrency) publish(key string) {
	seq := g.seq.Add(1)
	mine := g.local.Held([]byte(key))
	g.c.call(func(ctx context.Context) error {
		return publishScript.Run(ctx, g.c.rdb, []string{g.c.key("cc", g.name, []byte(key))}, g.c.o.Instance, mine, seq).Err()
	})
}

// Total reads the slots held for key by every instance as Redis knows
// them (for the admin API and tests); ok is false if Redis did not answer.
func (g *Concurrency) Total(key []byte) (n int, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	vals, err := g.c.rdb.HVals(ctx, g.c.key("cc", g.name, key)).Result()
	if err != nil {
		return 0, false
	}
	for _, v := range vals {
		count, _, _ := strings.Cut(v, ":")
		k, _ := strconv.Atoi(count)
		n += k
	}
	return n, true
}
