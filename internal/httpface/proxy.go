package httpface

import (
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// plan is what the request asks of the exchange beyond the plain case.
type plan struct {
	f       http1.Framing
	upgrade bool   // forward Upgrade and join the connections on 101
	expect  bool   // Expect: 100-continue with content still to come
	tries   *tries // the reverse face's targets; nil on the forward face
}

// exchanged is how a round trip ended.
type exchanged uint8

const (
	// answered: the client got a response (the origin's or Janus's own).
	answered exchanged = iota
	// stale: a pooled connection turned out closed before the request was
	// read; nothing was written to the client and the request may go again
	// on a fresh connection.
	stale
	// nextTarget: the target's answer (a retry status, or none in time) was
	// set aside for the next target tries picked; nothing was written to
	// the client.
	nextTarget
)

// maxInterim bounds the 1xx responses accepted before the final one.
const maxInterim = 16

// expectWait is how long to wait for an origin's 100 (or final response)
// before sending the content anyway (RFC 9110 §10.1.1 lets a client
// proceed; net/http waits 1s too).
const expectWait = time.Second

// proxy forwards an absolute-form request and relays the response. It
// reports whether the client connection goes on.
func (c *conn) proxy(f http1.Framing) bool {
	s := c.s
	gr, ok := c.decide(gate.HTTP)
	if !ok {
		return !c.x.closeConn
	}
	// Concurrency limits count the proxy's requests in flight too.
	unhold, hd := s.o.Gate.Hold(&gr)
	if hd.Verdict != gate.Allow {
		c.rateLimited(hd)
		return !c.x.closeConn
	}
	defer unhold()
	defer c.shapeBodies(s.o.Gate, &gr)()
	if n, ok := c.maxForwards(); ok && n == 0 {
		return c.answerAsLastHop()
	}
	if ch := s.cacheFor(nil); ch != nil {
		if c.cacheLookup(ch) {
			if r := c.m.refresh; r != nil {
				c.m.refresh = nil
				c.buildOutbound(f)
				c.refreshForward(r, &gr)
			}
			return !c.x.closeConn
		}
		if c.x.fill != nil {
			defer c.endFill()
		}
	}
	p := c.buildOutbound(f)
	oc, err := c.origin(&gr)
	if err != nil {
		c.dialFailed(err)
		return !c.x.closeConn
	}
	for attempt := 0; ; attempt++ {
		if c.roundTrip(oc, &p) != stale {
			break
		}
		// The origin closed a pooled connection before reading the request
		// (a race with its idle timeout): one retry on a fresh connection
		// is safe, as nothing of the request was processed or consumed.
		oc.Close()
		if attempt > 0 {
			c.fail(502, "origin closed the connection", nil)
			break
		}
		if oc, err = c.dial(&gr, c.poolKey()); err != nil {
			c.dialFailed(err)
			break
		}
	}
	return !c.x.closeConn
}

// buildOutbound makes the request to send: origin-form target, HTTP/1.1,
// Host from the target's authority (RFC 9112 §3.2.2: the URI wins over a
// Host field), hop-by-hop fields gone, the anonymity level applied, and
// framing and connection options of our own.
func (c *conn) buildOutbound(f http1.Framing) plan {
	s := c.s
	in, out := &c.m.req, &c.m.out
	p := plan{f: f}
	p.upgrade = in.Version.AtLeast(1, 1) && f.Empty() &&
		in.Header.HasToken("Connection", "upgrade") && in.Header.Has("Upgrade")
	p.expect = !f.Empty() && in.Version.AtLeast(1, 1) &&
		httpmsg.EqualFold(in.Header.Get("Expect"), "100-continue") &&
		!(f.Kind == http1.LengthBody && int64(c.r.Buffered()) >= f.Length)

	out.Reset()
	out.Method = out.Store(in.Method)
	out.Form = httpmsg.OriginForm
	out.Path = out.Store(in.Path)
	out.Version = httpmsg.HTTP11
	h := &out.Header
	// Host goes first (RFC 9110 §7.2).
	h.Add(hostName, in.Authority)
	for i := 0; i < in.Header.Len(); i++ {
		name, value := in.Header.Field(i)
		if httpmsg.EqualFold(name, "Host") || httpmsg.EqualFold(name, "Content-Length") {
			continue
		}
		h.Add(name, value)
	}
	h.RemoveHopByHop(httpmsg.RequestHopByHop, p.upgrade)
	if !p.expect && httpmsg.EqualFold(h.Get("Expect"), "100-continue") {
		// The content is all here already; the origin gets it at once.
		h.Del("Expect")
	}
	via := s.via11
	if !in.Version.AtLeast(1, 1) {
		via = s.via10
	}
	s.o.Anonymity.applyRequest(h, via, c.ipText)

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
	if n, ok := c.maxForwards(); ok {
		// RFC 9110 §7.6.2: each intermediary decrements it.
		var num [20]byte
		h.SetBytes("Max-Forwards", appendInt(num[:0], n-1))
	}
	addConnectionOptions(h, p.upgrade, in.Header.HasToken("TE", "trailers"))
	return p
}

var (
	hostName      = []byte("Host")
	contentLength = []byte("Content-Length")
	trailerName   = []byte("Trailer")
)

// poolKey is the destination as origin connections are pooled:
// lower-case host and port.
func (c *conn) poolKey() []byte {
	b := c.m.keyBuf[:0]
	if len(c.m.req.Host) > 0 && indexColon(c.m.req.Host) {
		b = append(b, '[')
		b = append(b, c.m.req.Host...)
		b = append(b, ']')
	} else {
		b = append(b, c.m.req.Host...)
	}
	b = append(b, ':')
	b = appendInt(b, int64(c.m.req.Port))
	c.m.keyBuf = b
	return b
}

func indexColon(b []byte) bool {
	for _, x := range b {
		if x == ':' {
			return true
		}
	}
	return false
}

// origin returns a connection to the request's destination: an idle pooled
// one, re-checked against the policy for this request's address, or a new
// one from the dialer.
func (c *conn) origin(gr *gate.Request) (*http1.ClientConn, error) {
	s := c.s
	key := c.poolKey()
	if oc := s.pool.Get(key); oc != nil {
		if err := s.o.Gate.CheckAddr(gr, oc.Addr); err != nil {
			s.pool.Put(oc) // the connection is fine; this request may not use it
			return nil, deniedAt(gr.Host, oc.Addr, err)
		}
		return oc, nil
	}
	return c.dial(gr, key)
}

// dial opens a new connection through the dialer, which checks every
// resolved address against the policy and dials exactly the one it checked.
func (c *conn) dial(gr *gate.Request, key []byte) (*http1.ClientConn, error) {
	s := c.s
	g := s.o.Gate
	req := *gr // the check outlives this call's frame only while dialing
	check := func(ip netip.Addr) error { return g.CheckAddr(&req, ip) }
	tcp, err := s.o.Dialer.DialTCP(s.ctx, req.Host, req.Port, check)
	if err != nil {
		return nil, err
	}
	return http1.NewClientConn(tcp, string(key)), nil
}

// maxForwards returns the Max-Forwards of a TRACE or OPTIONS request
// (RFC 9110 §7.6.2); other methods ignore the field.
func (c *conn) maxForwards() (int64, bool) {
	m := c.m.req.Method
	if !httpmsg.EqualFold(m, "OPTIONS") && !httpmsg.EqualFold(m, "TRACE") {
		return 0, false
	}
	return httpmsg.ParseDigits(c.m.req.Header.Get("Max-Forwards"))
}

// answerAsLastHop answers a TRACE or OPTIONS whose Max-Forwards reached
// zero here, as the final recipient must (RFC 9110 §7.6.2). TRACE is not
// echoed: reflecting credentials back is a known attack (cross-site
// tracing).
func (c *conn) answerAsLastHop() bool {
	if httpmsg.EqualFold(c.m.req.Method, "TRACE") {
		c.reply(405, "TRACE is not answered by this proxy", func(h *httpmsg.Header) { h.AddString("Allow", "OPTIONS") })
		c.logError("TRACE with Max-Forwards: 0")
		return !c.x.closeConn
	}
	c.reply(200, "Max-Forwards reached zero at this proxy", nil)
	c.logAccess()
	return !c.x.closeConn
}

// addConnectionOptions names the connection options of a request sent on:
// Upgrade when it asks for one, and TE: trailers when the client accepts
// trailers (we read them, so we may say so, RFC 9110 §10.1.4; the TE option
// must then be in Connection).
func addConnectionOptions(h *httpmsg.Header, upgrade, te bool) {
	switch {
	case upgrade && te:
		h.AddString("TE", "trailers")
		h.AddString("Connection", "Upgrade, TE")
	case upgrade:
		h.AddString("Connection", "Upgrade")
	case te:
		h.AddString("TE", "trailers")
		h.AddString("Connection", "TE")
	}
}
