package socks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/sniff"
)

// Limits of one UDP association.
const (
	// maxDatagram is the largest UDP payload; the relay reads whole
	// datagrams so none is truncated.
	maxDatagram = 65535
	// maxRoutes bounds the per-association cache of destination decisions;
	// a client spraying destinations empties it rather than growing it.
	maxRoutes = 1024
	// negativeRouteTTL is how long a refused or unresolvable destination
	// stays refused before it is decided again: a passing DNS failure must
	// not break a long association.
	negativeRouteTTL = 5 * time.Second
)

// bufPool holds datagram buffers: room for the longest IP header in front
// of the largest payload, so a reply gets its header without a copy.
var bufPool = sync.Pool{New: func() any { b := make([]byte, ipv6UDPHeaderLen+maxDatagram); return &b }}

// route is the decision for one destination within an association.
type route struct {
	to    netip.AddrPort // where datagrams go; valid when err is nil
	err   error
	until time.Time // when a refusal expires; zero for an allowed route
}

// association is one SOCKS5 UDP ASSOCIATE (RFC 1928 §7): a client-facing
// socket, up to two destination-facing sockets (IPv4, IPv6), and the TCP
// control connection whose end ends it all.
type association struct {
	ss       *session
	ctx      context.Context
	cancel   context.CancelFunc
	client   *net.UDPConn // faces the client
	clientIP netip.Addr
	// clientPort is the port datagrams must come from: the one the request
	// declared, or else the first datagram's. 0 until known.
	clientPort atomic.Uint32
	lastActive atomic.Int64 // unix nanoseconds of the last datagram either way

	up, down                                     atomic.Int64
	fragments, foreign, malformed, refused, lost atomic.Int64

	routes map[Addr]route // owned by relayUp

	mu      sync.Mutex
	dests   [2]*net.UDPConn             // [0] IPv4, [1] IPv6; opened on first use
	allowed map[netip.AddrPort]struct{} // sources whose datagrams reach the client
	wg      sync.WaitGroup
	first   Addr // first destination, for the access log; set by relayUp
}

// associate serves UDP ASSOCIATE: it opens the relay, replies with its
// address and relays until the control connection ends or the association
// is idle for UDPIdle.
func (ss *session) associate(declared Addr) {
	local := sniff.AddrPort(ss.c.LocalAddr())
	// The client reaches the relay the way it reached the control
	// connection, so the relay listens on that connection's local address.
	client, err := ss.s.o.Dialer.ListenUDP(netip.AddrPortFrom(local.Addr(), 0))
	if err != nil {
		ss.fail(uint8(ReplyGeneralFailure), fmt.Errorf("udp associate: %w", err))
		_ = ss.write(AppendReply(ss.out(), ReplyGeneralFailure, noAddr))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &association{
		ss:       ss,
		ctx:      ctx,
		cancel:   cancel,
		client:   client,
		clientIP: ss.client.Addr(),
		routes:   make(map[Addr]route),
		allowed:  make(map[netip.AddrPort]struct{}),
	}
	// RFC 1928 §7: DST.ADDR/DST.PORT name where the client will send from;
	// the address is often unknown to a client behind NAT (0.0.0.0), so only
	// the TCP peer's address is trusted, and the port when one is given.
	a.clientPort.Store(uint32(declared.Port))
	a.touch()
	ss.entry.Status = int(ReplySucceeded)
	if ss.write(AppendReply(ss.out(), ReplySucceeded, sniff.AddrPort(client.LocalAddr()))) != nil {
		_ = client.Close()
		cancel()
		return
	}
	ss.release() // bytes after the request on the control connection mean nothing
	a.run()
}

// run relays until the end, then closes everything and waits for the
// relay goroutines.
func (a *association) run() {
	ctrlDone := make(chan error, 1)
	upDone := make(chan struct{})
	a.wg.Add(2)
	go a.watchControl(ctrlDone)
	go func() {
		defer close(upDone)
		a.relayUp()
	}()

	idle := a.ss.s.o.UDPIdle
	timer := time.NewTimer(idle)
	var reason error
	for reason == nil {
		select {
		case err := <-ctrlDone:
			if err != nil && !errors.Is(err, io.EOF) {
				reason = fmt.Errorf("control connection: %w", err)
			} else {
				reason = io.EOF
			}
		case <-upDone:
			reason = errors.New("client socket closed")
		case <-timer.C:
			since := time.Since(time.Unix(0, a.lastActive.Load()))
			if since >= idle {
				reason = fmt.Errorf("udp association idle for %s", idle)
			} else {
				timer.Reset(idle - since)
			}
		}
	}
	timer.Stop()
	a.cancel()
	_ = a.client.Close()
	_ = a.ss.c.Close() // ends watchControl
	a.mu.Lock()
	for _, d := range a.dests {
		if d != nil {
			_ = d.Close()
		}
	}
	a.mu.Unlock()
	a.wg.Wait()

	e := &a.ss.entry
	e.BytesUp, e.BytesDown = a.up.Load(), a.down.Load()
	if a.first != (Addr{}) {
		e.Target = a.first.String()
	}
	if reason != io.EOF {
		e.Error = reason.Error()
	}
	a.ss.s.log.Debug("socks: udp association ended",
		"client", a.ss.client, "up", e.BytesUp, "down", e.BytesDown,
		"fragments_dropped", a.fragments.Load(), "foreign_dropped", a.foreign.Load(),
		"malformed_dropped", a.malformed.Load(), "refused_dropped", a.refused.Load(),
		"send_errors", a.lost.Load(), "reason", reason)
}

func (a *association) touch() { a.lastActive.Store(time.Now().UnixNano()) }

// guard recovers a panic in a relay goroutine: it ends the association
// instead of the process.
func (a *association) guard(name string) {
	if p := recover(); p != nil {
		a.ss.s.log.Error("socks: panic in udp relay", "goroutine", name, "client", a.ss.client, "panic", p)
		_ = a.ss.c.Close()
		_ = a.client.Close()
	}
}

// watchControl reads the control connection until it ends; RFC 1928 §7:
// "A UDP association terminates when the TCP connection that the UDP
// ASSOCIATE request arrived on terminates."
func (a *association) watchControl(done chan<- error) {
	defer a.wg.Done()
	defer a.guard("watchControl")
	_, err := io.Copy(io.Discard, a.ss.c)
	if err == nil {
		err = io.EOF
	}
	done <- err
}

// relayUp reads datagrams from the client and sends their payloads on.
func (a *association) relayUp() {
	defer a.wg.Done()
	defer a.guard("relayUp")
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:maxDatagram]
	for {
		n, from, err := a.client.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if !a.fromClient(from) {
			a.foreign.Add(1)
			continue
		}
		h, payload, err := ParseUDPHeader(buf[:n])
		if err != nil {
			a.malformed.Add(1)
			continue
		}
		if h.Frag != 0 {
			// RFC 1928 §7: an implementation that does not support
			// fragmentation must drop any datagram whose FRAG is not zero.
			a.fragments.Add(1)
			continue
		}
		r := a.route(h.Addr)
		if r.err != nil {
			a.refused.Add(1)
			continue
		}
		dest, err := a.destConn(r.to.Addr().Is4())
		if err != nil {
			a.lost.Add(1)
			continue
		}
		if _, err := dest.WriteToUDPAddrPort(payload, r.to); err != nil {
			a.lost.Add(1)
			continue
		}
		a.up.Add(int64(len(payload)))
		a.touch()
	}
}

