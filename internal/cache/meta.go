package cache

import (
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// meta is a stored response without its content: immutable once
// published; a 304 publishes a new one (RFC 9111 §4.3.4).
type meta struct {
	head     httpmsg.ResponseHead // hop-by-hop fields and Set-Cookie removed
	cc       Directives           // aliases head
	fresh    Freshness
	reqTime  time.Time
	respTime time.Time
	etag     []byte    // aliases head; nil without ETag
	modified time.Time // Last-Modified, else Date, else respTime (§4.3.2)
	length   int64     // content length; -1 while unknown
	tags     []string  // Surrogate-Key and Cache-Tag values, for purges
}

// newMeta builds the stored form of a response.
func newMeta(resp *httpmsg.ResponseHead, t ResponseTimes, hp Heuristic, length int64) *meta {
	m := &meta{reqTime: t.Request, respTime: t.Response, length: length}
	m.head.Version = httpmsg.HTTP11
	m.head.Status = resp.Status
	m.head.SetReason(resp.Reason)
	m.head.Header.CopyFrom(&resp.Header)
	m.head.Header.RemoveHopByHop(httpmsg.ResponseHopByHop, false)
	// Set-Cookie belongs to the client whose request caused it.
	m.head.Header.Del("Set-Cookie")
	m.derive(hp)
	return m
}

// derive computes what lookups need from the stored head.
func (m *meta) derive(hp Heuristic) {
	h := &m.head.Header
	ParseResponse(h, &m.cc)
	if m.cc.Has(PrivateFields) {
		// A shared cache must not store the fields private names
		// (§5.2.2.7).
		for list := m.cc.PrivateList; len(list) > 0; {
			var name []byte
			name, list = httpmsg.NextElement(list)
			if len(name) > 0 {
				h.Del(string(name))
			}
		}
		ParseResponse(h, &m.cc) // the lists moved with the deletion
	}
	m.fresh = ComputeFreshness(&m.head, &m.cc, ResponseTimes{m.reqTime, m.respTime}, hp)
	m.etag = nil
	if v := h.Get("ETag"); v != nil {
		m.etag = httpmsg.TrimOWS(v)
	}
	m.modified = m.respTime
	if t, ok := singleDate(h, "Last-Modified"); ok {
		m.modified = t
	} else if t, ok := singleDate(h, "Date"); ok {
		m.modified = t
	}
	m.tags = m.tags[:0]
	for i := h.Index("Surrogate-Key", 0); i >= 0; i = h.Index("Surrogate-Key", i+1) {
		m.tags = appendTags(m.tags, h.Value(i), ' ')
	}
	for i := h.Index("Cache-Tag", 0); i >= 0; i = h.Index("Cache-Tag", i+1) {
		m.tags = appendTags(m.tags, h.Value(i), ',')
	}
}

func appendTags(tags []string, v []byte, sep byte) []string {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != sep {
			i++
		}
		if t := httpmsg.TrimOWS(v[:i]); len(t) > 0 {
			tags = append(tags, string(t))
		}
		if i < len(v) {
			i++
		}
		v = v[i:]
	}
	return tags
}

// hasTag reports whether the response was tagged t.
func (m *meta) hasTag(t string) bool {
	for _, have := range m.tags {
		if have == t {
			return true
		}
	}
	return false
}

// mustRevalidate reports whether the response forbids serving it stale
// (RFC 9111 §4.2.4): must-revalidate, proxy-revalidate, and s-maxage,
// which implies proxy-revalidate for a shared cache (§5.2.2.10).
func (m *meta) mustRevalidate() bool {
	return m.cc.Flags&(MustRevalidate|ProxyRevalidate) != 0 || m.cc.SMaxAge != Absent
}

// validatable reports whether a conditional request can validate it.
func (m *meta) validatable() bool {
	return m.etag != nil || m.head.Header.Has("Last-Modified")
}

// updated returns the meta that a 304 (or a HEAD response) makes of m
// (RFC 9111 §4.3.4, §3.2): each field of the new response replaces the
// stored fields of that name, except hop-by-hop fields and Content-Length
// (which describes the 304, not the stored content); the times become the
// new response's.
func (m *meta) updated(resp *httpmsg.ResponseHead, t ResponseTimes, hp Heuristic) *meta {
	n := &meta{reqTime: t.Request, respTime: t.Response, length: m.length}
	n.head.Version = m.head.Version
	n.head.Status = m.head.Status
	n.head.SetReason(m.head.Reason)
	var upd httpmsg.Header
	upd.CopyFrom(&resp.Header)
	upd.RemoveHopByHop(httpmsg.ResponseHopByHop, false)
	upd.Del("Content-Length")
	upd.Del("Set-Cookie")
	old := &m.head.Header
	for i := 0; i < old.Len(); i++ {
		name, value := old.Field(i)
		// Age and Date describe the old response: the new response's
		// (or its receipt time) take their place, or the refreshed entry
		// would look as old as the stale one.
		if upd.Index(string(name), 0) < 0 && !httpmsg.EqualFold(name, "Age") && !httpmsg.EqualFold(name, "Date") {
			n.head.Header.Add(name, value)
		}
	}
	if !upd.Has("Date") {
		var d [29]byte
		upd.Add([]byte("Date"), AppendHTTPDate(d[:0], t.Response))
	}
	for i := 0; i < upd.Len(); i++ {
		n.head.Header.Add(upd.Field(i))
	}
	n.derive(hp)
	return n
}
