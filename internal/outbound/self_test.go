package outbound

import (
	"net"
	"net/netip"
	"testing"
)

func TestSelfSetMatchesListenersAndWildcards(t *testing.T) {
	ap := netip.MustParseAddrPort
	// 192.0.2.10 and 2001:db8::10 stand for this host's interface addresses.
	local := addrs("192.0.2.10", "2001:db8::10", "fe80::1")
	cases := []struct {
		desc      string
		listeners []netip.AddrPort
		query     netip.AddrPort
		want      bool
	}{
		{desc: "exact listener", listeners: []netip.AddrPort{ap("127.0.0.1:8080")}, query: ap("127.0.0.1:8080"), want: true},
		{desc: "exact listener, other port", listeners: []netip.AddrPort{ap("127.0.0.1:8080")}, query: ap("127.0.0.1:8081")},
		{desc: "exact listener, other loopback alias", listeners: []netip.AddrPort{ap("127.0.0.1:8080")}, query: ap("127.0.0.2:8080")},
		{desc: "IPv4-mapped query", listeners: []netip.AddrPort{ap("127.0.0.1:8080")}, query: ap("[::ffff:127.0.0.1]:8080"), want: true},
		{desc: "IPv4-mapped listener", listeners: []netip.AddrPort{ap("[::ffff:192.0.2.10]:8080")}, query: ap("192.0.2.10:8080"), want: true},
		{desc: "0.0.0.0 query reaches a loopback listener", listeners: []netip.AddrPort{ap("127.0.0.1:8080")}, query: ap("0.0.0.0:8080"), want: true},
		{desc: ":: query reaches a ::1 listener", listeners: []netip.AddrPort{ap("[::1]:8080")}, query: ap("[::]:8080"), want: true},
		{desc: "v4 wildcard, any 127/8", listeners: []netip.AddrPort{ap("0.0.0.0:8080")}, query: ap("127.3.4.5:8080"), want: true},
		{desc: "v4 wildcard, interface address", listeners: []netip.AddrPort{ap("0.0.0.0:8080")}, query: ap("192.0.2.10:8080"), want: true},
		{desc: "v4 wildcard, unspecified", listeners: []netip.AddrPort{ap("0.0.0.0:8080")}, query: ap("0.0.0.0:8080"), want: true},
		{desc: "v4 wildcard, other port", listeners: []netip.AddrPort{ap("0.0.0.0:8080")}, query: ap("127.0.0.1:9090")},
		{desc: "v4 wildcard, remote address", listeners: []netip.AddrPort{ap("0.0.0.0:8080")}, query: ap("192.0.2.11:8080")},
		{desc: "v4 wildcard does not listen on ::1", listeners: []netip.AddrPort{ap("0.0.0.0:8080")}, query: ap("[::1]:8080")},
		{desc: "v6 wildcard, ::1", listeners: []netip.AddrPort{ap("[::]:8080")}, query: ap("[::1]:8080"), want: true},
		{desc: "v6 wildcard is dual-stack", listeners: []netip.AddrPort{ap("[::]:8080")}, query: ap("127.0.0.1:8080"), want: true},
		{desc: "v6 wildcard, interface address", listeners: []netip.AddrPort{ap("[::]:8080")}, query: ap("[2001:db8::10]:8080"), want: true},
		{desc: "v6 wildcard, link-local with zone", listeners: []netip.AddrPort{ap("[::]:8080")}, query: ap("[fe80::1%eth0]:8080"), want: true},
		{desc: "v6 wildcard, remote address", listeners: []netip.AddrPort{ap("[::]:8080")}, query: ap("[2001:db8::11]:8080")},
		{desc: "no listeners", query: ap("127.0.0.1:8080")},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			if got := selfSet(tc.listeners, local)(tc.query); got != tc.want {
				t.Errorf("self(%v) with listeners %v = %v, want %v", tc.query, tc.listeners, got, tc.want)
			}
		})
	}
}

func TestSelfAddrsWildcardCoversEveryInterfaceAddress(t *testing.T) {
	self, err := SelfAddrs([]netip.AddrPort{netip.MustParseAddrPort("[::]:8080")})
	if err != nil {
		t.Fatal(err)
	}
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ia := range ifs {
		n, ok := ia.(*net.IPNet)
		if !ok {
			continue
		}
		a, _ := netip.AddrFromSlice(n.IP)
		if !self(netip.AddrPortFrom(a, 8080)) {
			t.Errorf("interface address %s:8080 not recognised as self", a)
		}
		if self(netip.AddrPortFrom(a, 8081)) {
			t.Errorf("%s:8081 recognised as self", a)
		}
	}
}
