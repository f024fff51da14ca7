package cache

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Outcome is what the face does with an upstream response a Fill saw.
type Outcome uint8

const (
	// Store: relay the response and copy its content into the Fill
	// (Write), then Commit, or Abort if the content is cut.
	Store Outcome = iota + 1
	// Pass: relay the response; nothing is stored. The Fill is done.
	Pass
	// Replace: the Result is now an Answer (a 304 refreshed the stored
	// response, or a stale one stands in for a 5xx); discard the
	// upstream content. The Fill is done.
	Replace
)

// Fill is one request's upstream exchange as the cache sees it. Exactly
// one of Response (followed, for Store, by Commit or Abort), Fail or Abort
// ends it; Abort after any of them is a no-op, so `defer f.Abort(nil)` is
// safe.
type Fill struct {
	c       *Cache
	key     string
	fl      *flight
	req     *httpmsg.RequestHead
	own     httpmsg.RequestHead // the request copy of a background refresh
	reqCC   Directives
	stale   *entry // the stored response being validated or replaced
	staleM  *meta
	obj     *object
	ent     *entry
	tmpPath string
	landed  bool
	done    bool
	failed  error
	declLen int64
	rules   *Rules // the request's own storing rules; nil for the cache's
	// refreshOf is the stale entry a stale-while-revalidate refresh
	// replaces; its mark is cleared when the fill ends.
	refreshOf *entry
}

func (c *Cache) newFill(res *Result, r *Request, fl *flight, e *entry, m *meta) *Fill {
	f := &Fill{c: c, key: string(res.key), fl: fl, req: r.Head, stale: e, staleM: m, rules: r.Rules}
	f.reqCC = res.reqCC
	f.reqCC.NoCacheList, f.reqCC.PrivateList = nil, nil
	return f
}

// Request is the request a background refresh sends (a copy of the
// client's, made by Lookup). The face applies its usual outbound rules to
// it and calls Prepare on the result.
func (f *Fill) Request() *httpmsg.RequestHead { return f.req }

// Prepare makes out a validation request when a stored response is being
// revalidated (RFC 9111 §4.3.1): the client's own validators give way to
// the stored response's ETag (If-None-Match) and Last-Modified
// (If-Modified-Since). Otherwise it leaves out alone.
func (f *Fill) Prepare(out *httpmsg.RequestHead) {
	if f.staleM == nil || !f.staleM.validatable() {
		return
	}
	out.Header.Del("If-None-Match")
	out.Header.Del("If-Modified-Since")
	if f.staleM.etag != nil {
		out.Header.SetBytes("If-None-Match", f.staleM.etag)
	}
	if lm := f.staleM.head.Header.Get("Last-Modified"); lm != nil {
		out.Header.SetBytes("If-Modified-Since", lm)
	}
}

// land releases the followers once.
func (f *Fill) land() {
	if !f.landed {
		f.landed = true
		f.c.land(f.key, f.fl)
	}
}

// Response tells the cache the upstream's final response head, and the
// times the face measured (request sent, response head received). res is
// the Result the Lookup filled; for Replace it becomes an Answer and
// res.Status records the forward (fwd-status, stored) either way, so the
// face can write Cache-Status with AddCacheStatus.
func (f *Fill) Response(resp *httpmsg.ResponseHead, t ResponseTimes, res *Result) Outcome {
	if f.done {
		return Pass
	}
	c := f.c
	res.Status.FwdStatus = resp.Status
	if f.staleM != nil {
		switch {
		case resp.Status == 304 && f.staleM.validatable():
			// Without validators of its own the cache sent the client's,
			// and the 304 is the client's to receive.
			if f.refresh(resp, t, res) {
				return Replace
			}
		case resp.Status >= 500 && staleOnError(f.staleM, &f.reqCC, c.o.Grace, t.Response):
			f.serveStale(res, t)
			return Replace
		}
	}
	var respCC Directives
	ParseResponse(&resp.Header, &respCC)
	x := exchange{method: f.req.Method, req: &f.req.Header, reqCC: &f.reqCC, resp: resp, respCC: &respCC}
	x.fresh = ComputeFreshness(resp, &respCC, t, c.o.Heuristic)
	declared := int64(-1)
	if v := resp.Header.Get("Content-Length"); v != nil {
		if n, ok := httpmsg.ParseDigits(v); ok {
			declared = n
		}
	}
	policy, keyFields := &c.o.Store, c.o.KeyFields
	if r := f.rules; r != nil {
		if r.StoreSetCookie != nil {
			p := *policy
			p.StoreSetCookie = *r.StoreSetCookie
			policy = &p
		}
		if len(r.KeyFields) > 0 {
			keyFields = append(keyFields[:len(keyFields):len(keyFields)], r.KeyFields...)
		}
	}
	if why := policy.storable(&x); why != "" || declared > c.memMax && c.disk == nil {
		f.finish()
		return Pass
	}
	e := &entry{key: f.key, vary: secondaryKey(&f.req.Header, varyNames(&resp.Header, keyFields))}
	e.hash = c.entryHash(e.key, e.vary)
	e.meta.Store(newMeta(resp, t, c.o.Heuristic, declared))
	f.ent, f.declLen = e, declared
	f.obj = &object{memMax: c.memMax, max: c.o.Store.MaxObject, refs: 1} // the writer's reference
	if c.disk != nil {
		f.obj.spill = func() (*os.File, error) {
			tf, err := c.disk.tempFile()
			if err == nil {
				f.tmpPath = tf.Name()
			}
			return tf, err
		}
		if declared > c.memMax {
			f.obj.memMax = 0 // straight to disk
		}
	}
	f.fl.ent, f.fl.obj = e, f.obj
	f.land()
	res.Status.Stored = true
	return Store
}

// refresh applies a 304 to the stored response (§4.3.4) and makes res an
// Answer from it. It reports false when the 304 names another
// representation (a different strong ETag): the stored one is dropped.
func (f *Fill) refresh(resp *httpmsg.ResponseHead, t ResponseTimes, res *Result) bool {
	c := f.c
	if et := resp.Header.Get("ETag"); et != nil && f.staleM.etag != nil &&
		!etagMatch(httpmsg.TrimOWS(et), f.staleM.etag, false) {
		c.mu.Lock()
		p := c.remove(f.stale)
		c.mu.Unlock()
		removeFiles([]string{p})
		f.finish()
		return false
	}
	nm := f.staleM.updated(resp, t, c.o.Heuristic)
	c.mu.Lock()
	if !f.stale.removed {
		f.stale.meta.Store(nm)
	}
	src := bodySource{mem: f.stale.body, path: f.stale.file}
	c.mu.Unlock()
	c.stats.revalidations.Add(1)
	f.fl.refreshed = true
	f.finish()
	status := res.Status
	c.answer(res, &Request{Head: f.req, Now: t.Response}, f.stale, nm, src, decide(nm, &Directives{MaxAge: Absent, SMaxAge: Absent, MaxStale: Absent, MinFresh: Absent, SWR: Absent, SIE: Absent}, t.Response))
	c.stats.hits.Add(-1)
	res.Status.Hit, res.Status.Fwd, res.Status.FwdStatus = false, status.Fwd, 304
	c.stamp(res)
	return true
}

// serveStale makes res an Answer from the stale stored response.
func (f *Fill) serveStale(res *Result, t ResponseTimes) {
	c := f.c
	c.mu.RLock()
	src := bodySource{mem: f.stale.body, path: f.stale.file}
	c.mu.RUnlock()
	f.finish()
	status := res.Status
	j := decide(f.staleM, &Directives{MaxAge: Absent, SMaxAge: Absent, MaxStale: Absent, MinFresh: Absent, SWR: Absent, SIE: Absent}, t.Response)
	j.v = vStale
	c.answer(res, &Request{Head: f.req, Now: t.Response}, f.stale, f.staleM, src, j)
	// Served from the cache, but after going forward: not a hit (RFC
	// 9211 §2.1).
	c.stats.hits.Add(-1)
	res.Status.Hit, res.Status.Fwd, res.Status.FwdStatus = false, FwdStale, status.FwdStatus
	res.Status.Detail = "stale-if-error"
	c.stamp(res)
}

// Fail reports that no response came (connect failure, timeout). It
// reports true when res became an Answer with a stale response
// (stale-if-error or the grace); the face sends it instead of its error.
func (f *Fill) Fail(err error, now time.Time, res *Result) bool {
	if f.done {
		return false
	}
	if f.staleM != nil && staleOnError(f.staleM, &f.reqCC, f.c.o.Grace, now) {
		f.serveStale(res, ResponseTimes{now, now})
		return true
	}
	f.finish()
	return false
}

// Follow makes res read the content this fill stores, as it is stored,
// the way a collapsed follower reads it: the leader's client then takes
// the content at its own pace while another goroutine copies the upstream
// into the Fill (Write, then Commit or Abort), so a slow client does not
// slow the store. Call it after Response returned Store, before handing
// the Fill over. res.WriteBody then returns what was stored and, when the
// fill is abandoned, every byte stored before that and then an error
// wrapping ErrAborted (see Failed for why); res.Close releases it.
func (f *Fill) Follow(res *Result) {
	res.Close()
	if f.obj == nil {
		return
	}
	f.obj.acquire()
	res.body = bodySource{obj: f.obj, n: -1, readerRef: true, drain: true}
}

