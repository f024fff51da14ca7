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
	"github.com/janus-proxy/janus/internal/limit/cluster"
	"github.com/janus-proxy/janus/internal/limit/quota"
	"github.com/janus-proxy/janus/internal/outbound"
	"github.com/janus-proxy/janus/internal/upstream"
)

// Options are the parts of a server that do not come from the config.
type Options struct {
	// Logger is the application log; nil builds one on stderr from the
	// config's log section.
	Logger *slog.Logger
	// LogLevel, when set, is Logger's level, which a reload changes to
	// the new config's log.level (NewLogger returns both).
	LogLevel *slog.LevelVar
	// Access overrides log.access.output (tests capture the access log
	// here); nil uses the config.
	Access io.Writer
	// Version is the build's version, for janus_build_info.
	Version string
	// Sockets opens listening sockets; nil binds new ones. A binary
	// upgrade passes the old process's (see cmd/janus).
	Sockets Sockets
}

// Server is a running Janus. Build it with New, then Start it; Reload
// swaps in a new config without dropping anything; Shutdown drains.
type Server struct {
	opts     Options
	log      *slog.Logger
	logLevel *slog.LevelVar     // nil when the caller's logger has a fixed level
	registry *upstream.Registry // upstream hosts' state, kept across reloads

	mu      sync.Mutex // serialises Start, Reload and Shutdown
	seq     int        // generations built
	cur     atomic.Pointer[generation]
	sockets map[string]*socket // by socketKey

	// gens is every generation not yet closed. It has a lock of its own:
	// a generation closes (forget) from whichever goroutine lets it go
	// last, Reload's included.
	gensMu  sync.Mutex
	gens    map[*generation]struct{}
	started bool
	stopped bool

	// self reports whether an address reaches one of our listeners; built
	// once they are bound (ports resolved).
	self atomic.Pointer[func(netip.AddrPort) bool]

	conns connTracker
	tel   telemetry

	// limiters are the rate limiters by name and settings, kept across
	// generations.
	limitersMu sync.Mutex
	limiters   map[string]any // rate, concurrency and bandwidth limiters, local or the cluster's

	// The cluster client (Redis), kept across reloads.
	clusterMu   sync.Mutex
	cluster     *cluster.Client
	clusterAddr string
	clusterStop func() // ends the purge subscription

	// The traffic quotas' store, kept across reloads.
	quotaMu    sync.Mutex
	quotaStore *quota.Store
	quotaPath  string
	adm        adminState // the admin API's listener, kept across reloads
}

// New builds the graph for cfg. Nothing listens until Start.
func New(cfg *config.Config, o Options) (*Server, error) {
	s := &Server{opts: o, log: o.Logger, logLevel: o.LogLevel, registry: upstream.NewRegistry(nil),
		gens: map[*generation]struct{}{}, sockets: map[string]*socket{}}
	if s.log == nil {
		s.log, s.logLevel = NewLogger(cfg.Log, nil)
	}
	s.startTelemetry()
	s.initAdmin()
	_ = s.tel.metrics.Register(newCacheCollector(s))
	_ = s.tel.metrics.Register(newLimitCollector(s))
	g, err := s.build(cfg, nil)
	if err != nil {
		s.tel.stop()
		return nil, err
	}
	s.seq = g.seq
	s.remember(g)
	s.cur.Store(g)
	return s, nil
}

// Config returns the config being served.
func (s *Server) Config() *config.Config { return s.cur.Load().cfg }

// Start opens every listener and starts serving. If one cannot listen, the
// ones already open are closed again.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.cur.Load()
	opened, err := s.openSockets(g)
	if err != nil {
		return err
	}
	if err := s.prepareAdmin(g.cfg); err != nil {
		for _, sk := range opened {
			sk.close()
			sk.closeQUIC()
		}
		return err
	}
	if err := s.learnSelf(opened); err != nil {
		for _, sk := range opened {
			sk.close()
		}
		s.abortAdmin()
		return err
	}
	s.commitAdmin()
	for _, sk := range opened {
		s.sockets[sk.key] = sk
	}
	g.startUpstreams()
	for _, sk := range opened {
		l := sk.cur.Load()
		s.log.Info("listening", "listener", l.cfg.Name, "addr", sk.addr().String(), "protocols", l.protocols())
		sk.start()
	}
	s.started = true
	return nil
}

// openSockets opens a socket for each of g's listeners that has none yet,
// and points kept ones at g's listeners only when all succeeded. It
// returns the new ones, not yet accepting.
func (s *Server) openSockets(g *generation) ([]*socket, error) {
	var opened []*socket
	fail := func(l *listener, err error) ([]*socket, error) {
		for _, sk := range opened {
			sk.close()
			sk.closeQUIC()
		}
		return nil, fmt.Errorf("listener %s: %w", l.cfg.Name, err)
	}
	for _, l := range g.listeners {
		if _, ok := s.sockets[socketKey(l.cfg)]; ok {
			continue
		}
		sk, err := s.openSocket(l)
		if err != nil {
			return fail(l, err)
		}
		opened = append(opened, sk)
	}
	return opened, nil
}

