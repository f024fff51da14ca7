package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/janus-proxy/janus/internal/limit/quota"
)

// quotaScript adds each item's delta to its account's hash (field = slot),
// drops slots older than the window and returns each window's total and
// the hash's epoch: a mark set when the hash is created, so that an
// instance learns that Redis lost the count (a restart without
// persistence, an expiry) and pushes its own bytes again. One call carries
// every account of a flush.
var quotaScript = redis.NewScript(`
local out = {}
local epoch = ARGV[1]
for i = 1, #KEYS do
  local j = (i - 1) * 4 + 1
  local slot, delta, first, ttl = ARGV[j+1], tonumber(ARGV[j+2]), tonumber(ARGV[j+3]), tonumber(ARGV[j+4])
  redis.call('HSETNX', KEYS[i], 'epoch', epoch)
  if delta ~= 0 then
    redis.call('HINCRBY', KEYS[i], slot, delta)
  end
  local all = redis.call('HGETALL', KEYS[i])
  local total = 0
  local mark = ''
  for k = 1, #all, 2 do
    local s = tonumber(all[k])
    if s == nil then
      if all[k] == 'epoch' then mark = all[k+1] end
    elseif s < first then
      redis.call('HDEL', KEYS[i], all[k])
    else
      total = total + tonumber(all[k+1])
    end
  end
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  out[i] = {total, mark}
end
return out
`)

// QuotaSync shares quota counts through Redis: pass it as
// quota.Options.Sync. It is not on a decision path (the store's flush
// calls it once a second), so it does not go through the breaker.
type QuotaSync struct{ c *Client }

var _ quota.Syncer = QuotaSync{}

// QuotaSync returns the client's quota.Syncer.
func (c *Client) QuotaSync() QuotaSync { return QuotaSync{c} }

// Sync implements quota.Syncer.
func (q QuotaSync) Sync(ctx context.Context, items []quota.SyncItem) error {
	keys := make([]string, len(items))
	args := make([]any, 0, 4*len(items)+1)
	var e [8]byte
	rand.Read(e[:])
	args = append(args, hex.EncodeToString(e[:]))
	for i, it := range items {
		keys[i] = q.c.o.Prefix + "quota:" + it.Account
		args = append(args, it.Slot, it.Delta, it.First, int64(it.TTL/time.Millisecond))
	}
	res, err := quotaScript.Run(ctx, q.c.rdb, keys, args...).Slice()
	if err != nil {
		q.c.redisErrors.Add(1)
		return errorf("quota sync of %d accounts: %w", len(items), err)
	}
	if len(res) != len(items) {
		return errorf("quota sync: %d totals for %d accounts", len(res), len(items))
	}
	for i := range items {
		pair, _ := res[i].([]any)
		if len(pair) != 2 {
			return errorf("quota sync: bad reply for %s", items[i].Account)
		}
		items[i].Total, _ = pair[0].(int64)
		items[i].Epoch, _ = pair[1].(string)
	}
	return nil
}
