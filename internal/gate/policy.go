package gate

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/janus-proxy/janus/internal/addrset"
)

// Rule is one ordered access rule. Every non-empty condition must match
// (AND); within a list any entry may match (OR). An empty condition matches
// everything.
type Rule struct {
	Name  string // shown in logs; "policy#N" when the config gives none
	Allow bool   // allow when it matches, deny otherwise

	// Unauthenticated lets the rule apply to clients that did not
	// authenticate on a listener that requires it (SOCKS4 carries no
	// password). Other rules are skipped for such clients.
	Unauthenticated bool

	Clients   addrset.Set
	Users     []string // user names; "*" means any authenticated user
	Groups    []string
	Hosts     []HostPattern // destination names
	Dests     addrset.Set   // destination addresses (the resolved one at dial time)
	Ports     PortSet
	Protocols []Protocol
	Methods   []string
}

// Policy is an ordered list of rules; the first that matches decides, and no
// match denies.
type Policy struct {
	Name  string
	Rules []Rule
}

type tri uint8

const (
	no tri = iota
	yes
	maybe // depends on the resolved address, which is not known yet
)

// decide runs the rules. With ip invalid and a destination given by name,
// rules on destination addresses cannot be settled; the result is then Deny
// only if every rule that could match would deny, otherwise a provisional
// Allow that the dial-time check settles.
func (p *Policy) decide(r *Request, ip netip.Addr, unauthenticated bool) Decision {
	if !ip.IsValid() {
		if lit, err := netip.ParseAddr(r.Host); err == nil {
			ip = lit
		}
	}
	var (
		pendingAllow bool
		firstMaybe   string
	)
	for i := range p.Rules {
		rule := &p.Rules[i]
		if unauthenticated && !rule.Unauthenticated {
			continue
		}
		switch rule.match(r, ip) {
		case yes:
			if rule.Allow {
				return Decision{Verdict: Allow, Rule: rule.Name}
			}
			if pendingAllow {
				// An earlier rule may still allow once resolved.
				return Decision{Verdict: Allow, Rule: firstMaybe}
			}
			return Decision{Verdict: Deny, Rule: rule.Name}
		case maybe:
			if firstMaybe == "" {
				firstMaybe = rule.Name
			}
			if rule.Allow {
				pendingAllow = true
			}
		}
	}
	if pendingAllow {
		return Decision{Verdict: Allow, Rule: firstMaybe}
	}
	return Decision{Verdict: Deny, Rule: RuleDefault}
}

func (rule *Rule) match(r *Request, ip netip.Addr) tri {
	if !rule.Clients.Empty() && !rule.Clients.Contains(r.Client) {
		return no
	}
	if len(rule.Protocols) > 0 && !containsProto(rule.Protocols, r.Protocol) {
		return no
	}
	if len(rule.Methods) > 0 && !containsFold(rule.Methods, r.Method) {
		return no
	}
	if len(rule.Ports) > 0 && !rule.Ports.Contains(r.Port) {
		return no
	}
	if len(rule.Users) > 0 || len(rule.Groups) > 0 {
		if r.User == nil || !rule.matchUser(r.User) {
			return no
		}
	}
	return rule.matchDest(r.Host, ip)
}

func (rule *Rule) matchUser(id *Identity) bool {
	for _, u := range rule.Users {
		if u == "*" || u == id.Name {
			return true
		}
	}
	for _, g := range rule.Groups {
		if id.InGroup(g) {
			return true
		}
	}
	return false
}

// matchDest: the destination matches if any host pattern matches its name
// or any address set holds its address.
func (rule *Rule) matchDest(host string, ip netip.Addr) tri {
	if len(rule.Hosts) == 0 && rule.Dests.Empty() {
		return yes
	}
	for _, h := range rule.Hosts {
		if h.Match(host) {
			return yes
		}
	}
	if rule.Dests.Empty() {
		return no
	}
	if !ip.IsValid() {
		return maybe
	}
	if rule.Dests.Contains(ip) {
		return yes
	}
	return no
}

func containsProto(ps []Protocol, p Protocol) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// HostPattern matches a destination name: "example.com" exactly, or
// "*.example.com" for any name below example.com (not example.com itself).
// Matching ignores case and a trailing dot.
type HostPattern struct {
	suffix string // ".example.com" for a wildcard, "" otherwise
	exact  string
}

// ParseHostPattern checks and normalises a pattern.
func ParseHostPattern(s string) (HostPattern, error) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if s == "" {
		return HostPattern{}, fmt.Errorf("empty host pattern")
	}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		if rest == "" || strings.ContainsAny(rest, "*/ ") {
			return HostPattern{}, fmt.Errorf("bad wildcard host %q: want *.example.com", s)
		}
		return HostPattern{suffix: "." + rest}, nil
	}
	if strings.ContainsAny(s, "*/ :") {
		return HostPattern{}, fmt.Errorf("bad host %q: want a name or *.name", s)
	}
	return HostPattern{exact: s}, nil
}

// Match reports whether host matches the pattern.
func (h HostPattern) Match(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if h.suffix != "" {
		return len(host) > len(h.suffix) && strings.EqualFold(host[len(host)-len(h.suffix):], h.suffix)
	}
	return strings.EqualFold(host, h.exact)
}

func (h HostPattern) String() string {
	if h.suffix != "" {
		return "*" + h.suffix
	}
	return h.exact
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi uint16 }

// PortSet is a list of port ranges; an empty set matches nothing on its own
// (rules treat an empty set as "any port").
type PortSet []PortRange

// Contains reports whether port lies in one of the ranges.
func (s PortSet) Contains(port uint16) bool {
	for _, r := range s {
		if port >= r.Lo && port <= r.Hi {
			return true
		}
	}
	return false
}

// ParsePortRange parses "443" or "8000-8999".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	l, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{l, l}, nil
	}
	h, err := parsePort(hi)
	if err != nil {
		return PortRange{}, err
	}
	if h < l {
		return PortRange{}, fmt.Errorf("bad port range %q: end before start", s)
	}
	return PortRange{l, h}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q: want 1-65535", s)
	}
	return uint16(n), nil
}
