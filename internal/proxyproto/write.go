package proxyproto

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// pair returns src and dst in the family they can share: both IPv4 when
// both are IPv4 or IPv4-mapped, else both IPv6 (an IPv4 address mapped),
// zones dropped. ok is false when either is invalid.
func pair(src, dst netip.AddrPort) (s, d netip.Addr, fam Family, ok bool) {
	if !src.IsValid() || !dst.IsValid() {
		return netip.Addr{}, netip.Addr{}, Unspec, false
	}
	s, d = src.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	if s.Is4() && d.Is4() {
		return s, d, INET, true
	}
	return netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16()), INET6, true
}

// AppendV1 appends to b the version 1 line (spec §2.1) for a TCP
// connection from src to dst: TCP4 when both addresses are IPv4
// (IPv4-mapped ones count as IPv4), TCP6 otherwise, with an IPv4 address
// written IPv4-mapped. When either is invalid the line is
// "PROXY UNKNOWN\r\n", which tells the receiver to use the real endpoints.
func AppendV1(b []byte, src, dst netip.AddrPort) []byte {
	s, d, fam, ok := pair(src, dst)
	if !ok {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	if fam == INET {
		b = append(b, "PROXY TCP4 "...)
	} else {
		b = append(b, "PROXY TCP6 "...)
	}
	b = s.AppendTo(b)
	b = append(b, ' ')
	b = d.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, '\r', '\n')
}

// AppendV2 appends to b the version 2 header (spec §2.2) that h describes.
// h.Version and h.Family are ignored: the family follows from the
// addresses as in AppendV1, and is UNSPEC (no addresses) for a Local
// command, as the spec asks, or when either address is invalid. The zero
// Transport means Stream. TLVs are written in order and must pass the
// checks Parse applies (an AUTHORITY in UTF-8, a UNIQUE_ID of at most 128
// bytes, a well-formed SSL value); a TypeCRC32C TLV, whose Value must be
// empty or 4 bytes, is written with the header's checksum.
//
// On error b is returned unchanged: a command other than Local or Proxy, a
// Transport it does not know, a bad TLV, or more than 65535 bytes after
// the fixed part.
func AppendV2(b []byte, h Header) ([]byte, error) {
	if h.Command != Local && h.Command != Proxy {
		return b, fmt.Errorf("proxyproto: v2: cannot write command %s", h.Command)
	}
	tr := h.Transport
	switch tr {
	case TransportUnspec:
		tr = Stream
	case Stream, Datagram:
	default:
		return b, fmt.Errorf("proxyproto: v2: cannot write transport %s", tr)
	}
	s, d, fam, ok := pair(h.Source, h.Destination)
	if !ok || h.Command == Local {
		fam, tr = Unspec, TransportUnspec
	}
	start := len(b)
	b = append(b, v2Sig[:]...)
	b = append(b, 0x20|byte(h.Command), byte(fam)<<4|byte(tr), 0, 0)
	switch fam {
	case INET:
		s4, d4 := s.As4(), d.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	case INET6:
		s16, d16 := s.As16(), d.As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	}
	crcAt := -1
	for _, t := range h.TLVs {
		v := t.Value
		if t.Type == TypeCRC32C {
			if len(v) != 0 && len(v) != 4 {
				return b[:start], fmt.Errorf("proxyproto: v2: CRC32C TLV value of %d bytes, want 0 or 4", len(v))
			}
			crcAt = len(b) + 3 - start
			v = []byte{0, 0, 0, 0}
		}
		if len(v) > 0xFFFF {
			return b[:start], fmt.Errorf("proxyproto: v2: %s TLV value of %d bytes is over 65535", t.Type, len(v))
		}
		if err := checkTLV(t.Type, v); err != nil {
			return b[:start], fmt.Errorf("proxyproto: writing: %w", err)
		}
		b = append(b, byte(t.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	hdr := b[start:]
	if l := len(hdr) - v2FixedLen; l > 0xFFFF {
		return b[:start], fmt.Errorf("proxyproto: v2: %d bytes of addresses and TLVs, at most 65535 fit", l)
	}
	binary.BigEndian.PutUint16(hdr[14:16], uint16(len(hdr)-v2FixedLen))
	if crcAt >= 0 {
		binary.BigEndian.PutUint32(hdr[crcAt:], checksum(hdr, crcAt))
	}
	return b, nil
}
