package outbound

import (
	"fmt"
	"net"
	"net/netip"
)

// SelfAddrs returns a function for Dialer.Self that reports whether an
// address and port reach one of the given listeners (pass the addresses the
// listeners are actually bound to, ports resolved). A wildcard listener
// (0.0.0.0:8080, [::]:8080) stands for every local address with its port:
// the addresses of the interfaces when SelfAddrs runs, all of 127.0.0.0/8
// and ::1; [::] listens on both families (Go opens it dual-stack). IPv4-mapped
// addresses compare equal to their IPv4 form, zones are ignored, and the
// unspecified address counts as loopback, because connect(2) to 0.0.0.0 or
// :: reaches the local host on Linux. Build it again when interfaces change
// (a reload does).
func SelfAddrs(listeners []netip.AddrPort) (func(netip.AddrPort) bool, error) {
	var local []netip.Addr
	for _, l := range listeners {
		if l.Addr().Unmap().IsUnspecified() {
			ifs, err := net.InterfaceAddrs()
			if err != nil {
				return nil, fmt.Errorf("self addresses for %s: list interface addresses: %w", l, err)
			}
			for _, ia := range ifs {
				if n, ok := ia.(*net.IPNet); ok {
					if a, ok := netip.AddrFromSlice(n.IP); ok {
						local = append(local, a)
					}
				}
			}
			break
		}
	}
	return selfSet(listeners, local), nil
}

// selfSet is SelfAddrs with the local interface addresses given.
func selfSet(listeners []netip.AddrPort, local []netip.Addr) func(netip.AddrPort) bool {
	exact := make(map[netip.AddrPort]bool, len(listeners))
	wild4 := make(map[uint16]bool) // 0.0.0.0:port, IPv4 only
	wild6 := make(map[uint16]bool) // [::]:port, dual-stack
	for _, l := range listeners {
		a := canonicalAddr(l.Addr())
		switch a {
		case netip.IPv4Unspecified():
			wild4[l.Port()] = true
		case netip.IPv6Unspecified():
			wild6[l.Port()] = true
		default:
			exact[netip.AddrPortFrom(a, l.Port())] = true
		}
	}
	locals := make(map[netip.Addr]bool, len(local))
	for _, a := range local {
		locals[canonicalAddr(a)] = true
	}
	return func(ap netip.AddrPort) bool {
		a, port := canonicalAddr(ap.Addr()), ap.Port()
		switch a {
		case netip.IPv4Unspecified():
			a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		case netip.IPv6Unspecified():
			a = netip.IPv6Loopback()
		}
		if exact[netip.AddrPortFrom(a, port)] {
			return true
		}
		if !a.IsLoopback() && !locals[a] {
			return false
		}
		return wild6[port] || wild4[port] && a.Is4()
	}
}

func canonicalAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }
