package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/janus-proxy/janus/internal/admin"
	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/upstream"
)

// adminState is the admin API's listener. It belongs to the server, not
// to a generation: a reload that keeps admin.listen keeps it (an SSE
// stream or a reload request in flight is not cut); one that changes it
// opens the new address before the swap (a reload that cannot listen
// fails and changes nothing) and closes the old one after.
type adminState struct {
	handler *admin.Handler
	started time.Time

	mu   sync.Mutex // guards cur and next; Start, reload and Shutdown hold Server.mu too
	cur  *adminSocket
	next *adminSocket // opened by prepareAdmin, not yet serving
	keep bool         // prepareAdmin found the address unchanged
}

// adminSocket is one admin listener and the http.Server on it.
type adminSocket struct {
	listen string // as configured
	ln     net.Listener
	hs     *http.Server
	cancel context.CancelFunc // ends the event streams, which never end by themselves
}

func (s *Server) initAdmin() {
	s.adm.started = time.Now()
	s.adm.handler = admin.New(admin.Options{Server: s, Version: s.opts.Version, Cache: s.adminCache, Logger: s.log.With("component", "admin")})
}

// prepareAdmin opens the admin listener cfg asks for, unless the current
// one already has that address. Call commitAdmin or abortAdmin next.
func (s *Server) prepareAdmin(cfg *config.Config) error {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next, a.keep = nil, false
	want := ""
	if cfg.Admin != nil {
		want = cfg.Admin.Listen
	}
	if a.cur != nil && a.cur.listen == want {
		a.keep = true
		return nil
	}
	if want == "" {
		return nil
	}
	lc := net.ListenConfig{}
	ln, err := lc.Listen(context.Background(), "tcp", want)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.next = &adminSocket{listen: want, ln: ln, cancel: cancel, hs: &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          nil,
	}}
	return nil
}

// abortAdmin closes what prepareAdmin opened.
func (s *Server) abortAdmin() {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next != nil {
		a.next.close()
		a.next = nil
	}
}

// commitAdmin serves on the prepared listener and closes the old one,
// unless the address was kept.
func (s *Server) commitAdmin() {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keep {
		return
	}
	old := a.cur
	a.cur, a.next = a.next, nil
	if a.cur != nil {
		s.log.Info("admin API listening", "addr", a.cur.ln.Addr().String())
		go a.cur.serve(s)
	}
	if old != nil {
		s.log.Info("admin listener closed by reload", "addr", old.ln.Addr().String())
		// Not synchronously: this may run inside POST /api/reload on the
		// very listener being closed, whose answer must still go out.
		go old.close()
	}
}

// closeAdmin stops the admin listener (shutdown).
func (s *Server) closeAdmin() {
	a := &s.adm
	a.mu.Lock()
	cur := a.cur
	a.cur = nil
	a.mu.Unlock()
	if cur != nil {
		cur.close()
	}
}

// adminAddr returns the admin listener's address, the prepared one while a
// reload is in progress.
func (s *Server) adminAddr() (netip.AddrPort, bool) {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	as := a.cur
	if a.next != nil {
		as = a.next
	}
	if as == nil {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(as.ln.Addr().String())
	return ap, err == nil
}

func (as *adminSocket) serve(s *Server) {
	if err := as.hs.Serve(as.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("admin API stopped", "err", err)
	}
}

// close stops accepting, ends the event streams and lets other requests
// finish for a few seconds.
func (as *adminSocket) close() {
	as.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = as.hs.Shutdown(ctx)
	_ = as.ln.Close() // when Serve never ran (an aborted reload)
}

// AdminAddr returns the bound address of the admin API (useful with port 0).
func (s *Server) AdminAddr() (netip.AddrPort, bool) {
	a := &s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur == nil {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(a.cur.ln.Addr().String())
	return ap, err == nil
}

// AdminHandler returns the admin API's handler (tests serve it elsewhere).
func (s *Server) AdminHandler() http.Handler { return s.adm.handler }

// Generation returns the number of the current generation: 1 at start,
// one more for each successful reload.
func (s *Server) Generation() int { return s.cur.Load().seq }

// Started returns when the server was built.
func (s *Server) Started() time.Time { return s.adm.started }

// Ready reports whether the server is serving and not shutting down.
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started && !s.stopped
}

// Users returns the current config's user database; nil without users.
func (s *Server) Users() *gate.Users { return s.cur.Load().users }

// Upstreams returns the state of every target of the current upstream
// pools, pool by pool in name order.
func (s *Server) Upstreams() []upstream.HostStats {
	g := s.cur.Load()
	names := make([]string, 0, len(g.upstreams))
	for name := range g.upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []upstream.HostStats
	for _, name := range names {
		out = g.upstreams[name].Pool.Stats(out)
	}
	return out
}

// Listeners returns the current listeners with what is open on each.
func (s *Server) Listeners() []admin.Listener {
	g := s.cur.Load()
	out := make([]admin.Listener, 0, len(g.listeners))
	for _, l := range g.listeners {
		addr := l.cfg.Listen
		if ap, ok := s.Addr(l.cfg.Name); ok {
			addr = ap.String()
		}
		var protos []string
		if p := l.protocols(); p != "" {
			protos = strings.Split(p, ",")
		}
		out = append(out, admin.Listener{
			Name: l.cfg.Name, Address: addr, Protocols: protos, TLS: l.tls != nil,
			Connections: l.ctr.conns.Load(), Tunnels: l.ctr.tunnels.Load(),
		})
	}
	return out
}

// ReloadConfigFile loads the config file being served again and reloads
// with it, as SIGHUP does; the embedded default config reloads itself.
func (s *Server) ReloadConfigFile() error {
	return s.ReloadFrom(func() (*config.Config, error) {
		file := s.Config().File
		if file == config.DefaultFile {
			return config.Default()
		}
		return config.Load(file)
	})
}
