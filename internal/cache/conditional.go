package cache

import (
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// notModified evaluates a client's If-None-Match / If-Modified-Since
// against a stored response (RFC 9111 §4.3.2, RFC 9110 §13.2.2): with
// If-None-Match, only it counts (weak comparison); otherwise
// If-Modified-Since compares against Last-Modified, else Date, else the
// receipt time. Both apply to GET and HEAD only.
func notModified(req *httpmsg.Header, m *meta) bool {
	if i := req.Index("If-None-Match", 0); i >= 0 {
		if m.etag == nil {
			return false
		}
		for ; i >= 0; i = req.Index("If-None-Match", i+1) {
			if etagListMatches(req.Value(i), m.etag, false) {
				return true
			}
		}
		return false
	}
	v := req.Get("If-Modified-Since")
	if v == nil || req.Count("If-Modified-Since") > 1 {
		return false
	}
	ims, ok := ParseHTTPDate(httpmsg.TrimOWS(v))
	if !ok {
		return false // an invalid date is ignored (RFC 9110 §13.1.3)
	}
	return !m.modified.After(ims)
}

// etagListMatches reports whether an If-None-Match / If-Match list holds
// "*" or an entity-tag matching etag: weakly (W/ ignored on both sides,
// RFC 9110 §8.8.3.2) or strongly (neither weak).
func etagListMatches(list, etag []byte, strong bool) bool {
	for len(list) > 0 {
		var t []byte
		t, list = httpmsg.NextElement(list)
		if len(t) == 0 {
			continue
		}
		if len(t) == 1 && t[0] == '*' {
			return true
		}
		if etagMatch(t, etag, strong) {
			return true
		}
	}
	return false
}

func etagMatch(a, b []byte, strong bool) bool {
	aw, bw := isWeak(a), isWeak(b)
	if strong && (aw || bw) {
		return false
	}
	if aw {
		a = a[2:]
	}
	if bw {
		b = b[2:]
	}
	return len(a) >= 2 && a[0] == '"' && string(a) == string(b)
}

func isWeak(t []byte) bool { return len(t) > 2 && t[0] == 'W' && t[1] == '/' }

// byteRange is a resolved single range: [first, last].
type byteRange struct{ first, last int64 }

// rangeKind is how a Range field applies to a stored response.
type rangeKind uint8

const (
	rangeNone          rangeKind = iota // absent, ignored, or several ranges: send 200
	rangeOne                            // send 206 with this range
	rangeUnsatisfiable                  // send 416
)

// ParseRange resolves a Range field value for a representation of size
// bytes (RFC 9110 §14.1.2, §14.2). Only one range is served; a list of
// several, another unit or a malformed value is ignored, which the RFC
// allows ("a server MAY ignore the Range header field").
func ParseRange(v []byte, size int64) (first, last int64, kind rangeKind) {
	v = httpmsg.TrimOWS(v)
	if len(v) < 7 || !httpmsg.EqualFold(v[:6], "bytes=") {
		return 0, 0, rangeNone
	}
	spec := httpmsg.TrimOWS(v[6:])
	for _, c := range spec {
		if c == ',' {
			return 0, 0, rangeNone
		}
	}
	dash := -1
	for i, c := range spec {
		if c == '-' {
			dash = i
			break
		}
	}
	if dash < 0 {
		return 0, 0, rangeNone
	}
	a, b := httpmsg.TrimOWS(spec[:dash]), httpmsg.TrimOWS(spec[dash+1:])
	switch {
	case len(a) == 0: // suffix: the last b bytes
		n, ok := httpmsg.ParseDigits(b)
		if !ok {
			return 0, 0, rangeNone
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		return max(size-n, 0), size - 1, rangeOne
	default:
		f, ok := httpmsg.ParseDigits(a)
		if !ok {
			return 0, 0, rangeNone
		}
		l := size - 1
		if len(b) > 0 {
			if l, ok = httpmsg.ParseDigits(b); !ok || l < f {
				return 0, 0, rangeNone
			}
			l = min(l, size-1)
		}
		if f >= size {
			return 0, 0, rangeUnsatisfiable
		}
		return f, l, rangeOne
	}
}

// ifRangeHolds evaluates If-Range (RFC 9110 §13.1.5): an entity-tag must
// match strongly; a date must equal a strong Last-Modified exactly.
func ifRangeHolds(req *httpmsg.Header, m *meta) bool {
	v := req.Get("If-Range")
	if v == nil {
		return true
	}
	v = httpmsg.TrimOWS(v)
	if len(v) > 0 && (v[0] == '"' || isWeak(v)) {
		return m.etag != nil && etagMatch(v, m.etag, true)
	}
	t, ok := ParseHTTPDate(v)
	lm, hasLM := singleDate(&m.head.Header, "Last-Modified")
	return ok && hasLM && t.Equal(lm) && !t.Before(time.Time{})
}
