package socks

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
)

// udpEcho is a UDP origin that answers "echo:"+payload and remembers the
// sources it heard from.
type udpEcho struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seen []netip.AddrPort
}

func startUDPEcho(t *testing.T, addr string) *udpEcho {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on udp %s: %v", addr, err)
	}
	e := &udpEcho{conn: c}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			e.mu.Lock()
			e.seen = append(e.seen, from)
			e.mu.Unlock()
			_, _ = c.WriteToUDPAddrPort(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return e
}

func (e *udpEcho) addr() netip.AddrPort { return e.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (e *udpEcho) lastSource(t *testing.T) netip.AddrPort {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) == 0 {
		t.Fatal("the echo server heard nothing")
	}
	return e.seen[len(e.seen)-1]
}

// associate opens a UDP association (no auth) declaring the client's
// source and returns the control connection and the relay's address.
func associate(t *testing.T, proxyAddr string, declared Addr) (net.Conn, netip.AddrPort) {
	t.Helper()
	ctl := dialRaw(t, proxyAddr)
	rep, bnd := handshake5(t, ctl, Request{Cmd: CmdUDPAssociate, Addr: declared})
	if rep != ReplySucceeded || !bnd.IP.IsValid() || bnd.Port == 0 {
		t.Fatalf("UDP ASSOCIATE reply %v %v", rep, bnd)
	}
	_ = ctl.SetDeadline(time.Time{})
	return ctl, netip.AddrPortFrom(bnd.IP, bnd.Port)
}

// udpClient is the client's own UDP socket on loopback.
func udpClient(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendVia(t *testing.T, c *net.UDPConn, relay netip.AddrPort, h UDPHeader, payload string) {
	t.Helper()
	b, err := AppendUDPHeader(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDPAddrPort(append(b, payload...), relay); err != nil {
		t.Fatal(err)
	}
}

// receive reads one datagram from the relay and parses its header.
func receive(t *testing.T, c *net.UDPConn, relay netip.AddrPort) (UDPHeader, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 70000)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no datagram back: %v", err)
	}
	if from != relay {
		t.Fatalf("datagram from %s, want the relay %s", from, relay)
	}
	h, payload, err := ParseUDPHeader(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return h, string(payload)
}

func expectNoDatagram(t *testing.T, c *net.UDPConn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 2048)
	if n, from, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("unexpected datagram from %s: %q", from, buf[:n])
	}
}

func TestUDPAssociateRelaysBothWays(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Options{Gate: &gate.Gate{}, AllowSOCKS5: true})
	v4 := startUDPEcho(t, "127.0.0.1:0")
	for _, tc := range []struct {
		desc   string
		listen string // "" for the IPv4 echo server
		dst    func(echo netip.AddrPort) Addr
	}{
		{desc: "ipv4 destination", dst: AddrFromAddrPort},
		{desc: "name resolved by the proxy", dst: func(e netip.AddrPort) Addr { return Addr{Name: "localhost", Port: e.Port()} }},
		{desc: "ipv6 destination", listen: "[::1]:0", dst: AddrFromAddrPort},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			echo := v4
			if tc.listen != "" {
				echo = startUDPEcho(t, tc.listen)
			}
			ctl, relay := associate(t, ts.addr, Addr{IP: netip.IPv4Unspecified()})
			client := udpClient(t)
			dst := tc.dst(echo.addr())
			for i := range 3 {
				payload := fmt.Sprintf("datagram %d", i)
				sendVia(t, client, relay, UDPHeader{Addr: dst}, payload)
				h, got := receive(t, client, relay)
				if got != "echo:"+payload {
					t.Fatalf("payload %q", got)
				}
				// RFC 1928 §7: the reply names its source, as an address.
				if want := AddrFromAddrPort(echo.addr()); h.Addr != want || h.Frag != 0 {
					t.Fatalf("reply header %+v, want source %v", h, want)
				}
			}
			ctl.Close()
			e := ts.access.wait(t, func(e *observe.Entry) bool {
				return e.Client == netip.MustParseAddrPort(ctl.LocalAddr().String())
			})
			if e.Method != "UDP_ASSOCIATE" || e.Protocol != "socks5" || e.Status != 0 || e.Error != "" ||
				e.Target != dst.String() || e.BytesUp != 30 || e.BytesDown != 45 {
				t.Fatalf("entry %+v", e)
			}
			// The association is over: the relay's socket is closed.
			sendVia(t, client, relay, UDPHeader{Addr: dst}, "late")
			expectNoDatagram(t, client, 200*time.Millisecond)
		})
	}
}

func TestUDPAssociateDropsWhatItMustNotRelay(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Options{Gate: &gate.Gate{Policy: denyLoopbackAlias()}, AllowSOCKS5: true})
	echo := startUDPEcho(t, "127.0.0.1:0")
	alias := startUDPEcho(t, "127.0.0.2:0")
	ctl, relay := associate(t, ts.addr, Addr{IP: netip.IPv4Unspecified()})
	client := udpClient(t)
	dst := UDPHeader{Addr: AddrFromAddrPort(echo.addr())}

	// RFC 1928 §7: without reassembly, FRAG != 0 is dropped.
	sendVia(t, client, relay, UDPHeader{Frag: 1, Addr: dst.Addr}, "fragment")
	expectNoDatagram(t, client, 200*time.Millisecond)
	// The first whole datagram locks the client's port.
	sendVia(t, client, relay, dst, "whole")
	if _, got := receive(t, client, relay); got != "echo:whole" {
		t.Fatalf("payload %q", got)
	}
	// A destination the policy forbids.
	sendVia(t, client, relay, UDPHeader{Addr: AddrFromAddrPort(alias.addr())}, "forbidden")
	expectNoDatagram(t, client, 200*time.Millisecond)
	// Another socket of the client's host, on another port.
	other := udpClient(t)
	sendVia(t, other, relay, dst, "other port")
	expectNoDatagram(t, other, 200*time.Millisecond)
	// A stranger writing to the relay's destination-facing socket.
	stranger := udpClient(t)
	if _, err := stranger.WriteToUDPAddrPort([]byte("spoof"), echo.lastSource(t)); err != nil {
		t.Fatal(err)
	}
	expectNoDatagram(t, client, 200*time.Millisecond)
	// Garbage.
	if _, err := client.WriteToUDPAddrPort([]byte{0, 0}, relay); err != nil {
		t.Fatal(err)
	}
	sendVia(t, client, relay, dst, "still works")
	if _, got := receive(t, client, relay); got != "echo:still works" {
		t.Fatalf("payload %q", got)
	}
	ctl.Close()
	e := ts.access.wait(t, func(e *observe.Entry) bool { return e.Method == "UDP_ASSOCIATE" })
	if e.BytesUp != int64(len("whole")+len("still works")) || e.Rule != "rest" {
		t.Fatalf("entry %+v", e)
	}
	log := ts.logs.String()
	for _, want := range []string{"fragments_dropped=1", "refused_dropped=1", "foreign_dropped=2", "malformed_dropped=1"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	alias.mu.Lock()
	defer alias.mu.Unlock()
	if len(alias.seen) != 0 {
		t.Errorf("the forbidden destination heard %v", alias.seen)
	}
}

func TestUDPAssociateHonoursTheDeclaredPort(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Options{Gate: &gate.Gate{}, AllowSOCKS5: true})
	echo := startUDPEcho(t, "127.0.0.1:0")
	declared, stray := udpClient(t), udpClient(t)
	ctl, relay := associate(t, ts.addr, AddrFromAddrPort(declared.LocalAddr().(*net.UDPAddr).AddrPort()))
	defer ctl.Close()
	dst := UDPHeader{Addr: AddrFromAddrPort(echo.addr())}
	sendVia(t, stray, relay, dst, "first but undeclared")
	expectNoDatagram(t, stray, 200*time.Millisecond)
	sendVia(t, declared, relay, dst, "declared")
	if _, got := receive(t, declared, relay); got != "echo:declared" {
		t.Fatalf("payload %q", got)
	}
}

func TestUDPAssociationEndsAfterUDPIdle(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Options{Gate: &gate.Gate{}, AllowSOCKS5: true, UDPIdle: 300 * time.Millisecond})
	echo := startUDPEcho(t, "127.0.0.1:0")
	ctl, relay := associate(t, ts.addr, Addr{IP: netip.IPv4Unspecified()})
	client := udpClient(t)
	start := time.Now()
	// Traffic keeps it alive past one idle period.
	for range 4 {
		sendVia(t, client, relay, UDPHeader{Addr: AddrFromAddrPort(echo.addr())}, "keepalive")
		receive(t, client, relay)
		time.Sleep(150 * time.Millisecond)
	}
	expectClosed(t, ctl, 3*time.Second)
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Fatalf("ended after %s despite traffic", d)
	}
	e := ts.access.wait(t, func(e *observe.Entry) bool { return e.Method == "UDP_ASSOCIATE" })
	if !strings.Contains(e.Error, "idle") {
		t.Fatalf("entry %+v", e)
	}
}

func TestUDPAssociateFailsCleanlyWhenTheRelayCannotOpen(t *testing.T) {
	checkLeaks(t)
	ts := startServer(t, Options{Gate: &gate.Gate{}, Dialer: failingUDP{}, AllowSOCKS5: true})
	c := dialRaw(t, ts.addr)
	if rep, _ := handshake5(t, c, Request{Cmd: CmdUDPAssociate, Addr: Addr{IP: netip.IPv4Unspecified()}}); rep != ReplyGeneralFailure {
		t.Fatalf("reply %v", rep)
	}
	expectClosed(t, c, 2*time.Second)
}

// failingUDP is a dialer whose UDP sockets cannot be opened (as when the
// process is out of descriptors).
type failingUDP struct{ panicDialer }

func (failingUDP) ListenUDP(netip.AddrPort) (*net.UDPConn, error) {
	return nil, errors.New("too many open files")
}
