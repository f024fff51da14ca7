// Package gate decides who may go where. It works on a small value (client,
// user, protocol, method, destination) so that HTTP, CONNECT and SOCKS pass
// the same rules; it authenticates users against bcrypt hashes; and it
// re-checks a decision on the resolved destination address at dial time, so a
// name cannot smuggle a client to an address a rule forbids.
//
// The gate never reads the network and never writes a reply: faces ask it and
// turn its Decision into a status code or a SOCKS reply.
package gate

import (
	"fmt"
	"net/netip"

	"github.com/janus-proxy/janus/internal/limit"
)

// Protocol is how the client asked to reach its destination.
type Protocol uint8

// The forward face's protocols.
const (
	HTTP    Protocol = iota + 1 // absolute-form HTTP request
	CONNECT                     // HTTP CONNECT tunnel
	SOCKS5                      // SOCKS5 CONNECT or UDP ASSOCIATE
	SOCKS4                      // SOCKS4 or 4a CONNECT
)

var protocolNames = [...]string{HTTP: "http", CONNECT: "connect", SOCKS5: "socks5", SOCKS4: "socks4"}

func (p Protocol) String() string {
	if int(p) < len(protocolNames) && protocolNames[p] != "" {
		return protocolNames[p]
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// ParseProtocol maps a config word to a Protocol.
func ParseProtocol(s string) (Protocol, bool) {
	for p, n := range protocolNames {
		if n != "" && n == s {
			return Protocol(p), true
		}
	}
	return 0, false
}

// Identity is an authenticated user.
type Identity struct {
	Name   string
	Groups []string
}

// InGroup reports whether the user belongs to group.
func (id *Identity) InGroup(group string) bool {
	for _, g := range id.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// Request is what the gate decides on. Faces fill it from the client's
// request; it holds no protocol library's types.
type Request struct {
	Client   netip.Addr // client address
	User     *Identity  // nil when the client did not authenticate
	Protocol Protocol
	Method   string // HTTP method; "CONNECT"; "UDP_ASSOCIATE" for SOCKS5 UDP
	Host     string // destination as the client named it: DNS name or IP literal, no brackets
	Port     uint16
	// Route is the reverse route's name ("" on the forward face), and
	// Header the request's header fields when it is an HTTP request (nil
	// otherwise): limits may be kept per route or per header value.
	Route  string
	Header HeaderGetter
}

// HeaderGetter reads a request's header field (*httpmsg.Header is one).
type HeaderGetter interface {
	Get(name string) []byte
}

// Verdict is the outcome of a decision.
type Verdict uint8

// Verdicts.
const (
	Deny      Verdict = iota // refuse: 403, SOCKS 0x02 / 0x5B
	Allow                    // go on
	Challenge                // authenticate first: 407, SOCKS5 auth
	Limited                  // over a rate limit: 429 with Retry-After, SOCKS 0x02
)

func (v Verdict) String() string {
	switch v {
	case Allow:
		return "allow"
	case Challenge:
		return "challenge"
	case Limited:
		return "limited"
	}
	return "deny"
}

// Decision is the gate's answer, naming the rule that gave it.
type Decision struct {
	Verdict Verdict
	Rule    string
	// For Limited: the limit that refused and its decision (for
	// Retry-After and the RateLimit fields).
	Limit *RateLimit
	Rate  limit.Decision
	// Reason says why, for a refusal the client should understand (a
	// quota used up); "" otherwise.
	Reason string
}

// Names of the decisions that no configured rule makes.
const (
	RuleConnectPorts = "connect_ports" // CONNECT to a port outside the listener's allowed set
	RuleAuth         = "auth"          // no or bad credentials where they are required
	RuleDefault      = "default_deny"  // no rule matched
	RuleQuota        = "quota"         // the user's traffic quota is used up
)

// DeniedError is returned by the dial-time address check.
type DeniedError struct {
	Rule string
	Addr netip.Addr
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("destination %s denied by rule %s", e.Addr, e.Rule)
}

// Gate is one listener's gatekeeper. It is immutable once built and safe for
// concurrent use; a reload builds a new one.
type Gate struct {
	Policy       *Policy // nil allows everything (only for tests)
	Users        *Users  // nil: no user database, nobody can authenticate
	AuthRequired bool    // clients must authenticate unless an unauthenticated rule lets them in
	ConnectPorts PortSet // ports CONNECT may reach; empty means 443 only
	// Limits are request-rate limits applied after the policy allowed.
	Limits []*RateLimit
	// Bandwidths bound tunnels' bytes per second (Bandwidth).
	Bandwidths []*BandwidthLimit
	// Concs bound what a key holds at once (Hold).
	Concs []*ConcLimit
	// Quotas, when set, refuses an authenticated user over a traffic
	// quota (rule RuleQuota, the reason in Decision.Reason).
	Quotas QuotaChecker
}

// QuotaChecker says whether a user may still move traffic: nil, or an
// error saying which quota is used up and until when.
type QuotaChecker interface {
	Check(user *Identity) error
	// Meter is what counts the user's bytes as they move (a tunnel, a
	// body), so that running out of quota cuts them; nil when no quota
	// concerns the user.
	Meter(user *Identity) limit.Meter
}

// Authenticate checks a user's password. It returns the identity, or an
// error that never contains the password.
func (g *Gate) Authenticate(name, password string) (*Identity, error) {
	if g.Users == nil {
		return nil, fmt.Errorf("user %q: no users are configured", name)
	}
	return g.Users.Authenticate(name, password)
}

// Decide makes the decision that can be made before the destination is
// resolved. An Allow may still be reversed by CheckAddr at dial time; a Deny
// or Challenge is final.
func (g *Gate) Decide(r *Request) Decision {
	if r.Protocol == CONNECT && !g.connectPorts().Contains(r.Port) {
		return Decision{Verdict: Deny, Rule: RuleConnectPorts}
	}
	if g.Policy == nil {
		return g.limited(r, g.quota(r, Decision{Verdict: Allow}))
	}
	d := g.Policy.decide(r, netip.Addr{}, r.User == nil && g.AuthRequired)
	return g.limited(r, g.quota(r, g.challenge(r, d)))
}

// quota refuses an allowed request of a user whose traffic quota is used
// up.
func (g *Gate) quota(r *Request, d Decision) Decision {
	if d.Verdict != Allow || g.Quotas == nil || r.User == nil {
		return d
	}
	if err := g.Quotas.Check(r.User); err != nil {
		return Decision{Verdict: Deny, Rule: RuleQuota, Reason: err.Error()}
	}
	return d
}

// DecideAddr decides with the destination resolved to ip.
func (g *Gate) DecideAddr(r *Request, ip netip.Addr) Decision {
	if r.Protocol == CONNECT && !g.connectPorts().Contains(r.Port) {
		return Decision{Verdict: Deny, Rule: RuleConnectPorts}
	}
	if g.Policy == nil {
		return Decision{Verdict: Allow}
	}
	d := g.Policy.decide(r, ip, r.User == nil && g.AuthRequired)
	return g.challenge(r, d)
}

// challenge turns a refusal of an unauthenticated client on an
// auth-required listener into a request for credentials.
func (g *Gate) challenge(r *Request, d Decision) Decision {
	if d.Verdict == Deny && d.Rule == RuleDefault && r.User == nil && g.AuthRequired {
		return Decision{Verdict: Challenge, Rule: RuleAuth}
	}
	return d
}

// CheckAddr is the dial-time check: it returns nil if r may reach ip, or a
// *DeniedError naming the rule.
func (g *Gate) CheckAddr(r *Request, ip netip.Addr) error {
	d := g.DecideAddr(r, ip)
	if d.Verdict == Allow {
		return nil
	}
	return &DeniedError{Rule: d.Rule, Addr: ip}
}

var defaultConnectPorts = PortSet{{443, 443}}

func (g *Gate) connectPorts() PortSet {
	if len(g.ConnectPorts) == 0 {
		return defaultConnectPorts
	}
	return g.ConnectPorts
}
