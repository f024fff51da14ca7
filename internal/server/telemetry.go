package server

import (
	"context"
	"github.com/janus-proxy/janus/internal/config"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/live"
	"github.com/janus-proxy/janus/internal/metrics"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/upstream"
)

// telemetry is what the server knows about its traffic beyond the access
// log: Prometheus metrics and the live views, fed by every access-log
// entry, and per-listener counts of what is open. It outlives generations,
// so figures carry on across reloads.
type telemetry struct {
	metrics *metrics.Metrics
	live    *live.Live
	stop    context.CancelFunc

	mu       sync.Mutex
	counters map[string]*listenerCounters // by listener name
}

// listenerCounters counts what is open on a listener, over generations.
type listenerCounters struct {
	conns   atomic.Int64
	tunnels atomic.Int64

	// perClient counts each client address's connections when the
	// listener bounds them; it outlives generations while the bound stays.
	perClientMu sync.Mutex
	perClient   *limit.Concurrency
}

// clientSlots returns the per-client connection counter for a bound of max
// (nil for no bound), the same one while max stays the same.
func (c *listenerCounters) clientSlots(name string, max int) (*limit.Concurrency, error) {
	if max <= 0 {
		return nil, nil
	}
	c.perClientMu.Lock()
	defer c.perClientMu.Unlock()
	if c.perClient == nil || c.perClient.Max() != max {
		l, err := limit.NewConcurrency(name+" connections per client", max, limit.Options{})
		if err != nil {
			return nil, err
		}
		c.perClient = l
	}
	return c.perClient, nil
}

func (s *Server) startTelemetry() {
	t := &s.tel
	t.counters = map[string]*listenerCounters{}
	t.metrics = metrics.New(metrics.Options{Version: s.opts.Version, Logger: s.log})
	t.live = live.New(live.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	t.stop = cancel
	go t.live.Run(ctx)
	t.metrics.SetActivity(t.activity)
	t.metrics.SetUpstreams(func(dst []upstream.HostStats) []upstream.HostStats {
		for _, u := range s.cur.Load().upstreams {
			dst = u.Pool.Stats(dst)
		}
		return dst
	})
}

// counter returns the counters of the listener named name.
func (t *telemetry) counter(name string) *listenerCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counters[name]
	if c == nil {
		c = &listenerCounters{}
		t.counters[name] = c
	}
	return c
}

func (t *telemetry) activity(dst []metrics.Activity) []metrics.Activity {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.counters))
	for name := range t.counters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := t.counters[name]
		dst = append(dst, metrics.Activity{Listener: name, Connections: c.conns.Load(), Tunnels: c.tunnels.Load()})
	}
	return dst
}

// Metrics returns the Prometheus metrics (the admin API serves them).
func (s *Server) Metrics() *metrics.Metrics { return s.tel.metrics }

// Live returns the live views of the traffic (the dashboard's figures).
func (s *Server) Live() *live.Live { return s.tel.live }

// fanout hands each finished exchange to the access log, the metrics and
// the live views. None of them keeps the entry.
type fanout struct {
	access *observe.AccessLog // nil when the access log is off
	tel    *telemetry
	quotas *quotas // charged with each user's bytes; nil without quotas
}

func (f *fanout) Log(e *observe.Entry) {
	if f.access != nil {
		f.access.Log(e)
	}
	if !e.Metered {
		f.quotas.charge(e.User, e.BytesUp+e.BytesDown)
	}
	f.tel.metrics.Log(e)
	f.tel.live.Log(e)
}

// forgetRemoved drops the metric series of the listeners and routes the
// new config no longer has, so that /metrics reports what runs.
func (s *Server) forgetRemoved(old, cur *config.Config) {
	routes := func(c *config.Config) map[string]map[string]bool {
		m := map[string]map[string]bool{}
		for _, l := range c.Listeners {
			rs := map[string]bool{}
			if l.Reverse != nil {
				for _, rt := range l.Reverse.Routes {
					rs[rt.Name] = true
				}
			}
			m[l.Name] = rs
		}
		return m
	}
	was, now := routes(old), routes(cur)
	for l, rs := range was {
		keep, ok := now[l]
		if !ok {
			s.tel.metrics.ForgetListener(l)
			continue
		}
		for r := range rs {
			if !keep[r] {
				s.tel.metrics.ForgetRoute(l, r)
			}
		}
	}
}
