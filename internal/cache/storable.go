package cache

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// StorePolicy is what the operator decides about storing (the rest is the
// RFC's).
type StorePolicy struct {
	// Methods whose responses may be stored; nil means GET. HEAD never
	// creates an entry (it has no content to store) but is answered from a
	// stored GET.
	Methods []string
	// StoreSetCookie stores responses carrying Set-Cookie, without the
	// Set-Cookie fields (they belong to the one client that caused them).
	// The default refuses such responses, as Varnish and nginx do.
	StoreSetCookie bool
	// MaxObject is the largest content stored, in bytes; 0 means no limit.
	MaxObject int64
}

// Why a response is not stored; "" means storable.
const (
	reasonMethod        = "method"
	reasonStatus        = "status"
	reasonPartial       = "partial"
	reasonNoStore       = "no-store"
	reasonPrivate       = "private"
	reasonAuthorization = "authorization"
	reasonNotExplicit   = "no explicit freshness"
	reasonVaryStar      = "vary-star"
	reasonSetCookie     = "set-cookie"
	reasonTooLarge      = "too large"
	reasonUseless       = "neither fresh nor validatable"
)

// exchange is one request and its response, with their parsed
// Cache-Control.
type exchange struct {
	method []byte
	req    *httpmsg.Header
	reqCC  *Directives
	resp   *httpmsg.ResponseHead
	respCC *Directives
	fresh  Freshness
}

func (p *StorePolicy) methodAllowed(m []byte) bool {
	if p.Methods == nil {
		return httpmsg.EqualFold(m, "GET")
	}
	for _, s := range p.Methods {
		if string(m) == s {
			return true
		}
	}
	return false
}

// storable applies RFC 9111 §3 and §3.5 for a shared cache and returns why
// the response may not be stored, or "".
func (p *StorePolicy) storable(x *exchange) string {
	cc := x.respCC
	status := x.resp.Status
	switch {
	case !p.methodAllowed(x.method):
		return reasonMethod
	case status == 206:
		// Partial content is never stored as if complete (§3.3: Janus
		// does not combine partial responses).
		return reasonPartial
	case status < 200 || status == 304:
		return reasonStatus
	case cc.Has(MustUnderstand) && !understoodStatus(status):
		return reasonStatus // §5.2.2.3
	case cc.Has(NoStore) && !cc.Has(MustUnderstand), x.reqCC.Has(NoStore):
		// must-understand with an understood status overrides no-store
		// (§5.2.2.3).
		return reasonNoStore
	case cc.Has(Private):
		return reasonPrivate // §3.5 point 1 (shared cache)
	case x.req.Has("Authorization") && !cc.Has(Public) && !cc.Has(MustRevalidate) && cc.SMaxAge == Absent:
		return reasonAuthorization // §3.5
	case !cc.Has(Public) && cc.MaxAge == Absent && cc.SMaxAge == Absent && !x.resp.Header.Has("Expires") &&
		!heuristicStatus(status):
		return reasonNotExplicit // §3 point 6
	case x.resp.Header.HasToken("Vary", "*"):
		return reasonVaryStar // §4.1: it can never be selected
	case !p.StoreSetCookie && x.resp.Header.Has("Set-Cookie"):
		return reasonSetCookie
	}
	if p.MaxObject > 0 {
		if v := x.resp.Header.Get("Content-Length"); v != nil {
			if n, ok := httpmsg.ParseDigits(v); ok && n > p.MaxObject {
				return reasonTooLarge
			}
		}
	}
	if x.fresh.Lifetime <= 0 && cc.SWR == Absent && cc.SIE == Absent &&
		!x.resp.Header.Has("ETag") && !x.resp.Header.Has("Last-Modified") {
		// Storable, but never usable: every use would be a full fetch.
		return reasonUseless
	}
	return ""
}