// Failed returns why the fill stopped storing (the object outgrew the
// tiers, a disk write failed, Commit found the content inconsistent, or
// the error given to Abort), nil while storing goes on or once committed.
// When Write or Commit failed with the upstream fine, a leader reading
// through Follow may go on from the upstream itself: it has been given
// exactly the content stored so far.
func (f *Fill) Failed() error { return f.failed }

// Write stores content. It never fails: if the object cannot be stored
// (too large, disk error) the fill is abandoned quietly, followers see an
// error, and the leader's client is not affected.
func (f *Fill) Write(p []byte) (int, error) {
	if f.obj == nil || f.failed != nil || f.done {
		return len(p), nil
	}
	if f.declLen >= 0 && f.obj.n+int64(len(p)) > f.declLen {
		f.abandon(fmt.Errorf("cache: content longer than Content-Length %d", f.declLen))
		return len(p), nil
	}
	if err := f.obj.write(p); err != nil {
		f.abandon(err)
	}
	return len(p), nil
}

func (f *Fill) abandon(err error) {
	f.failed = err
	f.obj.finish(err)
}

// Commit stores the object: the content is complete.
func (f *Fill) Commit() error {
	if f.done || f.obj == nil {
		return nil
	}
	defer f.finish()
	if f.failed != nil {
		return f.failed
	}
	o, c := f.obj, f.c
	if f.declLen >= 0 && o.n != f.declLen {
		f.abandon(fmt.Errorf("cache: content of %d bytes, Content-Length %d", o.n, f.declLen))
		return f.failed
	}
	m := f.ent.meta.Load()
	if m.length < 0 {
		// Chunked: the stored head gets the length for later hits.
		nm := *m
		nm.head = httpmsg.ResponseHead{}
		nm.head.Version, nm.head.Status = m.head.Version, m.head.Status
		nm.head.SetReason(m.head.Reason)
		nm.head.Header.CopyFrom(&m.head.Header)
		nm.head.Header.SetBytes("Content-Length", appendUint(nil, uint64(o.n)))
		nm.length = o.n
		ParseResponse(&nm.head.Header, &nm.cc)
		if v := nm.head.Header.Get("ETag"); v != nil {
			nm.etag = httpmsg.TrimOWS(v)
		}
		f.ent.meta.Store(&nm)
		m = &nm
	}
	var path string
	var size int64
	o.mu.Lock()
	file, mem := o.file, o.mem
	o.mu.Unlock()
	if file != nil {
		var err error
		if path, size, err = c.disk.seal(file, f.key, f.ent.vary, m, o.n); err != nil {
			f.abandon(err)
			return f.failed
		}
		f.tmpPath = ""
	}
	c.mu.Lock()
	old := c.insert(f.ent)
	drops := c.takeDrops(old)
	if path != "" {
		c.addDisk(f.ent, path, size)
	} else {
		if mem == nil {
			mem = []byte{}
		}
		c.addMemory(f.ent, mem)
	}
	if path == "" && c.disk != nil && !c.closed && o.n <= c.disk.maxObject && !f.ent.removed {
		// Sent under the lock, so Close cannot close the queue meanwhile.
		select {
		case c.disk.jobs <- persistJob{e: f.ent, m: m, body: mem}:
		default: // the disk is behind: this one stays in memory only
		}
	}
	c.mu.Unlock()
	removeFiles(drops)
	c.stats.stored.Add(1)
	// Readers learn the content is complete only now that it is stored
	// and the fill has landed: a client whose answer just ended finds it
	// in the index, not a fill still in flight.
	f.land()
	o.finish(nil)
	return nil
}

// Abort ends the fill without storing: the upstream died mid-content, the
// face gave up, or it never called Response. err is what followers see
// (wrapped in ErrAborted); nil is fine.
func (f *Fill) Abort(err error) {
	if f.done {
		return
	}
	if err == nil {
		err = errors.New("fill abandoned")
	}
	if f.obj != nil && f.failed == nil {
		f.abandon(err)
	}
	f.finish()
}

// finish ends the fill: followers are released, files closed.
func (f *Fill) finish() {
	if f.done {
		return
	}
	f.done = true
	f.land()
	if f.refreshOf != nil {
		f.refreshOf.refreshing.Store(false)
	}
	if f.obj != nil {
		if f.failed != nil && f.tmpPath != "" {
			_ = os.Remove(f.tmpPath)
		}
		f.obj.release()
	}
}
