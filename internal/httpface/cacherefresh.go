package httpface

import (
	"io"
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/upstream"
)

// maxRefreshes bounds the background refreshes (stale-while-revalidate,
// RFC 5861 §3) one face runs at once; beyond it a refresh is skipped, and
// the next request after the stale period goes up itself.
const maxRefreshes = 8

// refresh is one background revalidation: the request a client's stale
// hit won, sent through the same pools as the client's own would be. The
// HTTP/1.1, HTTP/2 and HTTP/3 fronts start it alike (refreshFrom).
type refresh struct {
	s       *Server
	fill    *cache.Fill
	out     httpmsg.RequestHead
	resp    httpmsg.ResponseHead
	res     cache.Result
	key     []byte
	host    *upstream.Host // the reverse face's target; nil on the forward face
	std     *Upstream      // a round-tripper upstream (stdupstream.go); nil for the http1 engine
	timeout time.Duration
	sent    time.Time // when the request went (RFC 9111 §4.2.3)
	dial    func(r *refresh) (*http1.ClientConn, error)
}

// refreshFrom is what a refresh takes from the request that won it.
type refreshFrom struct {
	client  netip.AddrPort
	req     *httpmsg.RequestHead // the client's request, for the balancer
	out     *httpmsg.RequestHead // the outbound request built for it
	tries   *tries               // the request's tries, to pick a target
	timeout time.Duration        // the response timeout
}

// newRefresh takes a refresh slot for f and copies the outbound request
// built for the client's request into it; nil (f aborted) when all slots
// are busy.
func (s *Server) newRefresh(f *cache.Fill, from *refreshFrom) *refresh {
	if s.refreshing.Add(1) > maxRefreshes {
		s.refreshing.Add(-1)
		f.Abort(nil)
		return nil
	}
	r := &refresh{s: s, fill: f, timeout: from.timeout}
	r.out.CopyFrom(from.out)
	return r
}

// refreshReverse starts a refresh to a target of u for an HTTP/1.1
// request, whose outbound copy was just built.
func (c *conn) refreshReverse(f *cache.Fill, u *Upstream) {
	if rt := c.x.route; rt != nil {
		applyAuthCopy(&c.m.out.Header, rt.ForwardAuth, c.x.authCopy)
	}
	c.s.refreshReverse(f, u, &refreshFrom{client: c.client, req: &c.m.req, out: &c.m.out,
		tries: &c.m.tries, timeout: c.responseTimeout()})
}

// refreshReverse starts a refresh to a target of u, chosen as for a
// request of the client's.
func (s *Server) refreshReverse(f *cache.Fill, u *Upstream, from *refreshFrom) {
	if u.ProxyProtocol != 0 {
		// The target expects a PROXY header naming a client: there is
		// none to name.
		f.Abort(nil)
		return
	}
	t := from.tries
	req := upstream.Request{ClientIP: from.client.Addr(), URI: from.req.Path, Header: &from.req.Header}
	if err := t.start(u, req, true); err != nil {
		f.Abort(err)
		return
	}
	r := s.newRefresh(f, from)
	if r == nil {
		return
	}
	r.host = t.host
	if u.Transport != nil {
		r.std = u
		go r.run()
		return
	}
	r.key = poolKey(nil, t.host, u, netip.AddrPort{})
	r.dial = func(r *refresh) (*http1.ClientConn, error) {
		if oc := r.s.pool.Get(r.key); oc != nil {
			return oc, nil
		}
		ip, port := r.host.DialAddr()
		tcp, err := r.s.o.Dialer.DialTCP(r.s.ctx, ip, port, nil)
		if err != nil {
			return nil, err
		}
		return u.clientConn(tcp, r.key), nil
	}
	go r.run()
}

