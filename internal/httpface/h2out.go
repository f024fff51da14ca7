package httpface

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
)

// buildOutbound makes the request an HTTP/2 or HTTP/3 request sends
// upstream, in q.out, without framing fields (the sender adds its own). A
// background cache refresh sends the same.
func (x *h2exchange) buildOutbound() *httpmsg.RequestHead {
	return x.outbound(x.q.req.Method, "Transfer-Encoding")
}

// outbound fills q.out with an HTTP/1.1 request in origin form to the
// route's target: method, the client's fields but Content-Length and skip,
// the forwarding fields, the route's request rules and a forward-auth
// answer's fields (which replace the client's of those names).
func (x *h2exchange) outbound(method []byte, skip string) *httpmsg.RequestHead {
	s, q := x.s, x.q
	out := &q.out
	out.Reset()
	out.Method = out.Store(method)
	out.Form = httpmsg.OriginForm
	q.tgt = x.route.Target(q.tgt[:0], q.req.Path, &q.params)
	out.Path = out.Store(q.tgt)
	out.Version = httpmsg.HTTP11
	for i := 0; i < q.req.Header.Len(); i++ {
		name, value := q.req.Header.Field(i)
		if httpmsg.EqualFold(name, "Content-Length") || httpmsg.EqualFold(name, skip) {
			continue
		}
		out.Header.Add(name, value)
	}
	s.o.Forwarding.Apply(&out.Header, &reverse.Inbound{Peer: x.client.Addr(), Scheme: s.scheme, Host: q.req.Header.Get("Host")})
	x.route.Request.Apply(&out.Header)
	applyAuthCopy(&out.Header, x.route.ForwardAuth, x.authCopy)
	return out
}