// fromClient reports whether a datagram came from the client: its address
// must be the control connection's peer, and its port the declared one or,
// if none was declared, that of the first datagram.
func (a *association) fromClient(from netip.AddrPort) bool {
	if from.Addr().Unmap() != a.clientIP {
		return false
	}
	port := uint32(from.Port())
	if a.clientPort.CompareAndSwap(0, port) {
		return true
	}
	return a.clientPort.Load() == port
}

// route decides a destination once per association (negative answers for
// a few seconds): the gate first, then resolution with the gate's check on
// the resolved address.
func (a *association) route(dst Addr) route {
	now := time.Now()
	if r, ok := a.routes[dst]; ok && (r.err == nil || now.Before(r.until)) {
		return r
	}
	if len(a.routes) >= maxRoutes {
		clear(a.routes)
	}
	g := a.ss.s.o.Gate
	req := a.ss.request(gate.SOCKS5, "UDP_ASSOCIATE", dst)
	var r route
	d := g.Decide(&req)
	if d.Verdict != gate.Allow {
		r.err = &errRefused{d}
	} else {
		ip, err := a.ss.s.o.Dialer.Resolve(a.ctx, req.Host, req.Port, func(ip netip.Addr) error {
			return g.CheckAddr(&req, ip)
		})
		r.to, r.err = netip.AddrPortFrom(ip, dst.Port), err
		var de *gate.DeniedError
		if errors.As(err, &de) {
			d.Rule = de.Rule
		}
	}
	if a.first == (Addr{}) {
		a.first = dst
		a.ss.entry.Rule = d.Rule
	}
	if r.err != nil {
		r.until = now.Add(negativeRouteTTL)
		a.ss.s.log.Debug("socks: udp destination refused", "client", a.ss.client, "dst", dst, "err", r.err)
	} else {
		a.mu.Lock()
		if len(a.allowed) >= maxRoutes {
			clear(a.allowed)
		}
		a.allowed[r.to] = struct{}{}
		a.mu.Unlock()
	}
	a.routes[dst] = r
	return r
}

// destConn returns the destination-facing socket of the family, opening it
// (and its reader) on first use.
func (a *association) destConn(v4 bool) (*net.UDPConn, error) {
	i, unspec := 1, netip.IPv6Unspecified()
	if v4 {
		i, unspec = 0, netip.IPv4Unspecified()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.dests[i]; c != nil {
		return c, nil
	}
	if a.ctx.Err() != nil {
		return nil, net.ErrClosed
	}
	c, err := a.ss.s.o.Dialer.ListenUDP(netip.AddrPortFrom(unspec, 0))
	if err != nil {
		return nil, err
	}
	a.dests[i] = c
	a.wg.Add(1)
	go a.relayDown(c)
	return c, nil
}

// relayDown reads datagrams from destinations and sends them to the client
// with a header naming their source. Only sources the client has sent to
// are let through, so the relay is no open door into the client.
func (a *association) relayDown(dest *net.UDPConn) {
	defer a.wg.Done()
	defer a.guard("relayDown")
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, from, err := dest.ReadFromUDPAddrPort(buf[ipv6UDPHeaderLen:])
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		a.mu.Lock()
		_, ok := a.allowed[from]
		a.mu.Unlock()
		if !ok {
			a.foreign.Add(1)
			continue
		}
		start := ipv6UDPHeaderLen - udpHeaderLen(from)
		putUDPHeader(buf[start:ipv6UDPHeaderLen], from)
		to := netip.AddrPortFrom(a.clientIP, uint16(a.clientPort.Load()))
		if _, err := a.client.WriteToUDPAddrPort(buf[start:ipv6UDPHeaderLen+n], to); err != nil {
			a.lost.Add(1)
			continue
		}
		a.down.Add(int64(n))
		a.touch()
	}
}
