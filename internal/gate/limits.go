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
	ByGroup                    // each group of users (see LimitSpec.Groups); others by address
	ByRoute                    // each reverse route naming the limit
	ByHeader                   // each value of a request header field; requests without it by address
)

// LimitSpec is what every kind of limit has: its name, what it counts by,
// and whom it applies to.
type LimitSpec struct {
	Name string
	Key  LimitKey
	// Header is the field whose value is the key, for ByHeader.
	Header string
	// Users and Groups, when set, select who the limit applies to. With
	// ByGroup the key is the first of Groups the user is in (the user's
	// first group when Groups is empty).
	Users, Groups []string
}

// appendKey appends the key r counts under to dst.
func (l *LimitSpec) appendKey(dst []byte, r *Request) []byte {
	switch l.Key {
	case ByClientIP:
		return limit.AppendIP(dst, r.Client, 32, 64)
	case ByUser:
		if r.User != nil {
			return limit.AppendString(dst, limit.KindUser, r.User.Name)
		}
	case ByHost:
		return limit.AppendString(dst, limit.KindHost, r.Host)
	case Global:
		return dst
	case ByGroup:
		if g := l.groupOf(r.User); g != "" {
			return limit.AppendString(dst, limit.KindGroup, g)
		}
	case ByRoute:
		return limit.AppendString(dst, limit.KindRoute, r.Route)
	case ByHeader:
		if r.Header != nil {
			if v := r.Header.Get(l.Header); v != nil {
				return limit.AppendBytes(dst, limit.KindHeader, v)
			}
		}
	}
	return limit.AppendIP(dst, r.Client, 32, 64)
}

// groupOf is the group a ByGroup limit counts u under, "" for none.
func (l *LimitSpec) groupOf(u *Identity) string {
	if u == nil {
		return ""
	}
	for _, g := range l.Groups {
		if u.InGroup(g) {
			return g
		}
	}
	if len(l.Groups) == 0 && len(u.Groups) > 0 {
		return u.Groups[0]
	}
	return ""
}

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
	LimitSpec
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
	return l.appendKey(limit.AppendString(dst, limit.KindName, l.Name), r)
}

// PerConnection is a bandwidth key: each connection has a bucket of its
// own.
const PerConnection LimitKey = 100

// Direction says which bytes a bandwidth limit counts.
type Direction uint8

// Directions, as seen from the client.
const (
	BothWays Direction = iota // upload and download draw from one bucket
	Up                        // client to origin only (request content, tunnel upload)
	Down                      // origin to client only
)

// BandwidthLimit bounds the bytes per second of tunnels (CONNECT, SOCKS)
// and of HTTP messages: each connection of a key draws from one bucket.
type BandwidthLimit struct {
	LimitSpec // Key: Global (the listener or route) and PerConnection too
	Dir       Direction
	Rate      int64            // bytes per second
	Set       *limit.BucketSet // keyed
	Shared    *limit.Bucket    // Global
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

// Shape returns what applies to the bytes of r's connection (a tunnel, or
// an HTTP exchange): the buckets each direction draws from and the meter
// of the user's traffic quotas; and a function to call once when it ends.
// Options that Passthrough mean the caller keeps its splice path.
func (g *Gate) Shape(r *Request) (limit.ConnOptions, func()) {
	var o limit.ConnOptions
	if g.Quotas != nil && r.User != nil {
		o.Meter = g.Quotas.Meter(r.User)
	}
	if len(g.Bandwidths) == 0 {
		return o, func() {}
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
			b = l.Set.Get(l.appendKey(buf[:0], r))
			if n < len(held) {
				held[n].set, held[n].b = l.Set, b
				n++
			}
		}
		if l.Dir != Down {
			o.Read = o.Read.With(b)
		}
		if l.Dir != Up {
			o.Write = o.Write.With(b)
		}
	}
	return o, func() {
		for i := range n {
			held[i].set.Put(held[i].b)
		}
	}
}

// ConcLimit bounds what a key holds at once: a forward listener's
// tunnels and sessions, or a route's requests in flight.
type ConcLimit struct {
	LimitSpec
	Slots *limit.Concurrency
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
		key := l.appendKey(limit.AppendString(buf[:0], limit.KindName, l.Name), r)
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
