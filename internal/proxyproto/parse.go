package proxyproto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// v1Sig is what a version 1 header starts with. The spec (§2.2) tells the
// versions apart on these five bytes; the space that follows is checked as
// part of the line.
const v1Sig = "PROXY"

// v2Sig is the 12-byte signature of a version 2 header (spec §2.2). Its
// NUL and bare CR/LF make it fail fast on HTTP, TLS and other protocols.
var v2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

const (
	// v1MaxLen is the longest version 1 line, CRLF included: "PROXY
	// UNKNOWN" followed by two full IPv6 addresses and ports (spec §2.1).
	v1MaxLen = 107
	// v2FixedLen is a version 2 header's fixed part: signature,
	// version/command, family/transport, length.
	v2FixedLen = 16
	// MaxLen is the longest header: a version 2 header whose length field
	// is 0xFFFF.
	MaxLen = v2FixedLen + 0xFFFF
)

// signature reports which version's signature b starts with, and whether
// b is too short to tell (a proper prefix of a signature, or empty).
func signature(b []byte) (v Version, more bool) {
	if len(b) == 0 {
		return 0, true
	}
	switch b[0] {
	case v1Sig[0]:
		n := min(len(b), len(v1Sig))
		if string(b[:n]) != v1Sig[:n] {
			return 0, false
		}
		return V1, n < len(v1Sig)
	case v2Sig[0]:
		n := min(len(b), len(v2Sig))
		if !bytes.Equal(b[:n], v2Sig[:n]) {
			return 0, false
		}
		return V2, n < len(v2Sig)
	}
	return 0, false
}

// Parse parses the header at the start of b and returns it with its length
// in bytes; the bytes after it are never looked at. TLV values alias b.
//
// When b holds a proper prefix of what may still become a valid header,
// Parse returns ErrIncomplete and, as n, how many bytes it needs to go
// further. That count never reaches past the end of the header, so a
// reader that waits for n bytes never waits for the client's own protocol.
// Without a signature Parse returns ErrNoHeader; with a signature followed
// by anything the spec does not allow, an error wrapping ErrInvalid that
// says what is wrong, as soon as the bytes that show it have arrived.
func Parse(b []byte) (h Header, n int, err error) {
	v, more := signature(b)
	switch {
	case v == 0 && !more:
		return Header{}, 0, ErrNoHeader
	case more && v == V2:
		return Header{}, v2FixedLen, ErrIncomplete
	case more:
		return Header{}, max(len(b)+1, len(v1Sig)), ErrIncomplete
	case v == V1:
		return parseV1(b)
	}
	return parseV2(b)
}

// parseV1 parses a version 1 line (spec §2.1): "PROXY TCP4 src dst sport
// dport\r\n", the same with TCP6, or "PROXY UNKNOWN" and anything up to
// the CRLF.
func parseV1(b []byte) (Header, int, error) {
	if len(b) > len(v1Sig) && b[len(v1Sig)] != ' ' {
		return Header{}, 0, fmt.Errorf("%w: v1: want a space after PROXY, got %q", ErrInvalid, b[len(v1Sig)])
	}
	end := bytes.IndexByte(b[:min(len(b), v1MaxLen)], '\n')
	if end < 0 {
		if len(b) >= v1MaxLen {
			return Header{}, 0, fmt.Errorf("%w: v1: no CRLF within %d bytes", ErrInvalid, v1MaxLen)
		}
		return Header{}, len(b) + 1, ErrIncomplete
	}
	// The spec forbids ending the line on a lone LF.
	if b[end-1] != '\r' {
		return Header{}, 0, fmt.Errorf("%w: v1: line ends in a bare LF at byte %d", ErrInvalid, end)
	}
	n := end + 1
	rest := b[len(v1Sig)+1 : end-1]
	proto, addrs, hasAddrs := bytes.Cut(rest, []byte{' '})
	var fam Family
	switch string(proto) {
	case "UNKNOWN":
		// The receiver must ignore whatever follows UNKNOWN up to the CRLF
		// and use the real endpoints.
		return Header{Version: V1, Command: Proxy}, n, nil
	case "TCP4":
		fam = INET
	case "TCP6":
		fam = INET6
	default:
		return Header{}, 0, fmt.Errorf("%w: v1: unknown protocol %q (want TCP4, TCP6 or UNKNOWN)", ErrInvalid, proto)
	}
	if !hasAddrs {
		return Header{}, 0, fmt.Errorf("%w: v1: %s without addresses", ErrInvalid, proto)
	}
	// Exactly one space between fields: an empty field is an error.
	var f [4][]byte
	for i := range 3 {
		j := bytes.IndexByte(addrs, ' ')
		if j < 0 {
			return Header{}, 0, fmt.Errorf("%w: v1: %s line has %d fields after the protocol, want 4", ErrInvalid, proto, i+1)
		}
		f[i], addrs = addrs[:j], addrs[j+1:]
	}
	if bytes.IndexByte(addrs, ' ') >= 0 {
		return Header{}, 0, fmt.Errorf("%w: v1: %s line has more than 4 fields after the protocol", ErrInvalid, proto)
	}
	f[3] = addrs
	src, err := parseV1Addr(f[0], fam, "source")
	if err != nil {
		return Header{}, 0, err
	}
	dst, err := parseV1Addr(f[1], fam, "destination")
	if err != nil {
		return Header{}, 0, err
	}
	sport, err := parsePort(f[2], "source")
	if err != nil {
		return Header{}, 0, err
	}
	dport, err := parsePort(f[3], "destination")
	if err != nil {
		return Header{}, 0, err
	}
	return Header{
		Version:     V1,
		Command:     Proxy,
		Family:      fam,
		Transport:   Stream,
		Source:      netip.AddrPortFrom(src, sport),
		Destination: netip.AddrPortFrom(dst, dport),
	}, n, nil
}

// parseV1Addr parses a version 1 address of the family the line announced.
func parseV1Addr(b []byte, fam Family, which string) (netip.Addr, error) {
	if fam == INET {
		if a, ok := parseIPv4(b); ok {
			return a, nil
		}
		if a, err := netip.ParseAddr(string(b)); err == nil && a.Is6() {
			return netip.Addr{}, fmt.Errorf("%w: v1: TCP4 %s address %q is IPv6", ErrInvalid, which, b)
		}
		return netip.Addr{}, fmt.Errorf("%w: v1: TCP4 %s address %q is not a dotted-quad IPv4 address without leading zeros", ErrInvalid, which, b)
	}
	// A dotted quad has no colon; every IPv6 form has one. The check keeps
	// the allocation of string(b) off lines with a wrong family.
	if bytes.IndexByte(b, ':') < 0 {
		return netip.Addr{}, fmt.Errorf("%w: v1: TCP6 %s address %q is not IPv6", ErrInvalid, which, b)
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || !a.Is6() {
		return netip.Addr{}, fmt.Errorf("%w: v1: TCP6 %s address %q is not an IPv6 address", ErrInvalid, which, b)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: v1: TCP6 %s address %q has a zone", ErrInvalid, which, b)
	}
	return a, nil
}

// parseIPv4 parses exactly four decimal numbers in [0, 255] separated by
// dots, refusing leading zeros as the spec (§2.1) does against octal
// confusion. It does not allocate.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var a [4]byte
	i := 0
	for k := range a {
		if k > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		start, v := i, 0
		for i < len(b) && i-start < 3 && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + int(b[i]-'0')
			i++
		}
		digits := i - start
		if digits == 0 || v > 255 || (digits > 1 && b[start] == '0') {
			return netip.Addr{}, false
		}
		a[k] = byte(v)
	}
	return netip.AddrFrom4(a), i == len(b)
}

// parsePort parses a decimal port in [0, 65535] without leading zeros
// (spec §2.1).
func parsePort(b []byte, which string) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, fmt.Errorf("%w: v1: %s port %q is not a decimal number in [0, 65535] without leading zeros", ErrInvalid, which, b)
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: v1: %s port %q is not a decimal number", ErrInvalid, which, b)
		}
		v = v*10 + int(c-'0')
	}
	if v > 0xFFFF {
		return 0, fmt.Errorf("%w: v1: %s port %d is above 65535", ErrInvalid, which, v)
	}
	return uint16(v), nil
}

// addrLen is the size of a version 2 address block by family (spec §2.2).
var addrLen = [...]int{Unspec: 0, INET: 12, INET6: 36, Unix: 216}

// parseV2 parses a version 2 header (spec §2.2); b starts with the
// 12-byte signature.
func parseV2(b []byte) (Header, int, error) {
	if len(b) < v2FixedLen {
		return Header{}, v2FixedLen, ErrIncomplete
	}
	if ver := b[12] >> 4; ver != 2 {
		return Header{}, 0, fmt.Errorf("%w: v2: version %d after the signature, want 2", ErrInvalid, ver)
	}
	cmd := Command(b[12] & 0xF)
	if cmd != Local && cmd != Proxy {
		return Header{}, 0, fmt.Errorf("%w: v2: unassigned command %#x", ErrInvalid, uint8(cmd))
	}
	// Receivers must reject every family/transport byte outside the
	// spec's list.
	switch b[13] {
	case 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32:
	default:
		return Header{}, 0, fmt.Errorf("%w: v2: family and transport byte %#02x is not one the spec defines", ErrInvalid, b[13])
	}
	fam, tr := Family(b[13]>>4), Transport(b[13]&0xF)
	total := v2FixedLen + int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) < total {
		return Header{}, total, ErrIncomplete
	}
	hdr := b[:total]
	block := hdr[v2FixedLen:]
	if len(block) < addrLen[fam] {
		return Header{}, 0, fmt.Errorf("%w: v2: %d-byte address block is shorter than the %d bytes of %s", ErrInvalid, len(block), addrLen[fam], fam)
	}
	h := Header{Version: V2, Command: cmd, Family: fam, Transport: tr}
	switch fam {
	case INET:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(block[0:4])), binary.BigEndian.Uint16(block[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(block[4:8])), binary.BigEndian.Uint16(block[10:12]))
	case INET6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(block[0:16])), binary.BigEndian.Uint16(block[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(block[16:32])), binary.BigEndian.Uint16(block[34:36]))
	}
	tlvs, err := parseTLVs(hdr, v2FixedLen+addrLen[fam])
	if err != nil {
		return Header{}, 0, err
	}
	h.TLVs = tlvs
	return h, total, nil
}
