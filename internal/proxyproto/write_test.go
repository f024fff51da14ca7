package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestAppendV1RoundTrips(t *testing.T) {
	cases := []struct {
		desc     string
		src, dst netip.AddrPort
		line     string
		want     Header // what Read returns
	}{
		{
			desc: "IPv4", src: ap("192.0.2.1:56324"), dst: ap("198.51.100.7:443"),
			line: "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET, Transport: Stream, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
		},
		{
			desc: "IPv6", src: ap("[2001:db8::1]:1"), dst: ap("[2001:db8::2]:65535"),
			line: "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:65535")},
		},
		{
			desc: "IPv4-mapped addresses are written as IPv4", src: ap("[::ffff:192.0.2.1]:80"), dst: ap("[::ffff:127.0.0.1]:8080"),
			line: "PROXY TCP4 192.0.2.1 127.0.0.1 80 8080\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET, Transport: Stream, Source: ap("192.0.2.1:80"), Destination: ap("127.0.0.1:8080")},
		},
		{
			desc: "mixed families are written as IPv6", src: ap("192.0.2.1:80"), dst: ap("[2001:db8::2]:443"),
			line: "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 80 443\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[::ffff:192.0.2.1]:80"), Destination: ap("[2001:db8::2]:443")},
		},
		{
			desc: "zones are dropped", src: ap("[fe80::1%eth0]:80"), dst: ap("[fe80::2%eth0]:443"),
			line: "PROXY TCP6 fe80::1 fe80::2 80 443\r\n",
			want: Header{Version: V1, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[fe80::1]:80"), Destination: ap("[fe80::2]:443")},
		},
		{
			desc: "invalid source is UNKNOWN", dst: ap("192.0.2.1:80"),
			line: "PROXY UNKNOWN\r\n",
			want: Header{Version: V1, Command: Proxy},
		},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			b := AppendV1([]byte("prefix"), tc.src, tc.dst)
			if got := string(b[len("prefix"):]); got != tc.line {
				t.Fatalf("AppendV1 = %q, want %q", got, tc.line)
			}
			h, err := Read(bufio.NewReader(strings.NewReader(tc.line)))
			if err != nil || !equalHeaders(h, tc.want) {
				t.Fatalf("Read = %+v, %v\nwant   %+v", h, err, tc.want)
			}
		})
	}
}

func TestAppendV2RoundTrips(t *testing.T) {
	ssl := SSL{Client: ClientSSL, Verify: 1, Version: "TLSv1.2", Cipher: "ECDHE-RSA-AES128-GCM-SHA256"}
	cases := []struct {
		desc string
		in   Header
		want Header
	}{
		{
			desc: "TCP over IPv4",
			in:   Header{Command: Proxy, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
			want: Header{Version: V2, Command: Proxy, Family: INET, Transport: Stream, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
		},
		{
			desc: "UDP over IPv6",
			in:   Header{Command: Proxy, Transport: Datagram, Source: ap("[2001:db8::1]:53"), Destination: ap("[2001:db8::2]:5353")},
			want: Header{Version: V2, Command: Proxy, Family: INET6, Transport: Datagram, Source: ap("[2001:db8::1]:53"), Destination: ap("[2001:db8::2]:5353")},
		},
		{
			desc: "mixed families as IPv6",
			in:   Header{Command: Proxy, Source: ap("192.0.2.1:1"), Destination: ap("[::1]:2")},
			want: Header{Version: V2, Command: Proxy, Family: INET6, Transport: Stream, Source: ap("[::ffff:192.0.2.1]:1"), Destination: ap("[::1]:2")},
		},
		{
			desc: "LOCAL drops the addresses",
			in:   Header{Command: Local, Source: ap("192.0.2.1:1"), Destination: ap("192.0.2.2:2")},
			want: Header{Version: V2, Command: Local},
		},
		{
			desc: "PROXY without addresses is UNSPEC",
			in:   Header{Command: Proxy},
			want: Header{Version: V2, Command: Proxy},
		},
		{
			desc: "TLVs, SSL and a checksum",
			in: Header{Command: Proxy, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443"), TLVs: []TLV{
				{TypeALPN, []byte("h2")}, {TypeAuthority, []byte("example.com")}, ssl.TLV(), {TypeCRC32C, nil},
				{TypeNoop, make([]byte, 3)}, {TypeUniqueID, bytes.Repeat([]byte{7}, 128)},
			}},
			want: Header{Version: V2, Command: Proxy, Family: INET, Transport: Stream, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			b, err := AppendV2([]byte("prefix"), tc.in)
			if err != nil {
				t.Fatalf("AppendV2: %v", err)
			}
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("AppendV2 lost the prefix: %q", b)
			}
			b = b[len("prefix"):]
			h, err := Read(bufio.NewReader(bytes.NewReader(append(b, "after"...))))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			want := tc.want
			for _, v := range tc.in.TLVs {
				if v.Type == TypeCRC32C {
					v.Value, _ = h.TLV(TypeCRC32C) // filled by the writer, checked by Read
				}
				want.TLVs = append(want.TLVs, v)
			}
			if !equalHeaders(h, want) {
				t.Errorf("Read = %+v\nwant   %+v", h, want)
			}
			if got, ok := h.SSL(); len(tc.in.TLVs) > 0 && (!ok || got != ssl) {
				t.Errorf("SSL = %+v, %v, want %+v", got, ok, ssl)
			}
		})
	}
}

func TestAppendV2RefusesWhatParseWouldRefuse(t *testing.T) {
	addrs := Header{Command: Proxy, Source: ap("192.0.2.1:1"), Destination: ap("192.0.2.2:2")}
	with := func(t ...TLV) Header { h := addrs; h.TLVs = t; return h }
	cases := []struct {
		desc string
		in   Header
		msg  string
	}{
		{desc: "command 2", in: Header{Command: 2}, msg: "command"},
		{desc: "transport 3", in: Header{Command: Proxy, Transport: 3}, msg: "transport"},
		{desc: "authority not UTF-8", in: with(TLV{TypeAuthority, []byte{0xff}}), msg: "UTF-8"},
		{desc: "unique ID too long", in: with(TLV{TypeUniqueID, make([]byte, 129)}), msg: "129 bytes"},
		{desc: "SSL too short", in: with(TLV{TypeSSL, []byte{1}}), msg: "SSL"},
		{desc: "CRC of 2 bytes", in: with(TLV{TypeCRC32C, []byte{1, 2}}), msg: "want 0 or 4"},
		{desc: "one TLV over 65535", in: with(TLV{0xE0, make([]byte, 0x10000)}), msg: "over 65535"},
		{desc: "TLVs over 65535 together", in: with(TLV{0xE0, make([]byte, 0xFFF0)}, TLV{0xE1, make([]byte, 100)}), msg: "at most 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			b, err := AppendV2([]byte("keep"), tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("AppendV2 error = %v, want one saying %q", err, tc.msg)
			}
			if string(b) != "keep" {
				t.Errorf("AppendV2 changed b on error: %q", b)
			}
		})
	}
}

// The longest header the length field allows is written and read back,
// through a bufio.Reader much smaller than it.
func TestLongestV2HeaderRoundTripsThroughASmallReader(t *testing.T) {
	h := Header{Command: Proxy, Source: ap("192.0.2.1:1"), Destination: ap("192.0.2.2:2"),
		TLVs: []TLV{{0xE0, bytes.Repeat([]byte{'x'}, 0xFFFF-12-3)}}}
	b, err := AppendV2(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxLen {
		t.Fatalf("header of %d bytes, want %d", len(b), MaxLen)
	}
	r := bufio.NewReaderSize(bytes.NewReader(append(b, "rest"...)), 16)
	got, err := Read(r)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(got.TLVs) != 1 || !bytes.Equal(got.TLVs[0].Value, h.TLVs[0].Value) {
		t.Errorf("TLV lost on the way")
	}
	if rest, _ := r.Peek(4); string(rest) != "rest" {
		t.Errorf("after the header: %q, want %q", rest, "rest")
	}
}

func TestAppendDoesNotAllocateIntoRoom(t *testing.T) {
	src, dst := ap("[2001:db8::1]:56324"), ap("[2001:db8::2]:443")
	buf := make([]byte, 0, 128)
	if a := testing.AllocsPerRun(100, func() { _ = AppendV1(buf[:0], src, dst) }); a != 0 {
		t.Errorf("AppendV1: %v allocations", a)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = AppendV2(buf[:0], Header{Command: Proxy, Source: src, Destination: dst}) }); a != 0 {
		t.Errorf("AppendV2: %v allocations", a)
	}
}

