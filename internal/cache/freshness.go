package cache

import (
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Heuristic bounds heuristic freshness (RFC 9111 §4.2.2): Fraction of the
// time between Last-Modified and Date, at most Max.
type Heuristic struct {
	Fraction float64       // 0 disables heuristic freshness
	Max      time.Duration // cap; 0 means no cap
}

// heuristicStatus reports whether a status is heuristically cacheable
// (RFC 9110 §15.1).
func heuristicStatus(s int) bool {
	switch s {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus reports whether Janus knows the status's caching
// semantics, for must-understand (RFC 9111 §5.2.2.3): the RFC 9110 ones.
func understoodStatus(s int) bool {
	switch {
	case s >= 200 && s <= 206, s >= 300 && s <= 305, s == 307, s == 308,
		s >= 400 && s <= 417, s == 421, s == 422, s == 426, s >= 500 && s <= 505:
		return true
	}
	return false
}

// Freshness is what RFC 9111 §4.2 derives from a stored response.
type Freshness struct {
	Lifetime   time.Duration // freshness_lifetime (§4.2.1)
	InitialAge time.Duration // corrected_initial_age (§4.2.3)
	Heuristic  bool          // Lifetime came from §4.2.2
}

// ResponseTimes are what the face measured around the upstream exchange:
// request_time is when the request went out, response_time when the
// response head arrived (RFC 9111 §4.2.3).
type ResponseTimes struct {
	Request, Response time.Time
}

// ComputeFreshness derives a response's freshness lifetime and initial age
// (RFC 9111 §4.2.1–§4.2.3). cc is the response's parsed Cache-Control.
func ComputeFreshness(resp *httpmsg.ResponseHead, cc *Directives, t ResponseTimes, hp Heuristic) Freshness {
	h := &resp.Header
	date, hasDate := singleDate(h, "Date")
	if !hasDate {
		date = t.Response // §4.2.1: the receipt time stands in for Date
	}
	var f Freshness
	switch {
	case cc.SMaxAge != Absent: // a shared cache prefers s-maxage (§4.2.1)
		f.Lifetime = seconds(cc.SMaxAge)
	case cc.MaxAge != Absent:
		f.Lifetime = seconds(cc.MaxAge)
	case h.Has("Expires"):
		// Several Expires lines, or an invalid one, mean stale (§4.2.1,
		// §5.3).
		if exp, ok := singleDate(h, "Expires"); ok && exp.After(date) {
			f.Lifetime = exp.Sub(date)
		}
	case hp.Fraction > 0 && (heuristicStatus(resp.Status) || cc.Has(Public)):
		if lm, ok := singleDate(h, "Last-Modified"); ok && lm.Before(date) {
			f.Lifetime = time.Duration(float64(date.Sub(lm)) * hp.Fraction)
			if hp.Max > 0 && f.Lifetime > hp.Max {
				f.Lifetime = hp.Max
			}
			f.Heuristic = true
		}
	}
	f.InitialAge = initialAge(h, date, t)
	return f
}

// initialAge is corrected_initial_age (RFC 9111 §4.2.3):
//
//	apparent_age = max(0, response_time - date_value)
//	corrected_age_value = age_value + (response_time - request_time)
//	corrected_initial_age = max(apparent_age, corrected_age_value)
func initialAge(h *httpmsg.Header, date time.Time, t ResponseTimes) time.Duration {
	apparent := max(t.Response.Sub(date), 0)
	var ageValue int64
	if v := h.Get("Age"); v != nil {
		// An Age that is not delta-seconds is ignored (§5.1).
		if n, ok := parseDelta(httpmsg.TrimOWS(v)); ok {
			ageValue = n
		}
	}
	delay := max(t.Response.Sub(t.Request), 0)
	return max(apparent, seconds(ageValue)+delay)
}

// CurrentAge is current_age (RFC 9111 §4.2.3): the initial age plus the
// time the response has been resident since response_time.
func CurrentAge(f Freshness, responseTime, now time.Time) time.Duration {
	return f.InitialAge + max(now.Sub(responseTime), 0)
}

// singleDate returns the value of a date field that occurs exactly once and
// parses.
func singleDate(h *httpmsg.Header, name string) (time.Time, bool) {
	i := h.Index(name, 0)
	if i < 0 || h.Index(name, i+1) >= 0 {
		return time.Time{}, false
	}
	return ParseHTTPDate(httpmsg.TrimOWS(h.Value(i)))
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }
