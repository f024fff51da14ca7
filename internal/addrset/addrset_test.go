package addrset

import (
	"net/netip"
	"slices"
	"testing"
)

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestEveryTableRangeIsSpecialAtBothEnds(t *testing.T) {
	for _, ns := range table {
		if !ns.special {
			continue
		}
		for _, c := range ns.cidrs {
			p := netip.MustParsePrefix(c)
			for _, a := range []netip.Addr{p.Masked().Addr(), lastAddr(p)} {
				if p.Addr().Is4In6() {
					continue // the mapped range is IPv4 once canonical; see TestOtherEncodings
				}
				t.Run(ns.name+"/"+a.String(), func(t *testing.T) {
					if !Special().Contains(a) {
						t.Errorf("%s (%s, %s) is not special", a, c, ns.ref)
					}
					if s, _ := Named(ns.name); !s.Contains(a) {
						t.Errorf("%s is not in set %q", a, ns.name)
					}
				})
			}
		}
	}
}

func TestSpecialAddresses(t *testing.T) {
	cases := []struct {
		desc string
		addr string
		set  string // the named set it must also be in
	}{
		{desc: "IPv4 loopback", addr: "127.0.0.1", set: "loopback"},
		{desc: "IPv4 loopback alias", addr: "127.0.0.2", set: "loopback"},
		{desc: "top of 127/8", addr: "127.255.255.255", set: "loopback"},
		{desc: "IPv6 loopback", addr: "::1", set: "loopback"},
		{desc: "cloud metadata", addr: "169.254.169.254", set: "link-local"},
		{desc: "AWS IPv6 metadata", addr: "fd00:ec2::254", set: "private"},
		{desc: "Alibaba metadata in CGNAT", addr: "100.100.100.200", set: "cgnat"},
		{desc: "Oracle metadata", addr: "192.0.0.192", set: "ietf-protocol"},
		{desc: "CGNAT bottom", addr: "100.64.0.0", set: "cgnat"},
		{desc: "CGNAT top", addr: "100.127.255.255", set: "cgnat"},
		{desc: "10/8", addr: "10.1.2.3", set: "private"},
		{desc: "172.16/12 top", addr: "172.31.255.255", set: "private"},
		{desc: "192.168/16", addr: "192.168.1.1", set: "private"},
		{desc: "unique local fc00::/7 low", addr: "fc00::1", set: "private"},
		{desc: "unique local fd", addr: "fdff:ffff::1", set: "private"},
		{desc: "IPv6 link-local", addr: "fe80::1", set: "link-local"},
		{desc: "IPv6 link-local with zone", addr: "fe80::1%eth0", set: "link-local"},
		{desc: "IPv4 multicast", addr: "224.0.0.1", set: "multicast"},
		{desc: "IPv4 multicast top", addr: "239.255.255.255", set: "multicast"},
		{desc: "IPv6 multicast", addr: "ff02::1", set: "multicast"},
		{desc: "limited broadcast", addr: "255.255.255.255", set: "broadcast"},
		{desc: "class E", addr: "240.0.0.1", set: "reserved"},
		{desc: "this network", addr: "0.0.0.0", set: "this-network"},
		{desc: "this network, any host", addr: "0.1.2.3", set: "this-network"},
		{desc: "IPv6 unspecified", addr: "::", set: "this-network"},
		{desc: "TEST-NET-1", addr: "192.0.2.1", set: "documentation"},
		{desc: "TEST-NET-2", addr: "198.51.100.1", set: "documentation"},
		{desc: "TEST-NET-3", addr: "203.0.113.1", set: "documentation"},
		{desc: "IPv6 documentation", addr: "2001:db8::1", set: "documentation"},
		{desc: "IPv6 documentation 3fff::/20", addr: "3fff:fff::1", set: "documentation"},
		{desc: "benchmarking", addr: "198.19.255.255", set: "benchmarking"},
		{desc: "IPv6 benchmarking", addr: "2001:2::1", set: "benchmarking"},
		{desc: "DS-Lite", addr: "192.0.0.1", set: "ietf-protocol"},
		{desc: "Teredo", addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2", set: "ietf-protocol"},
		{desc: "ORCHIDv2", addr: "2001:20::1", set: "ietf-protocol"},
		{desc: "6to4 relay anycast", addr: "192.88.99.1", set: "6to4-relay"},
		{desc: "AS112", addr: "192.175.48.1", set: "as112"},
		{desc: "AS112 IPv6", addr: "2620:4f:8000::1", set: "as112"},
		{desc: "AMT", addr: "192.52.193.1", set: "amt"},
		{desc: "discard-only", addr: "100::1", set: "discard-only"},
		{desc: "dummy IPv6", addr: "100:0:0:1::1", set: "dummy"},
		{desc: "dummy IPv4", addr: "192.0.0.8", set: "dummy"},
		{desc: "SRv6 SIDs", addr: "5f00::1", set: "segment-routing"},
		{desc: "deprecated site-local", addr: "fec0::1", set: "reserved"},
		{desc: "unallocated IPv6", addr: "4000::1", set: "reserved"},
		{desc: "IPv4-compatible", addr: "::8.8.8.8", set: "ipv4-compatible"},
		{desc: "IPv4-translated", addr: "::ffff:0:808:808", set: "ipv4-translated"},
		{desc: "local-use NAT64", addr: "64:ff9b:1::808:808", set: "nat64-local"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			if !Special().Contains(a) {
				t.Errorf("%s is not special", a)
			}
			s, ok := Named(tc.set)
			if !ok {
				t.Fatalf("no set %q", tc.set)
			}
			if !s.Contains(a) {
				t.Errorf("%s is not in %q", a, tc.set)
			}
		})
	}
}

