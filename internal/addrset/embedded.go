package addrset

import "net/netip"

// Prefixes whose addresses stand for an IPv4 address.
var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")    // RFC 6052 §2.1
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")  // RFC 8215
	sixToFour      = netip.MustParsePrefix("2002::/16")       // RFC 3056 §2
	teredo         = netip.MustParsePrefix("2001::/32")       // RFC 4380 §4
	v4Compatible   = netip.MustParsePrefix("::/96")           // RFC 4291 §2.5.5.1 (deprecated)
	v4Translated   = netip.MustParsePrefix("::ffff:0:0:0/96") // RFC 2765 §2.1 (SIIT)
)

// Embedded returns the IPv4 addresses that the IPv6 address a stands for:
// the address itself when IPv4-mapped, IPv4-compatible or IPv4-translated,
// the host of a NAT64 or 6to4 address, the server and the client of a
// Teredo address. It returns nil for a plain IPv4 or IPv6 address.
//
// ISATAP interface identifiers (RFC 5214 §6.1) are not decoded: they name
// an IPv4 address behind the router of the address's own /64, not one that
// this host would reach.
func Embedded(a netip.Addr) []netip.Addr {
	if !a.Is6() {
		return nil
	}
	b := a.As16()
	low32 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case a.Is4In6():
		return []netip.Addr{a.Unmap()}
	case nat64WellKnown.Contains(a), nat64Local.Contains(a), v4Translated.Contains(a):
		// RFC 6052 §2.2: with a /96 prefix the IPv4 address is the last 32
		// bits. For 64:ff9b:1::/48 operators choose the length; /96 is the
		// common one, and the whole /48 is in "special" anyway.
		return []netip.Addr{low32}
	case v4Compatible.Contains(a):
		if a.IsUnspecified() || a.IsLoopback() {
			return nil // :: and ::1 are IPv6 addresses in their own right
		}
		return []netip.Addr{low32}
	case sixToFour.Contains(a):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})}
	case teredo.Contains(a):
		// RFC 4380 §4: bits 32-63 are the server, the last 32 bits the
		// client's address with every bit inverted.
		return []netip.Addr{
			netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}),
			netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}),
		}
	}
	return nil
}

// Canonical returns a as the matching rules see it: an IPv4-mapped address is
// unmapped and the zone is dropped.
func Canonical(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }
