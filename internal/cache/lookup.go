package cache

import (
	"context"
	"os"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Request is what Lookup needs to know about a client's request.
type Request struct {
	// Head is the client's request as received (not the outbound copy).
	// It must not change until Lookup returns, nor, while a Fill this
	// request leads is open, until Fill.Response returns.
	Head *httpmsg.RequestHead
	// TLS says the client connection is TLS: origin-form targets are https.
	TLS bool
	// Now is the time the request arrived.
	Now time.Time
	// Rules, when set, are the route's or listener's own storing rules on
	// top of the cache's.
	Rules *Rules
}

// Rules are what a route or a forward listener decides about storing, on
// top of the cache's options.
type Rules struct {
	// KeyFields are request fields added to the secondary key of the
	// responses this route stores, besides the cache's KeyFields.
	KeyFields []string
	// StoreSetCookie, when set, overrides StorePolicy.StoreSetCookie.
	StoreSetCookie *bool
}

// Action is what the face does with a Result.
type Action uint8

const (
	// Forward: go upstream. With Result.Fill set, this request leads a
	// fill and must report the outcome to it.
	Forward Action = iota + 1
	// Answer: send Result.Head, then the content unless Result.NoBody.
	Answer
)

// Result is the outcome of a Lookup. The face keeps one per connection and
// passes it to every Lookup: its buffers are reused.
type Result struct {
	Action Action
	// Head is the response to send for Answer, with Age, Content-Length
	// (or none when the length is not known yet: the face then chunks)
	// and, when enabled, Cache-Status.
	Head httpmsg.ResponseHead
	// NoBody is set for answers without content: HEAD, 304, 416, 504.
	NoBody bool
	// Fill, for Forward, is the fill this request leads: see Fill.
	Fill *Fill
	// Refresh, for Answer, is a background revalidation this request won
	// (stale-while-revalidate). The face runs it on its own goroutine with
	// a copy of the request (Fill.Request), or Aborts it.
	Refresh *Fill
	// Status is this request's Cache-Status member.
	Status CacheStatus

	body    bodySource
	reqCC   Directives
	key     []byte
	scratch []byte
}

func (r *Result) reset() {
	r.Close()
	r.Action, r.NoBody, r.Fill, r.Refresh = 0, false, nil, nil
	r.Status = CacheStatus{}
	r.body = bodySource{}
}

// flight is one upstream request other requests for the same key wait on.
type flight struct {
	ready chan struct{}
	// Set before ready closes.
	ent       *entry
	obj       *object
	refreshed bool
}

// Lookup decides how to answer a request: from the cache (Answer) or by
// going upstream (Forward). Concurrent misses for one key are collapsed:
// one leads (Forward with a Fill), the others wait up to CollapseWait for
// its response head and then read its object or go upstream themselves.
// ctx bounds that wait.
func (c *Cache) Lookup(ctx context.Context, r *Request, res *Result) {
	res.reset()
	h := r.Head
	ParseRequest(&h.Header, &res.reqCC)
	res.Action = Forward
	if !c.handles(h.Method) {
		res.Status.Fwd = FwdMethod
		if httpmsg.EqualFold(h.Method, "GET") || httpmsg.EqualFold(h.Method, "HEAD") {
			res.Status.Fwd = FwdBypass
		}
		c.stats.bypass.Add(1)
		return
	}
	key, ok := AppendKey(res.key[:0], h, r.TLS)
	res.key = key
	// If-Match and If-Unmodified-Since are the origin's to evaluate
	// (§4.3.2); such requests (state-changing ones, mostly) pass by.
	if !ok || h.Header.Has("If-Match") || h.Header.Has("If-Unmodified-Since") {
		res.Status.Fwd = FwdBypass
		c.stats.bypass.Add(1)
		return
	}
	for attempt := 0; attempt < 3; attempt++ {
		c.mu.RLock()
		vs := c.index[string(key)]
		var e *entry
		var m *meta
		for _, v := range vs {
			if varyMatches(&h.Header, v.vary, &res.scratch) {
				if vm := v.meta.Load(); m == nil || vm.respTime.After(m.respTime) {
					e, m = v, vm // the most recent match (§4.1)
				}
			}
		}
		var src bodySource
		if e != nil {
			src = bodySource{mem: e.body, path: e.file}
			if e.body != nil {
				e.memNode.touch()
			} else if e.file != "" {
				e.diskNode.touch()
			}
		}
		c.mu.RUnlock()
		if e != nil && src.mem == nil && src.path != "" {
			f, err := os.Open(src.path)
			if err != nil {
				e, m = nil, nil // evicted meanwhile
			}
			src.file = f
		}

		res.Status.Fwd = FwdURIMiss
		if len(vs) > 0 {
			res.Status.Fwd = FwdVaryMiss
		}
		var j judgement
		if e != nil {
			j = decide(m, &res.reqCC, r.Now)
			switch j.v {
			case vFresh, vStale:
				c.answer(res, r, e, m, src, j)
				c.stamp(res)
				return
			case vSWR:
				c.answer(res, r, e, m, src, j)
				c.stamp(res)
				if !e.refreshing.CompareAndSwap(false, true) {
					return
				}
				if fl := c.lead(res.key); fl != nil {
					res.Refresh = c.newFill(res, r, fl, e, m)
					res.Refresh.own.CopyFrom(h)
					res.Refresh.req = &res.Refresh.own
					res.Refresh.refreshOf = e
				} else {
					e.refreshing.Store(false)
				}
				return
			}
			if src.file != nil {
				_ = src.file.Close()
			}
			res.Status.Fwd = FwdStale
			if j.byClient {
				res.Status.Fwd = FwdRequest
			}
		}
		if res.reqCC.Has(OnlyIfCached) {
			c.gatewayTimeout(res, r)
			return
		}
		c.stats.misses.Add(1)
		// HEAD requests, and Range and conditional ones when nothing is
		// stored, go up as they are and store nothing; nor does a
		// no-store request (§5.2.1.5).
		if !httpmsg.EqualFold(h.Method, "GET") || res.reqCC.Has(NoStore) || e == nil && (h.Header.Has("Range") ||
			h.Header.Has("If-None-Match") || h.Header.Has("If-Modified-Since")) {
			return
		}
		if fl := c.lead(res.key); fl != nil {
			res.Fill = c.newFill(res, r, fl, e, m)
			return
		}
		c.stats.misses.Add(-1)
		if c.follow(ctx, r, res, attempt) {
			return
		}
	}
	res.Action = Forward
}

// handles reports whether requests with this method are the cache's.
func (c *Cache) handles(method []byte) bool {
	if httpmsg.EqualFold(method, "HEAD") {
		return c.o.Store.methodAllowed([]byte("GET"))
	}
	return c.o.Store.methodAllowed(method)
}

// lead registers a flight for key and returns it, or nil when one is
// already under way.
func (c *Cache) lead(key []byte) *flight {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flights[string(key)] != nil {
		return nil
	}
	fl := &flight{ready: make(chan struct{})}
	if c.o.CollapseWait > 0 {
		c.flights[string(key)] = fl
	}
	return fl
}

// land publishes a flight's outcome to its followers.
func (c *Cache) land(key string, fl *flight) {
	c.mu.Lock()
	if c.flights[key] == fl {
		delete(c.flights, key)
	}
	c.mu.Unlock()
	close(fl.ready)
}

// follow waits for the flight on res.key. It reports true when res is
// final (an Answer from the leader's object, or Forward without a fill),
// false when the lookup should run again (the leader refreshed the entry).
func (c *Cache) follow(ctx context.Context, r *Request, res *Result, attempt int) bool {
	c.mu.RLock()
	fl := c.flights[string(res.key)]
	c.mu.RUnlock()
	if fl == nil {
		return false // landed meanwhile: look again
	}
	t := time.NewTimer(c.o.CollapseWait)
	defer t.Stop()
	select {
	case <-fl.ready:
	case <-t.C:
		// A leader this slow (or one whose face never ended its Fill)
		// stops holding the key: the next miss leads a new flight.
		c.mu.Lock()
		if c.flights[string(res.key)] == fl {
			delete(c.flights, string(res.key))
		}
		c.mu.Unlock()
		res.Status.Fwd = FwdMiss
		c.stats.misses.Add(1)
		return true
	case <-ctx.Done():
		res.Status.Fwd = FwdMiss
		return true
	}
	if fl.refreshed && attempt < 2 {
		return false
	}
	if fl.obj != nil && varyMatches(&r.Head.Header, fl.ent.vary, &res.scratch) {
		m := fl.ent.meta.Load()
		if j := decide(m, &res.reqCC, r.Now); j.v == vFresh {
			fl.obj.acquire()
			c.answer(res, r, fl.ent, m, bodySource{obj: fl.obj}, j)
			res.Status.Hit, res.Status.Fwd, res.Status.Collapsed = false, FwdURIMiss, true
			c.stamp(res)
			c.stats.hits.Add(-1)
			c.stats.collapsed.Add(1)
			return true
		}
	}
	// Uncacheable, failed, or not for this request: go up alone.
	res.Status.Fwd = FwdMiss
	c.stats.misses.Add(1)
	return true
}
