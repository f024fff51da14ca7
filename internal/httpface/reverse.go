package httpface

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/sniff"
	"github.com/janus-proxy/janus/internal/upstream"
)

// Upstream is an upstream pool with what the face does around each request
// sent to it.
type Upstream struct {
	Pool *upstream.Pool
	// Attempts is the number of targets a request may try (1: no retry);
	// retries also need the pool's budget.
	Attempts int
	// RetryStatuses send a request that may reach a second target (see
	// tries) to the next one; RetryTimeout does so when the response head
	// does not come within ResponseTimeout.
	RetryStatuses []int
	RetryTimeout  bool
	// MaxIdle and IdleTimeout bound the idle connections kept to each
	// target; 0 takes the listener's pool defaults.
	MaxIdle     int
	IdleTimeout time.Duration
	// ProxyProtocol (1 or 2) starts each connection to a target with a
	// PROXY protocol header naming the client; 0 sends none.
	ProxyProtocol int
	// ResponseTimeout bounds the wait for a target's response head (then
	// 504); 0 means the listener's.
	ResponseTimeout time.Duration
	// Protocol is "http1", "h2c" or "h2"; TLS, when set, is spoken to the
	// targets. Transport carries every upstream but plain HTTP/1.1 ones
	// (NewUpstreamTransport); nil means the http1 engine.
	Protocol  string
	TLS       *tls.Config
	Transport *UpstreamTransport
}

// responseTimeout is the wait for the response head of this exchange.
func (c *conn) responseTimeout() time.Duration {
	if c.x.upstream != nil && c.x.upstream.ResponseTimeout > 0 {
		return c.x.upstream.ResponseTimeout
	}
	return c.s.o.ResponseTimeout
}

// route serves an origin-form request through the listener's route table
// (the reverse face). It reports whether the client connection goes on.
func (c *conn) route(f http1.Framing) bool {
	s := c.s
	c.m.body.Reset(&c.r, f, 400, s.o.MaxHeaderBytes)
	rt, params, err := s.o.Routes.Match(&c.m.req, c.client.Addr())
	if err != nil {
		var re *reverse.RequestError
		msg := "bad request"
		if errors.As(err, &re) {
			msg = re.Error()
		}
		return c.refuse(400, msg)
	}
	if rt == nil {
		return c.refuse(404, "no route for this request")
	}
	c.x.route = rt
	c.x.rule = rt.Name
	c.m.params = params
	c.stripAuthorization = false
	if v := rt.Filter.Check(&c.m.req, &c.m.params, c.client.Addr()); v.Status != 0 {
		return c.filtered(v)
	}
	if g := s.routeGate(rt); g != nil && !c.admit(g) {
		return !c.x.closeConn
	}
	if c.x.unhold != nil {
		defer c.x.unhold()
	}
	if fa := rt.ForwardAuth; fa != nil && !c.forwardAuth(fa) {
		return !c.x.closeConn
	}
	c.x.rule = rt.Name
	if rt.MaxBody > 0 {
		if f.Kind == http1.LengthBody && f.Length > rt.MaxBody {
			// Refused before a byte of it is read: the connection closes,
			// as the content is still on its way.
			return c.refuse(413, "content too large for this route")
		}
		c.m.body.SetMax(rt.MaxBody)
	}
	switch rt.Action {
	case reverse.Proxy:
		return c.proxyRoute(f, rt)
	case reverse.Static:
		return c.serveStatic(rt)
	}
	return c.answerRoute(rt)
}

// answerRoute writes a redirect or fixed response of the route's.
func (c *conn) answerRoute(rt *reverse.Route) bool {
	rt.Reply(&c.m.reply, &reverse.TemplateInput{Scheme: c.s.scheme, Req: &c.m.req, Params: &c.m.params})
	h := &c.m.rout
	c.m.reply.Head(h)
	c.writeOwn(h, c.m.reply.Body)
	c.logAccess()
	return !c.x.closeConn
}

// writeOwn writes a response Janus makes itself (its head already filled)
// with body, which HEAD requests do not get.
func (c *conn) writeOwn(h *httpmsg.ResponseHead, body []byte) {
	s := c.s
	c.x.status = h.Status
	if !c.clientKeepAlive() || s.shutting.Load() || !c.m.body.Done() {
		c.x.closeConn = true
	}
	c.responseRules(&h.Header, s.via11)
	if c.x.closeConn {
		h.Header.AddString("Connection", "close")
	} else if !c.m.req.Version.AtLeast(1, 1) {
		h.Header.AddString("Connection", "keep-alive")
	}
	c.extendWrite()
	c.w.WriteResponseHead(h)
	if !httpmsg.EqualFold(c.m.req.Method, "HEAD") {
		_, _ = c.w.Write(body)
		c.x.down = int64(len(body))
	}
	if err := c.w.Flush(); err != nil {
		c.x.closeConn = true
		c.x.err = "writing response: " + err.Error()
	}
}

// serveStatic answers from the route's directory.
func (c *conn) serveStatic(rt *reverse.Route) bool {
	plan, err := rt.PlanStatic(&c.m.req, &c.m.params)
	if err != nil {
		c.fail(500, "cannot serve the file", err)
		return !c.x.closeConn
	}
	defer plan.Close()
	h := &c.m.rout
	plan.Head(h)
	if plan.File == nil || httpmsg.EqualFold(c.m.req.Method, "HEAD") {
		var body []byte
		if plan.Status >= 400 {
			// A short text instead of an empty error page.
			body = []byte(strconv.Itoa(plan.Status) + " " + http1.StatusText(plan.Status) + "\n")
			if httpmsg.EqualFold(c.m.req.Method, "HEAD") {
				body = nil
			} else {
				h.Header.SetBytes("Content-Length", strconv.AppendInt(nil, int64(len(body)), 10))
				h.Header.SetBytes("Content-Type", []byte("text/plain; charset=utf-8"))
			}
		}
		c.writeOwn(h, body)
		c.logAccess()
		return !c.x.closeConn
	}
	c.writeOwn(h, nil)
	if c.x.closeConn && c.x.err != "" {
		c.logAccess()
		return false
	}
	n, err := c.sendFile(&plan)
	c.x.down = n
	if err != nil {
		c.x.closeConn = true
		c.x.err = "sending file: " + err.Error()
	}
	c.logAccess()
	return !c.x.closeConn
}

// sendFile writes the plan's bytes straight to the socket: between a file
// and a TCP connection io.Copy reaches sendfile(2).
func (c *conn) sendFile(plan *reverse.StaticPlan) (int64, error) {
	if _, err := plan.File.Seek(plan.Offset, io.SeekStart); err != nil {
		return 0, err
	}
	src := &io.LimitedReader{R: plan.File, N: plan.Length}
	var dst io.Writer = c.raw
	if c.tcp != nil {
		dst = c.tcp
	}
	// The write deadline grows with the transfer: a slow client may take
	// long, a stalled one may not.
	var sent int64
	for src.N > 0 {
		_ = c.raw.SetWriteDeadline(time.Now().Add(c.s.o.IdleTimeout))
		n, err := io.Copy(dst, &io.LimitedReader{R: src, N: 1 << 20})
		sent += n
		if err != nil {
			return sent, err
		}
		if n == 0 {
			return sent, io.ErrUnexpectedEOF // the file shrank
		}
	}
	return sent, nil
}

// proxyRoute sends the request to a target of the route's upstream pool
// and relays the response. A target that cannot be connected to is
// reported to the pool (passive health) and, while attempts and the pool's
// retry budget allow, the next target is tried: nothing was sent yet, so
// that is safe for every method. A retry status or a response timeout moves
// on the same way, for requests that may reach a second target.
func (c *conn) proxyRoute(f http1.Framing, rt *reverse.Route) bool {
	s := c.s
	u := s.o.Upstreams[rt.Upstream]
	if u == nil || u.Pool == nil {
		c.fail(502, "no such upstream", nil)
		return !c.x.closeConn
	}
	c.x.upstream = u
	if ch := s.cacheFor(rt); ch != nil {
		if c.cacheLookup(ch) {
			if r := c.m.refresh; r != nil {
				c.m.refresh = nil
				c.buildReverseOutbound(f, rt)
				c.refreshReverse(r, u)
			}
			return !c.x.closeConn
		}
		if c.x.fill != nil {
			defer c.endFill()
		}
	}
	p := c.buildReverseOutbound(f, rt)
	applyAuthCopy(&c.m.out.Header, rt.ForwardAuth, c.x.authCopy)
	// Content can go again when it is all in the read buffer: it is
	// consumed only once a target answers.
	replayable := idempotent(c.m.req.Method) && !p.expect &&
		(f.Empty() || f.Kind == http1.LengthBody && int64(c.r.Buffered()) >= f.Length)
	t := &c.m.tries
	req := upstream.Request{ClientIP: c.client.Addr(), URI: c.m.req.Path, Header: &c.m.req.Header}
	if err := t.start(u, req, replayable); err != nil {
		if c.staleOnFailure(err) {
			return !c.x.closeConn
		}
		c.fail(503, "no healthy target in upstream "+rt.Upstream, nil)
		return !c.x.closeConn
	}
	if u.Transport != nil {
		c.proxyStd(t, f)
		return !c.x.closeConn
	}
	p.tries = t
	for {
		oc, err := c.upstreamConn(t.host)
		if err != nil {
			connectFailed(t.host)
			if t.next() {
				continue
			}
			c.dialFailed(err)
			return !c.x.closeConn
		}
		if !c.proxyTo(t.host, oc, &p) {
			return !c.x.closeConn
		}
	}
}

