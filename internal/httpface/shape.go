package httpface

import (
	"io"
	"net"
	"net/http"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit"
)

func nothing() {}

// shapeOf is what g applies to the bytes of gr's exchange; ok is false
// when nothing does (and there is nothing to give back).
func shapeOf(g *gate.Gate, gr *gate.Request) (limit.ConnOptions, func(), bool) {
	if len(g.Bandwidths) == 0 && (g.Quotas == nil || gr.User == nil) {
		return limit.ConnOptions{}, nothing, false
	}
	o, put := g.Shape(gr)
	if o.Passthrough() {
		put()
		return o, nothing, false
	}
	return o, put, true
}

// shapeBodies applies g's bandwidth limits and the user's quota meter to
// the bytes this exchange moves on the client connection (request content
// read, response written), and returns what undoes it once the exchange
// is over. Without any, the connection keeps its splice paths; with them,
// request and response content are copied through buffers at the pace of
// the slowest bucket, and a quota that runs out cuts the exchange.
func (c *conn) shapeBodies(g *gate.Gate, gr *gate.Request) func() {
	o, put, ok := shapeOf(g, gr)
	if !ok {
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
	c.x.shaped = true
	return func() {
		c.r.SetSource(src)
		c.w.SetDest(dst)
		c.x.shaped = false
		put()
	}
}

// shapeBodies is the HTTP/2 and HTTP/3 front's: the stream's request
// content and response writes go through the limits and the meter (the
// connection is shared with other streams, so the stream is shaped, not
// the connection).
func (x *h2exchange) shapeBodies(g *gate.Gate, gr *gate.Request) func() {
	o, put, ok := shapeOf(g, gr)
	if !ok {
		return nothing
	}
	done := x.r.Context().Done()
	if x.r.Body != nil && x.r.Body != http.NoBody {
		x.r.Body = shapedBody{Reader: limit.NewReader(x.r.Body, o.Read, o.Meter, done), Closer: x.r.Body}
	}
	x.w = &shapedResponse{ResponseWriter: x.w, w: limit.NewWriter(x.w, o.Write, o.Meter, done)}
	x.metered = o.Meter != nil
	return put
}

// shapedBody is a request body read through limits.
type shapedBody struct {
	io.Reader
	io.Closer
}

// shapedResponse is a stream's response written through limits. It keeps
// Flush, and Unwrap for http.ResponseController.
type shapedResponse struct {
	http.ResponseWriter
	w io.Writer
}

func (s *shapedResponse) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s *shapedResponse) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *shapedResponse) Unwrap() http.ResponseWriter { return s.ResponseWriter }
