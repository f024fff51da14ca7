package gate

import (
	"github.com/janus-proxy/janus/internal/limit"
)

// LimitKey says what a rate limit counts by.
type LimitKey uint8

// Rate-limit keys.
const (
	ByClientIP LimitKey = iota // each client address (IPv6 by /64)
	ByUser                     // each authenticated user; unauthenticated clients by address
	ByHost                     // each destination host as the client named it
	Global                     // every request together
)

// RateLimiter decides one event against a key: *limit.RateLimiter
// locally, or the cluster's limiter shared through Redis.
type RateLimiter interface {
	Allow(key []byte) limit.Decision
	Rate() limit.Rate
}

// RateLimit is a request-rate limit the gate applies once its policy has
// allowed a request: HTTP requests, new CONNECT tunnels and SOCKS sessions
// each count one.
type RateLimit struct {
	Name    string
	Key     LimitKey
	Limiter RateLimiter
}

// limited applies the gate's rate limits to an allowed request, in order;
// the first that refuses decides.
func (g *Gate) limited(r *Request, d Decision) Decision {
	if d.Verdict != Allow || len(g.Limits) == 0 {
		return d
	}
	var buf [96]byte
	for _, l := range g.Limits {
		key := l.key(buf[:0], r)
		ld := l.Limiter.Allow(key)
		if !ld.Allowed {
			return Decision{Verdict: Limited, Rule: l.Name, Limit: l, Rate: ld}
		}
	}
	return d
}

// key builds the limit's key for r: the limit's name first, so that two
// limits never share a key.
func (l *RateLimit) key(dst []byte, r *Request) []byte {
	dst = limit.AppendString(dst, limit.KindName, l.Name)
	switch l.Key {
	case ByClientIP:
		dst = limit.AppendIP(dst, r.Client, 32, 64)
	case ByUser:
		if r.User != nil {
			dst = limit.AppendString(dst, limit.KindUser, r.User.Name)
		} else {
			dst = limit.AppendIP(dst, r.Client, 32, 64)
		}
	case ByHost:
		dst = limit.AppendString(dst, limit.KindHost, r.Host)
	}
	return dst
}
