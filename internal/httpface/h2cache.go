package httpface

import (
	"errors"
	"net/http"
	"time"

	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/upstream"
)

// h2cache is the cache's part of an HTTP/2 or HTTP/3 exchange.
type h2cache struct {
	creq    cache.Request
	cres    cache.Result
	refresh *cache.Fill // a stale-while-revalidate refresh won by this request
}

// cacheLookup asks ch about an HTTP/2 or HTTP/3 request. It reports true
// when the cache answered (the response is written).
func (x *h2exchange) cacheLookup(ch *cache.Cache) bool {
	q := x.q
	x.cache = ch
	q.cache.creq = cache.Request{Head: &q.req, TLS: x.s.scheme == "https" || x.r.TLS != nil, Now: x.start, Rules: x.s.cacheRules(x.route)}
	ch.Lookup(x.r.Context(), &q.cache.creq, &q.cache.cres)
	if q.cache.cres.Action == cache.Answer {
		x.writeCached()
		if f := q.cache.refresh; f != nil {
			q.cache.refresh = nil
			x.startRefresh(f)
		}
		return true
	}
	x.fill = q.cache.cres.Fill
	return false
}

// startRefresh starts a background refresh (stale-while-revalidate) won
// by this stream, through the route's upstream, as the HTTP/1.1 front does.
func (x *h2exchange) startRefresh(f *cache.Fill) {
	u := x.s.o.Upstreams[x.route.Upstream]
	q := x.q
	x.s.refreshReverse(f, u, &refreshFrom{client: x.client, req: &q.req, out: x.buildOutbound(),
		tries: &q.tries, timeout: x.responseTimeout(u)})
}

// endFill abandons a fill no response reached.
func (x *h2exchange) endFill() {
	if x.fill != nil {
		x.fill.Abort(nil)
		x.fill = nil
	}
}

// fillResponse is conn.fillResponse for HTTP/2: true when the cache
// answers instead of the upstream's response.
func (x *h2exchange) fillResponse() bool {
	f := x.fill
	if f == nil {
		return false
	}
	switch f.Response(&x.q.resp, cache.ResponseTimes{Request: x.sent, Response: time.Now()}, &x.q.cache.cres) {
	case cache.Replace:
		x.fill = nil
		return true
	case cache.Pass:
		x.fill = nil
	}
	return false
}

// finishFill commits a complete fill or abandons a cut one.
func (x *h2exchange) finishFill(err error) {
	f := x.fill
	if f == nil {
		return
	}
	x.fill = nil
	if err == nil && x.q.rb.Done() {
		_ = f.Commit()
		return
	}
	f.Abort(err)
}

// staleOnFailure serves a stale response when the upstream gave none.
func (x *h2exchange) staleOnFailure(err error) bool {
	f := x.fill
	if f == nil {
		return false
	}
	x.fill = nil
	if !f.Fail(err, time.Now(), &x.q.cache.cres) {
		return false
	}
	x.writeCached()
	return true
}

// afterRelay adds Cache-Status to a forwarded head and applies RFC 9111
// §4.4 invalidation.
func (x *h2exchange) addCacheStatus(h *httpmsg.Header) {
	if x.cache != nil && x.s.o.Cache.Status {
		x.cache.AddCacheStatus(h, &x.q.cache.cres)
	}
}

func (x *h2exchange) invalidate() {
	if x.cache != nil && x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		x.cache.Invalidate(&x.q.req, x.s.scheme == "https" || x.r.TLS != nil, &x.q.resp)
	}
}

// writeCached sends the cache's answer on the stream. A fill that is
// abandoned under a follower resets the stream: the content is cut.
func (x *h2exchange) writeCached() {
	res := &x.q.cache.cres
	defer res.Close()
	if r := res.Refresh; r != nil {
		// Started once the stale response is sent (RFC 5861 §3).
		res.Refresh = nil
		x.q.cache.refresh = r
	}
	h := &res.Head
	x.writeHead(h)
	if res.NoBody {
		return
	}
	if b, ok := res.Bytes(); ok {
		n, _ := x.w.Write(b)
		x.down = int64(n)
		return
	}
	n, err := res.WriteBody(h2flusher{x.w})
	x.down = n
	if err != nil {
		x.err = "sending cached response: " + err.Error()
		if errors.Is(err, cache.ErrAborted) {
			res.Close()
			if f := x.q.cache.refresh; f != nil {
				x.q.cache.refresh = nil
				f.Abort(nil)
			}
			panic(http.ErrAbortHandler)
		}
	}
}

// h2flusher flushes each write, so a follower passes on what the fill
// stored at once.
type h2flusher struct{ w http.ResponseWriter }

func (f h2flusher) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok && err == nil {
		fl.Flush()
	}
	return n, err
}

// relayFill relays the content of a response this stream leads a fill
// for (see fillCopy). It reports true when the fill's goroutine took oc
// over and the stream was answered; otherwise relay goes on from q.rb as
// without a cache, the fill being done.
func (x *h2exchange) relayFill(oc *http1.ClientConn, fr http1.Framing, outcome *upstream.Outcome) bool {
	f, q := x.fill, x.q
	x.fill = nil
	if bodyComplete(oc, &q.rb, fr) {
		storeBuffered(f, &q.rb)
		return false
	}
	src := newH1Source(x.s, oc, fr, originKeepAlive(&q.resp))
	fc := startFill(f, src, &q.cache.cres)
	n, back, err := fc.lead(&q.cache.cres, h2flusher{x.w})
	if back {
		q.rb = src.body // the relay goes on from where the copy stopped
		return false
	}
	x.down = n
	switch {
	case errors.Is(err, cache.ErrAborted):
		// A body cut by the origin is cut for the client too.
		x.err = "relaying response: " + err.Error()
		panic(http.ErrAbortHandler)
	case err != nil:
		x.err = "client went away: " + err.Error()
		outcome.Abandoned = true
	default:
		for i := 0; i < src.body.Trailer.Len(); i++ {
			name, value := src.body.Trailer.Field(i)
			x.w.Header().Add(http.TrailerPrefix+string(name), string(value))
		}
	}
	return true
}
