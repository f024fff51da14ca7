package socks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// Errors for malformed or unsupported input. Parsers wrap them with the
// values involved; test with errors.Is.
var (
	ErrVersion      = errors.New("bad version")
	ErrNoMethods    = errors.New("greeting offers no methods")
	ErrAddrType     = errors.New("address type not supported")
	ErrName         = errors.New("bad domain name")
	ErrUserID       = errors.New("socks4 userid too long")
	ErrShortPacket  = errors.New("udp datagram shorter than its header")
	ErrEmptyAddress = errors.New("empty address")
)

// scratch is the buffer a parser reads through: a length byte, a name of up
// to 255 bytes and a port, or a SOCKS4 string and its NUL.
type scratch [maxNameLen + 2]byte

// Addr is a destination as a client named it: an IP address or a domain
// name, and a port. It is comparable, so it can key a map.
type Addr struct {
	IP   netip.Addr // set for ATYP IPv4/IPv6 and plain SOCKS4
	Name string     // set for ATYP DOMAINNAME and SOCKS4a
	Port uint16
}

// AddrFromAddrPort returns the Addr of an IP address and port.
func AddrFromAddrPort(ap netip.AddrPort) Addr { return Addr{IP: ap.Addr(), Port: ap.Port()} }

// Type returns how the address is encoded on the wire; an IPv4-mapped IPv6
// address is sent as IPv4.
func (a Addr) Type() AddrType {
	switch {
	case a.Name != "":
		return AddrDomain
	case a.IP.Is4() || a.IP.Is4In6():
		return AddrIPv4
	}
	return AddrIPv6
}

// Host returns the name or the IP address as text, without brackets.
func (a Addr) Host() string {
	if a.Name != "" {
		return a.Name
	}
	if !a.IP.IsValid() {
		return ""
	}
	return a.IP.String()
}

// String returns host:port, with brackets around an IPv6 address.
func (a Addr) String() string {
	return net.JoinHostPort(a.Host(), strconv.Itoa(int(a.Port)))
}

// checkName enforces RFC 1928 §5's one length octet (1..255) and refuses
// names that can never be a host name: NUL (it ends a SOCKS4a name and a C
// string), control bytes and spaces, which would also corrupt log lines.
func checkName(name []byte) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return fmt.Errorf("%w: length %d, want 1..%d", ErrName, len(name), maxNameLen)
	}
	for i, c := range name {
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: byte 0x%02x at offset %d", ErrName, c, i)
		}
	}
	return nil
}

// readAddr reads ATYP, DST.ADDR and DST.PORT (RFC 1928 §4, §5) through buf,
// which must hold at least maxNameLen+2 bytes.
func readAddr(r io.Reader, buf []byte) (Addr, error) {
	if _, err := io.ReadFull(r, buf[:1]); err != nil {
		return Addr{}, fmt.Errorf("read address type: %w", noEOF(err))
	}
	var a Addr
	switch t := AddrType(buf[0]); t {
	case AddrIPv4:
		if _, err := io.ReadFull(r, buf[:4+2]); err != nil {
			return Addr{}, fmt.Errorf("read ipv4 address: %w", noEOF(err))
		}
		a.IP = netip.AddrFrom4([4]byte(buf[:4]))
		a.Port = binary.BigEndian.Uint16(buf[4:])
	case AddrIPv6:
		if _, err := io.ReadFull(r, buf[:16+2]); err != nil {
			return Addr{}, fmt.Errorf("read ipv6 address: %w", noEOF(err))
		}
		a.IP = netip.AddrFrom16([16]byte(buf[:16]))
		a.Port = binary.BigEndian.Uint16(buf[16:])
	case AddrDomain:
		if _, err := io.ReadFull(r, buf[:1]); err != nil {
			return Addr{}, fmt.Errorf("read name length: %w", noEOF(err))
		}
		n := int(buf[0])
		if _, err := io.ReadFull(r, buf[:n+2]); err != nil {
			return Addr{}, fmt.Errorf("read name: %w", noEOF(err))
		}
		if err := checkName(buf[:n]); err != nil {
			return Addr{}, err
		}
		a.Name = string(buf[:n])
		a.Port = binary.BigEndian.Uint16(buf[n:])
	default:
		return Addr{}, fmt.Errorf("%w: 0x%02x", ErrAddrType, uint8(t))
	}
	return a, nil
}

// parseAddr is readAddr on a byte slice (a datagram): it returns the
// address and the bytes after it.
func parseAddr(p []byte) (Addr, []byte, error) {
	if len(p) < 1 {
		return Addr{}, nil, fmt.Errorf("%w: no address type", ErrShortPacket)
	}
	var a Addr
	switch t := AddrType(p[0]); t {
	case AddrIPv4:
		if len(p) < 1+4+2 {
			return Addr{}, nil, fmt.Errorf("%w: ipv4 address needs 6 bytes, have %d", ErrShortPacket, len(p)-1)
		}
		a.IP = netip.AddrFrom4([4]byte(p[1:5]))
		a.Port = binary.BigEndian.Uint16(p[5:])
		return a, p[7:], nil
	case AddrIPv6:
		if len(p) < 1+16+2 {
			return Addr{}, nil, fmt.Errorf("%w: ipv6 address needs 18 bytes, have %d", ErrShortPacket, len(p)-1)
		}
		a.IP = netip.AddrFrom16([16]byte(p[1:17]))
		a.Port = binary.BigEndian.Uint16(p[17:])
		return a, p[19:], nil
	case AddrDomain:
		if len(p) < 2 {
			return Addr{}, nil, fmt.Errorf("%w: no name length", ErrShortPacket)
		}
		n := int(p[1])
		if len(p) < 2+n+2 {
			return Addr{}, nil, fmt.Errorf("%w: name of %d bytes and port, have %d", ErrShortPacket, n, len(p)-2)
		}
		if err := checkName(p[2 : 2+n]); err != nil {
			return Addr{}, nil, err
		}
		a.Name = string(p[2 : 2+n])
		a.Port = binary.BigEndian.Uint16(p[2+n:])
		return a, p[2+n+2:], nil
	default:
		return Addr{}, nil, fmt.Errorf("%w: 0x%02x", ErrAddrType, uint8(t))
	}
}

// appendAddr appends ATYP, ADDR and PORT. An invalid IP with no name is
// written as 0.0.0.0, which RFC 1928 replies use for "no address".
func appendAddr(b []byte, a Addr) ([]byte, error) {
	switch {
	case a.Name != "":
		if err := checkName([]byte(a.Name)); err != nil {
			return b, err
		}
		b = append(b, byte(AddrDomain), byte(len(a.Name)))
		b = append(b, a.Name...)
	case a.IP.Is4() || a.IP.Is4In6():
		ip4 := a.IP.Unmap().As4()
		b = append(b, byte(AddrIPv4))
		b = append(b, ip4[:]...)
	case a.IP.Is6():
		ip16 := a.IP.As16()
		b = append(b, byte(AddrIPv6))
		b = append(b, ip16[:]...)
	default:
		b = append(b, byte(AddrIPv4), 0, 0, 0, 0)
	}
	return binary.BigEndian.AppendUint16(b, a.Port), nil
}

// noEOF turns a clean EOF inside a message into ErrUnexpectedEOF: once a
// message has begun, running out of bytes is a truncation.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
