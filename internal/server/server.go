// Package server turns a checked config into a running Janus: it builds the
// graph (gates, faces, dialer, logs), opens the listeners, sniffs each new
// connection's protocol and hands it to its face, tracks connections, and
// drains them on shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/httpface"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
	"github.com/janus-proxy/janus/internal/upstream"
)

// Options are the parts of a server that do not come from the config.
type Options struct {
	// Logger is the application log; nil builds one on stderr from the
	// config's log section.
	Logger *slog.Logger
	// Access overrides log.access.output (tests capture the access log
	// here); nil uses the config.
	Access io.Writer
}

// Server is a running Janus. Build it with New, then Start it.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	accessOut *observe.Output // nil when the access log is off
	access    *observe.AccessLog
	dialer    *outbound.Dialer
	listeners []*listener
	users     *gate.Users                   // shared by every gate; nil without users
	registry  *upstream.Registry            // upstream hosts' state
	upstreams map[string]*httpface.Upstream // by name, for the reverse face

	// self reports whether an address reaches one of our listeners; built
	// once they are bound (ports resolved).
	self atomic.Pointer[func(netip.AddrPort) bool]

	conns connTracker
}

// New builds the graph for cfg. Nothing listens until Start.
func New(cfg *config.Config, o Options) (*Server, error) {
	s := &Server{cfg: cfg, log: o.Logger}
	if s.log == nil {
		s.log = NewLogger(cfg.Log, nil)
	}
	if err := s.openAccessLog(o.Access); err != nil {
		return nil, err
	}
	s.dialer = &outbound.Dialer{
		Resolver: &outbound.StaticResolver{Hosts: cfg.StaticHosts(), Next: net.DefaultResolver},
		Timeout:  cfg.Outbound.DialTimeout.Or(config.DefaultDialTimeout),
		Self:     s.isSelf,
		// No TCP keep-alive probes, as nginx, HAProxy and Squid by
		// default: idle timeouts end dead connections, and each enabled
		// probe costs three setsockopt calls per connection.
		KeepAlive: -1,
	}
	if err := s.buildUsers(); err != nil {
		s.closeAccessLog()
		return nil, err
	}
	if err := s.buildUpstreams(); err != nil {
		s.closeAccessLog()
		return nil, err
	}
	for i := range cfg.Listeners {
		l, err := s.buildListener(i, &cfg.Listeners[i])
		if err != nil {
			s.stopUpstreams()
			s.closeAccessLog()
			return nil, fmt.Errorf("listener %s: %w", cfg.Listeners[i].Name, err)
		}
		s.listeners = append(s.listeners, l)
	}
	return s, nil
}

// buildUpstreams makes a pool for every configured upstream. Pools start
// (health checks, DNS) with the listeners.
func (s *Server) buildUpstreams() error {
	s.registry = upstream.NewRegistry(nil)
	s.upstreams = map[string]*httpface.Upstream{}
	for name, plan := range s.cfg.UpstreamPlans() {
		o := plan.Pool
		o.Resolver = s.dialer.Resolver
		o.Dialer = s.dialer
		o.Logger = s.log.With("upstream", name)
		pool, err := s.registry.NewPool(context.Background(), o)
		if err != nil {
			s.stopUpstreams()
			return fmt.Errorf("upstream %s: %w", name, err)
		}
		s.upstreams[name] = &httpface.Upstream{
			Pool: pool, Attempts: plan.Attempts, ResponseTimeout: plan.ResponseTimeout,
			RetryStatuses: plan.RetryStatuses, RetryTimeout: plan.RetryTimeout, ProxyProtocol: plan.ProxyProtocol,
			Protocol: plan.Protocol, TLS: plan.TLS,
			MaxIdle: plan.MaxIdle, IdleTimeout: plan.IdleTimeout,
			Transport: httpface.NewUpstreamTransport(httpface.TransportOptions{
				Protocol: plan.Protocol, TLS: plan.TLS, MaxIdle: plan.MaxIdle, IdleTimeout: plan.IdleTimeout,
			}, s.dialer),
		}
	}
	return nil
}

func (s *Server) stopUpstreams() {
	for _, u := range s.upstreams {
		u.Pool.Stop()
	}
}

