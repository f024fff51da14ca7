package cache

import (
	"time"
)

// verdict is what a stored response can do for a request.
type verdict uint8

const (
	vFresh    verdict = iota + 1 // serve it (§4.2)
	vStale                       // serve it stale: the client allowed it (max-stale, §4.2.4)
	vSWR                         // serve it stale and refresh in the background (RFC 5861 §3)
	vValidate                    // go upstream, conditionally when it has validators (§4.3)
)

// judgement is a verdict with the numbers behind it.
type judgement struct {
	v        verdict
	age      time.Duration
	ttl      time.Duration // freshness left; negative when stale
	byClient bool          // the request's own directives forced validation
}

// decide applies RFC 9111 §4.2–§4.3 and RFC 5861 to a stored response and
// a request's Cache-Control at now.
func decide(m *meta, req *Directives, now time.Time) judgement {
	age := CurrentAge(m.fresh, m.respTime, now)
	j := judgement{age: age, ttl: m.fresh.Lifetime - age}
	fresh := j.ttl > 0
	// The request's limits (§5.2.1): no-cache asks for validation;
	// max-age bounds the age; min-fresh asks for freshness to spare. An
	// immutable response (RFC 8246 §2) is not refreshed for max-age while
	// fresh: that is what a browser reload sends.
	acceptable := true
	switch {
	case req.Has(NoCache):
		acceptable = false
	case req.MaxAge != Absent && age > seconds(req.MaxAge) && !(fresh && m.cc.Has(Immutable)):
		acceptable = false
	case req.MinFresh != Absent && j.ttl < seconds(req.MinFresh):
		acceptable = false
	}
	if !acceptable {
		j.v, j.byClient = vValidate, true
		return j
	}
	if m.cc.Has(NoCache) {
		// Unqualified no-cache: every use is validated (§5.2.2.4).
		j.v = vValidate
		return j
	}
	if fresh {
		j.v = vFresh
		return j
	}
	if m.mustRevalidate() {
		j.v = vValidate // §4.2.4: never stale
		return j
	}
	staleness := -j.ttl
	switch {
	case req.Has(MaxStaleAny), req.MaxStale != Absent && staleness <= seconds(req.MaxStale):
		j.v = vStale
	case m.cc.SWR != Absent && staleness <= seconds(m.cc.SWR):
		j.v = vSWR
	default:
		j.v = vValidate
	}
	return j
}

// staleOnError reports whether a stale response may stand in for an
// upstream failure: stale-if-error from the response or the request (RFC
// 5861 §4) or the operator's grace, unless the response forbids stale use
// (RFC 9111 §4.2.4: must-revalidate, proxy-revalidate, s-maxage, no-cache).
func staleOnError(m *meta, req *Directives, grace time.Duration, now time.Time) bool {
	if m.mustRevalidate() || m.cc.Has(NoCache) {
		return false
	}
	staleness := CurrentAge(m.fresh, m.respTime, now) - m.fresh.Lifetime
	if staleness <= 0 {
		return true // still fresh: a failed validation changes nothing
	}
	allowed := grace
	if m.cc.SIE != Absent {
		allowed = max(allowed, seconds(m.cc.SIE))
	}
	if req.SIE != Absent {
		allowed = max(allowed, seconds(req.SIE))
	}
	return staleness <= allowed
}
