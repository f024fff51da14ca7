package sniff

import (
	"net"
	"net/netip"
	"testing"
)

// TestAddrPort: every kind of endpoint gives one form of its address.
func TestAddrPort(t *testing.T) {
	mapped := netip.MustParseAddr("::ffff:127.0.0.1")
	for _, tc := range []struct {
		desc string
		in   net.Addr
		want string
	}{
		{"tcp v4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 80}, "127.0.0.2:80"},
		{"tcp v4-mapped v6", net.TCPAddrFromAddrPort(netip.AddrPortFrom(mapped, 443)), "127.0.0.1:443"},
		{"udp v6", &net.UDPAddr{IP: net.IPv6loopback, Port: 53}, "[::1]:53"},
		{"other, parsed", &net.UnixAddr{Name: "[::ffff:127.0.0.1]:9", Net: "unix"}, "127.0.0.1:9"},
		{"not an ip endpoint", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "invalid AddrPort"},
		{"nil", nil, "invalid AddrPort"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := AddrPort(tc.in).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
