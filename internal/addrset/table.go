package addrset

import (
	"net/netip"
	"sort"
)

// namedSet is one built-in set. special marks the sets whose addresses a
// public forward proxy must refuse by default; the others are translation
// prefixes whose addresses are judged by the IPv4 address they carry.
type namedSet struct {
	name    string
	special bool
	ref     string // where the ranges are defined
	cidrs   []string
}

// table holds the built-in sets: the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890, updated by RFC 8190 and later), multicast,
// and the IPv6 space the IETF keeps reserved (IANA IPv6 Address Space).
var table = []namedSet{
	{name: "loopback", special: true, ref: "RFC 1122 §3.2.1.3, RFC 4291",
		cidrs: []string{"127.0.0.0/8", "::1/128"}},
	{name: "private", special: true, ref: "RFC 1918, RFC 4193",
		cidrs: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}},
	{name: "link-local", special: true, ref: "RFC 3927, RFC 4291; cloud metadata lives at 169.254.169.254",
		cidrs: []string{"169.254.0.0/16", "fe80::/10"}},
	{name: "cgnat", special: true, ref: "RFC 6598",
		cidrs: []string{"100.64.0.0/10"}},
	{name: "this-network", special: true, ref: "RFC 791, RFC 4291",
		cidrs: []string{"0.0.0.0/8", "::/128"}},
	{name: "multicast", special: true, ref: "RFC 5771, RFC 4291",
		cidrs: []string{"224.0.0.0/4", "ff00::/8"}},
	{name: "broadcast", special: true, ref: "RFC 919",
		cidrs: []string{"255.255.255.255/32"}},
	{name: "documentation", special: true, ref: "RFC 5737, 3849, 9637",
		cidrs: []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"}},
	{name: "benchmarking", special: true, ref: "RFC 2544, RFC 5180",
		cidrs: []string{"198.18.0.0/15", "2001:2::/48"}},
	// 192.0.0.0/24 holds DS-Lite (192.0.0.0/29), PCP and TURN anycast,
	// NAT64 discovery and Oracle's metadata address 192.0.0.192; 2001::/23
	// holds Teredo, ORCHID, AMT, AS112-v6 and DRIP.
	{name: "ietf-protocol", special: true, ref: "RFC 6890 §2.2",
		cidrs: []string{"192.0.0.0/24", "2001::/23"}},
	{name: "6to4-relay", special: true, ref: "RFC 7526 (deprecated anycast)",
		cidrs: []string{"192.88.99.0/24"}},
	{name: "as112", special: true, ref: "RFC 7535, RFC 7534",
		cidrs: []string{"192.31.196.0/24", "192.175.48.0/24", "2620:4f:8000::/48"}},
	{name: "amt", special: true, ref: "RFC 7450",
		cidrs: []string{"192.52.193.0/24"}},
	{name: "discard-only", special: true, ref: "RFC 6666",
		cidrs: []string{"100::/64"}},
	{name: "dummy", special: true, ref: "RFC 7600, RFC 9780",
		cidrs: []string{"192.0.0.8/32", "100:0:0:1::/64"}},
	{name: "segment-routing", special: true, ref: "RFC 9602",
		cidrs: []string{"5f00::/16"}},
	{name: "ipv4-translated", special: true, ref: "RFC 2765 §2.1",
		cidrs: []string{"::ffff:0:0:0/96"}},
	{name: "ipv4-compatible", special: true, ref: "RFC 4291 §2.5.5.1, deprecated",
		cidrs: []string{"::/96"}},
	{name: "nat64-local", special: true, ref: "RFC 8215: not globally reachable",
		cidrs: []string{"64:ff9b:1::/48"}},
	{name: "reserved", special: true, ref: "RFC 1112 §4, RFC 3879, RFC 4291", cidrs: []string{
		"240.0.0.0/4", // RFC 1112 §4
		"fec0::/10",   // RFC 3879, deprecated site-local
		// IANA IPv6 Address Space: reserved by the IETF (RFC 4291). ::/8 is
		// not listed whole: it holds 64:ff9b::/96, judged by its IPv4 host.
		"100::/8", "200::/7", "400::/6", "800::/5", "1000::/4",
		"4000::/3", "6000::/3", "8000::/3", "a000::/3", "c000::/3",
		"e000::/4", "f000::/5", "f800::/6", "fe00::/9",
	}},
	// Translation prefixes: not special by themselves (64:ff9b::/96 is
	// globally reachable in the registry, and DNS64 networks reach every
	// IPv4-only site through it), but Contains judges them by the IPv4
	// address they carry, so 64:ff9b::7f00:1 is as special as 127.0.0.1.
	{name: "nat64", ref: "RFC 6052, RFC 8215",
		cidrs: []string{"64:ff9b::/96", "64:ff9b:1::/48"}},
	{name: "6to4", ref: "RFC 3056",
		cidrs: []string{"2002::/16"}},
}

// special names the union of every set marked special: every destination a
// public forward proxy must refuse by default.
const special = "special"

// Names returns the names of the built-in sets, sorted, "special" included.
func Names() []string {
	names := make([]string, 0, len(builtin))
	for n := range builtin {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var builtin = func() map[string]Set {
	m := make(map[string]Set, len(table)+1)
	var all []Set
	for _, ns := range table {
		ps := make([]netip.Prefix, len(ns.cidrs))
		for i, c := range ns.cidrs {
			ps[i] = netip.MustParsePrefix(c)
		}
		// Built from the raw prefixes: an IPv6 prefix in the mapped range
		// must stay an IPv6 prefix here, not be folded into IPv4 by New.
		m[ns.name] = Set{prefixes: ps}
		if ns.special {
			all = append(all, m[ns.name])
		}
	}
	m[special] = Union(all...)
	return m
}()

// Named returns the built-in set called name.
func Named(name string) (Set, bool) {
	s, ok := builtin[name]
	return s, ok
}

// Special returns the union of the special-purpose sets: what a public
// forward proxy refuses by default.
func Special() Set { return builtin[special] }
