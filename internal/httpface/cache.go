package httpface

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
)

// CacheOptions put a listener's HTTP face in front of the shared HTTP
// cache (package cache). Nothing is cached unless Forward or a route opts
// in.
type CacheOptions struct {
	Cache *cache.Cache // required
	// Status says the cache adds Cache-Status (RFC 9211): forwarded
	// responses then get Janus's member too.
	Status bool
	// Forward sends the forward face's http:// requests through the cache.
	Forward bool
	// Routes says, by route index, which reverse routes use the cache
	// (a short slice means the rest do not).
	Routes []bool
	// RouteRules and ForwardRules are the routes' (by index) and the
	// forward face's own storing rules; nil for the cache's.
	RouteRules   []*cache.Rules
	ForwardRules *cache.Rules
	// Purge are the clients whose PURGE requests are served; from anyone
	// else PURGE is refused with 403.
	Purge addrset.Set
	// Purger, when set, serves PURGE instead of Cache (the server's, which
	// also tells the other instances of a cluster).
	Purger Purger
}

// Purger removes stored responses by URL, URL prefix or tag; *cache.Cache
// is one.
type Purger interface {
	PurgeURL(rawURL string) (int, error)
	PurgePrefix(prefix string) (int, error)
	PurgeTag(tag string) int
}

// cacheFor returns the cache a request on rt (nil: the forward face) goes
// through, nil when none.
func (s *Server) cacheFor(rt *reverse.Route) *cache.Cache {
	co := s.o.Cache
	switch {
	case co == nil:
		return nil
	case rt == nil:
		if co.Forward {
			return co.Cache
		}
		return nil
	case rt.Index < len(co.Routes) && co.Routes[rt.Index]:
		return co.Cache
	}
	return nil
}

// cacheRules are the storing rules of a request on rt (nil: the forward
// face), nil for the cache's own.
func (s *Server) cacheRules(rt *reverse.Route) *cache.Rules {
	co := s.o.Cache
	switch {
	case co == nil:
		return nil
	case rt == nil:
		return co.ForwardRules
	case rt.Index < len(co.RouteRules):
		return co.RouteRules[rt.Index]
	}
	return nil
}

// cacheLookup asks ch about the request. It reports true when the cache
// answered it (the response is written and logged); otherwise the request
// goes upstream, leading a fill when c.x.fill is set.
func (c *conn) cacheLookup(ch *cache.Cache) bool {
	c.x.cache = ch
	m := c.m
	m.creq = cache.Request{Head: &m.req, TLS: c.s.scheme == "https", Now: c.x.start, Rules: c.s.cacheRules(c.x.route)}
	ch.Lookup(c.s.ctx, &m.creq, &m.cres)
	if m.cres.Action == cache.Answer {
		c.writeCached()
		return true
	}
	c.x.fill = m.cres.Fill
	return false
}

// endFill abandons a fill the exchange did not end (no response reached
// the cache): followers stop waiting for it.
func (c *conn) endFill() {
	if c.x.fill != nil {
		c.x.fill.Abort(nil)
		c.x.fill = nil
	}
}

// fillResponse reports the upstream's response head to the fill this
// request leads. It reports true when the cache answered instead (a 304
// refreshed the stored response, or stale-if-error): the upstream's
// content is not relayed.
func (c *conn) fillResponse() bool {
	f := c.x.fill
	if f == nil {
		return false
	}
	switch f.Response(&c.m.resp, cache.ResponseTimes{Request: c.x.sent, Response: time.Now()}, &c.m.cres) {
	case cache.Replace:
		c.x.fill = nil
		return true
	case cache.Pass:
		c.x.fill = nil
	}
	return false
}