// refreshForward starts a refresh to the origin the client named, with
// the same policy checks as the client's request.
func (c *conn) refreshForward(f *cache.Fill, gr *gate.Request) {
	r := c.s.newRefresh(f, &refreshFrom{out: &c.m.out, timeout: c.responseTimeout()})
	if r == nil {
		return
	}
	r.key = append([]byte(nil), c.poolKey()...)
	req := *gr
	r.dial = func(r *refresh) (*http1.ClientConn, error) {
		g := r.s.o.Gate
		if oc := r.s.pool.Get(r.key); oc != nil {
			if err := g.CheckAddr(&req, oc.Addr); err != nil {
				r.s.pool.Put(oc)
				return nil, err
			}
			return oc, nil
		}
		check := func(ip netip.Addr) error { return g.CheckAddr(&req, ip) }
		tcp, err := r.s.o.Dialer.DialTCP(r.s.ctx, req.Host, req.Port, check)
		if err != nil {
			return nil, err
		}
		return http1.NewClientConn(tcp, string(r.key)), nil
	}
	go r.run()
}

// run sends the refresh and stores what comes back (one goroutine per
// refresh, at most maxRefreshes).
func (r *refresh) run() {
	defer r.s.refreshing.Add(-1)
	defer r.fill.Abort(nil)
	defer r.res.Close()
	out := upstream.Outcome{}
	if r.host != nil {
		r.host.Begin()
		start := time.Now()
		defer func() {
			out.Latency = time.Since(start)
			r.host.End(out)
		}()
	}
	r.fill.Prepare(&r.out)
	var src fillSource
	if r.std != nil {
		src = r.sendStd(&out)
	} else {
		src = r.send(&out)
	}
	if src == nil {
		return // the fill has failed
	}
	out.Status = r.resp.Status
	if r.fill.Response(&r.resp, cache.ResponseTimes{Request: r.sent, Response: time.Now()}, &r.res) == cache.Store {
		fc := &fillCopy{src: src, fill: r.fill, end: make(chan struct{}), leaderGone: true}
		fc.run()
		return
	}
	// Not stored: the content is read (and dropped) so that the
	// connection can serve again.
	for {
		chunk, err := src.next()
		if err != nil {
			src.release(err == io.EOF)
			return
		}
		src.consume(len(chunk))
	}
}

// send sends the refresh on an http1 engine connection and reads the
// response head into r.resp; nil when no response came (reported to the
// fill).
func (r *refresh) send(out *upstream.Outcome) fillSource {
	s := r.s
	oc, err := r.dial(r)
	if err != nil {
		out.ConnectFailed = true
		r.fill.Fail(err, time.Now(), &r.res)
		return nil
	}
	_ = oc.Conn.SetDeadline(time.Now().Add(r.timeout))
	r.sent = time.Now()
	oc.W.WriteRequestHead(&r.out)
	var fr http1.Framing
	if err = oc.W.Flush(); err == nil {
		for {
			if fr, err = http1.ReadResponse(&oc.R, &r.resp, r.out.Method, s.limits); err != nil || !r.resp.Informational() {
				break
			}
		}
	}
	if err != nil {
		oc.Close()
		r.fill.Fail(err, time.Now(), &r.res)
		return nil
	}
	return newH1Source(s, oc, fr, originKeepAlive(&r.resp))
}

// sendStd sends the refresh through a round-tripper upstream.
func (r *refresh) sendStd(out *upstream.Outcome) fillSource {
	s := r.s
	var try stdTry
	defer try.stop()
	ctx := try.begin(s.ctx)
	req, err := stdRequest(ctx, r.std, r.host, &r.out, nil, 0)
	if err != nil {
		r.fill.Fail(err, time.Now(), &r.res)
		return nil
	}
	timer := time.AfterFunc(r.timeout, try.cancel)
	r.sent = time.Now()
	resp, err := r.std.Transport.RoundTrip(req)
	timer.Stop()
	if resp, err = discardLate(ctx, resp, err); err != nil {
		out.ConnectFailed = isConnectFailure(err)
		r.fill.Fail(err, time.Now(), &r.res)
		return nil
	}
	stdResponseHead(&r.resp, resp)
	src := newStdSource(resp, try.cancel, s.o.IdleTimeout)
	try.cancel = nil
	return src
}
