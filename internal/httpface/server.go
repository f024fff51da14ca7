// Package httpface serves HTTP/1.1 client connections for both of Janus's
// faces. The forward face: absolute-form requests ("GET http://host/path")
// proxied to the origin they name, and CONNECT tunnels. The reverse face:
// origin-form requests ("GET /path") routed by the route table of package
// reverse to an upstream pool, a redirect, a fixed response or static files.
// Both learn the destination their own way, ask the gate, dial through the
// outbound dialer, and write every reply themselves; the HTTP/1.1 engine of
// package http1 reads and writes the messages.
//
// One goroutine serves one client connection, one request after another.
// Between requests a connection holds no read or write buffer (they go back
// to a shared pool), so that idle keep-alive clients cost little memory.
package httpface

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/h2server"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/sniff"
)

// Dialer opens connections to origins; *outbound.Dialer is one. It must
// dial only addresses that check allows.
type Dialer interface {
	DialTCP(ctx context.Context, host string, port uint16, check outbound.Check) (*net.TCPConn, error)
}

// AccessLog receives one entry per HTTP request and per CONNECT tunnel;
// *observe.AccessLog is one. It must not keep the entry after Log returns.
type AccessLog interface {
	Log(*observe.Entry)
}

var _ Dialer = (*outbound.Dialer)(nil)
var _ AccessLog = (*observe.AccessLog)(nil)

// Options configure a Server. Zero durations and sizes take the defaults
// given with each field.
type Options struct {
	// Tunnels, when set, counts the tunnels open (CONNECT and upgrades),
	// for the metrics.
	Tunnels   *atomic.Int64
	Listener  string       // the listener's name, for logs
	Gate      *gate.Gate   // required: who may go where
	Dialer    Dialer       // required: the only way out
	Access    AccessLog    // nil: no access log
	Logger    *slog.Logger // application log; nil discards
	Anonymity Anonymity    // what the origin learns about the client; zero is Anonymous
	ViaName   string       // pseudonym in Via; "" is "janus"

	AllowHTTP    bool // absolute-form http:// requests are proxied
	AllowCONNECT bool // CONNECT tunnels are opened

	// HeaderTimeout bounds reading a request head from its first byte; 0 =
	// 10s. A head still incomplete then is answered 408 and the connection
	// closed; a connection that sent nothing closes without a word.
	HeaderTimeout time.Duration
	// IdleTimeout bounds the keep-alive wait between requests (the
	// connection then closes quietly) and each step of a body transfer
	// that makes no progress; 0 = 60s.
	IdleTimeout     time.Duration
	TunnelIdle      time.Duration // a CONNECT or upgraded tunnel with no traffic either way ends; 0 = 5m
	ResponseTimeout time.Duration // wait for an origin's response head; 0 = 60s, then 504
	MaxHeaderBytes  int           // request head limit (431 beyond); 0 = 64 KiB
	MaxIdlePerHost  int           // idle origin connections kept per host:port; 0 = 64

	// The reverse face: origin-form requests go through Routes (nil: they
	// are refused with 400, as a forward proxy does). Forwarding sets the
	// X-Forwarded-* fields; Upstreams holds the pools routes name.
	Routes     *reverse.Table
	Forwarding *reverse.Forwarding
	Upstreams  map[string]*Upstream
	// RouteGates holds each route's access control by route index (nil
	// entries, or a short slice, mean none).
	RouteGates []*RouteGate

	// Scheme is how clients reach the listener: "http" (default) or
	// "https" when the server package terminated TLS first.
	Scheme string
	// HSTS, when set, is the Strict-Transport-Security value added to the
	// reverse face's responses.
	HSTS string
	// H2C marks a plain listener that speaks HTTP/2 without TLS: the
	// server package hands prior-knowledge connections to ServeH2, and the
	// reverse face takes the HTTP/1.1 "Upgrade: h2c" (RFC 7540 §3.2).
	H2C bool
	// Cache, when set, is the HTTP cache and what on this listener uses
	// it; nil: nothing is cached and PURGE is an ordinary method.
	Cache *CacheOptions
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ViaName == "" {
		o.ViaName = "janus"
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.TunnelIdle <= 0 {
		o.TunnelIdle = 5 * time.Minute
	}
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 60 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = 64
	}
}