// finishFill commits the fill once the content arrived whole, or abandons
// it: a cut response is never stored, and followers reading it are cut.
func (c *conn) finishFill(err error) {
	f := c.x.fill
	if f == nil {
		return
	}
	c.x.fill = nil
	if err == nil && c.m.rb.Done() {
		_ = f.Commit()
		return
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	f.Abort(err)
}

// staleOnFailure answers with a stale stored response when the upstream
// gave none (RFC 5861 §4 stale-if-error, or the configured grace). It
// reports whether it answered.
func (c *conn) staleOnFailure(err error) bool {
	f := c.x.fill
	if f == nil {
		return false
	}
	c.x.fill = nil
	if !f.Fail(err, time.Now(), &c.m.cres) {
		return false
	}
	c.writeCached()
	return true
}

// addCacheStatus adds Janus's Cache-Status member to a forwarded response.
func (c *conn) addCacheStatus(h *httpmsg.Header) {
	if c.x.cache != nil && c.s.o.Cache.Status {
		c.x.cache.AddCacheStatus(h, &c.m.cres)
	}
}

// invalidate applies RFC 9111 §4.4 after a relayed response.
func (c *conn) invalidate() {
	if c.x.cache != nil && !httpmsg.EqualFold(c.m.req.Method, "GET") && !httpmsg.EqualFold(c.m.req.Method, "HEAD") {
		c.x.cache.Invalidate(&c.m.req, c.s.scheme == "https", &c.m.resp)
	}
}

// writeCached sends the cache's answer and logs it.
func (c *conn) writeCached() {
	s := c.s
	res := &c.m.cres
	defer res.Close()
	h := &res.Head
	c.x.status = h.Status
	h.Header.RemoveHopByHop(httpmsg.ResponseHopByHop, false)
	c.responseRules(&h.Header, s.via11)
	client11 := c.m.req.Version.AtLeast(1, 1)
	n := res.ContentLength()
	chunked := false
	if n < 0 {
		// Still being filled with no length known: chunk it, or end it
		// with the connection for an HTTP/1.0 client (RFC 9112 §6.3).
		if client11 {
			chunked = true
			h.Header.AddString("Transfer-Encoding", "chunked")
		} else {
			c.x.closeConn = true
		}
	}
	if !c.clientKeepAlive() || s.shutting.Load() || !c.m.body.Done() {
		c.x.closeConn = true
	}
	if c.x.closeConn {
		h.Header.AddString("Connection", "close")
	} else if !client11 {
		h.Header.AddString("Connection", "keep-alive")
	}
	c.extendWrite()
	c.w.WriteResponseHead(h)
	var err error
	if b, ok := res.Bytes(); ok {
		_, _ = c.w.Write(b)
		c.x.down = int64(len(b))
		err = c.w.Flush()
	} else {
		err = c.writeCachedBody(res, chunked)
	}
	if err != nil {
		_ = c.w.Flush()
		if errors.Is(err, cache.ErrAborted) && !chunked {
			c.resetOnClose() // a clean close would say it is complete
		}
		c.x.closeConn = true
		c.x.err = "sending cached response: " + err.Error()
	}
	if r := res.Refresh; r != nil {
		res.Refresh = nil
		c.m.refresh = r
	}
	c.logAccess()
}

// writeCachedBody sends content that is on disk or still being filled.
func (c *conn) writeCachedBody(res *cache.Result, chunked bool) error {
	fw := &c.m.fw
	fw.c = c
	if chunked {
		c.m.cw = http1.ChunkedWriter{W: &c.w}
		fw.chunked = true
	} else if c.tcp != nil && res.ContentLength() >= 0 && !c.x.shaped {
		// Complete on disk: the head goes first, then sendfile(2) (unless
		// bandwidth limits or a quota meter shape this exchange's writes).
		if err := c.w.Flush(); err != nil {
			return err
		}
		fw.direct = true
	}
	n, err := res.WriteBody(fw)
	fw.direct, fw.chunked = false, false
	c.x.down = n
	if err != nil {
		return err
	}
	if chunked {
		c.m.trl.Reset()
		_ = c.m.cw.Close(&c.m.trl)
	}
	return c.w.Flush()
}

// flushWriter writes cached content to the client: each write is flushed,
// so a follower of a fill passes on what it gets at once; direct writes go
// to the socket (sendfile from a disk object).
type flushWriter struct {
	c       *conn
	direct  bool
	chunked bool // through c.m.cw
}

func (w *flushWriter) Write(p []byte) (int, error) {
	c := w.c
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.s.o.IdleTimeout))
	if w.direct {
		return c.tcp.Write(p)
	}
	var n int
	var err error
	if w.chunked {
		n, err = c.m.cw.Write(p)
	} else {
		n, err = c.w.Write(p)
	}
	if err == nil {
		err = c.w.Flush()
	}
	return n, err
}

// ReadFrom lets io.CopyN from a disk object reach sendfile(2).
func (w *flushWriter) ReadFrom(r io.Reader) (int64, error) {
	c := w.c
	if !w.direct {
		return io.Copy(struct{ io.Writer }{w}, r)
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.s.o.IdleTimeout))
	return c.tcp.ReadFrom(r)
}

// purge serves PURGE (Squid's and Varnish's method): the target URL is
// removed from the cache, every variant; a target ending in "*" removes
// every URL under the prefix; a Surrogate-Key field removes the responses
// tagged with its keys instead. 200 when something was removed, 404 when
// nothing was stored.
func (c *conn) purge() bool {
	co := c.s.o.Cache
	if !co.Purge.Contains(c.client.Addr()) {
		return c.refuse(403, "PURGE is not allowed from this address")
	}
	req := &c.m.req
	var p Purger = co.Cache
	if co.Purger != nil {
		p = co.Purger
	}
	n := 0
	var err error
	if keys := req.Header.Get("Surrogate-Key"); keys != nil {
		for _, k := range splitSpaces(string(keys)) {
			n += p.PurgeTag(k)
		}
	} else {
		url := c.purgeURL()
		if len(url) > 0 && url[len(url)-1] == '*' {
			n, err = p.PurgePrefix(url[:len(url)-1])
		} else {
			n, err = p.PurgeURL(url)
		}
	}
	switch {
	case err != nil:
		return c.refuse(400, "cannot purge: "+err.Error())
	case n == 0:
		c.reply(404, "nothing stored for this URL", nil)
	default:
		c.reply(200, "purged "+strconv.Itoa(n), nil)
	}
	c.logAccess()
	return !c.x.closeConn
}

// purgeURL is the absolute URL a PURGE names: its target when absolute,
// else the listener's scheme, Host and the target.
func (c *conn) purgeURL() string {
	req := &c.m.req
	if req.Form == httpmsg.AbsoluteForm {
		return string(req.Scheme) + "://" + string(req.Authority) + string(req.Path)
	}
	return c.s.scheme + "://" + string(req.Header.Get("Host")) + string(req.Path)
}

func splitSpaces(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != ',' {
			i++
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
