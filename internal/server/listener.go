package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/httpface"
	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/proxyproto"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/sniff"
	"github.com/janus-proxy/janus/internal/socks"
)

// listener is one configured listener of a generation: the faces behind a
// socket, with their settings. The socket itself belongs to the server and
// outlives the listener across reloads.
type listener struct {
	srv   *Server
	gen   *generation
	cfg   *config.Listener
	log   *slog.Logger
	slots chan struct{} // one token per allowed concurrent connection
	ctr   *listenerCounters
	// perClient bounds each client address's connections; nil: no bound.
	perClient *limit.Concurrency

	headerTimeout time.Duration
	tls           *tls.Config         // nil for a plain listener
	proxyProto    *proxyproto.Options // nil: no PROXY protocol header expected
	http          *httpface.Server    // nil when neither http nor connect is allowed
	socks         *socks.Server       // nil when neither SOCKS version is allowed
}

func (g *generation) buildListener(i int, lc *config.Listener) (*listener, error) {
	s := g.srv
	l := &listener{
		srv:           s,
		gen:           g,
		cfg:           lc,
		log:           s.log.With("listener", lc.Name),
		slots:         make(chan struct{}, maxConns(lc)),
		ctr:           s.tel.counter(lc.Name),
		headerTimeout: lc.Timeouts.Header.Or(config.DefaultHeaderTimeout),
		tls:           g.cfg.TLSConfig(i),
		proxyProto:    g.cfg.ProxyProtocol(i),
	}
	fc := lc.Forward
	forward := fc != nil
	if !forward {
		// A reverse-only listener: the gate sees no forward request, and
		// denies any that might slip through.
		fc = &config.Forward{Policy: ""}
	}
	var err error
	if l.perClient, err = l.ctr.clientSlots(lc.Name, lc.MaxConnectionsPerClient); err != nil {
		return nil, err
	}
	gt := g.buildGate(fc)
	if !forward {
		gt.Policy = &gate.Policy{Name: "reverse-only"}
	}
	if gt.Limits, gt.Bandwidths, gt.Concs, err = g.limits(fc.Limits); err != nil {
		return nil, err
	}
	tunnelIdle := lc.Timeouts.TunnelIdle.Or(config.DefaultTunnelIdle)
	reverseFace := lc.Reverse != nil
	if (forward && (lc.Allows("http") || lc.Allows("connect"))) || (reverseFace && lc.Allows("http")) {
		anon, err := httpface.ParseAnonymity(fc.Anonymity)
		if err != nil {
			return nil, err
		}
		o := httpface.Options{
			Listener:        lc.Name,
			Tunnels:         &l.ctr.tunnels,
			Gate:            gt,
			Dialer:          g.dialer,
			Access:          g.accessLog(),
			Logger:          l.log,
			Anonymity:       anon,
			ViaName:         fc.Via,
			AllowHTTP:       forward && lc.Allows("http"),
			AllowCONNECT:    forward && lc.Allows("connect"),
			HeaderTimeout:   l.headerTimeout,
			IdleTimeout:     lc.Timeouts.Idle.Or(config.DefaultIdleTimeout),
			TunnelIdle:      tunnelIdle,
			ResponseTimeout: lc.Timeouts.Response.Or(config.DefaultResponse),
			MaxHeaderBytes:  int(lc.MaxHeaderBytes.Or(config.DefaultMaxHeaderBytes)),
			H2C:             lc.H2C,
		}
		g.cacheOptions(&o, lc, forward && lc.Allows("http"))
		if l.tls != nil {
			o.Scheme = "https"
			o.HSTS = lc.TLS.HSTSValue()
		}
		if reverseFace && lc.Allows("http") {
			o.Routes = g.cfg.ReverseTable(i)
			o.Forwarding = reverse.NewForwarding(g.cfg.ForwardingOptions(i))
			o.Upstreams = g.upstreams
			if o.RouteGates, err = g.routeGates(lc); err != nil {
				return nil, err
			}
		}
		l.http = httpface.New(o)
	}
	if forward && (lc.Allows("socks5") || lc.Allows("socks4")) {
		l.socks = socks.New(socks.Options{
			Listener:         lc.Name,
			Tunnels:          &l.ctr.tunnels,
			Gate:             gt,
			Dialer:           g.dialer,
			Access:           g.accessLog(),
			Logger:           l.log,
			AllowSOCKS4:      lc.Allows("socks4"),
			AllowSOCKS5:      lc.Allows("socks5"),
			HandshakeTimeout: l.headerTimeout,
			TunnelIdle:       tunnelIdle,
			UDPIdle:          lc.Timeouts.UDPIdle.Or(config.DefaultUDPIdle),
		})
	}
	return l, nil
}

func (g *generation) buildGate(fc *config.Forward) *gate.Gate {
	gt := &gate.Gate{
		Policy:       g.cfg.Policy(fc.Policy),
		Users:        g.users,
		AuthRequired: fc.AuthRequired(),
		ConnectPorts: fc.ConnectPortSet(),
	}
	if g.quotas != nil {
		gt.Quotas = g.quotas
	}
	return gt
}

func maxConns(lc *config.Listener) int {
	if lc.MaxConnections > 0 {
		return lc.MaxConnections
	}
	return config.DefaultMaxConnections
}

// protocols says what the listener serves, for the start-up log.
func (l *listener) protocols() string {
	var ps []string
	if l.cfg.Forward != nil {
		for _, p := range []string{"http", "connect", "socks5", "socks4"} {
			if l.cfg.Allows(p) {
				ps = append(ps, p)
			}
		}
	}
	if l.cfg.Reverse != nil && l.cfg.Allows("http") {
		ps = append(ps, "reverse")
	}
	if l.servesHTTP3() {
		ps = append(ps, "http3")
	}
	return strings.Join(ps, ",")
}