// Server serves HTTP/1.1 client connections handed to it by ServeConn, for
// the forward face, the reverse face or both. It is safe for concurrent use.
type Server struct {
	o      Options
	log    *slog.Logger
	limits http1.Limits
	// refreshing counts the background cache refreshes running
	// (stale-while-revalidate), bounded by maxRefreshes.
	refreshing atomic.Int32
	pool       http1.Pool
	via10      []byte // "1.0 janus"
	via11      []byte // "1.1 janus"
	scheme     string // how clients reach this listener: "http" or "https"

	ctx    context.Context // cancelled by Close: ends dials in flight
	cancel context.CancelFunc

	drainCtx    context.Context // cancelled by Shutdown: HTTP/3 connections drain
	drainCancel context.CancelFunc

	parker      parker    // idle connections without a goroutine (ServeParked)
	authOnce    sync.Once // auth, the client of routes' forward-auth services
	auth        *http.Client
	h2once      sync.Once
	h2          *h2server.Server // HTTP/2 on the front, made on first use
	h3once      sync.Once
	h3          *http3.Server // HTTP/3 on the front, made on first use
	altSvc      string        // Alt-Svc for responses over TCP; "" without HTTP/3
	idleWaiting atomic.Int32  // parkable connections idle in their goroutines

	shutting atomic.Bool
	mu       sync.Mutex
	conns    map[*conn]struct{}
}

// New returns a Server. Options.Gate and Options.Dialer are required.
func New(o Options) *Server {
	o.setDefaults()
	s := &Server{
		o:      o,
		log:    o.Logger,
		limits: http1.Limits{MaxHead: o.MaxHeaderBytes},
		via10:  []byte("1.0 " + o.ViaName),
		via11:  []byte("1.1 " + o.ViaName),
		scheme: o.Scheme,
		conns:  make(map[*conn]struct{}),
	}
	s.pool.MaxIdlePerKey = o.MaxIdlePerHost
	s.parker.s = s
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.drainCtx, s.drainCancel = context.WithCancel(context.Background())
	return s
}

// ServeConn serves one client connection until it ends, then closes it. A
// panic while serving is recovered and logged with the client's address; it
// ends only that connection.
func (s *Server) ServeConn(sc *sniff.Conn) {
	c := s.newConn(sc)
	s.track(c)
	s.run(c, true)
}

// ServeParked serves a client connection like ServeConn, but returns as soon
// as the connection has been idle between requests for a short while
// (parkAfter), leaving it parked: watched by one shared epoll instance
// (Linux) with no goroutine and no buffer of its own, and served again in a
// new goroutine when its next request arrives. done is called exactly once,
// after the connection has been closed, whichever goroutine closes it (the
// caller's connection count and limits should be released there, not when
// ServeParked returns). Where parking is not possible (not Linux, not a
// plain TCP connection) ServeParked serves like ServeConn, then calls done.
//
// An idle keep-alive connection then costs its socket and a few hundred
// bytes of state instead of a goroutine stack (4-8 KiB).
func (s *Server) ServeParked(sc *sniff.Conn, done func()) {
	c := s.newConn(sc)
	c.done = done
	s.track(c)
	s.run(c, true)
}

// run serves c in this goroutine until it ends or is parked.
func (s *Server) run(c *conn, first bool) {
	parked := false
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving client", "client", c.client.String(), "panic", fmt.Sprint(p), "stack", stack())
			parked = false
		}
		switch {
		case parked:
		case c.detached:
			c.releaseTunnel()
		default:
			s.endConn(c)
		}
	}()
	parked = c.serve(first)
}

// resume serves a parked connection whose client sent something.
func (s *Server) resume(c *conn) {
	c.resumed = true
	s.run(c, false)
}

// Shutdown starts a drain: idle keep-alive connections close now, busy ones
// after their current exchange, and responses sent from now on carry
// Connection: close. Tunnels already open are left to end on their own.
// Shutdown does not wait; ServeConn returns when each connection is done.
func (s *Server) Shutdown() {
	s.shutting.Store(true)
	s.drainCancel()
	s.shutdownH2()
	s.mu.Lock()
	for c := range s.conns {
		if c.state.Load() == stateIdle {
			c.wake()
		}
	}
	s.mu.Unlock()
	s.parker.closeAll()
}

// Close closes the idle origin connections and cancels dials in flight.
// Connections still being served finish their exchange; their origin
// connections are then closed rather than pooled.
func (s *Server) Close() {
	s.cancel()
	s.drainCancel()
	s.pool.Close()
	s.parker.stop()
}

// Active returns the number of client connections open, parked ones
// included.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) track(c *conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
