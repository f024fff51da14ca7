package live

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The limited clients (issue 6: "the dashboard shows limited clients") are
// a top like the others: a space-saving summary per minute, over ten
// minutes, of the clients a rate, concurrency or quota limit refused,
// keyed by address and user so that one address shared by several users
// (a NAT, a terminal server) shows who is refused. Only entries with
// Entry.Limited reach it.

// limitKey is what the limited clients are counted by: the client's
// address (its port is a new one per connection) and the user, "" for an
// anonymous client. Comparable, so counting builds no string.
type limitKey struct {
	addr netip.Addr
	user string
}

// limitSeen is what the newest refusal of a key said.
type limitSeen struct {
	rule   string
	status int
	at     int64 // Unix nanoseconds, by the Live clock
}

type limitedRing = topRing[limitKey, limitSeen]

// LimitedClient is one client refused by limits over the window.
type LimitedClient struct {
	Client netip.Addr `json:"client"`
	User   string     `json:"user,omitempty"`
	// Count is how many requests, tunnels or sessions were refused: a
	// lower bound, the true figure lies in [Count, Count+Error] as for
	// Top.
	Count int64 `json:"count"`
	Error int64 `json:"error"`
	// Rule names the limit of the newest refusal ("quota" for a traffic
	// quota), Status is its HTTP status (429, 403) or SOCKS reply code,
	// and Last when it was.
	Rule   string    `json:"rule"`
	Status int       `json:"status"`
	Last   time.Time `json:"last"`
}

// limitedOf returns the n most refused clients of the window ending at
// minute, most refused first, then the most recently refused.
func limitedOf(r *limitedRing, minute int64, n int) []LimitedClient {
	ms := r.merge(minute)
	out := make([]LimitedClient, 0, len(ms))
	for _, m := range ms {
		out = append(out, LimitedClient{
			Client: m.key.addr, User: m.key.user, Count: m.requests, Error: m.err,
			Rule: m.last.rule, Status: m.last.status, Last: time.Unix(0, m.last.at).UTC(),
		})
	}
	slices.SortFunc(out, func(a, b LimitedClient) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		if c := a.Client.Compare(b.Client); c != 0 {
			return c
		}
		return strings.Compare(a.User, b.User)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
