package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/httpface"
	"github.com/janus-proxy/janus/internal/limit/cluster"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
)

// A generation is the graph built from one config: gates, users, the
// dialer, upstream pools and each listener's faces. A reload builds a new
// generation and makes it current; connections keep the generation that
// accepted them until they end, and the last one out closes it. That is
// how a reload drops nothing: nothing a connection uses changes under it.
type generation struct {
	srv       *Server
	cfg       *config.Config
	seq       int
	out       *sharedOutput // the access log's output, shared with other generations when unchanged
	access    *observe.AccessLog
	dialer    *outbound.Dialer
	users     *gate.Users                   // shared by every gate; nil without users
	upstreams map[string]*httpface.Upstream // by name, for the reverse face
	cache     *sharedCache                  // the HTTP cache; nil without a cache section
	listeners []*listener
	quotas    *quotas         // nil without traffic quotas
	cluster   *cluster.Client // nil: this instance counts alone

	// refs counts the connections served by this generation, plus one
	// while it is current; at zero it is closed.
	refs      atomic.Int64
	closeOnce sync.Once
}

// build makes the generation for cfg. prev, the current generation if
// any, lends its access-log output when the config keeps it.
func (s *Server) build(cfg *config.Config, prev *generation) (*generation, error) {
	g := &generation{srv: s, cfg: cfg, seq: s.seq + 1}
	if err := g.openAccessLog(prev); err != nil {
		return nil, err
	}
	g.dialer = &outbound.Dialer{
		Resolver: &outbound.StaticResolver{Hosts: cfg.StaticHosts(), Next: net.DefaultResolver},
		Timeout:  cfg.Outbound.DialTimeout.Or(config.DefaultDialTimeout),
		Self:     s.isSelf,
		// No TCP keep-alive probes, as nginx, HAProxy and Squid by
		// default: idle timeouts end dead connections, and each enabled
		// probe costs three setsockopt calls per connection.
		KeepAlive: -1,
	}
	if err := g.buildUsers(); err != nil {
		g.out.release()
		return nil, err
	}
	if err := g.buildUpstreams(); err != nil {
		g.out.release()
		return nil, err
	}
	if err := g.buildCluster(); err != nil {
		g.stopUpstreams()
		g.out.release()
		return nil, err
	}
	if err := g.buildQuotas(); err != nil {
		g.stopUpstreams()
		g.out.release()
		return nil, err
	}
	if err := g.buildCache(prev); err != nil {
		g.stopUpstreams()
		g.out.release()
		return nil, fmt.Errorf("cache: %w", err)
	}
	for i := range cfg.Listeners {
		l, err := g.buildListener(i, &cfg.Listeners[i])
		if err != nil {
			g.close()
			return nil, fmt.Errorf("listener %s: %w", cfg.Listeners[i].Name, err)
		}
		g.listeners = append(g.listeners, l)
	}
	g.refs.Store(1)
	return g, nil
}

// openAccessLog opens the configured access log, or shares prev's output
// when it names the same one.
func (g *generation) openAccessLog(prev *generation) error {
	lc := g.cfg.Log.Access
	format, err := observe.ParseFormat(lc.Format)
	if err != nil {
		return err
	}
	switch {
	case g.srv.opts.Access != nil:
		if prev != nil {
			g.out = prev.out.acquire()
		} else {
			g.out = newSharedOutput(observe.NewOutput(g.srv.opts.Access), "")
		}
	case lc.Output == "off":
		return nil
	case prev != nil && prev.out != nil && prev.out.path == lc.Output:
		g.out = prev.out.acquire()
	default:
		out, err := observe.OpenOutput(lc.Output)
		if err != nil {
			return err
		}
		g.out = newSharedOutput(out, lc.Output)
	}
	g.access = observe.NewAccessLog(format, g.out.out)
	return nil
}

// accessLog returns where the faces log each finished exchange: the
// access log, the metrics and the live views.
func (g *generation) accessLog() *fanout {
	return &fanout{access: g.access, tel: &g.srv.tel, quotas: g.quotas}
}

