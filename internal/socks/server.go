package socks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
	"github.com/janus-proxy/janus/internal/sniff"
)

// Dialer reaches destinations; *outbound.Dialer satisfies it. Every address
// it dials or resolves for a client is first passed to check.
type Dialer interface {
	DialTCP(ctx context.Context, host string, port uint16, check outbound.Check) (*net.TCPConn, error)
	Resolve(ctx context.Context, host string, port uint16, check outbound.Check) (netip.Addr, error)
	ListenUDP(laddr netip.AddrPort) (*net.UDPConn, error)
}

// AccessLog records one entry per session; *observe.AccessLog satisfies it.
type AccessLog interface {
	Log(*observe.Entry)
}

var (
	_ Dialer    = (*outbound.Dialer)(nil)
	_ AccessLog = (*observe.AccessLog)(nil)
)

// Options configure a Server. Gate and Dialer are required.
type Options struct {
	// Tunnels, when set, counts the sessions relaying (CONNECT tunnels),
	// for the metrics.
	Tunnels     *atomic.Int64
	Listener    string       // listener name for logs
	Gate        *gate.Gate   // decides every request; required
	Dialer      Dialer       // reaches destinations; required
	Access      AccessLog    // nil: no access log
	Logger      *slog.Logger // nil: discard
	AllowSOCKS4 bool         // false: SOCKS4/4a requests are answered 0x5B
	AllowSOCKS5 bool         // false: SOCKS5 greetings are answered with method 0xFF

	// HandshakeTimeout bounds everything the client sends before the
	// destination is dialed: greeting, authentication and request. 0 means
	// 10s.
	HandshakeTimeout time.Duration
	// TunnelIdle ends a CONNECT tunnel when no byte moved either way for
	// this long. 0 means 5m.
	TunnelIdle time.Duration
	// UDPIdle ends a UDP association when no datagram moved either way for
	// this long. 0 means 5m.
	UDPIdle time.Duration
}

// Server serves SOCKS4, SOCKS4a and SOCKS5 connections for one listener. It
// is immutable once built and safe for concurrent use; a reload builds a new
// one while sessions in flight finish on the old.
type Server struct {
	o        Options
	log      *slog.Logger
	draining atomic.Bool
}

