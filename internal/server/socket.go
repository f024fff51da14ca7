package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/internal/config"
)

// A socket is a listening address, and it outlives generations: a reload
// that keeps a listener's address keeps its socket (TCP and, for HTTP/3,
// UDP) and only changes the listener it hands new connections to, so no
// client is ever refused during a reload. Sockets are opened, kept and
// closed by the server; listeners are built and dropped with generations.
type socket struct {
	srv  *Server
	key  string
	ln   net.Listener
	quic *quicSide // nil when HTTP/3 is not served here
	cur  atomic.Pointer[listener]
}

// socketKey names the socket a listener config needs. A fixed address is
// its own key; a port chosen by the system (":0") is only the same socket
// for the listener of the same name.
func socketKey(lc *config.Listener) string {
	if _, port, err := net.SplitHostPort(lc.Listen); err == nil && (port == "0" || port == "") {
		return lc.Listen + " " + lc.Name
	}
	return lc.Listen
}

// Sockets opens listening sockets. The default binds new ones; a binary
// upgrade passes one that hands over the old process's sockets first
// (tableflip's Fds), so the new process takes over without refusing a
// connection.
type Sockets interface {
	Listen(network, addr string) (net.Listener, error)
	ListenPacket(network, addr string) (net.PacketConn, error)
}

// newSockets binds fresh sockets. KeepAlive -1: no TCP keep-alive probes on
// clients (see the dialer).
type newSockets struct{}

func (newSockets) Listen(network, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), network, addr)
}

// ListenPacket binds a listening UDP socket (QUIC's): quic-go only answers
// the peers that reach it; nothing here dials.
func (newSockets) ListenPacket(network, addr string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(context.Background(), network, addr)
}

func (s *Server) binder() Sockets {
	if s.opts.Sockets != nil {
		return s.opts.Sockets
	}
	return newSockets{}
}

// openSocket listens for l, at its address, over TCP and, when l serves
// HTTP/3, over UDP at the same port.
func (s *Server) openSocket(l *listener) (*socket, error) {
	for attempt := 0; ; attempt++ {
		ln, err := s.binder().Listen("tcp", l.cfg.Listen)
		if err != nil {
			return nil, err
		}
		sk := &socket{srv: s, key: socketKey(l.cfg), ln: ln}
		sk.cur.Store(l)
		if !l.servesHTTP3() {
			return sk, nil
		}
		err = sk.openQUIC()
		if err == nil {
			return sk, nil
		}
		_ = ln.Close()
		if !retryPortZero(l.cfg, err, attempt) {
			return nil, fmt.Errorf("HTTP/3 on UDP: %w", err)
		}
	}
}

// serve makes l the listener of this socket's new connections, opening or
// closing its UDP side as l wants HTTP/3 or not.
func (sk *socket) serve(l *listener) error {
	if l.servesHTTP3() && sk.quic == nil {
		if err := sk.openQUIC(); err != nil {
			return fmt.Errorf("HTTP/3 on UDP: %w", err)
		}
		go sk.acceptQUIC(sk.quic)
	}
	if !l.servesHTTP3() && sk.quic != nil {
		sk.closeQUIC()
	}
	if sk.quic != nil {
		l.http.AdvertiseHTTP3(sk.addr().Port())
	}
	sk.cur.Store(l)
	return nil
}

func (sk *socket) addr() netip.AddrPort {
	ap, _ := netip.ParseAddrPort(sk.ln.Addr().String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// start begins accepting.
func (sk *socket) start() {
	go sk.acceptLoop()
	if sk.quic != nil {
		go sk.acceptQUIC(sk.quic)
	}
}

// acceptLoop accepts until the socket closes, handing each connection to
// the listener current at that moment, which serves it to its end. A full
// listener stops accepting, leaving new clients in the kernel's backlog,
// as nginx and HAProxy do, rather than accepting and dropping them.
func (sk *socket) acceptLoop() {
	var backoff time.Duration
	for {
		l := sk.cur.Load()
		l.slots <- struct{}{}
		c, err := sk.ln.Accept()
		if err != nil {
			<-l.slots
			if isClosed(err) {
				return
			}
			// EMFILE and friends: wait and retry rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Warn("accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if l = sk.claim(l); l == nil {
			_ = c.Close() // shutting down
			continue
		}
		sk.srv.conns.add(c)
		go l.serve(c)
	}
}

// claim returns the listener to serve a connection just accepted with a
// slot of l: the socket's current one, which may have changed while Accept
// waited (its generation counts the connection), with a slot of its own;
// nil, with l's slot given back, when every generation has closed.
func (sk *socket) claim(l *listener) *listener {
	for {
		cur := sk.cur.Load()
		if cur != l {
			<-l.slots
			l = cur
			l.slots <- struct{}{}
		}
		if l.gen.tryAcquire() {
			return l
		}
		if sk.cur.Load() == l {
			<-l.slots
			return nil
		}
	}
}

// close stops accepting, over TCP and QUIC; QUIC connections established
// go on until they drain.
func (sk *socket) close() {
	_ = sk.ln.Close()
	sk.stopQUIC()
}
