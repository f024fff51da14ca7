package socks

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// UDPHeader is the header of a relayed datagram (RFC 1928 §7): RSV (two
// zero octets), FRAG, ATYP, DST.ADDR, DST.PORT; DATA follows.
type UDPHeader struct {
	Frag uint8 // fragment number; 0 for a whole datagram
	Addr Addr  // destination (from the client) or source (to the client)
}

// ParseUDPHeader parses the header at the start of p and returns it with
// the payload, which aliases p. RSV is not checked (RFC 1928 §7 only says it
// is reserved). A non-zero FRAG is returned, not refused: the relay decides
// to drop it.
func ParseUDPHeader(p []byte) (UDPHeader, []byte, error) {
	if len(p) < 4 {
		return UDPHeader{}, nil, fmt.Errorf("socks5 udp: %w: %d bytes", ErrShortPacket, len(p))
	}
	a, data, err := parseAddr(p[3:])
	if err != nil {
		return UDPHeader{}, nil, fmt.Errorf("socks5 udp: %w", err)
	}
	return UDPHeader{Frag: p[2], Addr: a}, data, nil
}

// AppendUDPHeader appends a header for h.
func AppendUDPHeader(b []byte, h UDPHeader) ([]byte, error) {
	if h.Addr.Name == "" && !h.Addr.IP.IsValid() {
		return b, fmt.Errorf("socks5 udp: %w", ErrEmptyAddress)
	}
	b, err := appendAddr(append(b, 0, 0, h.Frag), h.Addr)
	if err != nil {
		return b, fmt.Errorf("socks5 udp: %w", err)
	}
	return b, nil
}

// udpHeaderLen is the length of the header for a datagram from src.
func udpHeaderLen(src netip.AddrPort) int {
	if src.Addr().Is4() || src.Addr().Is4In6() {
		return ipv4UDPHeaderLen
	}
	return ipv6UDPHeaderLen
}

// putUDPHeader writes the header for a datagram from src into b, which must
// be udpHeaderLen(src) long. The relay reads a payload just after room for
// the longest IP header and writes the header in front of it, so a datagram
// is never copied.
func putUDPHeader(b []byte, src netip.AddrPort) {
	b[0], b[1], b[2] = 0, 0, 0
	ip := src.Addr().Unmap()
	if ip.Is4() {
		b[3] = byte(AddrIPv4)
		ip4 := ip.As4()
		copy(b[4:8], ip4[:])
		binary.BigEndian.PutUint16(b[8:10], src.Port())
		return
	}
	b[3] = byte(AddrIPv6)
	ip16 := ip.As16()
	copy(b[4:20], ip16[:])
	binary.BigEndian.PutUint16(b[20:22], src.Port())
}
