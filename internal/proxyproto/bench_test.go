package proxyproto

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
)

var benchHeaders = []struct {
	desc string
	in   []byte
}{
	{desc: "v1 TCP4", in: []byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n")},
	{desc: "v1 TCP6", in: []byte("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n")},
	{desc: "v2 TCP4", in: v2raw(0x21, 0x11, inet4)},
	{desc: "v2 TCP6 ALPN+authority+CRC", in: withCRC(v2raw(0x21, 0x21, inet6, tlv(TypeALPN, "h2"), tlv(TypeAuthority, "example.com"), tlv(TypeCRC32C, "\x00\x00\x00\x00")))},
}

// BenchmarkParse parses each header form from memory:
//
//	go test -run='^$' -bench='Parse|Read|Append|Accept' -benchmem ./internal/proxyproto
func BenchmarkParse(b *testing.B) {
	for _, tc := range benchHeaders {
		b.Run(tc.desc, func(b *testing.B) {
			b.SetBytes(int64(len(tc.in)))
			b.ReportAllocs()
			for range b.N {
				if _, _, err := Parse(tc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRead reads a header and the first bytes behind it from a
// reset bufio.Reader, as Conn does (TLVs copied out).
func BenchmarkRead(b *testing.B) {
	for _, tc := range benchHeaders {
		b.Run(tc.desc, func(b *testing.B) {
			in := append(append([]byte(nil), tc.in...), "GET / HTTP/1.1\r\n\r\n"...)
			src := bytes.NewReader(in)
			r := bufio.NewReaderSize(src, 4096)
			b.ReportAllocs()
			for range b.N {
				src.Reset(in)
				r.Reset(src)
				if _, err := Read(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	src, dst := ap("[2001:db8::1]:56324"), ap("[2001:db8::2]:443")
	buf := make([]byte, 0, 256)
	b.Run("v1 TCP6", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			buf = AppendV1(buf[:0], src, dst)
		}
	})
	b.Run("v2 TCP6", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			buf, _ = AppendV2(buf[:0], Header{Command: Proxy, Source: src, Destination: dst})
		}
	})
}

// BenchmarkAccept costs one loopback connection per iteration, its first
// bytes read: without the package, and through Accept with each header.
// The difference is what the PROXY protocol adds to a connection.
func BenchmarkAccept(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	const first = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
	opts := Options{Trusted: trustLoopback, Required: true}
	run := func(b *testing.B, hdr []byte, accept func(net.Conn) (net.Conn, error)) {
		msg := append(append([]byte(nil), hdr...), first...)
		buf := make([]byte, len(first))
		b.ReportAllocs()
		for range b.N {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			sc, err := accept(s)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(sc, buf); err != nil {
				b.Fatal(err)
			}
			s.Close()
			c.Close()
		}
	}
	b.Run("plain", func(b *testing.B) {
		run(b, nil, func(c net.Conn) (net.Conn, error) { return c, nil })
	})
	for _, tc := range benchHeaders {
		b.Run(tc.desc, func(b *testing.B) {
			run(b, tc.in, func(c net.Conn) (net.Conn, error) { return Accept(c, opts) })
		})
	}
}