// buildUsers makes the one user database every gate shares, so that a
// verified password is remembered across listeners; nil without users.
func (g *generation) buildUsers() error {
	users := g.cfg.UserList()
	if len(users) == 0 {
		return nil
	}
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	db, err := gate.NewUsers(users, g.cfg.Users.CacheTTL.Or(config.DefaultCredentialsTTL), salt)
	if err != nil {
		return err
	}
	g.users = db
	return nil
}

// buildUpstreams makes a pool for every configured upstream, in the
// server's registry: a target's health, ejection and retry budget carry
// over from the previous generation's pool of the same name. Pools start
// (health checks, DNS) when the generation becomes current.
func (g *generation) buildUpstreams() error {
	s := g.srv
	g.upstreams = map[string]*httpface.Upstream{}
	for name, plan := range g.cfg.UpstreamPlans() {
		o := plan.Pool
		o.Resolver = g.dialer.Resolver
		o.Dialer = g.dialer
		o.Logger = s.log.With("upstream", name)
		pool, err := s.registry.NewPool(context.Background(), o)
		if err != nil {
			g.stopUpstreams()
			return fmt.Errorf("upstream %s: %w", name, err)
		}
		g.upstreams[name] = &httpface.Upstream{
			Pool: pool, Attempts: plan.Attempts, ResponseTimeout: plan.ResponseTimeout,
			RetryStatuses: plan.RetryStatuses, RetryTimeout: plan.RetryTimeout, ProxyProtocol: plan.ProxyProtocol,
			Protocol: plan.Protocol, TLS: plan.TLS,
			MaxIdle: plan.MaxIdle, IdleTimeout: plan.IdleTimeout,
			Transport: httpface.NewUpstreamTransport(httpface.TransportOptions{
				Protocol: plan.Protocol, TLS: plan.TLS, MaxIdle: plan.MaxIdle, IdleTimeout: plan.IdleTimeout,
			}, g.dialer),
		}
	}
	return nil
}

func (g *generation) startUpstreams() {
	for _, u := range g.upstreams {
		u.Pool.Start()
	}
}

func (g *generation) stopUpstreams() {
	for _, u := range g.upstreams {
		u.Pool.Stop()
		if u.Transport != nil {
			u.Transport.CloseIdleConnections()
		}
	}
}

// tryAcquire counts a connection this generation serves, unless it has
// already closed (a reload retired it while the connection was being
// accepted).
func (g *generation) tryAcquire() bool {
	for {
		n := g.refs.Load()
		if n <= 0 {
			return false
		}
		if g.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release ends a connection's hold; the last one closes the generation
// once it is no longer current.
func (g *generation) release() {
	if g.refs.Add(-1) == 0 {
		g.close()
	}
}

// retire makes the generation stop taking new work: its faces drain (idle
// keep-alive connections close, responses in flight say Connection: close)
// and it closes when its last connection ends.
func (g *generation) retire() {
	for _, l := range g.listeners {
		l.drain()
	}
	g.release()
}

// close frees what the generation holds: faces (origin connection pools,
// parked connections), upstream pools and its hold on the access log.
func (g *generation) close() {
	g.closeOnce.Do(func() {
		for _, l := range g.listeners {
			l.closeFaces()
		}
		g.stopUpstreams()
		if g.out != nil {
			g.out.release()
		}
		g.cache.release()
		g.srv.forget(g)
	})
}

// sharedOutput is an access-log output that generations share while the
// config names the same one; the last to let go closes it.
type sharedOutput struct {
	out  *observe.Output
	path string
	refs atomic.Int64
}

func newSharedOutput(out *observe.Output, path string) *sharedOutput {
	o := &sharedOutput{out: out, path: path}
	o.refs.Store(1)
	return o
}

func (o *sharedOutput) acquire() *sharedOutput {
	if o != nil {
		o.refs.Add(1)
	}
	return o
}

func (o *sharedOutput) release() {
	if o != nil && o.refs.Add(-1) == 0 {
		_ = o.out.Flush()
		_ = o.out.Close()
	}
}
