package socks

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/sniff"
	"github.com/janus-proxy/janus/internal/tunnel"
)

// serve5 runs a SOCKS5 session (RFC 1928): method selection, optional
// RFC 1929 authentication, then one request.
func (ss *session) serve5() {
	methods, err := readGreeting(ss.br, &ss.hs.scratch)
	if err != nil {
		ss.fail(uint8(ReplyGeneralFailure), err)
		return
	}
	if !ss.s.o.AllowSOCKS5 {
		// A SOCKS5 client understands "no acceptable methods" as a refusal
		// and closes (RFC 1928 §3); no other reply exists this early.
		ss.fail(uint8(ReplyNotAllowed), errors.New("socks5 is not enabled on this listener"))
		_ = ss.write(AppendMethodChoice(ss.out(), MethodNoAcceptable))
		return
	}
	m := ss.s.chooseMethod(&methods)
	if m == MethodNoAcceptable {
		ss.entry.Rule = gate.RuleAuth
		ss.entry.Denied = true
		ss.fail(uint8(ReplyNotAllowed), fmt.Errorf("socks5: none of the %d offered methods is acceptable", methods.Len()))
		_ = ss.write(AppendMethodChoice(ss.out(), m))
		return
	}
	if ss.write(AppendMethodChoice(ss.out(), m)) != nil {
		return
	}
	if m == MethodUserPass && !ss.authenticate() {
		return
	}
	req, err := readRequest(ss.br, &ss.hs.scratch)
	if err != nil {
		rep := ReplyGeneralFailure
		if errors.Is(err, ErrAddrType) {
			rep = ReplyAddrTypeUnsupported
		}
		ss.fail(uint8(rep), err)
		if !isReadError(err) {
			_ = ss.write(AppendReply(ss.out(), rep, noAddr))
		}
		return
	}
	ss.entry.Method = req.Cmd.String()
	ss.entry.Target = req.Addr.String()
	// The handshake is over: from here the client waits on us, and tunnels
	// and associations have their own idle limits.
	if err := ss.c.SetDeadline(time.Time{}); err != nil {
		ss.fail(uint8(ReplyGeneralFailure), fmt.Errorf("clear handshake deadline: %w", err))
		return
	}
	switch req.Cmd {
	case CmdConnect:
		ss.connect5(req.Addr)
	case CmdUDPAssociate:
		ss.associate(req.Addr)
	default:
		// BIND (RFC 1928 §4) would need a listener per client; Janus does
		// not offer it.
		ss.fail(uint8(ReplyCmdNotSupported), fmt.Errorf("socks5: command %s not supported", req.Cmd))
		_ = ss.write(AppendReply(ss.out(), ReplyCmdNotSupported, noAddr))
	}
}

// chooseMethod picks the method to use. On a listener that requires
// authentication only user/password will do. Elsewhere user/password is
// preferred whenever the client offers it and users exist: clients (curl,
// x/net/proxy) offer it next to "no authentication" exactly when they hold
// credentials, and per-user rules could never match if Janus always took
// "no authentication".
func (s *Server) chooseMethod(offered *MethodSet) Method {
	g := s.o.Gate
	hasUsers := g.Users != nil && g.Users.Len() > 0
	switch {
	case offered.Has(MethodUserPass) && (g.AuthRequired || hasUsers):
		return MethodUserPass
	case !g.AuthRequired && offered.Has(MethodNoAuth):
		return MethodNoAuth
	}
	return MethodNoAcceptable
}

// authenticate runs the RFC 1929 sub-negotiation. The user name goes to the
// log; the password never does.
func (ss *session) authenticate() bool {
	user, password, err := readUserPass(ss.br, &ss.hs.scratch)
	if err != nil {
		ss.entry.Rule = gate.RuleAuth
		ss.entry.Denied = true
		ss.fail(uint8(ReplyNotAllowed), err)
		if !isReadError(err) {
			_ = ss.write(AppendUserPassStatus(ss.out(), false))
		}
		return false
	}
	id, err := ss.s.o.Gate.Authenticate(user, password)
	if err != nil {
		// RFC 1929 §2: on failure the server must close the connection.
		ss.entry.Rule = gate.RuleAuth
		ss.entry.Denied = true
		ss.fail(uint8(ReplyNotAllowed), fmt.Errorf("socks5 auth: %w", err))
		_ = ss.write(AppendUserPassStatus(ss.out(), false))
		return false
	}
	ss.user = id
	ss.entry.User = id.Name
	return ss.write(AppendUserPassStatus(ss.out(), true)) == nil
}

// connect5 dials the destination, replies and joins the tunnel.
func (ss *session) connect5(dst Addr) {
	origin, err := ss.dial(gate.SOCKS5, dst)
	if err != nil {
		rep := replyFor(err)
		ss.fail(uint8(rep), err)
		_ = ss.write(AppendReply(ss.out(), rep, noAddr))
		return
	}
	// RFC 1928 §6: BND.ADDR/BND.PORT of a CONNECT reply are the address the
	// server used to reach the destination.
	ss.entry.Status = int(ReplySucceeded)
	if ss.write(AppendReply(ss.out(), ReplySucceeded, sniff.AddrPort(origin.LocalAddr()))) != nil {
		_ = origin.Close()
		return
	}
	ss.tunnel(origin)
}

// tunnel copies between the client and origin until both sides are done.
// The raw connections go to tunnel.Join so that the kernel can splice; the
// handshake reader is released first, its unread bytes sent ahead.
func (ss *session) tunnel(origin *net.TCPConn) {
	pending := ss.release()
	var client net.Conn = ss.c.Raw
	if client == nil {
		client = ss.c.Conn
	}
	// Bandwidth limits and the quota meter wrap the client side (both
	// directions pass there); without any, the raw sockets keep the
	// kernel's splice. A quota that runs out cuts the tunnel.
	req := gate.Request{Client: ss.client.Addr(), User: ss.user, Protocol: gate.SOCKS5}
	shape, putBuckets := ss.s.o.Gate.Shape(&req)
	client = limit.WrapConn(client, shape)
	ss.entry.Metered = shape.Meter != nil
	// The tunnel runs on goroutines of its own; this one returns and its
	// stack goes. The tunnel's end finishes the session.
	ss.detached = true
	if n := ss.s.o.Tunnels; n != nil {
		n.Add(1)
	}
	tunnel.Start(client, origin, tunnel.Options{Idle: ss.s.o.TunnelIdle, ClientPending: pending}, func(res tunnel.Result, err error) {
		if n := ss.s.o.Tunnels; n != nil {
			n.Add(-1)
		}
		putBuckets()
		ss.entry.BytesUp, ss.entry.BytesDown = res.Up, res.Down
		if err != nil {
			ss.entry.Error = fmt.Sprintf("tunnel: %v", err)
		}
		ss.finish()
	})
}
