// Package cluster shares the gate's limits between Janus instances
// through Redis: request-rate limits (GCRA in one Lua script, one round
// trip per decision), global concurrency counts (each instance publishes
// what it holds; holders of dead instances are dropped), traffic quotas
// (batched per flush, see quota.Syncer), and a pub/sub channel for cache
// purges.
//
// No decision waits long or fails because Redis is away: each call has a
// timeout of a few milliseconds, and a circuit breaker sends decisions to
// the local limiters of package limit after consecutive failures; it lets
// one probe through per cooldown and shares again as soon as one
// succeeds. Fallbacks and Redis errors are logged and counted.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Options configure a Client.
type Options struct {
	Addr     string // host:port of Redis
	Password string
	DB       int
	// Prefix starts every key and channel (""; "janus:"), so several
	// deployments can share one Redis.
	Prefix string
	// Timeout bounds one decision's round trip (0: 10 ms). Past it the
	// decision is made locally.
	Timeout time.Duration
	// Failures is how many consecutive failures open the breaker (0: 3).
	Failures int
	// Cooldown is how long the breaker stays open before one probe (0: 1 s).
	Cooldown time.Duration
	// Instance names this instance in shared counts (""; random).
	Instance string
	Logger   *slog.Logger // nil: discard
}

// Stats are the client's counters.
type Stats struct {
	RedisErrors uint64 // calls to Redis that failed or timed out
	Fallbacks   uint64 // decisions made locally because the breaker was open or the call failed
	Trips       uint64 // times the breaker opened
	Up          bool   // the breaker is closed: decisions are shared
}

// Client is one instance's connection to the shared state.
type Client struct {
	o   Options
	rdb *redis.Client
	log *slog.Logger

	fails     atomic.Int32
	openUntil atomic.Int64 // unix ns; 0: closed
	probing   atomic.Bool

	redisErrors, fallbacks, trips atomic.Uint64

	stop     chan struct{}
	wg       sync.WaitGroup
	closeOne sync.Once
}

// heartbeat is how often an instance renews its liveness key; the key
// lives three times as long.
const heartbeat = time.Second

// New makes a client. It does not wait for Redis: an unreachable Redis
// only means local decisions until it answers.
func New(o Options) (*Client, error) {
	if o.Addr == "" {
		return nil, errors.New("cluster: no redis address")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Millisecond
	}
	if o.Failures <= 0 {
		o.Failures = 3
	}
	if o.Cooldown <= 0 {
		o.Cooldown = time.Second
	}
	if o.Instance == "" {
		var b [6]byte
		rand.Read(b[:])
		o.Instance = hex.EncodeToString(b[:])
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// go-redis logs its own retries (a pub/sub reconnecting, a dial
	// refused) through a package-wide logger that writes to stderr; the
	// client reports outages itself, so those lines go to debug.
	redisLogOnce.Do(func() { redis.SetLogger(redisLogger{log.With("part", "go-redis")}) })
	rdb := redis.NewClient(&redis.Options{
		Addr:                  o.Addr,
		Password:              o.Password,
		DB:                    o.DB,
		MaxRetries:            -1, // a decision has no time for retries
		DialTimeout:           100 * time.Millisecond,
		DialerRetries:         1,
		ReadTimeout:           time.Second, // the context's deadline is the real bound
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
		PoolTimeout:           o.Timeout,
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	c := &Client{o: o, rdb: rdb, log: log.With("redis", o.Addr, "instance", o.Instance), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.heartbeatLoop()
	return c, nil
}

// Instance is this instance's name in shared counts.
func (c *Client) Instance() string { return c.o.Instance }

// Redis is the underlying client, for callers that need more (tests).
func (c *Client) Redis() *redis.Client { return c.rdb }

// Close stops the heartbeat and closes the connections.
func (c *Client) Close() error {
	var err error
	c.closeOne.Do(func() {
		close(c.stop)
		c.wg.Wait()
		err = c.rdb.Close()
	})
	return err
}

// Stats reads the counters.
func (c *Client) Stats() Stats {
	return Stats{
		RedisErrors: c.redisErrors.Load(),
		Fallbacks:   c.fallbacks.Load(),
		Trips:       c.trips.Load(),
		Up:          c.openUntil.Load() == 0,
	}
}

// call runs f against Redis under the breaker and the decision timeout.
// It returns false when the caller must decide locally.
func (c *Client) call(f func(ctx context.Context) error) bool {
	if !c.admit() {
		c.fallbacks.Add(1)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	err := f(ctx)
	cancel()
	if err != nil && !errors.Is(err, redis.Nil) {
		c.failed(err)
		c.fallbacks.Add(1)
		return false
	}
	c.succeeded()
	return true
}

// admit says whether a call may go to Redis: always while the breaker is
// closed; once per cooldown (one probe at a time) while it is open.
func (c *Client) admit() bool {
	until := c.openUntil.Load()
	if until == 0 {
		return true
	}
	if time.Now().UnixNano() < until || !c.probing.CompareAndSwap(false, true) {
		return false
	}
	return true // the probe; succeeded or failed ends it
}

func (c *Client) failed(err error) {
	c.redisErrors.Add(1)
	probe := c.probing.Swap(false)
	if probe || int(c.fails.Add(1)) >= c.o.Failures {
		c.fails.Store(0)
		if c.openUntil.Swap(time.Now().Add(c.o.Cooldown).UnixNano()) == 0 {
			c.trips.Add(1)
			c.log.Warn("redis unreachable: enforcing limits locally", "err", err, "cooldown", c.o.Cooldown)
		}
	}
}

func (c *Client) succeeded() {
	c.fails.Store(0)
	if c.probing.Swap(false) || c.openUntil.Load() != 0 {
		if c.openUntil.Swap(0) != 0 {
			c.log.Info("redis answers again: limits are shared")
		}
	}
}

// key builds a Redis key: prefix, kind, limit name, then the limit key's
// bytes (binary-safe in Redis).
func (c *Client) key(kind, name string, key []byte) string {
	b := make([]byte, 0, len(c.o.Prefix)+len(kind)+len(name)+len(key)+2)
	b = append(b, c.o.Prefix...)
	b = append(b, kind...)
	b = append(b, ':')
	b = append(b, name...)
	b = append(b, ':')
	b = append(b, key...)
	return string(b)
}

func (c *Client) instanceKey(inst string) string { return c.o.Prefix + "inst:" + inst }

// heartbeatLoop keeps this instance's liveness key, so that the
// concurrency slots it publishes count only while it runs.
func (c *Client) heartbeatLoop() {
	defer c.wg.Done()
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	beat := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := c.rdb.Set(ctx, c.instanceKey(c.o.Instance), 1, 3*heartbeat).Err(); err != nil {
			c.redisErrors.Add(1)
		}
	}
	beat()
	for {
		select {
		case <-c.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			c.rdb.Del(ctx, c.instanceKey(c.o.Instance))
			cancel()
			return
		case <-t.C:
			beat()
		}
	}
}

func errorf(format string, a ...any) error { return fmt.Errorf("cluster: "+format, a...) }

var redisLogOnce sync.Once

// redisLogger sends go-redis's internal log lines to slog at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