// proxyTo runs the exchange with one target and reports its outcome to the
// pool. It reports true when the request goes on to the next target.
func (c *conn) proxyTo(host *upstream.Host, oc *http1.ClientConn, p *plan) (next bool) {
	host.Begin()
	start := time.Now()
	res := c.roundTrip(oc, p)
	if res == stale {
		// The target closed a pooled connection before reading the
		// request: one retry on a fresh connection to the same target.
		oc.Close()
		var err error
		if oc, err = c.dialHost(host); err != nil {
			host.End(upstream.Outcome{ConnectFailed: true})
			if p.tries.next() {
				return true // the target is gone: nothing was sent
			}
			c.dialFailed(err)
			return false
		}
		if res = c.roundTrip(oc, p); res == stale {
			oc.Close()
			c.fail(502, "origin closed the connection", nil)
		}
	}
	out := upstream.Outcome{Status: c.m.resp.Status, Latency: time.Since(start)}
	if res != nextTarget && c.x.status != c.m.resp.Status {
		out.Status = 0 // no usable response: Janus answered 502 or 504
	}
	host.End(out)
	return res == nextTarget
}

// upstreamConn returns an idle pooled connection to host or a new one.
func (c *conn) upstreamConn(host *upstream.Host) (*http1.ClientConn, error) {
	if oc := c.s.pool.Get(c.hostKey(host)); oc != nil {
		return oc, nil
	}
	return c.dialHost(host)
}

// dialHost connects to exactly the host's address. The targets come from
// the config, so no policy check applies; the dialer still refuses Janus's
// own listeners (a loop).
func (c *conn) dialHost(host *upstream.Host) (*http1.ClientConn, error) {
	ip, port := host.DialAddr()
	tcp, err := c.s.o.Dialer.DialTCP(c.s.ctx, ip, port, nil)
	if err != nil {
		return nil, err
	}
	if v := c.x.upstream.ProxyProtocol; v != 0 {
		if err := sendProxyHeader(tcp, v, c.client, sniff.AddrPort(c.raw.LocalAddr()), c.s.o.IdleTimeout); err != nil {
			tcp.Close()
			return nil, err
		}
	}
	return c.x.upstream.clientConn(tcp, c.hostKey(host)), nil
}

// clientConn wraps a new connection to one of u's targets with u's
// keep-alive bounds.
func (u *Upstream) clientConn(tcp *net.TCPConn, key []byte) *http1.ClientConn {
	oc := http1.NewClientConn(tcp, string(key))
	oc.MaxIdle, oc.IdleTimeout = u.MaxIdle, u.IdleTimeout
	return oc
}

// hostKey is the pool key of a target's connections: its address, and the
// client's when the connections start with a PROXY protocol header that
// names it.
func (c *conn) hostKey(host *upstream.Host) []byte {
	c.m.keyBuf = poolKey(c.m.keyBuf[:0], host, c.x.upstream, c.client)
	return c.m.keyBuf
}

// poolKey appends the pool key of host's connections for client.
func poolKey(b []byte, host *upstream.Host, u *Upstream, client netip.AddrPort) []byte {
	b = host.Addr().AppendTo(b)
	if u != nil && u.ProxyProtocol != 0 {
		b = append(b, " for "...)
		b = client.AppendTo(b)
	}
	return b
}

