package httpface

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
)

// buildOutbound makes the request an HTTP/2 or HTTP/3 request sends
// upstream, in q.out: HTTP/1.1 in origin form to the route's target, the
// client's fields without framing (the sender adds its own), forwarding
// fields, the route's request rules and a forward-auth answer's fields.
// A background cache refresh sends the same.
func (x *h2exchange) buildOutbound() *httpmsg.RequestHead {
	s, q := x.s, x.q
	out := &q.out
	out.Reset()
	out.Method = out.Store(q.req.Method)
	out.Form = httpmsg.OriginForm
	q.tgt = x.route.Target(q.tgt[:0], q.req.Path, &q.params)
	out.Path = out.Store(q.tgt)
	out.Version = httpmsg.HTTP11
	for i := 0; i < q.req.Header.Len(); i++ {
		name, value := q.req.Header.Field(i)
		if httpmsg.EqualFold(name, "Content-Length") || httpmsg.EqualFold(name, "Transfer-Encoding") {
			continue
		}
		out.Header.Add(name, value)
	}
	s.o.Forwarding.Apply(&out.Header, &reverse.Inbound{Peer: x.client.Addr(), Scheme: s.scheme, Host: q.req.Header.Get("Host")})
	x.route.Request.Apply(&out.Header)
	applyAuthCopy(&out.Header, x.route.ForwardAuth, x.authCopy)
	return out
}