// New returns a Server. It panics if o.Gate or o.Dialer is nil: a server
// without them could only fail open or not at all.
func New(o Options) *Server {
	if o.Gate == nil || o.Dialer == nil {
		panic("socks: New needs Options.Gate and Options.Dialer")
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.TunnelIdle <= 0 {
		o.TunnelIdle = 5 * time.Minute
	}
	if o.UDPIdle <= 0 {
		o.UDPIdle = 5 * time.Minute
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{o: o, log: log.With("listener", o.Listener)}
}

// Shutdown makes the server take nothing new: a connection handed to
// ServeConn afterwards is closed at once. Sessions in flight, tunnels and
// UDP associations included, run to their end; the caller tracks and drains
// them.
func (s *Server) Shutdown() { s.draining.Store(true) }

// handshake is what a session needs only until its request is answered: a
// buffered reader and a parser's scratch buffer. It goes back to the pool
// before the tunnel starts, so an idle tunnel holds no buffer.
type handshake struct {
	br      *bufio.Reader
	scratch scratch
}

var handshakePool = sync.Pool{New: func() any { return &handshake{br: bufio.NewReaderSize(nil, 512)} }}

// session is one client connection from accept to close.
type session struct {
	s      *Server
	c      *sniff.Conn
	hs     *handshake    // nil once released
	br     *bufio.Reader // hs.br
	client netip.AddrPort
	user   *gate.Identity
	entry  observe.Entry

	// done runs once the session is over (nil: nothing to call).
	// detached marks a session whose CONNECT tunnel runs on goroutines of
	// its own: the tunnel's end, not the serving goroutine, finishes it.
	done     func()
	detached bool
	// unhold gives back the concurrency-limit slots the session holds.
	unhold func()
}

// ServeConn serves one connection whose first byte (0x04 or 0x05) has been
// peeked, and closes it. It returns when the session has ended; a panic is
// recovered and logged with the client's address.
func (s *Server) ServeConn(c *sniff.Conn) {
	ended := make(chan struct{})
	s.ServeConnThen(c, func() { close(ended) })
	<-ended
}

// ServeConnThen serves like ServeConn but may return before the session
// ends: a CONNECT tunnel is handed to goroutines of its own, so that an
// idle tunnel does not keep the stack this goroutine grew during the
// handshake. done runs exactly once, after the connection is closed and the
// session logged; release per-connection limits there.
func (s *Server) ServeConnThen(c *sniff.Conn, done func()) {
	if s.draining.Load() {
		_ = c.Close()
		done()
		return
	}
	ss := &session{s: s, c: c, done: done}
	ss.client = sniff.AddrPort(c.RemoteAddr())
	ss.entry = observe.Entry{Time: time.Now(), Listener: s.o.Listener, Client: ss.client, Face: "forward"}
	defer ss.end()
	ss.hs = handshakePool.Get().(*handshake)
	ss.br = ss.hs.br
	ss.br.Reset(c)
	if err := c.SetDeadline(ss.entry.Time.Add(s.o.HandshakeTimeout)); err != nil {
		ss.fail(uint8(ReplyGeneralFailure), fmt.Errorf("set handshake deadline: %w", err))
		return
	}
	first, err := ss.br.Peek(1)
	if err != nil {
		ss.fail(uint8(ReplyGeneralFailure), fmt.Errorf("read version: %w", err))
		return
	}
	switch Version(first[0]) {
	case Version5:
		ss.entry.Protocol = gate.SOCKS5.String()
		ss.serve5()
	case Version4:
		ss.entry.Protocol = gate.SOCKS4.String()
		ss.serve4()
	default:
		ss.fail(uint8(ReplyGeneralFailure), fmt.Errorf("%w 0x%02x: not a socks connection", ErrVersion, first[0]))
	}
}

// end recovers a panic, closes the connection and writes the access-log
// entry.
func (ss *session) end() {
	if p := recover(); p != nil {
		ss.s.log.Error("socks: panic serving connection", "client", ss.client, "panic", p, "stack", string(debug.Stack()))
		if ss.detached {
			return // the tunnel finishes the session
		}
		ss.entry.Error = fmt.Sprintf("panic: %v", p)
	}
	if ss.detached {
		return
	}
	ss.release()
	ss.finish()
}

// finish closes the connection, logs the session and reports it done.
func (ss *session) finish() {
	_ = ss.c.Close()
	if ss.unhold != nil {
		ss.unhold()
		ss.unhold = nil
	}
	if ss.s.o.Access != nil {
		ss.entry.Duration = time.Since(ss.entry.Time)
		ss.s.o.Access.Log(&ss.entry)
	}
	if ss.done != nil {
		ss.done()
	}
}

// release hands the handshake buffers back to the pool and returns the
// bytes read past the request (by the reader or the sniffer): they belong to
// the tunnel.
func (ss *session) release() []byte {
	if ss.hs == nil {
		return nil
	}
	var pending []byte
	if n := ss.br.Buffered(); n > 0 {
		p, _ := ss.br.Peek(n)
		pending = append([]byte(nil), p...)
	}
	// Bytes the sniffer read that the handshake reader never pulled in
	// come after the reader's: the client sent them last.
	pending = append(pending, ss.c.Peeked...)
	ss.c.Peeked = nil
	ss.br.Reset(nil)
	handshakePool.Put(ss.hs)
	ss.hs, ss.br = nil, nil
	return pending
}

// fail records why the session ended. status is the reply sent or, if none
// could be, the one that says why; the caller writes it.
func (ss *session) fail(status uint8, err error) {
	ss.entry.Status = int(status)
	if err != nil && ss.entry.Error == "" {
		ss.entry.Error = err.Error()
	}
}

// out returns an empty slice over the handshake's scratch buffer for
// building a reply; replies are all written before the buffer is released.
func (ss *session) out() []byte { return ss.hs.scratch[:0] }

// write sends a reply; a failure is recorded in the entry and returned so
// that the caller stops.
func (ss *session) write(b []byte) error {
	_, err := ss.c.Write(b)
	if err != nil {
		ss.fail(uint8(ss.entry.Status), fmt.Errorf("write reply: %w", err))
	}
	return err
}

// errRefused marks a request the gate refused before any dial.
type errRefused struct{ d gate.Decision }

func (e *errRefused) Error() string {
	if e.d.Reason != "" {
		return fmt.Sprintf("refused by rule %s: %s", e.d.Rule, e.d.Reason)
	}
	return fmt.Sprintf("refused by rule %s (%s)", e.d.Rule, e.d.Verdict)
}

// request builds the gate's view of a request.
func (ss *session) request(p gate.Protocol, method string, dst Addr) gate.Request {
	return gate.Request{
		Client:   ss.client.Addr(),
		User:     ss.user,
		Protocol: p,
		Method:   method,
		Host:     dst.Host(),
		Port:     dst.Port,
	}
}

// dial asks the gate, then dials dst with the gate's check on every
// resolved address (DNS rebinding safe). It records the deciding rule.
func (ss *session) dial(p gate.Protocol, dst Addr) (*net.TCPConn, error) {
	g := ss.s.o.Gate
	req := ss.request(p, "CONNECT", dst)
	d := g.Decide(&req)
	ss.entry.Rule = d.Rule
	if d.Verdict != gate.Allow {
		ss.entry.Denied = true
		ss.entry.Limited = d.Verdict == gate.Limited || d.Rule == gate.RuleQuota
		return nil, &errRefused{d}
	}
	// Concurrency limits (sessions per user, per client) hold a slot for
	// the session's life; finish gives it back.
	unhold, hd := g.Hold(&req)
	if hd.Verdict != gate.Allow {
		ss.entry.Rule = hd.Rule
		ss.entry.Denied, ss.entry.Limited = true, true
		return nil, &errRefused{hd}
	}
	ss.unhold = unhold
	origin, err := ss.s.o.Dialer.DialTCP(context.Background(), req.Host, req.Port, func(ip netip.Addr) error {
		return g.CheckAddr(&req, ip)
	})
	if err != nil {
		var de *gate.DeniedError
		if errors.As(err, &de) {
			ss.entry.Rule = de.Rule
			ss.entry.Denied = true
		}
		return nil, err
	}
	return origin, nil
}

// replyFor maps a failed dial to a SOCKS5 reply (RFC 1928 §6).
func replyFor(err error) Reply {
	var refused *errRefused
	if errors.As(err, &refused) {
		return ReplyNotAllowed
	}
	switch outbound.KindOf(err) {
	case outbound.KindDenied, outbound.KindLoop:
		return ReplyNotAllowed
	case outbound.KindNetUnreachable:
		return ReplyNetUnreachable
	case outbound.KindNoHost, outbound.KindHostUnreachable, outbound.KindTimeout:
		return ReplyHostUnreachable
	case outbound.KindRefused:
		return ReplyConnRefused
	}
	return ReplyGeneralFailure
}

// isReadError reports whether a parse failed because the client went away
// or was too slow, not because it sent something malformed: then no reply is
// worth sending.
func isReadError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

// noAddr is the BND address of a failure reply: RFC 1928 §6 leaves it
// meaningless, and 0.0.0.0:0 is what clients expect.
var noAddr netip.AddrPort
