package httpface

import (
	"net"
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/tunnel"
)

// connect opens a CONNECT tunnel (RFC 9110 §9.3.6). It reports whether the
// client connection goes on: only after a refusal, since a tunnel ends it.
func (c *conn) connect(f http1.Framing) bool {
	s := c.s
	if !f.Empty() {
		// CONNECT content has no defined meaning; where it would end is
		// exactly what a smuggler wants to leave open.
		return c.refuse(400, "CONNECT request with content")
	}
	gr, ok := c.decide(gate.CONNECT)
	if !ok {
		return !c.x.closeConn
	}
	g := s.o.Gate
	// Concurrency limits (tunnels per user, per client) hold a slot for the
	// tunnel's life.
	unhold, d := g.Hold(&gr)
	if d.Verdict != gate.Allow {
		c.rateLimited(d)
		return !c.x.closeConn
	}
	check := func(ip netip.Addr) error { return g.CheckAddr(&gr, ip) }
	origin, err := s.o.Dialer.DialTCP(s.ctx, gr.Host, gr.Port, check)
	if err != nil {
		unhold()
		c.dialFailed(err)
		return !c.x.closeConn
	}
	c.x.status = 200
	c.extendWrite()
	c.w.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
	if err := c.w.Flush(); err != nil {
		unhold()
		origin.Close()
		c.x.err = "writing 200: " + err.Error()
		c.logAccess()
		return false
	}
	var put func()
	c.x.shape, put = g.Shape(&gr)
	c.x.putBuckets = func() {
		put()
		unhold()
	}
	c.join(origin, nil)
	return false
}

// join hands the client connection and an origin connection to a tunnel;
// the connection ends when the tunnel has. Bytes the client sent after its request are
// passed on first; so are originPending bytes, which the origin sent after
// its 101. Buffers go back to the pool before the tunnel starts.
func (c *conn) join(origin net.Conn, originPending []byte) {
	s := c.s
	var pending []byte
	if n := c.r.Buffered(); n > 0 {
		pending = append([]byte(nil), c.r.Bytes()...)
		c.r.Discard(n)
	}
	c.r.Release()
	c.w.Release()
	_ = c.raw.SetDeadline(time.Time{})
	_ = origin.SetDeadline(time.Time{})
	if len(originPending) > 0 {
		_ = c.raw.SetWriteDeadline(time.Now().Add(s.o.IdleTimeout))
		n, err := c.raw.Write(originPending)
		c.x.down += int64(n)
		_ = c.raw.SetWriteDeadline(time.Time{})
		if err != nil {
			origin.Close()
			c.x.err = "tunnel: " + err.Error()
			c.logAccess()
			return
		}
	}
	// The tunnel runs on goroutines of its own and this one ends: an idle
	// tunnel then holds two small stacks, not the one grown serving HTTP.
	c.detached = true
	c.tunnelRefs.Store(2)
	if s.o.Tunnels != nil {
		s.o.Tunnels.Add(1)
	}
	// Bandwidth limits and the quota meter wrap the client side (both
	// directions pass there); without any, the raw sockets keep the
	// kernel's splice. A quota that runs out cuts the tunnel.
	client := limit.WrapConn(c.raw, c.x.shape)
	c.x.metered = c.x.shape.Meter != nil
	put := c.x.putBuckets
	tunnel.Start(client, origin, tunnel.Options{Idle: s.o.TunnelIdle, ClientPending: pending}, func(res tunnel.Result, err error) {
		if s.o.Tunnels != nil {
			s.o.Tunnels.Add(-1)
		}
		if put != nil {
			put()
		}
		c.x.up += res.Up
		c.x.down += res.Down
		if err != nil {
			c.x.err = "tunnel: " + err.Error()
		}
		c.logAccess()
		c.releaseTunnel()
	})
}

// releaseTunnel drops one use of a detached connection; the last one ends
// it (closing is idempotent: the tunnel has closed the socket already).
func (c *conn) releaseTunnel() {
	if c.tunnelRefs.Add(-1) == 0 {
		c.s.endConn(c)
	}
}

// switchProtocols completes an upgrade (RFC 9110 §7.8): the 101 goes to
// the client with Upgrade kept, then both connections become a tunnel.
func (c *conn) switchProtocols(oc *http1.ClientConn) {
	h := c.copyResponse(true)
	h.Header.AddString("Connection", "Upgrade")
	c.x.status = 101
	c.x.closeConn = true
	c.extendWrite()
	c.w.WriteResponseHead(h)
	if err := c.w.Flush(); err != nil {
		oc.Close()
		c.x.err = "writing 101: " + err.Error()
		c.logAccess()
		return
	}
	var early []byte
	if n := oc.R.Buffered(); n > 0 {
		early = append([]byte(nil), oc.R.Bytes()...)
		oc.R.Discard(n)
	}
	oc.R.Release()
	oc.W.Release()
	c.join(oc.Conn, early)
}