func TestOtherEncodingsOfForbiddenAddressesAreSpecial(t *testing.T) {
	cases := []struct {
		desc string
		addr string
	}{
		{desc: "IPv4-mapped loopback", addr: "::ffff:127.0.0.1"},
		{desc: "IPv4-mapped private", addr: "::ffff:10.0.0.1"},
		{desc: "IPv4-mapped metadata", addr: "::ffff:169.254.169.254"},
		{desc: "NAT64 loopback", addr: "64:ff9b::7f00:1"},
		{desc: "NAT64 metadata", addr: "64:ff9b::a9fe:a9fe"},
		{desc: "NAT64 private", addr: "64:ff9b::10.1.2.3"},
		{desc: "6to4 loopback", addr: "2002:7f00:1::"},
		{desc: "6to4 loopback with host bits", addr: "2002:7f00:1:1::1"},
		{desc: "6to4 private", addr: "2002:c0a8:101::1"},
		{desc: "IPv4-compatible loopback", addr: "::127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			if !Special().Contains(a) {
				t.Errorf("%s is not special", a)
			}
		})
	}
}

func TestPublicAddressesAreNotSpecial(t *testing.T) {
	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "9.9.9.9", "93.184.216.34", "100.63.255.255", "100.128.0.0",
		"172.15.255.255", "172.32.0.0", "192.0.1.255", "192.0.3.0", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "11.0.0.0", "126.255.255.255", "128.0.0.0",
		"2606:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1", "2001:200::1",
		"2c0f:fb50::1", "3ffe:ffff::1",
		"::ffff:8.8.8.8",     // IPv4-mapped public
		"64:ff9b::808:808",   // NAT64 of a public address (DNS64 networks)
		"2002:808:808::1",    // 6to4 of a public address
		"::ffff:1.1.1.1",     // mapped
		"64:ff9b::1.1.1.1",   // NAT64, dotted form
		"2002:0101:0101::53", // 6to4
	} {
		t.Run(s, func(t *testing.T) {
			if a := netip.MustParseAddr(s); Special().Contains(a) {
				t.Errorf("%s is special", a)
			}
		})
	}
}

func TestEmbeddedDecodesEveryEncoding(t *testing.T) {
	cases := []struct {
		desc string
		addr string
		want []string
	}{
		{desc: "plain IPv4", addr: "8.8.8.8"},
		{desc: "plain IPv6", addr: "2606:4700::1111"},
		{desc: "unspecified", addr: "::"},
		{desc: "loopback", addr: "::1"},
		{desc: "mapped", addr: "::ffff:10.0.0.1", want: []string{"10.0.0.1"}},
		{desc: "compatible", addr: "::10.0.0.1", want: []string{"10.0.0.1"}},
		{desc: "translated", addr: "::ffff:0:10.0.0.1", want: []string{"10.0.0.1"}},
		{desc: "NAT64", addr: "64:ff9b::7f00:1", want: []string{"127.0.0.1"}},
		{desc: "local NAT64", addr: "64:ff9b:1::a00:1", want: []string{"10.0.0.1"}},
		{desc: "6to4", addr: "2002:7f00:1::", want: []string{"127.0.0.1"}},
		// RFC 4380 §4's example: server 65.54.227.120, client 192.0.2.45.
		{desc: "Teredo", addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2", want: []string{"65.54.227.120", "192.0.2.45"}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			var got []string
			for _, a := range Embedded(netip.MustParseAddr(tc.addr)) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Embedded(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		desc    string
		entry   string
		in, out []string
		bad     bool
	}{
		{desc: "set name", entry: "private", in: []string{"10.0.0.1", "fd00::1"}, out: []string{"8.8.8.8"}},
		{desc: "special", entry: "special", in: []string{"127.0.0.1", "::ffff:127.0.0.1"}, out: []string{"1.1.1.1"}},
		{desc: "spaces trimmed", entry: "  loopback ", in: []string{"127.0.0.1"}},
		{desc: "IPv4 CIDR", entry: "10.0.0.0/8", in: []string{"10.255.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1"}, out: []string{"11.0.0.0"}},
		{desc: "unmasked CIDR", entry: "10.1.2.3/8", in: []string{"10.9.9.9"}},
		{desc: "mapped CIDR is IPv4", entry: "::ffff:10.0.0.0/104", in: []string{"10.1.1.1"}, out: []string{"11.1.1.1"}},
		{desc: "IPv6 CIDR", entry: "2001:db8::/32", in: []string{"2001:db8:1::1"}, out: []string{"2001:db9::1"}},
		{desc: "single IPv4", entry: "192.0.2.7", in: []string{"192.0.2.7", "::ffff:192.0.2.7"}, out: []string{"192.0.2.8"}},
		{desc: "single mapped", entry: "::ffff:192.0.2.7", in: []string{"192.0.2.7"}},
		{desc: "single IPv6 zone dropped", entry: "fe80::1%eth0", in: []string{"fe80::1"}},
		{desc: "CIDR with zone", entry: "fe80::%eth0/64", bad: true},
		{desc: "bad CIDR", entry: "10.0.0.0/33", bad: true},
		{desc: "host name", entry: "example.com", bad: true},
		{desc: "empty", entry: "", bad: true},
		{desc: "unknown set", entry: "privat", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			s, err := Parse(tc.entry)
			if tc.bad {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want an error", tc.entry, s.Prefixes())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range tc.in {
				if !s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("Parse(%q) does not contain %s", tc.entry, a)
				}
			}
			for _, a := range tc.out {
				if s.Contains(netip.MustParseAddr(a)) {
					t.Errorf("Parse(%q) contains %s", tc.entry, a)
				}
			}
		})
	}
}

func TestLooksLikeAddr(t *testing.T) {
	for _, tc := range []struct {
		entry string
		want  bool
	}{
		{"10.0.0.0/8", true}, {"::1", true}, {"private", true}, {" 10.0.0.1 ", true},
		{"example.com", false}, {"*.example.com", false}, {"localhost", false},
	} {
		if got := LooksLikeAddr(tc.entry); got != tc.want {
			t.Errorf("LooksLikeAddr(%q) = %v, want %v", tc.entry, got, tc.want)
		}
	}
}

func TestSetBasics(t *testing.T) {
	var zero Set
	if !zero.Empty() || zero.Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("zero Set is not empty")
	}
	if Special().Contains(netip.Addr{}) {
		t.Error("invalid address contained")
	}
	a, _ := Parse("10.0.0.0/8")
	b, _ := Parse("::1")
	u := Union(a, b)
	if len(u.Prefixes()) != 2 || !u.Contains(netip.MustParseAddr("::1")) || !u.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Errorf("Union = %v", u.Prefixes())
	}
	names := Names()
	if !slices.IsSorted(names) || !slices.Contains(names, "special") || len(names) != len(table)+1 {
		t.Errorf("Names() = %v", names)
	}
	for _, n := range names {
		if _, ok := Named(n); !ok {
			t.Errorf("Named(%q) missing", n)
		}
	}
}
