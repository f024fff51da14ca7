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
	// Users and Groups, when set, select who the limit applies to.
	Users, Groups []string
}

// limited applies the gate's rate limits to an allowed request, in order;
// the first that refuses decides.
func (g *Gate) limited(r *Request, d Decision) Decision {
	if d.Verdict != Allow || len(g.Limits) == 0 {
		return d
	}
	var buf [96]byte
	for _, l := range g.Limits {
		if !appliesTo(l.Users, l.Groups, r) {
			continue
		}
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

// PerConnection is a bandwidth key: each connection has a bucket of its
// own.
const PerConnection LimitKey = 100

// BandwidthLimit bounds the bytes per second of tunnels (CONNECT, SOCKS):
// each connection of a key draws from one bucket, both directions
// together or each (see Chain in internal/limit).
type BandwidthLimit struct {
	Name string
	Key  LimitKey // ByUser, ByClientIP, Global (the listener) or PerConnection
	Rate int64    // bytes per second
	// Users and Groups, when set, select who the limit applies to.
	Users, Groups []string
	Set           *limit.BucketSet // ByUser, ByClientIP
	Shared        *limit.Bucket    // Global
}

// applies reports whether the limit concerns r's user.
func appliesTo(users, groups []string, r *Request) bool {
	if len(users) == 0 && len(groups) == 0 {
		return true
	}
	if r.User == nil {
		return false
	}
	for _, u := range users {
		if u == r.User.Name {
			return true
		}
	}
	for _, g := range groups {
		if r.User.InGroup(g) {
			return true
		}
	}
	return false
}

// Bandwidth returns the buckets r's connection draws from, and a function
// to call once when it ends. An empty chain (Unlimited) means the caller
// keeps its splice path.
func (g *Gate) Bandwidth(r *Request) (limit.Chain, func()) {
	var c limit.Chain
	if len(g.Bandwidths) == 0 {
		return c, func() {}
	}
	var held [4]struct {
		set *limit.BucketSet
		b   *limit.Bucket
	}
	n := 0
	var buf [64]byte
	for _, l := range g.Bandwidths {
		if !appliesTo(l.Users, l.Groups, r) {
			continue
		}
		var b *limit.Bucket
		switch l.Key {
		case Global:
			b = l.Shared
		case PerConnection:
			b = limit.NewBucket(l.Rate, l.Rate)
		default:
			key := buf[:0]
			if l.Key == ByUser && r.User != nil {
				key = limit.AppendString(key, limit.KindUser, r.User.Name)
			} else {
				key = limit.AppendIP(key, r.Client, 32, 64)
			}
			b = l.Set.Get(key)
			if n < len(held) {
				held[n].set, held[n].b = l.Set, b
				n++
			}
		}
		c = c.With(b)
	}
	return c, func() {
		for i := range n {
			held[i].set.Put(held[i].b)
		}
	}
}

// ConcLimit bounds what a key holds at once: a forward listener's
// tunnels and sessions, or a route's requests in flight.
type ConcLimit struct {
	Name          string
	Key           LimitKey // ByClientIP, ByUser or Global
	Users, Groups []string // when set, whom it applies to
	Slots         *limit.Concurrency
	// Shared, when set, counts the limit across every instance of a
	// cluster (Slots is then its local part, for the metrics).
	Shared SharedSlots
}

// SharedSlots is a concurrency limit that several instances count
// together: the cluster's, through Redis.
type SharedSlots interface {
	// Take takes a slot for key and returns how to give it back.
	Take(key []byte) (release func(), ok bool)
}

// Hold takes a slot of each concurrency limit that applies to r. It
// returns the function that gives them back (call it once, when the
// tunnel, session or request ends) or, when one is full, a Limited
// decision naming it, having given back what it took.
func (g *Gate) Hold(r *Request) (func(), Decision) {
	if len(g.Concs) == 0 {
		return func() {}, Decision{Verdict: Allow}
	}
	var held [4]limit.Slot
	var shared [2]func()
	n, ns := 0, 0
	var buf [64]byte
	release := func() {
		for i := range n {
			held[i].Release()
		}
		for i := range ns {
			shared[i]()
		}
	}
	for _, l := range g.Concs {
		if !appliesTo(l.Users, l.Groups, r) {
			continue
		}
		key := limit.AppendString(buf[:0], limit.KindName, l.Name)
		switch {
		case l.Key == ByUser && r.User != nil:
			key = limit.AppendString(key, limit.KindUser, r.User.Name)
		case l.Key == ByUser, l.Key == ByClientIP:
			key = limit.AppendIP(key, r.Client, 32, 64)
		}
		if l.Shared != nil && ns < len(shared) {
			rel, ok := l.Shared.Take(key)
			if !ok {
				release()
				return func() {}, Decision{Verdict: Limited, Rule: l.Name}
			}
			shared[ns] = rel
			ns++
			continue
		}
		s, ok := l.Slots.Acquire(key)
		if !ok {
			release()
			return func() {}, Decision{Verdict: Limited, Rule: l.Name}
		}
		if n < len(held) {
			held[n] = s
			n++
		} else {
			s.Release() // more than four limits at once: the rest only check
		}
	}
	return release, Decision{Verdict: Allow}
}