// learnSelf records the addresses of every socket, kept and new, so that
// a request for Janus itself is refused instead of looping.
func (s *Server) learnSelf(opened []*socket) error {
	var bound []netip.AddrPort
	for _, sk := range s.sockets {
		bound = append(bound, sk.addr())
	}
	for _, sk := range opened {
		bound = append(bound, sk.addr())
	}
	// The admin API is Janus too: a proxy client must not reach it
	// through the proxy (its loopback-only default would mean nothing).
	if ap, ok := s.adminAddr(); ok {
		bound = append(bound, ap)
	}
	self, err := outbound.SelfAddrs(bound)
	if err != nil {
		return fmt.Errorf("learn own addresses: %w", err)
	}
	s.self.Store(&self)
	return nil
}

// Reload serves cfg from now on. It builds cfg's graph and opens its new
// listeners first: if anything fails, nothing changes and the error says
// why. Otherwise, listeners that keep their address keep their socket (no
// client is refused) and take new connections with the new graph; new
// addresses open; removed ones stop accepting. Connections in flight
// (requests, tunnels, SOCKS sessions, WebSockets) finish on the graph that
// accepted them, which closes when its last one ends. Targets keep their
// health and ejection state, and pools their retry budget.
func (s *Server) Reload(cfg *config.Config) error {
	err := s.reload(cfg)
	s.tel.metrics.RecordReload(err == nil)
	return err
}

// ReloadFrom loads a config with load and reloads with it; a config that
// does not load counts as a failed reload too.
func (s *Server) ReloadFrom(load func() (*config.Config, error)) error {
	cfg, err := load()
	if err != nil {
		s.tel.metrics.RecordReload(false)
		return err
	}
	return s.Reload(cfg)
}

func (s *Server) reload(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("reload: the server is shutting down")
	}
	old := s.cur.Load()
	g, err := s.build(cfg, old)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	opened, err := s.openSockets(g)
	if err == nil {
		err = s.prepareAdmin(cfg)
		if err == nil {
			err = s.learnSelf(opened)
			if err != nil {
				s.abortAdmin()
			}
		}
		if err != nil {
			for _, sk := range opened {
				sk.close()
				sk.closeQUIC()
			}
		}
	}
	if err != nil {
		g.close()
		return fmt.Errorf("reload: %w", err)
	}
	s.seq = g.seq
	s.remember(g)
	g.startUpstreams()
	keep := map[string]bool{}
	for _, l := range g.listeners {
		key := socketKey(l.cfg)
		keep[key] = true
		if sk, ok := s.sockets[key]; ok {
			if err := sk.serve(l); err != nil {
				s.log.Warn("reload: listener keeps its old settings", "listener", l.cfg.Name, "err", err)
			}
		}
	}
	for key, sk := range s.sockets {
		if !keep[key] {
			s.log.Info("listener closed by reload", "addr", sk.addr().String())
			sk.close()
			sk.closeQUIC()
			delete(s.sockets, key)
		}
	}
	for _, sk := range opened {
		s.sockets[sk.key] = sk
		if s.started {
			l := sk.cur.Load()
			s.log.Info("listening", "listener", l.cfg.Name, "addr", sk.addr().String(), "protocols", l.protocols())
			sk.start()
		}
	}
	s.cur.Store(g)
	s.commitAdmin()
	s.applyLogConfig(old.cfg.Log, g.cfg.Log)
	s.forgetRemoved(old.cfg, g.cfg)
	old.retire()
	s.log.Info("config reloaded", "generation", g.seq, "listeners", len(g.listeners))
	return nil
}

func (s *Server) remember(g *generation) {
	s.gensMu.Lock()
	s.gens[g] = struct{}{}
	s.gensMu.Unlock()
}

// forget drops a closed generation.
func (s *Server) forget(g *generation) {
	s.gensMu.Lock()
	delete(s.gens, g)
	s.gensMu.Unlock()
}

// Addr returns the bound address of the named listener (useful with port 0).
func (s *Server) Addr(name string) (netip.AddrPort, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sk := range s.sockets {
		if l := sk.cur.Load(); l != nil && l.cfg.Name == name {
			return sk.addr(), true
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
	g := s.cur.Load()
	if g.out == nil {
		return nil
	}
	return g.out.out.Reopen()
}

// Shutdown stops accepting, lets requests and tunnels in flight finish until
// ctx is done, then closes what is left. It returns ctx.Err() if it had to
// cut connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	for _, sk := range s.sockets {
		sk.close()
	}
	s.mu.Unlock()
	s.gensMu.Lock()
	gens := make([]*generation, 0, len(s.gens))
	for g := range s.gens {
		gens = append(gens, g)
	}
	s.gensMu.Unlock()
	for _, g := range gens {
		for _, l := range g.listeners {
			l.drain()
		}
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
	for _, g := range gens {
		g.close()
	}
	s.closeQuotas()
	s.closeCluster()
	s.tel.stop()
	s.mu.Lock()
	for _, sk := range s.sockets {
		sk.closeQUIC()
	}
	s.mu.Unlock()
	// Last: /readyz says "not ready" to orchestrators while draining.
	s.closeAdmin()
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
