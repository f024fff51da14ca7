// Package upstream keeps the reverse face's upstream pools: which hosts a
// pool has (literal addresses and DNS names re-resolved periodically), how a
// request picks one (round robin, least connections, random, power of two
// choices, peak EWMA, consistent hashing, sticky cookies), and each host's
// live state (active health checks, passive outlier ejection with growing
// backoff, slow start, in-flight count, latency). That state lives in a
// Registry and outlives config reloads: a new Pool for the same name and
// address gets the same *Host back.
//
// It also keeps the retry budget that bounds retries to a share of requests,
// so that failures never turn into a retry storm.
//
// The package never reads or writes a request: the face asks Pick for a host,
// dials it through the outbound dialer, and reports the attempt with Begin
// and End. Active health checks dial through an injected Dialer too, so that
// only internal/outbound opens connections.
package upstream

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/outbound"
)

// ErrNoHost is returned (wrapped with the pool's name) by Pick when no host
// is usable: all are unhealthy, ejected or excluded, or the pool has none.
// The reverse face answers 503.
var ErrNoHost = errors.New("no usable upstream host")

// Dialer opens the health checks' connections; *outbound.Dialer satisfies it.
type Dialer interface {
	DialTCP(ctx context.Context, host string, port uint16, check outbound.Check) (*net.TCPConn, error)
}

var _ Dialer = (*outbound.Dialer)(nil)

// Request is what the hash and cookie balancers need to know about a
// request. Every field may be empty; a balancer that finds no key balances
// as round robin does. Pick does not retain the Request or anything in it.
type Request struct {
	// ClientIP is the client's address (after PROXY protocol and trusted
	// forwarding headers, as the face decided).
	ClientIP netip.Addr
	// URI is the request target as received (path and query), for hashing
	// by URI.
	URI []byte
	// Header is the request's header, for hashing by a header or a cookie
	// and for sticky cookies. Nil means none.
	Header *httpmsg.Header
}

// Outcome is the result of one attempt on a host, reported with End.
type Outcome struct {
	// ConnectFailed: no connection could be made. It counts as a failure
	// for passive ejection and gives no latency sample.
	ConnectFailed bool
	// Status is the upstream's response status, 0 if it sent none (reset,
	// timeout, malformed response), which counts as a failure. A 5xx counts
	// as a failure unless Eject.ConnectOnly is set.
	Status int
	// Latency is the time from the start of the attempt to the response
	// head (or to the failure); 0 gives no latency sample.
	Latency time.Duration
	// Abandoned: the client went away or the attempt was cancelled before
	// the upstream answered; the attempt counts neither way.
	Abandoned bool
}

// Balance names a load-balancing algorithm.
type Balance uint8

// The balancers. The zero value is RoundRobin.
const (
	// RoundRobin is smooth weighted round robin as nginx does it: weights
	// 5, 1, 1 give a a b a c a a, spreading a heavy host's turns.
	RoundRobin Balance = iota
	// LeastConn picks the host with the fewest in-flight requests per unit
	// of weight; ties go round robin (weighted).
	LeastConn
	// Random picks at random in proportion to weight.
	Random
	// P2C picks two hosts at random and takes the one with fewer in-flight
	// requests per unit of weight (power of two choices).
	P2C
	// EWMA is P2C on peak-EWMA latency × (in-flight + 1), as Finagle and
	// Linkerd do: a slow host gets less traffic before it fails.
	EWMA
	// Hash maps a key (client IP, a header, a cookie or the URI; see
	// HashKey) to a host with a Maglev table: adding or removing one of N
	// hosts moves only about 1/N of the keys.
	Hash
	// Cookie sends a client back to the host named by its sticky cookie
	// (see Pool.StickyCookie) while that host is usable, and balances new
	// clients round robin.
	Cookie
)

var balanceNames = [...]string{
	RoundRobin: "round_robin",
	LeastConn:  "least_conn",
	Random:     "random",
	P2C:        "p2c",
	EWMA:       "ewma",
	Hash:       "hash",
	Cookie:     "cookie",
}

func (b Balance) String() string { return nameOf(balanceNames[:], b, "Balance") }

// ParseBalance maps a config word (round_robin, least_conn, random, p2c,
// ewma, hash, cookie) to a Balance.
func ParseBalance(s string) (Balance, bool) { return parseName[Balance](balanceNames[:], s) }

// HashSource is where the Hash balancer takes its key from.
type HashSource uint8

// Hash key sources. The zero value is HashClientIP.
const (
	HashClientIP HashSource = iota // Request.ClientIP
	HashHeader                     // the first field named HashKey.Name
	HashCookie                     // the cookie named HashKey.Name (RFC 6265 §5.4)
	HashURI                        // Request.URI
)

var hashSourceNames = [...]string{HashClientIP: "client_ip", HashHeader: "header", HashCookie: "cookie", HashURI: "uri"}

func (s HashSource) String() string { return nameOf(hashSourceNames[:], s, "HashSource") }

// ParseHashSource maps a config word (client_ip, header, cookie, uri) to a
// HashSource.
func ParseHashSource(s string) (HashSource, bool) {
	return parseName[HashSource](hashSourceNames[:], s)
}

// HashKey says what the Hash balancer hashes.
type HashKey struct {
	Source HashSource
	// Name is the header or cookie name for HashHeader and HashCookie
	// (required for them, ignored otherwise).
	Name string
}

// nameOf returns v's config word, or kind(v) for a value without one.
func nameOf[T ~uint8](names []string, v T, kind string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return kind + "(" + strconv.Itoa(int(v)) + ")"
}

// parseName maps a config word back to its value.
func parseName[T ~uint8](names []string, s string) (T, bool) {
	for v, n := range names {
		if n != "" && n == s {
			return T(v), true
		}
	}
	return 0, false
}