func (s *Server) openAccessLog(override io.Writer) error {
	format, err := observe.ParseFormat(s.cfg.Log.Access.Format)
	if err != nil {
		return err
	}
	switch {
	case override != nil:
		s.accessOut = observe.NewOutput(override)
	case s.cfg.Log.Access.Output == "off":
		return nil
	default:
		out, err := observe.OpenOutput(s.cfg.Log.Access.Output)
		if err != nil {
			return err
		}
		s.accessOut = out
	}
	s.access = observe.NewAccessLog(format, s.accessOut)
	return nil
}

func (s *Server) closeAccessLog() {
	if s.accessOut != nil {
		_ = s.accessOut.Close()
	}
}

// Start opens every listener and starts serving. If one cannot listen, the
// ones already open are closed again.
func (s *Server) Start() error {
	for i, l := range s.listeners {
		if err := l.listen(); err != nil {
			for _, opened := range s.listeners[:i] {
				opened.close()
				opened.closeQUIC()
			}
			return fmt.Errorf("listener %s: %w", l.cfg.Name, err)
		}
	}
	bound := make([]netip.AddrPort, len(s.listeners))
	for i, l := range s.listeners {
		bound[i] = l.addr()
	}
	self, err := outbound.SelfAddrs(bound)
	if err != nil {
		for _, l := range s.listeners {
			l.close()
			l.closeQUIC()
		}
		return fmt.Errorf("learn own addresses: %w", err)
	}
	s.self.Store(&self)
	for _, u := range s.upstreams {
		u.Pool.Start()
	}
	for _, l := range s.listeners {
		s.log.Info("listening", "listener", l.cfg.Name, "addr", l.addr().String(), "protocols", l.protocols())
		go l.acceptLoop()
		if l.quic != nil {
			go l.acceptQUIC()
		}
	}
	return nil
}

// Addr returns the bound address of the named listener (useful with port 0).
func (s *Server) Addr(name string) (netip.AddrPort, bool) {
	for _, l := range s.listeners {
		if l.cfg.Name == name && l.ln != nil {
			return l.addr(), true
		}
	}
	return netip.AddrPort{}, false
}

// isSelf reports whether ap is one of our listeners, so that a request for
// Janus itself is refused instead of looping.
func (s *Server) isSelf(ap netip.AddrPort) bool {
	self := s.self.Load()
	return self != nil && (*self)(ap)
}

// ReopenLogs reopens a file access log after rotation (SIGUSR1).
func (s *Server) ReopenLogs() error {
	if s.accessOut == nil {
		return nil
	}
	return s.accessOut.Reopen()
}

// Shutdown stops accepting, lets requests and tunnels in flight finish until
// ctx is done, then closes what is left. It returns ctx.Err() if it had to
// cut connections.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, l := range s.listeners {
		l.close()
	}
	for _, l := range s.listeners {
		l.drain()
	}
	err := s.conns.wait(ctx)
	if err != nil {
		n := s.conns.closeAll()
		s.log.Warn("drain timed out; closed connections", "count", n)
		// Give the closed connections' goroutines a moment to log and exit.
		waitCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.conns.wait(waitCtx)
		cancel()
	}
	for _, l := range s.listeners {
		l.closeFaces()
	}
	s.stopUpstreams()
	if s.accessOut != nil {
		_ = s.accessOut.Flush()
	}
	s.closeAccessLog()
	return err
}

// connTracker counts live client connections so Shutdown knows when the
// drain is over and what to close when it is not.
type connTracker struct {
	mu    sync.Mutex
	conns map[io.Closer]struct{} // net.Conn, or a QUIC connection
	zero  chan struct{}          // closed when the count drops to zero; nil if nobody waits
}

func (t *connTracker) add(c io.Closer) {
	t.mu.Lock()
	if t.conns == nil {
		t.conns = map[io.Closer]struct{}{}
	}
	t.conns[c] = struct{}{}
	t.mu.Unlock()
}

func (t *connTracker) remove(c io.Closer) {
	t.mu.Lock()
	delete(t.conns, c)
	if len(t.conns) == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
	t.mu.Unlock()
}

func (t *connTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

func (t *connTracker) wait(ctx context.Context) error {
	t.mu.Lock()
	if len(t.conns) == 0 {
		t.mu.Unlock()
		return nil
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	zero := t.zero
	t.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *connTracker) closeAll() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		_ = c.Close()
	}
	return len(t.conns)
}

// isClosed reports whether err comes from a listener we closed.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
