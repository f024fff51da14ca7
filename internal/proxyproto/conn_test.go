package proxyproto

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
)

// trustLoopback trusts 127.0.0.1 only, so that a client bound to the
// alias 127.0.0.2 is an untrusted peer.
var trustLoopback = addrset.New(netip.MustParsePrefix("127.0.0.1/32"))

// pair is one loopback connection: the client's end and the accepted end.
type connPair struct {
	client net.Conn
	server net.Conn
}

// dialPair connects from the given loopback address to a fresh listener
// on 127.0.0.1:0 and returns both ends; cleanup closes them.
func dialPair(t testing.TB, from string) connPair {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	client, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return connPair{client: client, server: server}
}

// checkGoroutines fails the test if goroutines started during it outlive
// its cleanups (bounded wait). Call it first so its check runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

// readAll reads exactly n bytes from c within a bounded time.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes after the header: %v", n, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return string(b)
}

func mustV2(t testing.TB, h Header) string {
	b, err := AppendV2(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConnReportsTheClientFromTheHeader(t *testing.T) {
	checkGoroutines(t)
	real := "" // marks "the real connection's address"
	cases := []struct {
		desc     string
		opts     Options
		from     string
		hdr      string
		remote   string // want RemoteAddr; real means the socket's peer
		local    string
		wantVer  Version
		checkTLV bool
	}{
		{desc: "v1 TCP4", from: "127.0.0.1", opts: Options{Trusted: trustLoopback, Required: true},
			hdr: "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", remote: "192.0.2.1:56324", local: "198.51.100.7:443", wantVer: V1},
		{desc: "v1 TCP6", from: "127.0.0.1", opts: Options{Trusted: trustLoopback, Required: true},
			hdr: "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n", remote: "[2001:db8::1]:56324", local: "[2001:db8::2]:443", wantVer: V1},
		{desc: "v2 TCP4 with TLVs", from: "127.0.0.1", opts: Options{Trusted: trustLoopback, Required: true},
			hdr: mustV2(t, Header{Command: Proxy, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.7:443"),
				TLVs: []TLV{{TypeAuthority, []byte("example.com")}, {TypeALPN, []byte("h2")}, {TypeCRC32C, nil}}}),
			remote: "192.0.2.1:56324", local: "198.51.100.7:443", wantVer: V2, checkTLV: true},
		{desc: "v2 TCP6", from: "127.0.0.1", opts: Options{Trusted: trustLoopback, Required: true},
			hdr:    mustV2(t, Header{Command: Proxy, Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:2")}),
			remote: "[2001:db8::1]:1", local: "[2001:db8::2]:2", wantVer: V2},
		{desc: "v2 LOCAL keeps the real addresses", from: "127.0.0.1", opts: Options{Trusted: trustLoopback, Required: true},
			hdr: mustV2(t, Header{Command: Local}), remote: real, local: real, wantVer: V2},
		{desc: "v2 UDP keeps the real addresses", from: "127.0.0.1", opts: Options{Trusted: trustLoopback, Required: true},
			hdr:    mustV2(t, Header{Command: Proxy, Transport: Datagram, Source: ap("192.0.2.1:1"), Destination: ap("192.0.2.2:2")}),
			remote: real, local: real, wantVer: V2},
		{desc: "v1 UNKNOWN keeps the real addresses", from: "127.0.0.1", opts: Options{Trusted: trustLoopback, Required: true},
			hdr: "PROXY UNKNOWN\r\n", remote: real, local: real, wantVer: V1},
		{desc: "trusted peer without a header where it is optional", from: "127.0.0.1", opts: Options{Trusted: trustLoopback},
			remote: real, local: real},
		{desc: "untrusted peer without a header where it is optional", from: "127.0.0.2", opts: Options{Trusted: trustLoopback},
			remote: real, local: real},
	}
	// The client's protocol, right behind the header: a TLS ClientHello's
	// first bytes and enough of them to need more than one read.
	payload := "\x16\x03\x01" + strings.Repeat("client bytes ", 1000)
	for _, tc := range cases {
		for _, split := range []bool{false, true} {
			name := tc.desc
			if split {
				name += ", header in two segments"
			}
			t.Run(name, func(t *testing.T) {
				p := dialPair(t, tc.from)
				go func() {
					if split && len(tc.hdr) > 0 {
						_, _ = p.client.Write([]byte(tc.hdr[:len(tc.hdr)/2]))
						time.Sleep(20 * time.Millisecond)
						_, _ = p.client.Write([]byte(tc.hdr[len(tc.hdr)/2:] + payload))
						return
					}
					_, _ = p.client.Write([]byte(tc.hdr + payload))
				}()
				pc, err := Accept(p.server, tc.opts)
				if err != nil {
					t.Fatalf("Accept: %v", err)
				}
				wantRemote, wantLocal := tc.remote, tc.local
				if wantRemote == real {
					wantRemote = p.client.LocalAddr().String()
				}
				if wantLocal == real {
					wantLocal = p.client.RemoteAddr().String()
				}
				if got := pc.RemoteAddr().String(); got != wantRemote {
					t.Errorf("RemoteAddr = %s, want %s", got, wantRemote)
				}
				if got := pc.LocalAddr().String(); got != wantLocal {
					t.Errorf("LocalAddr = %s, want %s", got, wantLocal)
				}
				if _, ok := pc.RemoteAddr().(*net.TCPAddr); !ok {
					t.Errorf("RemoteAddr is a %T, want *net.TCPAddr", pc.RemoteAddr())
				}
				h, err := pc.Header()
				if err != nil || h.Version != tc.wantVer {
					t.Errorf("Header = %+v, %v; want version %d", h, err, tc.wantVer)
				}
				if tc.checkTLV && (h.Authority() != "example.com" || string(h.ALPN()) != "h2") {
					t.Errorf("TLVs: authority %q, ALPN %q", h.Authority(), h.ALPN())
				}
				if got := readN(t, pc, len(payload)); got != payload {
					t.Errorf("bytes after the header differ: got %d bytes starting %q", len(got), got[:min(len(got), 20)])
				}
			})
		}
	}
}

func TestConnRefusesPeersThePolicyRefuses(t *testing.T) {
	checkGoroutines(t)
	v1 := "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
	cases := []struct {
		desc string
		opts Options
		from string
		send string
		want error
		msg  string
	}{
		{desc: "untrusted peer sends v1 where optional", opts: Options{Trusted: trustLoopback}, from: "127.0.0.2",
			send: v1 + "GET / HTTP/1.1\r\n\r\n", want: ErrUntrusted, msg: "127.0.0.2 sent a version 1 PROXY header"},
		{desc: "untrusted peer sends v2 where optional", opts: Options{Trusted: trustLoopback}, from: "127.0.0.2",
			send: mustV2(t, Header{Command: Proxy, Source: ap("192.0.2.1:1"), Destination: ap("192.0.2.2:2")}), want: ErrUntrusted, msg: "version 2"},
		{desc: "untrusted peer sends the signature one byte at a time", opts: Options{Trusted: trustLoopback}, from: "127.0.0.2",
			send: "P|R|O|X|Y", want: ErrUntrusted, msg: "version 1"},
		{desc: "nobody is trusted by the zero Set", opts: Options{}, from: "127.0.0.1",
			send: v1, want: ErrUntrusted, msg: "127.0.0.1 sent"},
		{desc: "untrusted peer where required", opts: Options{Trusted: trustLoopback, Required: true}, from: "127.0.0.2",
			send: v1, want: ErrUntrusted, msg: "requires a PROXY header"},
		{desc: "trusted peer without a header where required", opts: Options{Trusted: trustLoopback, Required: true}, from: "127.0.0.1",
			send: "GET / HTTP/1.1\r\n\r\n", want: ErrNoHeader, msg: `it starts "GET / HTTP/1.1\r\n"`},
		{desc: "trusted peer sends a bad header", opts: Options{Trusted: trustLoopback}, from: "127.0.0.1",
			send: "PROXY TCP4 192.0.2.1 ::1 1 2\r\n", want: ErrInvalid, msg: "(from 127.0.0.1)"},
		{desc: "trusted peer closes inside the header", opts: Options{Trusted: trustLoopback, Required: true}, from: "127.0.0.1",
			send: "PROXY TCP4 192.0.2.1|close", want: ErrIncomplete, msg: "after 20 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			p := dialPair(t, tc.from)
			go func() {
				for _, part := range strings.Split(tc.send, "|") {
					if part == "close" {
						_ = p.client.Close()
						return
					}
					_, _ = p.client.Write([]byte(part))
					time.Sleep(5 * time.Millisecond)
				}
			}()
			pc, err := Accept(p.server, tc.opts)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Accept = %v, %v; want %v saying %q", pc, err, tc.want, tc.msg)
			}
		})
	}
}

// A lazy Conn gives its verdict on the first Read and on every one after.
func TestConnRefusalRepeatsOnEveryRead(t *testing.T) {
	p := dialPair(t, "127.0.0.1")
	_, _ = p.client.Write([]byte("PROXY TCP9\r\nGET / HTTP/1.1\r\n\r\n"))
	pc := NewConn(p.server, Options{Trusted: trustLoopback, Required: true})
	for i := range 3 {
		n, err := pc.Read(make([]byte, 100))
		if n != 0 || !errors.Is(err, ErrInvalid) {
			t.Fatalf("Read %d = %d, %v; want 0, ErrInvalid", i, n, err)
		}
	}
	if b := pc.Buffered(); b != nil {
		t.Errorf("Buffered after a refusal = %q", b)
	}
	if got, want := pc.RemoteAddr().String(), p.client.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr after a refusal = %s, want the peer %s", got, want)
	}
}

// A listener that requires the header refuses an untrusted peer without
// reading from it, so a silent one costs no wait.
func TestConnRefusesUntrustedPeerWithoutReadingWhereRequired(t *testing.T) {
	p := dialPair(t, "127.0.0.2")
	start := time.Now()
	_, err := Accept(p.server, Options{Trusted: trustLoopback, Required: true, Timeout: 5 * time.Second})
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("Accept = %v, want ErrUntrusted", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusing took %v: it waited for bytes", d)
	}
}

// Bad input closes cleanly: no descriptor or goroutine outlives it.
func TestConnRefusalsLeakNothing(t *testing.T) {
	checkGoroutines(t)
	fds := func() int {
		e, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(e)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	inputs := []string{
		"PROXY TCP4 1.2.3.4 1.2.3.4 1 99999\r\n",
		"PROXY " + strings.Repeat("x", 200),
		string(v2Sig[:]) + "\x31\x11\x00\x0c",
		"GET / HTTP/1.1\r\n\r\n",
		"",
	}
	before := fds()
	for i := range 50 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		in := inputs[i%len(inputs)]
		_, _ = c.Write([]byte(in))
		if in == "" {
			_ = c.Close()
		}
		if _, err := Accept(s, Options{Trusted: trustLoopback, Required: true, Timeout: time.Second}); err == nil {
			t.Fatalf("input %q accepted", in)
		}
		_ = s.Close()
		_ = c.Close()
	}
	if after := fds(); after > before {
		t.Errorf("%d descriptors before, %d after", before, after)
	}
}
