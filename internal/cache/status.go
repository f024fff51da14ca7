package cache

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Fwd values of Cache-Status (RFC 9211 §2.2): why a request went forward.
const (
	FwdBypass   = "bypass"    // the cache was configured not to handle it
	FwdMethod   = "method"    // the method requires forwarding
	FwdURIMiss  = "uri-miss"  // nothing stored for the URI
	FwdVaryMiss = "vary-miss" // stored, but no variant matches
	FwdMiss     = "miss"      // not stored, reason unspecified (a collapsed wait that gave nothing)
	FwdRequest  = "request"   // the request asked for it (no-cache, max-age...)
	FwdStale    = "stale"     // stored but stale: validated or refetched
)

// CacheStatus is one Cache-Status list member (RFC 9211).
type CacheStatus struct {
	Hit       bool
	Fwd       string // one of the Fwd constants, "" when not forwarded
	FwdStatus int    // the status the next hop answered with, 0 if none
	Stored    bool   // the forwarded response was stored
	Collapsed bool   // the request was collapsed with another (§2.5)
	TTL       int64  // seconds of freshness left (negative when stale)
	HasTTL    bool
	Key       string // the cache key, when the operator asks for it (§2.7)
	Detail    string // a token for the details parameter (§2.8), "" for none
}

// Append appends the field value: name; hit; fwd=...; fwd-status=...;
// stored; collapsed; ttl=...; key="..."; detail=....
func (s *CacheStatus) Append(dst []byte, name string) []byte {
	dst = append(dst, name...)
	if s.Hit {
		dst = append(dst, "; hit"...)
	}
	if s.Fwd != "" {
		dst = append(dst, "; fwd="...)
		dst = append(dst, s.Fwd...)
		if s.FwdStatus > 0 {
			dst = append(dst, "; fwd-status="...)
			dst = appendUint(dst, uint64(s.FwdStatus))
		}
	}
	if s.Stored {
		dst = append(dst, "; stored"...)
	}
	if s.Collapsed {
		dst = append(dst, "; collapsed"...)
	}
	if s.HasTTL {
		dst = append(dst, "; ttl="...)
		if s.TTL < 0 {
			dst = append(dst, '-')
			dst = appendUint(dst, uint64(-s.TTL))
		} else {
			dst = appendUint(dst, uint64(s.TTL))
		}
	}
	if s.Key != "" {
		dst = append(dst, "; key="...)
		dst = httpmsg.AppendSFString(dst, s.Key)
	}
	if s.Detail != "" {
		dst = append(dst, "; detail="...)
		dst = append(dst, s.Detail...)
	}
	return dst
}

// AddCacheStatus adds res's Cache-Status to h, after any from caches
// upstream (RFC 9211 §2: the list is in the order of the caches the
// response passed, so Janus's member goes last).
func (c *Cache) AddCacheStatus(h *httpmsg.Header, res *Result) {
	res.scratch = res.Status.Append(res.scratch[:0], c.o.Name)
	if i := h.Index("Cache-Status", 0); i >= 0 {
		h.Combine("Cache-Status")
		h.AppendValue(h.Index("Cache-Status", 0), ", ", res.scratch)
		return
	}
	h.Add(cacheStatusName, res.scratch)
}

var cacheStatusName = []byte("Cache-Status")
