// Package addrset names sets of IP addresses (the IANA special-purpose
// registries and the user's own CIDR lists) and tests membership in a way that
// sees through the other encodings of an IPv4 address: IPv4-mapped and
// IPv4-compatible IPv6, NAT64 (RFC 6052) and 6to4 (RFC 3056).
package addrset

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// Set is an immutable set of prefixes. The zero Set is empty.
type Set struct {
	prefixes []netip.Prefix
}

// New returns the set of the given prefixes (masked).
func New(prefixes ...netip.Prefix) Set {
	ps := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		p = p.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		ps = append(ps, p)
	}
	return Set{prefixes: ps}
}

// Union returns a set holding every prefix of the given sets.
func Union(sets ...Set) Set {
	var ps []netip.Prefix
	for _, s := range sets {
		ps = append(ps, s.prefixes...)
	}
	return Set{prefixes: ps}
}

// Prefixes returns a copy of the set's prefixes.
func (s Set) Prefixes() []netip.Prefix { return slices.Clone(s.prefixes) }

// Empty reports whether the set has no prefix.
func (s Set) Empty() bool { return len(s.prefixes) == 0 }

// Contains reports whether a, or the IPv4 address that a encodes, lies in the
// set. An invalid address is never contained.
func (s Set) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = Canonical(a)
	if s.containsExact(a) {
		return true
	}
	for _, e := range Embedded(a) {
		if s.containsExact(e) {
			return true
		}
	}
	return false
}

func (s Set) containsExact(a netip.Addr) bool {
	for _, p := range s.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215
	sixToFour      = netip.MustParsePrefix("2002::/16")      // RFC 3056
	v4Compatible   = netip.MustParsePrefix("::/96")          // RFC 4291 §2.5.5.1 (deprecated)
)

// Embedded returns the IPv4 addresses that the IPv6 address a stands for:
// the address itself when IPv4-mapped or IPv4-compatible, the host of a
// NAT64 or 6to4 address. It returns nil for a plain IPv4 or IPv6 address.
func Embedded(a netip.Addr) []netip.Addr {
	if !a.Is6() {
		return nil
	}
	b := a.As16()
	switch {
	case a.Is4In6():
		return []netip.Addr{a.Unmap()}
	case nat64WellKnown.Contains(a), nat64Local.Contains(a), v4Compatible.Contains(a) && a.Compare(netip.IPv6Unspecified()) != 0 && !a.IsLoopback():
		// RFC 6052 §2.2: with a /96 prefix the IPv4 address is the last 32 bits.
		// For 64:ff9b:1::/48, operators choose the length; /96 is the common one.
		return []netip.Addr{netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})}
	case sixToFour.Contains(a):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})}
	}
	return nil
}

// Canonical returns a as the matching rules see it: an IPv4-mapped address is
// unmapped and the zone is dropped.
func Canonical(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// named is the table of built-in sets: the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890 and its updates) and multicast.
var named = map[string][]string{
	"loopback":      {"127.0.0.0/8", "::1/128"},
	"private":       {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"},
	"link-local":    {"169.254.0.0/16", "fe80::/10"},
	"cgnat":         {"100.64.0.0/10"},
	"this-network":  {"0.0.0.0/8", "::/128"},
	"multicast":     {"224.0.0.0/4", "ff00::/8"},
	"broadcast":     {"255.255.255.255/32"},
	"reserved":      {"240.0.0.0/4", "fec0::/10"},
	"documentation": {"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"},
	"benchmarking":  {"198.18.0.0/15", "2001:2::/48"},
	"ietf-protocol": {"192.0.0.0/24", "2001::/23"},
	"6to4-relay":    {"192.88.99.0/24"},
	"as112":         {"192.31.196.0/24", "192.175.48.0/24", "2620:4f:8000::/48"},
	"amt":           {"192.52.193.0/24"},
	"discard-only":  {"100::/64"},
	"dummy":         {"100:0:0:1::/64"},
	"segment-routing": {
		"5f00::/16",
	},
	"nat64":           {"64:ff9b::/96", "64:ff9b:1::/48"},
	"ipv4-translated": {"::ffff:0:0:0/96"},
	"ipv4-compatible": {"::/96"},
}

// special is the union of every named set: every destination a public
// forward proxy must refuse by default.
const special = "special"

// Names returns the names of the built-in sets, sorted, "special" included.
func Names() []string {
	names := make([]string, 0, len(named)+1)
	for n := range named {
		names = append(names, n)
	}
	names = append(names, special)
	sort.Strings(names)
	return names
}

var builtin = func() map[string]Set {
	m := make(map[string]Set, len(named)+1)
	var all []Set
	for name, cidrs := range named {
		ps := make([]netip.Prefix, len(cidrs))
		for i, c := range cidrs {
			ps[i] = netip.MustParsePrefix(c)
		}
		// Built from the raw prefixes: ::ffff:0:0/96 must stay an IPv6 prefix
		// here, so that it is not folded into 0.0.0.0/0.
		m[name] = Set{prefixes: ps}
		all = append(all, m[name])
	}
	m[special] = Union(all...)
	return m
}()

// Named returns the built-in set called name.
func Named(name string) (Set, bool) {
	s, ok := builtin[name]
	return s, ok
}

// Special returns the union of all built-in sets.
func Special() Set { return builtin[special] }

// Parse turns one entry of a destination or client list into a set: a
// built-in name, a CIDR, or a single address.
func Parse(entry string) (Set, error) {
	entry = strings.TrimSpace(entry)
	if s, ok := builtin[entry]; ok {
		return s, nil
	}
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return Set{}, fmt.Errorf("bad CIDR %q: %w", entry, err)
		}
		if p.Addr().Zone() != "" {
			return Set{}, fmt.Errorf("bad CIDR %q: zones are not allowed", entry)
		}
		return New(p), nil
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return Set{}, fmt.Errorf("not an address, CIDR or set name (%s): %q", strings.Join(Names(), ", "), entry)
	}
	a = Canonical(a)
	return New(netip.PrefixFrom(a, a.BitLen())), nil
}

// LooksLikeAddr reports whether entry is written as an address or CIDR (as
// opposed to a host name), so a config can tell "10.0.0.0/8" from "example.com".
func LooksLikeAddr(entry string) bool {
	if _, ok := builtin[entry]; ok {
		return true
	}
	if strings.Contains(entry, "/") {
		return true
	}
	_, err := netip.ParseAddr(entry)
	return err == nil
}
