package httpface

import (
	"net/http"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/limit"
)

// rateLimited answers a request over one of the gate's rate limits: 429
// (RFC 6585 §4) with Retry-After and the RateLimit-Policy and RateLimit
// fields of draft-ietf-httpapi-ratelimit-headers, so that a well-behaved
// client knows when to come back. It counts as a denial by the limit.
func (c *conn) rateLimited(d gate.Decision) {
	c.x.rule = d.Rule
	c.x.denied, c.x.limited = true, true
	msg := "too many requests: over the rate limit " + d.Rule
	c.reply(http.StatusTooManyRequests, msg, func(h *httpmsg.Header) { setLimitFields(h.SetBytes, d) })
	c.logError(msg)
}

// setLimitFields writes the limit's fields through set.
func setLimitFields(set func(name string, value []byte), d gate.Decision) {
	var b [160]byte
	set("Retry-After", limit.AppendRetryAfter(b[:0], d.Rate))
	if d.Limit != nil {
		set("RateLimit-Policy", limit.AppendPolicy(b[:0], d.Limit.Name, d.Limit.Limiter.Rate()))
		set("RateLimit", limit.AppendRateLimit(b[:0], d.Limit.Name, d.Rate))
	}
}

// rateLimited is the HTTP/2 and HTTP/3 front's 429.
func (x *h2exchange) rateLimited(d gate.Decision) {
	x.denied, x.limited = true, true
	h := x.w.Header()
	setLimitFields(func(name string, value []byte) { h.Set(name, string(value)) }, d)
	x.plain(http.StatusTooManyRequests, "too many requests: over the rate limit "+d.Rule)
}
