package proxyproto

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/janus-proxy/janus/internal/addrset"
)

// Lazy Conns from a Listener: Accept never waits for a header, and many
// goroutines may ask the address while the header is read.
func TestListenerAcceptsWithoutWaitingForHeaders(t *testing.T) {
	checkGoroutines(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &Listener{Listener: inner, Options: Options{Trusted: trustLoopback, Required: true}}
	defer ln.Close()
	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The silent client has not blocked the accept of the next one.
	talker, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer talker.Close()
	second, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	go func() { _, _ = talker.Write([]byte("PROXY TCP4 192.0.2.9 198.51.100.7 1000 443\r\nhello")) }()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := second.RemoteAddr().String(); got != "192.0.2.9:1000" {
				t.Errorf("RemoteAddr = %s", got)
			}
		}()
	}
	if got := readN(t, second, 5); got != "hello" {
		t.Errorf("read %q", got)
	}
	wg.Wait()
}

// io.Copy through a Conn moves the buffered bytes and then the socket's,
// both ways, with half-closes: what a tunnel does.
func TestConnCopiesBothWaysForTunnels(t *testing.T) {
	checkGoroutines(t)
	p := dialPair(t, "127.0.0.1")
	o := dialPair(t, "127.0.0.1") // o.client stands for the origin socket
	up := "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n" + strings.Repeat("u", 100000)
	down := strings.Repeat("d", 100000)
	go func() {
		_, _ = p.client.Write([]byte(up))
		_ = p.client.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		_, _ = o.server.Write([]byte(down))
		_ = o.server.(*net.TCPConn).CloseWrite()
	}()
	pc, err := Accept(p.server, Options{Trusted: trustLoopback, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	var gotUp, gotDown []byte
	go func() {
		defer wg.Done()
		if _, err := io.Copy(o.client, pc); err != nil { // WriteTo
			t.Errorf("client → origin: %v", err)
		}
		_ = o.client.(*net.TCPConn).CloseWrite()
		gotUp, _ = io.ReadAll(o.server)
	}()
	go func() {
		defer wg.Done()
		if _, err := io.Copy(pc, o.client); err != nil { // ReadFrom
			t.Errorf("origin → client: %v", err)
		}
		_ = pc.CloseWrite()
		gotDown, _ = io.ReadAll(p.client)
	}()
	wg.Wait()
	if want := up[strings.Index(up, "\n")+1:]; string(gotUp) != want {
		t.Errorf("origin got %d bytes, want %d", len(gotUp), len(want))
	}
	if string(gotDown) != down {
		t.Errorf("client got %d bytes, want %d", len(gotDown), len(down))
	}
}

// A tunnel that splices uses Raw after sending Buffered on.
func TestConnBufferedThenRawIsTheClientStream(t *testing.T) {
	p := dialPair(t, "127.0.0.1")
	payload := strings.Repeat("x", 3000)
	_, _ = p.client.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n" + payload))
	pc, err := Accept(p.server, Options{Trusted: trustLoopback, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pc.Raw().(*net.TCPConn); !ok {
		t.Fatalf("Raw is a %T, want *net.TCPConn", pc.Raw())
	}
	got := string(pc.Buffered())
	if !strings.HasPrefix(payload, got) {
		t.Fatalf("Buffered is not the start of the payload: %q", got[:min(20, len(got))])
	}
	if rest := len(payload) - len(got); rest > 0 {
		got += readN(t, pc.Raw(), rest)
	}
	if got != payload {
		t.Errorf("Buffered + Raw gave %d bytes, want %d", len(got), len(payload))
	}
}

func TestConnHalfCloseNeedsATCPConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	pc := NewConn(a, Options{})
	if err := pc.CloseWrite(); err == nil || !strings.Contains(err.Error(), "net.pipe") {
		t.Errorf("CloseWrite on a pipe = %v", err)
	}
}

// On a dual-stack listener an IPv4 peer's address is IPv4-mapped; the
// trusted set and the error messages see it as IPv4.
func TestConnSeesMappedPeersAsIPv4(t *testing.T) {
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no dual-stack listener: %v", err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cases := []struct {
		desc    string
		trusted string
		send    string
		want    error
		msg     string
	}{
		{desc: "trusted by its IPv4 prefix", trusted: "127.0.0.1/32", send: "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n"},
		{desc: "refused, named as IPv4", trusted: "10.0.0.0/8", send: "GET / HTTP/1.1\r\n\r\n", want: ErrUntrusted, msg: "127.0.0.1 may not"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", port))
			if err != nil {
				t.Skipf("no IPv4 on the dual-stack listener: %v", err)
			}
			defer c.Close()
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, _ = c.Write([]byte(tc.send))
			pc, err := Accept(s, Options{Trusted: addrset.New(netip.MustParsePrefix(tc.trusted)), Required: true})
			if tc.want == nil {
				if err != nil || pc.RemoteAddr().String() != "192.0.2.1:1" {
					t.Fatalf("Accept = %v; RemoteAddr %v", err, pc)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Accept = %v, want %v saying %q", err, tc.want, tc.msg)
			}
		})
	}
}
