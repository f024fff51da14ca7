// Package addrset names sets of IP addresses (the IANA special-purpose
// registries and the user's own CIDR lists) and tests membership in a way that
// sees through the other encodings of an IPv4 address: IPv4-mapped and
// IPv4-compatible IPv6, NAT64 (RFC 6052) and 6to4 (RFC 3056).
package addrset

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Set is an immutable set of prefixes. The zero Set is empty.
type Set struct {
	prefixes []netip.Prefix
}

// New returns the set of the given prefixes (masked). An IPv4-mapped prefix
// of /96 or longer is its IPv4 prefix (::ffff:10.0.0.0/104 is 10.0.0.0/8),
// because Contains sees a mapped address as IPv4; a shorter IPv6 prefix,
// ::/0 included, covers IPv6 addresses only.
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
	entry = strings.TrimSpace(entry)
	if _, ok := builtin[entry]; ok {
		return true
	}
	if strings.Contains(entry, "/") {
		return true
	}
	_, err := netip.ParseAddr(entry)
	return err == nil
}
