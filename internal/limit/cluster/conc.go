package cluster

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/janus-proxy/janus/internal/limit"
)

// Global concurrency: a Redis hash per key maps each instance to the slots
// it holds for that key. An instance always writes its absolute count
// (never an increment), so a lost write is repaired by the next one and
// the shared count converges to the truth after an outage. Fields of
// instances whose liveness key has expired (a crashed instance) are
// dropped by the next acquisition.
var acquireScript = redis.NewScript(`
local inst, mine, maxn, prefix = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local all = redis.call('HGETALL', KEYS[1])
local others = 0
for i = 1, #all, 2 do
  local f = all[i]
  if f ~= inst then
    if redis.call('EXISTS', prefix .. f) == 1 then
      others = others + tonumber(all[i+1])
    else
      redis.call('HDEL', KEYS[1], f)
    end
  end
end
if others + mine > maxn then
  return 0
end
redis.call('HSET', KEYS[1], inst, mine)
redis.call('PEXPIRE', KEYS[1], 3600000)
return 1
`)

var publishScript = redis.NewScript(`
if tonumber(ARGV[2]) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 3600000)
end
return 1
`)

// Concurrency is a concurrency limit counted across every instance. It
// holds a local limit.Concurrency with the same maximum, which counts this
// instance's slots and decides alone while Redis is away.
type Concurrency struct {
	c     *Client
	local *limit.Concurrency
	name  string
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
	mine := g.local.Held(key)
	var allowed int64 = 1
	shared := g.c.call(func(ctx context.Context) error {
		var err error
		allowed, err = acquireScript.Run(ctx, g.c.rdb, []string{g.c.key("cc", g.name, key)},
			g.c.o.Instance, mine, g.local.Max(), g.c.o.Prefix+"inst:").Int64()
		return err
	})
	if shared && allowed == 0 {
		ls.Release()
		return Slot{}, false
	}
	return Slot{local: ls, g: g, key: string(key)}, true
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
	mine := g.local.Held([]byte(key))
	g.c.call(func(ctx context.Context) error {
		return publishScript.Run(ctx, g.c.rdb, []string{g.c.key("cc", g.name, []byte(key))}, g.c.o.Instance, mine).Err()
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
		var k int
		for _, ch := range v {
			k = k*10 + int(ch-'0')
		}
		n += k
	}
	return n, true
}