// serve sniffs the connection's protocol and hands it to its face, which
// closes it when done.
func (l *listener) serve(c net.Conn) {
	released := false
	l.ctr.conns.Add(1)
	release := func() {
		l.ctr.conns.Add(-1)
		l.srv.conns.remove(c)
		<-l.slots
		l.gen.release()
	}
	defer func() {
		if r := recover(); r != nil {
			l.log.Error("panic serving connection", "client", c.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
			_ = c.Close()
		}
		if !released {
			release()
		}
	}()
	conn := c
	if l.proxyProto != nil {
		// The load balancer's header comes first; the client's address is
		// then the one it gives. Tunnels copy through the wrapper (which
		// still splices), so no byte read past the header is lost.
		pc, err := proxyproto.Accept(c, *l.proxyProto)
		if err != nil {
			l.log.Info("PROXY protocol header refused", "peer", c.RemoteAddr().String(), "err", err)
			_ = c.Close()
			return
		}
		conn = pc
	}
	if l.perClient != nil {
		var key [32]byte
		slot, ok := l.perClient.Acquire(limit.AppendIP(key[:0], clientIP(conn), 32, 128))
		if !ok {
			l.overClientLimit(conn)
			return
		}
		// The slot goes with the connection, which may outlive this call.
		inner := release
		release = func() {
			slot.Release()
			inner()
		}
	}
	proto, sc, err := sniff.Sniff(conn, l.headerTimeout)
	if err != nil {
		if !errors.Is(err, sniff.ErrTimeout) {
			l.log.Debug("connection closed before its first byte", "client", c.RemoteAddr().String(), "err", err)
		}
		_ = c.Close()
		return
	}
	if l.tls != nil {
		if proto != sniff.TLS {
			l.refuse(sc, proto)
			return
		}
		if sc = l.handshake(sc); sc == nil {
			return
		}
		if tc, ok := sc.Conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" && l.http != nil {
			released = true
			l.http.ServeH2(tc, release)
			return
		}
		proto = sniff.HTTP // what TLS carries here is HTTP/1.1
	}
	if proto == sniff.HTTP && l.cfg.H2C && l.http != nil && httpface.IsH2Preface(sc.Peeked) {
		released = true
		l.http.ServeH2(sc, release)
		return
	}
	switch {
	case proto == sniff.HTTP && l.http != nil:
		// An idle keep-alive connection is parked without a goroutine and
		// may outlive this call: the face releases its slot when it closes.
		released = true
		l.http.ServeParked(sc, release)
	case (proto == sniff.SOCKS4 || proto == sniff.SOCKS5) && l.socks != nil:
		// A tunnel may outlive this call (it runs on goroutines of its
		// own): the face releases the slot when the session ends.
		released = true
		l.socks.ServeConnThen(sc, release)
	default:
		l.refuse(sc, proto)
	}
}

// handshake terminates TLS within the header timeout and returns the
// connection to serve, or nil (closed) when the handshake failed.
func (l *listener) handshake(sc *sniff.Conn) *sniff.Conn {
	tc := tls.Server(sc, l.tls)
	_ = tc.SetDeadline(time.Now().Add(l.headerTimeout))
	if err := tc.Handshake(); err != nil {
		l.log.Debug("TLS handshake failed", "client", sc.RemoteAddr().String(), "err", err)
		_ = tc.Close()
		return nil
	}
	_ = tc.SetDeadline(time.Time{})
	return &sniff.Conn{Conn: tc, Raw: tc}
}

// refuse answers a protocol the listener does not serve as that protocol
// understands, then closes.
func (l *listener) refuse(c *sniff.Conn, proto sniff.Protocol) {
	l.log.Info("protocol not served on this listener", "client", c.RemoteAddr().String(), "protocol", proto.String())
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	switch proto {
	case sniff.HTTP:
		body := "HTTP is not served on this listener.\n"
		if l.tls != nil {
			// As nginx answers plain HTTP on an HTTPS port.
			body = "This port speaks HTTPS: plain HTTP was sent to it.\n"
		}
		_, _ = fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	case sniff.SOCKS4:
		_, _ = c.Write([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
	case sniff.SOCKS5:
		_, _ = c.Write([]byte{5, 0xff})
	}
	_ = c.Close()
}

// drain tells the faces to finish what is in flight and take nothing new.
func (l *listener) drain() {
	if l.http != nil {
		l.http.Shutdown()
	}
	if l.socks != nil {
		l.socks.Shutdown()
	}
}

func (l *listener) closeFaces() {
	if l.http != nil {
		l.http.Close()
	}
}

// routeGates builds each route's access control (policy and Basic auth).
func (g *generation) routeGates(lc *config.Listener) ([]*httpface.RouteGate, error) {
	var gates []*httpface.RouteGate
	for j, rt := range lc.Reverse.Routes {
		if rt.Policy == "" && rt.Auth != "basic" && len(rt.Limits) == 0 {
			continue
		}
		for len(gates) <= j {
			gates = append(gates, nil)
		}
		gt := &gate.Gate{Users: g.users}
		if rt.Policy != "" {
			gt.Policy = g.cfg.Policy(rt.Policy)
		}
		limits, bws, concs, err := g.limits(rt.Limits)
		if err != nil {
			return nil, err
		}
		gt.Limits, gt.Bandwidths, gt.Concs = limits, bws, concs
		if g.quotas != nil && rt.Auth == "basic" {
			gt.Quotas = g.quotas
		}
		gates[j] = &httpface.RouteGate{Gate: gt, Basic: rt.Auth == "basic", Realm: rt.Realm}
	}
	return gates, nil
}