// buildReverseOutbound makes the request sent upstream: the target as
// received (or rewritten by the route), the client's Host, hop-by-hop fields
// gone, the forwarding fields, then the route's own changes.
func (c *conn) buildReverseOutbound(f http1.Framing, rt *reverse.Route) plan {
	s := c.s
	in, out := &c.m.req, &c.m.out
	p := plan{f: f}
	// An upgrade to HTTP itself (h2c) is not passed on: the connection
	// would become a tunnel to an origin speaking HTTP/2, where every later
	// request escapes the route table (h2c smuggling). RFC 9113 §3.1
	// deprecates that upgrade and RFC 9110 §7.8 lets a server ignore
	// Upgrade; the request goes on as an ordinary one.
	p.upgrade = in.Version.AtLeast(1, 1) && f.Empty() &&
		in.Header.HasToken("Connection", "upgrade") && in.Header.Has("Upgrade") &&
		!upgradesToHTTP(&in.Header)
	p.expect = !f.Empty() && in.Version.AtLeast(1, 1) &&
		httpmsg.EqualFold(in.Header.Get("Expect"), "100-continue") &&
		!(f.Kind == http1.LengthBody && int64(c.r.Buffered()) >= f.Length)

	out.Reset()
	out.Method = out.Store(in.Method)
	out.Form = httpmsg.OriginForm
	c.m.tgtBuf = rt.Target(c.m.tgtBuf[:0], in.Path, &c.m.params)
	out.Path = out.Store(c.m.tgtBuf)
	out.Version = httpmsg.HTTP11
	h := &out.Header
	host := in.Header.Get("Host")
	absolute := in.Form == httpmsg.AbsoluteForm
	if absolute {
		// RFC 9112 §3.2.2: the target's authority replaces Host; the
		// routes matched on it.
		host = in.Authority
		h.Add(hostName, host)
	}
	for i := 0; i < in.Header.Len(); i++ {
		name, value := in.Header.Field(i)
		if httpmsg.EqualFold(name, "Content-Length") || absolute && httpmsg.EqualFold(name, "Host") {
			continue
		}
		h.Add(name, value)
	}
	if !p.expect && httpmsg.EqualFold(h.Get("Expect"), "100-continue") {
		h.Del("Expect")
	}
	if c.stripAuthorization {
		h.Del("Authorization") // Janus's credentials, not the upstream's
	}
	// Forwarding removes hop-by-hop fields (those Connection names too)
	// before adding its own, so Connection cannot remove them.
	s.o.Forwarding.Apply(h, &reverse.Inbound{Peer: c.client.Addr(), Scheme: s.scheme, Host: host, Upgrade: p.upgrade})
	rt.Request.Apply(h)
	switch f.Kind {
	case http1.LengthBody:
		var num [20]byte
		h.Add(contentLength, appendInt(num[:0], f.Length))
	case http1.ChunkedBody:
		h.AddString("Transfer-Encoding", "chunked")
		if t := in.Header.Get("Trailer"); t != nil {
			h.Add(trailerName, t)
		}
	}
	addConnectionOptions(h, p.upgrade, in.Header.HasToken("TE", "trailers"))
	return p
}

// upgradesToHTTP reports whether the Upgrade fields offer a version of
// HTTP: "h2c" or "HTTP/x".
func upgradesToHTTP(h *httpmsg.Header) bool {
	for i := h.Index("Upgrade", 0); i >= 0; i = h.Index("Upgrade", i+1) {
		for list := h.Value(i); len(list) > 0; {
			var proto []byte
			proto, list = httpmsg.NextElement(list)
			if httpmsg.EqualFold(proto, "h2c") || len(proto) >= 5 && httpmsg.EqualFold(proto[:5], "HTTP/") {
				return true
			}
		}
	}
	return false
}

// responseRules applies the response header rules: the route's for the
// reverse face, Via as the anonymity level says for the forward face.
func (c *conn) responseRules(h *httpmsg.Header, via []byte) {
	// A reverse-face request without a route (404, 400) gets the
	// listener's fields too, and no forward-proxy Via.
	if rt := c.x.route; rt != nil || c.m.req.Form == httpmsg.OriginForm && c.s.o.Routes != nil {
		if rt != nil {
			rt.Response.Apply(h)
		}
		if c.s.o.HSTS != "" {
			h.SetBytes("Strict-Transport-Security", []byte(c.s.o.HSTS))
		}
		if c.s.altSvc != "" {
			// HTTP/3 is served on this port too (RFC 7838 §3).
			h.AddString("Alt-Svc", c.s.altSvc)
		}
		return
	}
	c.s.o.Anonymity.applyResponse(h, via)
}
