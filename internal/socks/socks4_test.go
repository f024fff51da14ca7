package socks

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
)

// request4 sends a SOCKS4/4a request and returns the reply code.
func request4(t *testing.T, c net.Conn, req Request4) Reply4 {
	t.Helper()
	b, err := AppendRequest4(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	rep, _, err := ReadReply4(c)
	if err != nil {
		t.Fatalf("read socks4 reply: %v", err)
	}
	return rep
}

// echoThrough checks that c now reaches an echo origin.
func echoThrough(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var buf [4]byte
	if _, err := io.ReadFull(c, buf[:]); err != nil || string(buf[:]) != "ping" {
		t.Fatalf("echo %q, %v", buf, err)
	}
}

func TestSOCKS4AndSOCKS4a(t *testing.T) {
	checkLeaks(t)
	echo := tcpEcho(t, "tcp", "127.0.0.1:0")
	alias := tcpEcho(t, "tcp", "127.0.0.2:0")
	echoPort := uint16(echo.Port)
	open := startServer(t, Options{Listener: "open", Gate: &gate.Gate{Policy: denyLoopbackAlias()}, AllowSOCKS4: true})
	authUsers := newUsers(t, "alice", "pw")
	authOnly := startServer(t, Options{Listener: "auth", Gate: &gate.Gate{AuthRequired: true, Users: authUsers,
		Policy: &gate.Policy{Rules: []gate.Rule{{Name: "users", Allow: true, Users: []string{"*"}}}}}, AllowSOCKS4: true, AllowSOCKS5: true})
	authUnauth := startServer(t, Options{Listener: "auth+lan", Gate: &gate.Gate{AuthRequired: true, Users: authUsers,
		Policy: &gate.Policy{Rules: []gate.Rule{{Name: "loopback-clients", Allow: true, Unauthenticated: true,
			Clients: addrsetLoopback()}}}}, AllowSOCKS4: true})
	socks5Only := startServer(t, Options{Listener: "5only", Gate: &gate.Gate{}, AllowSOCKS5: true})
	for _, tc := range []struct {
		desc string
		srv  *testServer
		req  Request4
		want Reply4
		rule string
	}{
		{desc: "socks4 granted", srv: open, req: Request4{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: echoPort}, UserID: "u"}, want: Reply4Granted, rule: "rest"},
		{desc: "socks4a name resolved by the proxy", srv: open, req: Request4{Cmd: CmdConnect, Addr: Addr{Name: "localhost", Port: echoPort}}, want: Reply4Granted, rule: "rest"},
		{desc: "denied destination", srv: open, req: Request4{Cmd: CmdConnect, Addr: AddrFromAddrPort(alias.AddrPort())}, want: Reply4Rejected, rule: "no-127.0.0.2"},
		{desc: "closed port", srv: open, req: Request4{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: closedPort(t)}}, want: Reply4Rejected, rule: "rest"},
		{desc: "socks4a name that never resolves", srv: open, req: Request4{Cmd: CmdConnect, Addr: Addr{Name: "nonexistent.invalid", Port: 80}}, want: Reply4Rejected, rule: "rest"},
		{desc: "bind refused", srv: open, req: Request4{Cmd: CmdBind, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: echoPort}}, want: Reply4Rejected},
		{desc: "auth-required listener refuses socks4", srv: authOnly, req: Request4{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: echoPort}}, want: Reply4Rejected, rule: gate.RuleAuth},
		{desc: "unauthenticated rule lets socks4 in", srv: authUnauth, req: Request4{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: echoPort}}, want: Reply4Granted, rule: "loopback-clients"},
		{desc: "socks4 not allowed on the listener", srv: socks5Only, req: Request4{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: echoPort}}, want: Reply4Rejected},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := dialRaw(t, tc.srv.addr)
			if got := request4(t, c, tc.req); got != tc.want {
				t.Fatalf("reply %v, want %v", got, tc.want)
			}
			if tc.want == Reply4Granted {
				echoThrough(t, c)
				c.Close()
			} else {
				expectClosed(t, c, 2*time.Second)
			}
			e := tc.srv.access.wait(t, func(e *observe.Entry) bool { return e.Client == netip.MustParseAddrPort(c.LocalAddr().String()) })
			if e.Protocol != "socks4" || e.Status != int(tc.want) || e.Rule != tc.rule || e.Target != tc.req.Addr.String() ||
				(tc.want == Reply4Granted) != (e.Error == "") {
				t.Fatalf("entry %+v, want status %d rule %q", e, tc.want, tc.rule)
			}
			if tc.want == Reply4Granted && (e.BytesUp != 4 || e.BytesDown != 4 || e.Method != "CONNECT") {
				t.Fatalf("entry %+v, want 4 bytes each way", e)
			}
		})
	}
}

func addrsetLoopback() addrset.Set {
	return addrset.New(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
}
