package cluster

import (
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/testenv"
)

// redisServer is a redis-server the test started (testenv.Redis).
type redisServer = testenv.Redis

func startRedis(t testing.TB) *redisServer { return testenv.StartRedis(t) }

func newClient(t testing.TB, r *redisServer, inst string) *Client {
	t.Helper()
	timeout := 20 * time.Millisecond
	if raceEnabled {
		timeout = 100 * time.Millisecond
	}
	c, err := New(Options{Addr: r.Addr(), Prefix: "t:", Instance: inst, Timeout: timeout, Cooldown: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
