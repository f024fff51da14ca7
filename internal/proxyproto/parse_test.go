package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// v2raw builds a version 2 header by hand: signature, the 13th and 14th
// bytes as given, the length of body, then body.
func v2raw(verCmd, fam byte, body ...[]byte) []byte {
	b := append([]byte(nil), v2Sig[:]...)
	all := bytes.Join(body, nil)
	b = append(b, verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(all)))
	return append(b, all...)
}

// tlv encodes one TLV by hand.
func tlv(t TLVType, v string) []byte {
	b := []byte{byte(t)}
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// inet4 is a version 2 INET address block: 192.0.2.1:56324 → 198.51.100.7:443.
var inet4 = []byte{192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb}

// inet6 is a version 2 INET6 address block: [2001:db8::1]:56324 → [2001:db8::2]:443.
var inet6 = func() []byte {
	s, d := netip.MustParseAddr("2001:db8::1").As16(), netip.MustParseAddr("2001:db8::2").As16()
	b := append(s[:], d[:]...)
	return append(b, 0xdc, 0x04, 0x01, 0xbb)
}()

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseAcceptsEveryForm(t *testing.T) {
	ssl := SSL{Client: ClientSSL | ClientCertConn, Verify: 0, Version: "TLSv1.3", CN: "alice", Cipher: "TLS_AES_128_GCM_SHA256", SigAlg: "RSA-SHA256", KeyAlg: "RSA2048"}
	cases := []struct {
		desc  string
		in    string
		want  Header
		check func(t *testing.T, h Header)
	}{
		{
			desc: "v1 TCP4",
			in:   "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET, Transport: Stream, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
		},
		{
			desc: "v1 TCP4 longest",
			in:   "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET, Transport: Stream, Source: ap("255.255.255.255:65535"), Destination: ap("255.255.255.255:65535")},
		},
		{
			desc: "v1 TCP4 zeros",
			in:   "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET, Transport: Stream, Source: ap("0.0.0.0:0"), Destination: ap("0.0.0.0:0")},
		},
		{
			desc: "v1 TCP6",
			in:   "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[2001:db8::1]:56324"), Destination: ap("[2001:db8::2]:443")},
		},
		{
			desc: "v1 TCP6 longest, upper case",
			in:   "PROXY TCP6 FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Destination: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")},
		},
		{
			desc: "v1 TCP6 IPv4-mapped",
			in:   "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[::ffff:192.0.2.1]:1"), Destination: ap("[::1]:2")},
		},
		{
			desc: "v1 UNKNOWN short",
			in:   "PROXY UNKNOWN\r\n",
			want: Header{Version: V1, Command: Proxy},
		},
		{
			desc: "v1 UNKNOWN with ignored addresses, 107 bytes",
			in:   "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			want: Header{Version: V1, Command: Proxy},
		},
		{
			desc: "v1 UNKNOWN with junk, ignored as the spec says",
			in:   "PROXY UNKNOWN what\x00ever\r\n",
			want: Header{Version: V1, Command: Proxy},
		},
		{
			desc: "v2 PROXY TCP over IPv4",
			in:   string(v2raw(0x21, 0x11, inet4)),
			want: Header{Version: V2, Command: Proxy, Family: INET, Transport: Stream, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
		},
		{
			desc: "v2 PROXY UDP over IPv4",
			in:   string(v2raw(0x21, 0x12, inet4)),
			want: Header{Version: V2, Command: Proxy, Family: INET, Transport: Datagram, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
		},
		{
			desc: "v2 PROXY TCP over IPv6",
			in:   string(v2raw(0x21, 0x21, inet6)),
			want: Header{Version: V2, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[2001:db8::1]:56324"), Destination: ap("[2001:db8::2]:443")},
		},
		{
			desc: "v2 PROXY UDP over IPv6",
			in:   string(v2raw(0x21, 0x22, inet6)),
			want: Header{Version: V2, Command: Proxy, Family: INET6, Transport: Datagram, Source: ap("[2001:db8::1]:56324"), Destination: ap("[2001:db8::2]:443")},
		},
		{
			desc: "v2 PROXY UNIX stream: addresses skipped",
			in:   string(v2raw(0x21, 0x31, make([]byte, 216))),
			want: Header{Version: V2, Command: Proxy, Family: Unix, Transport: Stream},
		},
		{
			desc: "v2 PROXY UNIX datagram",
			in:   string(v2raw(0x21, 0x32, make([]byte, 216))),
			want: Header{Version: V2, Command: Proxy, Family: Unix, Transport: Datagram},
		},
		{
			desc: "v2 PROXY UNSPEC: unknown protocol",
			in:   string(v2raw(0x21, 0x00)),
			want: Header{Version: V2, Command: Proxy},
		},
		{
			desc: "v2 LOCAL health check",
			in:   string(v2raw(0x20, 0x00)),
			want: Header{Version: V2, Command: Local},
		},
		{
			desc: "v2 LOCAL with addresses, which the receiver ignores",
			in:   string(v2raw(0x20, 0x11, inet4)),
			want: Header{Version: V2, Command: Local, Family: INET, Transport: Stream, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
		},
		{
			desc: "v2 LOCAL UNSPEC with a TLV after the empty address block",
			in:   string(v2raw(0x20, 0x00, tlv(TypeUniqueID, "hc-1"))),
			want: Header{Version: V2, Command: Local, TLVs: []TLV{{TypeUniqueID, []byte("hc-1")}}},
		},
		{
			desc: "v2 TLVs: ALPN, authority, unique ID, NOOP, NETNS, custom",
			in: string(v2raw(0x21, 0x11, inet4, tlv(TypeALPN, "h2"), tlv(TypeAuthority, "example.com"),
				tlv(TypeUniqueID, strings.Repeat("u", 128)), tlv(TypeNoop, ""), tlv(TypeNetNS, "blue"), tlv(0xEA, "vpce-0123"))),
			want: Header{Version: V2, Command: Proxy, Family: INET, Transport: Stream, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443"),
				TLVs: []TLV{{TypeALPN, []byte("h2")}, {TypeAuthority, []byte("example.com")}, {TypeUniqueID, []byte(strings.Repeat("u", 128))},
					{TypeNoop, []byte{}}, {TypeNetNS, []byte("blue")}, {0xEA, []byte("vpce-0123")}}},
			check: func(t *testing.T, h Header) {
				if string(h.ALPN()) != "h2" || h.Authority() != "example.com" || len(h.UniqueID()) != 128 {
					t.Errorf("ALPN %q, Authority %q, UniqueID %d bytes", h.ALPN(), h.Authority(), len(h.UniqueID()))
				}
				if v, ok := h.TLV(0xEA); !ok || string(v) != "vpce-0123" {
					t.Errorf("custom TLV = %q, %v", v, ok)
				}
				if _, ok := h.SSL(); ok {
					t.Error("SSL() found a TLV that is not there")
				}
			},
		},
		{
			desc: "v2 SSL TLV with every subtype and an unknown one",
			in:   string(v2raw(0x21, 0x21, inet6, sslTLVWithExtra(ssl))),
			check: func(t *testing.T, h Header) {
				got, ok := h.SSL()
				if !ok || got != ssl {
					t.Errorf("SSL() = %+v, %v, want %+v", got, ok, ssl)
				}
				if !got.Verified() {
					t.Error("a verified client certificate is not Verified")
				}
			},
		},
		{
			desc: "v2 SSL TLV without sub-TLVs, client without certificate",
			in:   string(v2raw(0x21, 0x11, inet4, tlv(TypeSSL, "\x01\x00\x00\x00\x00"))),
			check: func(t *testing.T, h Header) {
				got, ok := h.SSL()
				if !ok || got != (SSL{Client: ClientSSL}) || got.Verified() {
					t.Errorf("SSL() = %+v, %v; Verified %v", got, ok, got.Verified())
				}
			},
		},
		{
			desc: "v2 with a correct CRC32C",
			in:   string(withCRC(v2raw(0x21, 0x11, inet4, tlv(TypeALPN, "h2"), tlv(TypeCRC32C, "\x00\x00\x00\x00")))),
		},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			// What follows the header must be left alone.
			const tail = "GET / HTTP/1.1\r\n\r\n"
			h, n, err := Parse([]byte(tc.in + tail))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tc.in) {
				t.Errorf("n = %d, want %d", n, len(tc.in))
			}
			if tc.want.Version != 0 && !equalHeaders(h, tc.want) {
				t.Errorf("header = %+v\nwant     %+v", h, tc.want)
			}
			if tc.check != nil {
				tc.check(t, h)
			}
		})
	}
}

// sslTLVWithExtra is s's TLV with an unknown subtype appended, which
// parsing must skip.
func sslTLVWithExtra(s SSL) []byte {
	v := append(s.TLV().Value, tlv(0x2f, "future")...)
	return tlv(TypeSSL, string(v))
}

// withCRC fills the checksum of a header whose last TLV is a CRC32C.
func withCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[len(b)-4:], checksum(b, len(b)-4))
	return b
}

func equalHeaders(a, b Header) bool {
	return a.Version == b.Version && a.Command == b.Command && a.Family == b.Family && a.Transport == b.Transport &&
		a.Source == b.Source && a.Destination == b.Destination &&
		slices.EqualFunc(a.TLVs, b.TLVs, func(x, y TLV) bool { return x.Type == y.Type && bytes.Equal(x.Value, y.Value) })
}

func TestParseRefusesMalformedHeaders(t *testing.T) {
	badCRC := withCRC(v2raw(0x21, 0x11, inet4, tlv(TypeCRC32C, "\x00\x00\x00\x00")))
	badCRC[16] ^= 1 // the source address changed after summing
	cases := []struct {
		desc string
		in   string
		want error
		msg  string // a part of the error message
	}{
		{desc: "HTTP request", in: "GET / HTTP/1.1\r\n", want: ErrNoHeader},
		{desc: "TLS record", in: "\x16\x03\x01\x02\x00", want: ErrNoHeader},
		{desc: "SOCKS5 greeting", in: "\x05\x01\x00", want: ErrNoHeader},
		{desc: "looks like PROXY but is not", in: "PROXZ TCP4", want: ErrNoHeader},
		{desc: "CRLF then HTTP", in: "\r\nGET / HTTP/1.1\r\n", want: ErrNoHeader},
		{desc: "v2 signature with one wrong byte", in: "\r\n\r\n\x00\r\nQUIT\r", want: ErrNoHeader},

		{desc: "v1 without the space", in: "PROXY\r\n", want: ErrInvalid, msg: "space after PROXY"},
		{desc: "v1 lower case", in: "PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "unknown protocol"},
		{desc: "v1 TCP5", in: "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: `"TCP5"`},
		{desc: "v1 UNKNOWNX", in: "PROXY UNKNOWNX\r\n", want: ErrInvalid, msg: "unknown protocol"},
		{desc: "v1 empty protocol", in: "PROXY \r\n", want: ErrInvalid, msg: "unknown protocol"},
		{desc: "v1 bare LF", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", want: ErrInvalid, msg: "bare LF"},
		{desc: "v1 bare LF after UNKNOWN", in: "PROXY UNKNOWN\n", want: ErrInvalid, msg: "bare LF"},
		{desc: "v1 bare CR", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r" + strings.Repeat("x", 80), want: ErrInvalid, msg: "no CRLF within 107"},
		{desc: "v1 too long", in: "PROXY UNKNOWN " + strings.Repeat("f", 92) + "\r\n", want: ErrInvalid, msg: "no CRLF within 107"},
		{desc: "v1 TCP4 without addresses", in: "PROXY TCP4\r\n", want: ErrInvalid, msg: "without addresses"},
		{desc: "v1 three fields", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", want: ErrInvalid, msg: "has 3 fields"},
		{desc: "v1 five fields", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", want: ErrInvalid, msg: "more than 4 fields"},
		{desc: "v1 double space", in: "PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "more than 4 fields"},
		{desc: "v1 empty field", in: "PROXY TCP4  1.2.3.4 1 2\r\n", want: ErrInvalid, msg: `source address ""`},
		{desc: "v1 trailing space", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", want: ErrInvalid, msg: "more than 4 fields"},
		{desc: "v1 tab for a space", in: "PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "fields"},
		{desc: "v1 TCP4 with IPv6 source", in: "PROXY TCP4 ::1 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: `source address "::1" is IPv6`},
		{desc: "v1 TCP4 with IPv6 destination", in: "PROXY TCP4 1.2.3.4 2001:db8::1 1 2\r\n", want: ErrInvalid, msg: "destination address"},
		{desc: "v1 TCP6 with IPv4 source", in: "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", want: ErrInvalid, msg: `TCP6 source address "1.2.3.4" is not IPv6`},
		{desc: "v1 TCP4 leading zero", in: "PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "leading zeros"},
		{desc: "v1 TCP4 octet over 255", in: "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "1.2.3.256"},
		{desc: "v1 TCP4 three octets", in: "PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "1.2.3"},
		{desc: "v1 TCP4 five octets", in: "PROXY TCP4 1.2.3.4.5 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "1.2.3.4.5"},
		{desc: "v1 TCP4 four-digit octet", in: "PROXY TCP4 1000.2.3.4 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "1000.2.3.4"},
		{desc: "v1 TCP4 sign", in: "PROXY TCP4 +1.2.3.4 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "+1.2.3.4"},
		{desc: "v1 TCP4 host name", in: "PROXY TCP4 localhost 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "localhost"},
		{desc: "v1 TCP6 zone", in: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", want: ErrInvalid, msg: "zone"},
		{desc: "v1 TCP6 too many groups", in: "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", want: ErrInvalid, msg: "not an IPv6"},
		{desc: "v1 TCP6 brackets", in: "PROXY TCP6 [::1] ::1 1 2\r\n", want: ErrInvalid, msg: "not an IPv6"},
		{desc: "v1 port over 65535", in: "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", want: ErrInvalid, msg: "above 65535"},
		{desc: "v1 port leading zero", in: "PROXY TCP4 1.2.3.4 1.2.3.4 080 2\r\n", want: ErrInvalid, msg: "leading zeros"},
		{desc: "v1 port six digits", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1 000001\r\n", want: ErrInvalid, msg: "destination port"},
		{desc: "v1 negative port", in: "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n", want: ErrInvalid, msg: "not a decimal"},
		{desc: "v1 port in hex", in: "PROXY TCP4 1.2.3.4 1.2.3.4 0x50 2\r\n", want: ErrInvalid, msg: "port"},
		{desc: "v1 NUL in an address", in: "PROXY TCP4 1.2.3.4\x00 1.2.3.4 1 2\r\n", want: ErrInvalid, msg: "address"},
		{desc: "v1 CR inside the line", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1\r 2\r\n", want: ErrInvalid, msg: "port"},

		{desc: "v2 version 1", in: string(v2raw(0x11, 0x11, inet4)), want: ErrInvalid, msg: "version 1"},
		{desc: "v2 version 3", in: string(v2raw(0x31, 0x11, inet4)), want: ErrInvalid, msg: "version 3"},
		{desc: "v2 command 2", in: string(v2raw(0x22, 0x11, inet4)), want: ErrInvalid, msg: "unassigned command 0x2"},
		{desc: "v2 command 15", in: string(v2raw(0x2f, 0x11, inet4)), want: ErrInvalid, msg: "command 0xf"},
		{desc: "v2 family 4", in: string(v2raw(0x21, 0x41, inet4)), want: ErrInvalid, msg: "0x41"},
		{desc: "v2 transport 3", in: string(v2raw(0x21, 0x13, inet4)), want: ErrInvalid, msg: "0x13"},
		{desc: "v2 INET with UNSPEC transport", in: string(v2raw(0x21, 0x10, inet4)), want: ErrInvalid, msg: "0x10"},
		{desc: "v2 UNSPEC family with STREAM", in: string(v2raw(0x21, 0x01)), want: ErrInvalid, msg: "0x01"},
		{desc: "v2 INET block too short", in: string(v2raw(0x21, 0x11, inet4[:11])), want: ErrInvalid, msg: "11-byte address block is shorter than the 12 bytes of INET"},
		{desc: "v2 INET6 block of INET size", in: string(v2raw(0x21, 0x21, inet4)), want: ErrInvalid, msg: "12-byte address block is shorter than the 36 bytes of INET6"},
		{desc: "v2 UNIX block too short", in: string(v2raw(0x21, 0x31, inet6)), want: ErrInvalid, msg: "216 bytes of UNIX"},
		{desc: "v2 stray byte after addresses", in: string(v2raw(0x21, 0x11, inet4, []byte{1})), want: ErrInvalid, msg: "1 stray bytes"},
		{desc: "v2 stray bytes after a TLV", in: string(v2raw(0x21, 0x11, inet4, tlv(TypeALPN, "h2"), []byte{1, 0})), want: ErrInvalid, msg: "2 stray bytes"},
		{desc: "v2 TLV overruns the header", in: string(v2raw(0x21, 0x11, inet4, []byte{byte(TypeALPN), 0, 5, 'h', '2'})), want: ErrInvalid, msg: "ALPN TLV of 5 bytes overruns its container by 3 bytes"},
		{desc: "v2 authority not UTF-8", in: string(v2raw(0x21, 0x11, inet4, tlv(TypeAuthority, "ex\xffample"))), want: ErrInvalid, msg: "not UTF-8"},
		{desc: "v2 unique ID too long", in: string(v2raw(0x21, 0x11, inet4, tlv(TypeUniqueID, strings.Repeat("u", 129)))), want: ErrInvalid, msg: "129 bytes, at most 128"},
		{desc: "v2 CRC32C of 3 bytes", in: string(v2raw(0x21, 0x11, inet4, tlv(TypeCRC32C, "abc"))), want: ErrInvalid, msg: "CRC32C TLV of 3 bytes"},
		{desc: "v2 CRC32C mismatch", in: string(badCRC), want: ErrInvalid, msg: "CRC32C is"},
		{desc: "v2 SSL TLV too short", in: string(v2raw(0x21, 0x11, inet4, tlv(TypeSSL, "\x01\x00\x00\x00"))), want: ErrInvalid, msg: "SSL TLV of 4 bytes"},
		{desc: "v2 SSL sub-TLV overruns", in: string(v2raw(0x21, 0x11, inet4, tlv(TypeSSL, "\x01\x00\x00\x00\x00\x21\x00\x09TLSv1.3"))), want: ErrInvalid, msg: "in the SSL TLV"},
		{desc: "v2 SSL stray byte", in: string(v2raw(0x21, 0x11, inet4, tlv(TypeSSL, "\x01\x00\x00\x00\x00\x21"))), want: ErrInvalid, msg: "1 stray bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			_, n, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%q) = %d, %v; want %v", tc.in, n, err, tc.want)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

// Every proper prefix of a header is incomplete, never wrong, and asks for
// bytes it does not have yet but never for more than the header: a reader
// that waits for the count never waits for the client's protocol.
func TestParseOnEveryPrefixAsksForMoreWithinTheHeader(t *testing.T) {
	hdrs := []struct {
		desc string
		in   []byte
	}{
		{desc: "v1 TCP4", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")},
		{desc: "v1 TCP6", in: []byte("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n")},
		{desc: "v1 UNKNOWN", in: []byte("PROXY UNKNOWN\r\n")},
		{desc: "v2 LOCAL", in: v2raw(0x20, 0x00)},
		{desc: "v2 TCP4 with TLVs", in: v2raw(0x21, 0x11, inet4, tlv(TypeALPN, "h2"), tlv(TypeAuthority, "example.com"))},
		{desc: "v2 TCP6", in: v2raw(0x21, 0x21, inet6)},
	}
	for _, tc := range hdrs {
		t.Run(tc.desc, func(t *testing.T) {
			for i := range len(tc.in) {
				_, n, err := Parse(tc.in[:i])
				if !errors.Is(err, ErrIncomplete) {
					t.Fatalf("prefix of %d bytes: %v, want ErrIncomplete", i, err)
				}
				if n <= i || n > len(tc.in) {
					t.Fatalf("prefix of %d bytes asks for %d, want in (%d, %d]", i, n, i, len(tc.in))
				}
			}
		})
	}
}

// The spec asks a receiver to abort as soon as the bytes show an anomaly:
// a wrong version or family is refused from the 16th byte on, without
// waiting for the length the header announces.
func TestParseRefusesBadV2FixedPartWithoutWaitingForItsBody(t *testing.T) {
	b := v2raw(0x21, 0x41, make([]byte, 1000))[:v2FixedLen]
	if _, _, err := Parse(b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Parse = %v, want ErrInvalid", err)
	}
	if _, _, err := Parse([]byte("PROXYX")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Parse(PROXYX) = %v, want ErrInvalid", err)
	}
}

func TestParseDoesNotAllocateWithoutTLVs(t *testing.T) {
	cases := []struct {
		desc string
		in   []byte
	}{
		{desc: "v1 TCP4", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")},
		{desc: "v1 UNKNOWN", in: []byte("PROXY UNKNOWN\r\n")},
		{desc: "v2 TCP4", in: v2raw(0x21, 0x11, inet4)},
		{desc: "v2 TCP6", in: v2raw(0x21, 0x21, inet6)},
		{desc: "no header", in: []byte("GET / HTTP/1.1\r\n")},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			if a := testing.AllocsPerRun(100, func() { _, _, _ = Parse(tc.in) }); a != 0 {
				t.Errorf("%v allocations per Parse, want 0", a)
			}
		})
	}
}
