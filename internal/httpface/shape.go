package httpface

import (
	"net"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit"
)

func nothing() {}

// shapeBodies applies g's bandwidth limits and the user's quota meter to
// the bytes this exchange moves on the client connection (request content
// read, response written), and returns what undoes it once the exchange
// is over. Without any, the connection keeps its splice paths; with them,
// request and response content are copied through buffers at the pace of
// the slowest bucket, and a quota that runs out cuts the exchange.
func (c *conn) shapeBodies(g *gate.Gate, gr *gate.Request) func() {
	if len(g.Bandwidths) == 0 && (g.Quotas == nil || gr.User == nil) {
		return nothing
	}
	o, put := g.Shape(gr)
	if o.Passthrough() {
		put()
		return nothing
	}
	src, dst := c.r.Source(), c.w.Dest()
	if sc, ok := src.(net.Conn); ok {
		c.r.SetSource(limit.WrapConn(sc, limit.ConnOptions{Read: o.Read, Meter: o.Meter}))
	}
	if dc, ok := dst.(net.Conn); ok {
		c.w.SetDest(limit.WrapConn(dc, limit.ConnOptions{Write: o.Write, Meter: o.Meter}))
	}
	c.x.metered = o.Meter != nil
	return func() {
		c.r.SetSource(src)
		c.w.SetDest(dst)
		put()
	}
}
