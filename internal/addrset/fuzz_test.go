package addrset

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that what it accepts is a
// consistent, non-empty set: an address entry contains itself in every
// encoding, a CIDR contains its first and last address, and LooksLikeAddr
// agrees.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"private", "special", "10.0.0.0/8", "::ffff:10.0.0.0/104", "fe80::1%eth0", "2001:db8::/32", "192.0.2.7", " loopback ", "example.com", "1.2.3.4/", "/8", "::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		s, err := Parse(entry)
		if err != nil {
			if s.Contains(netip.MustParseAddr("127.0.0.1")) || !s.Empty() {
				t.Fatalf("Parse(%q) failed but returned a set %v", entry, s.Prefixes())
			}
			return
		}
		if s.Empty() {
			t.Fatalf("Parse(%q) = empty set", entry)
		}
		if !LooksLikeAddr(entry) {
			t.Fatalf("Parse(%q) succeeded but LooksLikeAddr is false", entry)
		}
		trimmed := strings.TrimSpace(entry)
		if _, named := Named(trimmed); named {
			return
		}
		if !strings.Contains(trimmed, "/") {
			a := Canonical(netip.MustParseAddr(trimmed))
			for _, enc := range encodings(a) {
				if !s.Contains(enc) {
					t.Fatalf("Parse(%q) does not contain %s", entry, enc)
				}
			}
			return
		}
		p := netip.MustParsePrefix(trimmed)
		for _, a := range []netip.Addr{p.Masked().Addr(), lastAddr(p)} {
			if a.Is4In6() && p.Bits() < 96 {
				continue // an IPv4-mapped address is IPv4; see New
			}
			if !s.Contains(a) {
				t.Fatalf("Parse(%q) does not contain %s", entry, a)
			}
		}
	})
}

// encodings returns a and, for an IPv4 address, its IPv4-mapped, NAT64 and
// 6to4 forms.
func encodings(a netip.Addr) []netip.Addr {
	if !a.Is4() {
		return []netip.Addr{a}
	}
	b := a.As4()
	nat64 := netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: b[0], b[1], b[2], b[3]})
	six := netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], 15: 1})
	return []netip.Addr{a, netip.AddrFrom16(a.As16()), nat64, six}
}

// FuzzEncodingsAgree checks that an IPv4 address is special exactly when its
// IPv4-mapped, NAT64 and 6to4 forms are: the other encodings neither hide a
// forbidden address nor forbid a public one.
func FuzzEncodingsAgree(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "8.8.8.8", "169.254.169.254", "100.64.0.1", "10.0.0.1", "1.1.1.1", "0.0.0.0", "255.255.255.255"} {
		b := netip.MustParseAddr(s).As4()
		f.Add(b[0], b[1], b[2], b[3])
	}
	f.Fuzz(func(t *testing.T, b0, b1, b2, b3 byte) {
		a := netip.AddrFrom4([4]byte{b0, b1, b2, b3})
		want := Special().Contains(a)
		for _, enc := range encodings(a)[1:] {
			if got := Special().Contains(enc); got != want {
				t.Fatalf("Special().Contains(%s) = %v, but %s is %v", enc, got, a, want)
			}
		}
	})
}
