package proxyproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzParseV1 and FuzzParseV2 run the same checks from seed corpora of each
// version's lines (testdata/fuzz/FuzzParseV1, FuzzParseV2).
func FuzzParseV1(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n",
		"PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 1 65535\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		"PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
		"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
		"PROXY",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkParse)
}

func FuzzParseV2(f *testing.F) {
	ssl := SSL{Client: ClientSSL | ClientCertConn, Version: "TLSv1.3", CN: "alice", Cipher: "TLS_AES_128_GCM_SHA256"}
	for _, b := range [][]byte{
		v2raw(0x21, 0x11, inet4),
		v2raw(0x21, 0x21, inet6, tlv(TypeALPN, "h2"), tlv(TypeAuthority, "example.com")),
		v2raw(0x20, 0x00),
		v2raw(0x21, 0x31, make([]byte, 216)),
		v2raw(0x21, 0x12, inet4, tlv(TypeSSL, string(ssl.TLV().Value)), tlv(TypeNoop, "...")),
		withCRC(v2raw(0x21, 0x11, inet4, tlv(TypeUniqueID, "id"), tlv(TypeCRC32C, "\x00\x00\x00\x00"))),
		append(v2raw(0x21, 0x11, inet4), "\x16\x03\x01"...),
		v2raw(0x21, 0x11, inet4)[:15],
	} {
		f.Add(b)
	}
	f.Fuzz(checkParse)
}

// checkParse holds Parse to its contract on any input, and Read to Parse.
func checkParse(t *testing.T, b []byte) {
	h, n, err := Parse(b)
	switch {
	case err == nil:
		if n <= 0 || n > len(b) || n > MaxLen {
			t.Fatalf("header length %d for %d bytes", n, len(b))
		}
		// The header does not depend on the bytes after it.
		h2, n2, err2 := Parse(b[:n])
		if err2 != nil || n2 != n || !equalHeaders(h, h2) {
			t.Fatalf("alone, the header parses to %+v, %d, %v; with what follows to %+v, %d", h2, n2, err2, h, n)
		}
		// Its proper prefixes are incomplete and ask for bytes within it.
		for _, i := range prefixLengths(n) {
			if _, need, err := Parse(b[:i]); !errors.Is(err, ErrIncomplete) || need <= i || need > n {
				t.Fatalf("prefix of %d of %d bytes: need %d, %v", i, n, need, err)
			}
		}
		checkReencode(t, h)
	case errors.Is(err, ErrIncomplete):
		if n <= len(b) || n > MaxLen {
			t.Fatalf("incomplete %d bytes ask for %d", len(b), n)
		}
	case errors.Is(err, ErrNoHeader), errors.Is(err, ErrInvalid):
	default:
		t.Fatalf("Parse error of no known kind: %v", err)
	}

	// Read through a small buffer and one-byte reads agrees with Parse and
	// leaves exactly the bytes after the header.
	r := bufio.NewReaderSize(&oneByteReader{s: string(b)}, 16)
	rh, rerr := Read(r)
	switch {
	case err == nil:
		if rerr != nil || !equalHeaders(h, rh) {
			t.Fatalf("Read = %+v, %v; Parse = %+v", rh, rerr, h)
		}
		rest, _ := io.ReadAll(r)
		if !bytes.Equal(rest, b[n:]) {
			t.Fatalf("Read left %q, want %q", rest, b[n:])
		}
	case errors.Is(err, ErrIncomplete):
		if !errors.Is(rerr, ErrIncomplete) {
			t.Fatalf("Read = %v on a truncated header", rerr)
		}
	case !errors.Is(rerr, errKind(err)):
		t.Fatalf("Read = %v, Parse = %v", rerr, err)
	}
}

func errKind(err error) error {
	if errors.Is(err, ErrNoHeader) {
		return ErrNoHeader
	}
	return ErrInvalid
}

// prefixLengths returns the prefix lengths to try: all of them for a short
// header, a spread for a long one.
func prefixLengths(n int) []int {
	var ls []int
	for i := 0; i < n; i++ {
		if n <= 300 || i < 40 || i%997 == 0 || i > n-40 {
			ls = append(ls, i)
		}
	}
	return ls
}

// checkReencode writes h back and reads it again: the endpoints, command,
// transport and TLVs survive (the family may change, IPv4-mapped
// addresses being written as IPv4).
func checkReencode(t *testing.T, h Header) {
	if h.Version == V1 {
		line := AppendV1(nil, h.Source, h.Destination)
		back, _, err := Parse(line)
		if err != nil {
			t.Fatalf("AppendV1 wrote %q, which Parse refuses: %v", line, err)
		}
		if !sameEndpoints(h, back) {
			t.Fatalf("v1 round trip %+v → %q → %+v", h, line, back)
		}
		return
	}
	b, err := AppendV2(nil, h)
	if err != nil {
		t.Fatalf("AppendV2 refuses what Parse accepted (%+v): %v", h, err)
	}
	back, n, err := Parse(b)
	if err != nil || n != len(b) {
		t.Fatalf("AppendV2 wrote %q, which Parse refuses: %d, %v", b, n, err)
	}
	if back.Command != h.Command || len(back.TLVs) != len(h.TLVs) {
		t.Fatalf("v2 round trip %+v → %+v", h, back)
	}
	if h.Command == Proxy && (h.Family == INET || h.Family == INET6) && (!sameEndpoints(h, back) || back.Transport != h.Transport) {
		t.Fatalf("v2 round trip %+v → %+v", h, back)
	}
	for i, v := range h.TLVs {
		w := back.TLVs[i]
		if w.Type != v.Type || (v.Type != TypeCRC32C && !bytes.Equal(w.Value, v.Value)) {
			t.Fatalf("TLV %d: %v %q → %v %q", i, v.Type, v.Value, w.Type, w.Value)
		}
	}
}

func sameEndpoints(a, b Header) bool {
	return a.Source.Addr().Unmap() == b.Source.Addr().Unmap() && a.Source.Port() == b.Source.Port() &&
		a.Destination.Addr().Unmap() == b.Destination.Addr().Unmap() && a.Destination.Port() == b.Destination.Port()
}