func TestReadLeavesTheBytesAfterTheHeader(t *testing.T) {
	cases := []struct {
		desc string
		hdr  string
		size int // of the bufio.Reader
	}{
		{desc: "v1 in a default reader", hdr: "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", size: 4096},
		{desc: "v1 in a 16-byte reader", hdr: "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n", size: 16},
		{desc: "v2 in a default reader", hdr: string(v2raw(0x21, 0x11, inet4, tlv(TypeALPN, "h2"))), size: 4096},
		{desc: "v2 in a 16-byte reader", hdr: string(v2raw(0x21, 0x21, inet6, tlv(TypeALPN, "h2"))), size: 16},
	}
	const after = "\x16\x03\x01 the client's own bytes"
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			// One byte per Read: the reader must still find the header's end.
			r := bufio.NewReaderSize(&oneByteReader{s: tc.hdr + after}, tc.size)
			if _, err := Read(r); err != nil {
				t.Fatalf("Read: %v", err)
			}
			rest := make([]byte, len(after)+1)
			n, _ := r.Read(rest)
			for n < len(after) {
				m, err := r.Read(rest[n:])
				if err != nil {
					break
				}
				n += m
			}
			if string(rest[:n]) != after {
				t.Errorf("after the header: %q, want %q", rest[:n], after)
			}
		})
	}
}

// oneByteReader returns its string one byte per Read.
type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.s) == 0 {
		return 0, errors.New("end")
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

func TestReadCopiesTLVsOutOfTheReader(t *testing.T) {
	r := bufio.NewReader(bytes.NewReader(append(v2raw(0x21, 0x11, inet4, tlv(TypeAuthority, "example.com")), "next bytes"...)))
	h, err := Read(r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = r.Read(make([]byte, 100)) // overwrite whatever the reader holds
	r.Reset(bytes.NewReader(bytes.Repeat([]byte{'z'}, 4096)))
	_, _ = r.Peek(4096)
	if h.Authority() != "example.com" {
		t.Errorf("authority = %q after the reader moved on", h.Authority())
	}
}

func TestReadReportsTruncatedHeaders(t *testing.T) {
	cases := []struct {
		desc string
		in   string
		want error
		msg  string
	}{
		{desc: "nothing", in: "", want: ErrIncomplete, msg: "after 0 bytes: EOF"},
		{desc: "half a v1 line", in: "PROXY TCP4 1.2.3.4", want: ErrIncomplete, msg: "after 18 bytes: unexpected EOF"},
		{desc: "v2 fixed part only", in: string(v2raw(0x21, 0x11, inet4)[:16]), want: ErrIncomplete, msg: "after 16 bytes"},
		{desc: "v2 signature cut", in: string(v2Sig[:7]), want: ErrIncomplete, msg: "after 7 bytes"},
		{desc: "no header: nothing consumed", in: "GET / HTTP/1.1\r\n", want: ErrNoHeader},
		{desc: "junk after the signature", in: "PROXY TCP4 1.2.3.4 1.2.3.4 1 99999\r\n", want: ErrInvalid, msg: "above 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.in))
			_, err := Read(r)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Read = %v, want %v saying %q", err, tc.want, tc.msg)
			}
			if tc.want == ErrNoHeader {
				if b, _ := r.Peek(len(tc.in)); string(b) != tc.in {
					t.Errorf("Read consumed bytes: %q left", b)
				}
			}
		})
	}
}
