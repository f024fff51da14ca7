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
// hit won, sent through the same pools as the client's own would be.
type refresh struct {
	s       *Server
	fill    *cache.Fill
	out     httpmsg.RequestHead
	resp    httpmsg.ResponseHead
	res     cache.Result
	body    http1.Body
	key     []byte
	host    *upstream.Host // the reverse face's target; nil on the forward face
	timeout time.Duration
	dial    func(r *refresh) (*http1.ClientConn, error)
}

// newRefresh takes a refresh slot for f and copies the outbound request
// just built into it; nil (f aborted) when all slots are busy.
func (c *conn) newRefresh(f *cache.Fill) *refresh {
	s := c.s
	if s.refreshing.Add(1) > maxRefreshes {
		s.refreshing.Add(-1)
		f.Abort(nil)
		return nil
	}
	r := &refresh{s: s, fill: f, timeout: c.responseTimeout()}
	r.out.CopyFrom(&c.m.out)
	return r
}

// refreshReverse starts a refresh to a target of u, chosen as for a
// request of the client's.
func (c *conn) refreshReverse(f *cache.Fill, u *Upstream) {
	if u.ProxyProtocol != 0 {
		// The target expects a PROXY header naming a client: there is
		// none to name.
		f.Abort(nil)
		return
	}
	t := &c.m.tries
	req := upstream.Request{ClientIP: c.client.Addr(), URI: c.m.req.Path, Header: &c.m.req.Header}
	if err := t.start(u, req, true); err != nil {
		f.Abort(err)
		return
	}
	r := c.newRefresh(f)
	if r == nil {
		return
	}
	r.host = t.host
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
	r := c.newRefresh(f)
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
	s := r.s
	defer s.refreshing.Add(-1)
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
	oc, err := r.dial(r)
	if err != nil {
		out.ConnectFailed = true
		r.fill.Fail(err, time.Now(), &r.res)
		return
	}
	r.fill.Prepare(&r.out)
	_ = oc.Conn.SetDeadline(time.Now().Add(r.timeout))
	sent := time.Now()
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
		return
	}
	out.Status = r.resp.Status
	outcome := r.fill.Response(&r.resp, cache.ResponseTimes{Request: sent, Response: time.Now()}, &r.res)
	var w io.Writer = io.Discard
	if outcome == cache.Store {
		w = r.fill
	}
	r.body.Reset(&oc.R, fr, 502, s.o.MaxHeaderBytes)
	for {
		_ = oc.Conn.SetReadDeadline(time.Now().Add(s.o.IdleTimeout))
		chunk, cerr := r.body.Next()
		if cerr != nil {
			if cerr != io.EOF {
				err = cerr
			}
			break
		}
		_, _ = w.Write(chunk)
		r.body.Consume(len(chunk))
	}
	if outcome == cache.Store {
		if err == nil && r.body.Done() {
			_ = r.fill.Commit()
		} else {
			r.fill.Abort(err)
		}
	}
	if err == nil && r.body.Done() && fr.Kind != http1.CloseBody && originKeepAlive(&r.resp) {
		s.pool.Put(oc)
	} else {
		oc.Close()
	}
}
