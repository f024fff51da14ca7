package sniff

import (
	"net"
	"net/netip"
)

// AddrPort returns a connection endpoint's address and port, with an
// IPv4-mapped IPv6 address unmapped, so that rules, limits and logs see
// one form of each client; the zero AddrPort when a is not an IP endpoint.
func AddrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		if a != nil {
			ap, _ = netip.ParseAddrPort(a.String())
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
