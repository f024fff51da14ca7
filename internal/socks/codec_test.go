package socks

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadGreetingRejectsMalformedInput(t *testing.T) {
	for _, tc := range []struct {
		desc string
		in   []byte
		want error
	}{
		{desc: "socks4 version", in: []byte{4, 1, 0}, want: ErrVersion},
		{desc: "no methods", in: []byte{5, 0}, want: ErrNoMethods},
		{desc: "fewer methods than announced", in: []byte{5, 3, 0, 2}, want: io.ErrUnexpectedEOF},
		{desc: "nothing", in: nil, want: io.EOF},
		{desc: "only the version", in: []byte{5}, want: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := ReadGreeting(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadGreetingCollectsEveryOfferedMethod(t *testing.T) {
	s, err := ReadGreeting(bytes.NewReader(AppendGreeting(nil, MethodNoAuth, MethodUserPass, 0x80, MethodNoAuth)))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Has(MethodNoAuth) || !s.Has(MethodUserPass) || !s.Has(0x80) || s.Has(MethodGSSAPI) || s.Len() != 3 {
		t.Fatalf("set = %v", s)
	}
}

func TestReadUserPass(t *testing.T) {
	long := strings.Repeat("p", 255)
	for _, tc := range []struct {
		desc           string
		in             []byte
		user, password string
		want           error
	}{
		{desc: "ordinary", in: mustUserPass(t, "alice", "secret"), user: "alice", password: "secret"},
		{desc: "longest password", in: mustUserPass(t, "a", long), user: "a", password: long},
		{desc: "empty password passed on", in: mustUserPass(t, "alice", ""), user: "alice"},
		{desc: "socks5 version instead of 0x01", in: []byte{5, 1, 'a', 1, 'b'}, want: ErrVersion},
		{desc: "truncated name", in: []byte{1, 5, 'a', 'l'}, want: io.ErrUnexpectedEOF},
		{desc: "missing password length", in: []byte{1, 1, 'a'}, want: io.ErrUnexpectedEOF},
		{desc: "truncated password", in: []byte{1, 1, 'a', 9, 'x'}, want: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			u, p, err := ReadUserPass(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if u != tc.user || p != tc.password {
				t.Fatalf("got %q/%q, want %q/%q", u, p, tc.user, tc.password)
			}
		})
	}
}

func TestAppendUserPassRefusesOverlongFields(t *testing.T) {
	if _, err := AppendUserPass(nil, strings.Repeat("u", 256), "p"); err == nil {
		t.Fatal("256-byte name accepted")
	}
}

func mustUserPass(t *testing.T, u, p string) []byte {
	t.Helper()
	b, err := AppendUserPass(nil, u, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadRequest(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		desc string
		in   []byte
		want Request
		err  error
	}{
		{desc: "connect ipv4", in: []byte{5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90},
			want: Request{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: 8080}}},
		{desc: "connect ipv6", in: append(append([]byte{5, 1, 0, 4}, v6.AsSlice()...), 0, 80),
			want: Request{Cmd: CmdConnect, Addr: Addr{IP: v6, Port: 80}}},
		{desc: "connect domain", in: append(append([]byte{5, 1, 0, 3, 9}, "localhost"...), 1, 187),
			want: Request{Cmd: CmdConnect, Addr: Addr{Name: "localhost", Port: 443}}},
		{desc: "unknown command is parsed for a 0x07 reply", in: []byte{5, 9, 0, 1, 1, 2, 3, 4, 0, 1},
			want: Request{Cmd: 9, Addr: Addr{IP: netip.MustParseAddr("1.2.3.4"), Port: 1}}},
		{desc: "nonzero RSV ignored", in: []byte{5, 3, 7, 1, 0, 0, 0, 0, 0, 0},
			want: Request{Cmd: CmdUDPAssociate, Addr: Addr{IP: netip.IPv4Unspecified()}}},
		{desc: "unknown address type", in: []byte{5, 1, 0, 2, 1, 2, 3, 4, 0, 80}, err: ErrAddrType},
		{desc: "empty name", in: []byte{5, 1, 0, 3, 0, 0, 80}, err: ErrName},
		{desc: "NUL in name", in: []byte{5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80}, err: ErrName},
		{desc: "newline in name", in: []byte{5, 1, 0, 3, 3, 'a', '\n', 'b', 0, 80}, err: ErrName},
		{desc: "socks4 version", in: []byte{4, 1, 0, 1, 1, 2, 3, 4, 0, 80}, err: ErrVersion},
		{desc: "truncated ipv6", in: []byte{5, 1, 0, 4, 1, 2, 3}, err: io.ErrUnexpectedEOF},
		{desc: "name longer than the bytes sent", in: []byte{5, 1, 0, 3, 255, 'a'}, err: io.ErrUnexpectedEOF},
		{desc: "missing port", in: []byte{5, 1, 0, 1, 1, 2, 3, 4}, err: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := ReadRequest(bytes.NewReader(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestReadRequestDoesNotReadPastTheRequest(t *testing.T) {
	in := append([]byte{5, 1, 0, 3, 1, 'x', 0, 80}, "GET / HTTP/1.1\r\n"...)
	r := bytes.NewReader(in)
	if _, err := ReadRequest(r); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len("GET / HTTP/1.1\r\n") {
		t.Fatalf("left %d bytes, want the 16 after the request", r.Len())
	}
}

func TestAppendReplyWritesMappedAddressesAsIPv4(t *testing.T) {
	got := AppendReply(nil, ReplySucceeded, netip.MustParseAddrPort("[::ffff:127.0.0.1]:1080"))
	want := []byte{5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	if got := AppendReply(nil, ReplyConnRefused, netip.AddrPort{}); !bytes.Equal(got, []byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("failure reply % x", got)
	}
}

func TestReadRequest4(t *testing.T) {
	for _, tc := range []struct {
		desc string
		in   []byte
		want Request4
		err  error
	}{
		{desc: "socks4 connect", in: []byte{4, 1, 0, 80, 127, 0, 0, 1, 'b', 'o', 'b', 0},
			want: Request4{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: 80}, UserID: "bob"}},
		{desc: "socks4 empty userid", in: []byte{4, 2, 0, 80, 10, 0, 0, 1, 0},
			want: Request4{Cmd: CmdBind, Addr: Addr{IP: netip.MustParseAddr("10.0.0.1"), Port: 80}}},
		{desc: "socks4a name", in: append([]byte{4, 1, 1, 187, 0, 0, 0, 9, 'u', 0}, "localhost\x00"...),
			want: Request4{Cmd: CmdConnect, Addr: Addr{Name: "localhost", Port: 443}, UserID: "u"}},
		{desc: "0.0.0.0 is plain socks4", in: []byte{4, 1, 0, 80, 0, 0, 0, 0, 0},
			want: Request4{Cmd: CmdConnect, Addr: Addr{IP: netip.IPv4Unspecified(), Port: 80}}},
		{desc: "socks5 version", in: []byte{5, 1, 0, 80, 127, 0, 0, 1, 0}, err: ErrVersion},
		{desc: "userid without NUL", in: append([]byte{4, 1, 0, 80, 127, 0, 0, 1}, bytes.Repeat([]byte{'u'}, 300)...), err: ErrUserID},
		{desc: "name without NUL", in: append([]byte{4, 1, 0, 80, 0, 0, 0, 1, 0}, bytes.Repeat([]byte{'h'}, 300)...), err: ErrName},
		{desc: "empty socks4a name", in: []byte{4, 1, 0, 80, 0, 0, 0, 1, 0, 0}, err: ErrName},
		{desc: "truncated userid", in: []byte{4, 1, 0, 80, 127, 0, 0, 1, 'b'}, err: io.ErrUnexpectedEOF},
		{desc: "truncated header", in: []byte{4, 1, 0}, err: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(tc.in), iotest.OneByteReader(bytes.NewReader(tc.in))} {
				got, err := ReadRequest4(r)
				if tc.err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("err = %v, want %v", err, tc.err)
					}
					continue
				}
				if err != nil || got != tc.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
				}
			}
		})
	}
}

func TestReply4RoundTrip(t *testing.T) {
	b := AppendReply4(nil, Reply4Granted, netip.MustParseAddrPort("127.0.0.1:8080"))
	rep, ap, err := ReadReply4(bytes.NewReader(b))
	if err != nil || rep != Reply4Granted || ap != netip.MustParseAddrPort("127.0.0.1:8080") {
		t.Fatalf("got %v %v %v", rep, ap, err)
	}
	if b := AppendReply4(nil, Reply4Rejected, netip.MustParseAddrPort("[::1]:80")); !bytes.Equal(b, []byte{0, 0x5b, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("ipv6 bound address not zeroed: % x", b)
	}
}

func TestParseUDPHeader(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		in      []byte
		want    UDPHeader
		payload string
		err     error
	}{
		{desc: "ipv4", in: append([]byte{0, 0, 0, 1, 127, 0, 0, 1, 0, 53}, "q"...),
			want: UDPHeader{Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: 53}}, payload: "q"},
		{desc: "domain, empty payload", in: append([]byte{0, 0, 0, 3, 1, 'h'}, 0, 53),
			want: UDPHeader{Addr: Addr{Name: "h", Port: 53}}},
		{desc: "fragment is returned", in: []byte{0, 0, 1, 1, 1, 2, 3, 4, 0, 1, 'x'},
			want: UDPHeader{Frag: 1, Addr: Addr{IP: netip.MustParseAddr("1.2.3.4"), Port: 1}}, payload: "x"},
		{desc: "too short", in: []byte{0, 0, 0}, err: ErrShortPacket},
		{desc: "truncated ipv6", in: []byte{0, 0, 0, 4, 1}, err: ErrShortPacket},
		{desc: "name runs past the end", in: []byte{0, 0, 0, 3, 9, 'a'}, err: ErrShortPacket},
		{desc: "bad type", in: []byte{0, 0, 0, 7, 1, 2, 3, 4}, err: ErrAddrType},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h, p, err := ParseUDPHeader(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || h != tc.want || string(p) != tc.payload {
				t.Fatalf("got %+v %q %v", h, p, err)
			}
		})
	}
}

func TestPutUDPHeaderMatchesAppendUDPHeader(t *testing.T) {
	for _, s := range []string{"127.0.0.1:53", "[::1]:5353", "[::ffff:10.1.2.3]:9"} {
		ap := netip.MustParseAddrPort(s)
		want, err := AppendUDPHeader(nil, UDPHeader{Addr: AddrFromAddrPort(ap)})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, udpHeaderLen(ap))
		putUDPHeader(got, ap)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: put % x, append % x", s, got, want)
		}
	}
}
