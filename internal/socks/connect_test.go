package socks

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
)

// httpOrigin starts an HTTP origin on a loopback address that answers with
// the path it saw.
func httpOrigin(t *testing.T, listen string) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", listen, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin saw %s", r.URL.Path)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// getVia fetches url through a SOCKS5 proxy with x/net/proxy.
func getVia(t *testing.T, proxyAddr string, auth *proxy.Auth, url string) (string, error) {
	t.Helper()
	d, err := proxy.SOCKS5("tcp", proxyAddr, auth, &net.Dialer{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: d.(proxy.ContextDialer).DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestSOCKS5ConnectReachesOriginsByIPv4IPv6AndName(t *testing.T) {
	checkLeaks(t)
	v4 := httpOrigin(t, "127.0.0.1:0")
	ts := startServer(t, Options{Gate: &gate.Gate{}, AllowSOCKS5: true})
	v4Port := v4.Listener.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		desc   string
		listen string // "" for the IPv4 origin
		host   string
	}{
		{desc: "ipv4 literal", host: "127.0.0.1"},
		{desc: "domain resolved by the proxy", host: "localhost"},
		{desc: "ipv6 literal", listen: "[::1]:0", host: "::1"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			port := v4Port
			if tc.listen != "" {
				port = httpOrigin(t, tc.listen).Listener.Addr().(*net.TCPAddr).Port
			}
			target := net.JoinHostPort(tc.host, fmt.Sprint(port))
			body, err := getVia(t, ts.addr, nil, "http://"+target+"/hello")
			if err != nil {
				t.Fatal(err)
			}
			if body != "origin saw /hello" {
				t.Fatalf("body %q", body)
			}
			e := ts.access.wait(t, func(e *observe.Entry) bool { return e.Target == target })
			if e.Protocol != "socks5" || e.Method != "CONNECT" || e.Status != 0 || e.Error != "" ||
				e.BytesUp == 0 || e.BytesDown == 0 || e.Listener != "" || !e.Client.Addr().IsLoopback() || e.Duration <= 0 {
				t.Fatalf("entry %+v", e)
			}
		})
	}
}

func TestSOCKS5Authentication(t *testing.T) {
	checkLeaks(t)
	origin := httpOrigin(t, "127.0.0.1:0")
	url := origin.URL + "/private"
	users := newUsers(t, "alice", "wonderland")
	required := startServer(t, Options{Listener: "auth", Gate: &gate.Gate{Users: users, AuthRequired: true,
		Policy: &gate.Policy{Rules: []gate.Rule{{Name: "alice-only", Allow: true, Users: []string{"alice"}}}}}, AllowSOCKS5: true})
	optional := startServer(t, Options{Listener: "opt", Gate: &gate.Gate{Users: users}, AllowSOCKS5: true})
	for _, tc := range []struct {
		desc string
		srv  *testServer
		auth *proxy.Auth
		ok   bool
		user string // expected in the access log
		rule string
	}{
		{desc: "required, good credentials", srv: required, auth: &proxy.Auth{User: "alice", Password: "wonderland"}, ok: true, user: "alice", rule: "alice-only"},
		{desc: "required, wrong password", srv: required, auth: &proxy.Auth{User: "alice", Password: "hunter2"}, rule: gate.RuleAuth},
		{desc: "required, unknown user", srv: required, auth: &proxy.Auth{User: "mallory", Password: "hunter2"}, rule: gate.RuleAuth},
		{desc: "required, no credentials offered", srv: required, rule: gate.RuleAuth},
		{desc: "optional, anonymous", srv: optional, ok: true},
		{desc: "optional, credentials used when offered", srv: optional, auth: &proxy.Auth{User: "alice", Password: "wonderland"}, ok: true, user: "alice"},
		{desc: "optional, bad credentials refused", srv: optional, auth: &proxy.Auth{User: "alice", Password: "hunter2"}, rule: gate.RuleAuth},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			before := len(tc.srv.access.all())
			body, err := getVia(t, tc.srv.addr, tc.auth, url)
			if tc.ok != (err == nil) {
				t.Fatalf("ok = %v, want %v (err %v)", err == nil, tc.ok, err)
			}
			if tc.ok && body != "origin saw /private" {
				t.Fatalf("body %q", body)
			}
			e := tc.srv.access.nth(t, before)
			if e.User != tc.user || e.Rule != tc.rule {
				t.Fatalf("entry user %q rule %q, want %q %q: %+v", e.User, e.Rule, tc.user, tc.rule, e)
			}
			if !tc.ok && e.Status != int(ReplyNotAllowed) {
				t.Fatalf("status %d, want 2: %+v", e.Status, e)
			}
			if tc.auth != nil && !tc.ok && !strings.Contains(e.Error, tc.auth.User) {
				t.Errorf("error %q does not name the user", e.Error)
			}
		})
	}
	for _, srv := range []*testServer{required, optional} {
		for _, e := range srv.access.all() {
			if strings.Contains(fmt.Sprintf("%+v", e), "hunter2") || strings.Contains(fmt.Sprintf("%+v", e), "wonderland") {
				t.Errorf("a password reached the access log: %+v", e)
			}
		}
		if strings.Contains(srv.logs.String(), "hunter2") || strings.Contains(srv.logs.String(), "wonderland") {
			t.Errorf("a password reached the log: %s", srv.logs.String())
		}
	}
}

func TestSOCKS5OnlyUserPassOfferedOnOptionalListener(t *testing.T) {
	echo := tcpEcho(t, "tcp", "127.0.0.1:0")
	ts := startServer(t, Options{Gate: &gate.Gate{Users: newUsers(t, "bob", "pw")}, AllowSOCKS5: true})
	c := dialRaw(t, ts.addr)
	b := AppendGreeting(nil, MethodUserPass)
	b, _ = AppendUserPass(b, "bob", "pw")
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	var resp [4]byte
	if _, err := io.ReadFull(c, resp[:]); err != nil || resp != [4]byte{5, 2, 1, 0} {
		t.Fatalf("method choice and status % x, %v", resp, err)
	}
	req, _ := AppendRequest(nil, Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(echo.AddrPort())})
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	if rep, _, err := ReadReply(c); err != nil || rep != ReplySucceeded {
		t.Fatalf("reply %v %v", rep, err)
	}
	c.Close()
	if e := ts.access.wait(t, func(*observe.Entry) bool { return true }); e.User != "bob" || e.Status != 0 {
		t.Fatalf("entry %+v", e)
	}
}

func TestSOCKS5NoAcceptableMethod(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		g       *gate.Gate
		allow5  bool
		methods []Method
	}{
		{desc: "auth required, only no-auth offered", g: &gate.Gate{AuthRequired: true, Users: newUsers(t, "a", "b")}, allow5: true, methods: []Method{MethodNoAuth}},
		{desc: "no users, only user/password offered", g: &gate.Gate{}, allow5: true, methods: []Method{MethodUserPass}},
		{desc: "only gssapi offered", g: &gate.Gate{}, allow5: true, methods: []Method{MethodGSSAPI}},
		{desc: "socks5 not allowed on the listener", g: &gate.Gate{}, methods: []Method{MethodNoAuth}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ts := startServer(t, Options{Gate: tc.g, AllowSOCKS5: tc.allow5, AllowSOCKS4: true})
			c := dialRaw(t, ts.addr)
			if _, err := c.Write(AppendGreeting(nil, tc.methods...)); err != nil {
				t.Fatal(err)
			}
			var sel [2]byte
			if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{5, 0xff} {
				t.Fatalf("method choice % x, %v; want 05 ff", sel, err)
			}
			expectClosed(t, c, 2*time.Second)
			e := ts.access.wait(t, func(*observe.Entry) bool { return true })
			if e.Status != int(ReplyNotAllowed) || e.Error == "" {
				t.Fatalf("entry %+v", e)
			}
		})
	}
}

func TestSOCKS5ReplyCodes(t *testing.T) {
	checkLeaks(t)
	echo := tcpEcho(t, "tcp", "127.0.0.1:0")
	alias := tcpEcho(t, "tcp", "127.0.0.2:0") // reachable, but the policy forbids it
	// The dialer refuses the proxy's own address (a loop).
	var self netip.AddrPort
	dialer := &outbound.Dialer{Resolver: testResolver{}, Self: func(ap netip.AddrPort) bool { return ap == self }}
	ts := startServer(t, Options{Gate: &gate.Gate{Policy: denyLoopbackAlias()}, Dialer: dialer, AllowSOCKS5: true})
	self = netip.MustParseAddrPort(ts.addr)
	for _, tc := range []struct {
		desc string
		req  Request
		raw  []byte // sent instead of req when set
		want Reply
		rule string
	}{
		{desc: "granted", req: Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(echo.AddrPort())}, want: ReplySucceeded, rule: "rest"},
		{desc: "0x02 address denied by a rule", req: Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(alias.AddrPort())}, want: ReplyNotAllowed, rule: "no-127.0.0.2"},
		{desc: "0x05 closed port", req: Request{Cmd: CmdConnect, Addr: Addr{IP: netip.MustParseAddr("127.0.0.1"), Port: closedPort(t)}}, want: ReplyConnRefused, rule: "rest"},
		{desc: "0x04 name that never resolves", req: Request{Cmd: CmdConnect, Addr: Addr{Name: "nonexistent.invalid", Port: 80}}, want: ReplyHostUnreachable, rule: "rest"},
		{desc: "0x07 bind", req: Request{Cmd: CmdBind, Addr: AddrFromAddrPort(echo.AddrPort())}, want: ReplyCmdNotSupported},
		{desc: "0x07 unknown command", req: Request{Cmd: 0x09, Addr: AddrFromAddrPort(echo.AddrPort())}, want: ReplyCmdNotSupported},
		{desc: "0x08 unknown address type", raw: []byte{5, 1, 0, 0x09, 127, 0, 0, 1, 0, 80}, want: ReplyAddrTypeUnsupported},
		{desc: "0x01 malformed name", raw: []byte{5, 1, 0, 3, 2, 'a', 0, 0, 80}, want: ReplyGeneralFailure},
		{desc: "0x02 the proxy itself", req: Request{Cmd: CmdConnect, Addr: AddrFromAddrPort(self)}, want: ReplyNotAllowed, rule: "rest"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			var rep Reply
			if tc.raw != nil {
				if _, err := c.Write(append(AppendGreeting(nil, MethodNoAuth), tc.raw...)); err != nil {
					t.Fatal(err)
				}
				var sel [2]byte
				if _, err := io.ReadFull(c, sel[:]); err != nil {
					t.Fatal(err)
				}
				r, _, err := ReadReply(c)
				if err != nil {
					t.Fatal(err)
				}
				rep = r
			} else {
				rep, _ = handshake5(t, c, tc.req)
			}
			if rep != tc.want {
				t.Fatalf("reply %v, want %v", rep, tc.want)
			}
			if rep == ReplySucceeded {
				c.Close()
			} else {
				expectClosed(t, c, 2*time.Second)
			}
			e := ts.access.wait(t, func(e *observe.Entry) bool { return e.Client == netip.MustParseAddrPort(c.LocalAddr().String()) })
			if e.Status != int(tc.want) || e.Rule != tc.rule || (tc.want != ReplySucceeded) != (e.Error != "") {
				t.Fatalf("entry %+v, want status %d rule %q", e, tc.want, tc.rule)
			}
		})
	}
}

func TestReplyForMapsEveryDialFailure(t *testing.T) {
	for _, tc := range []struct {
		desc string
		err  error
		want Reply
	}{
		{desc: "gate refused before the dial", err: &errRefused{gate.Decision{Verdict: gate.Deny, Rule: "r"}}, want: ReplyNotAllowed},
		{desc: "gate challenged", err: &errRefused{gate.Decision{Verdict: gate.Challenge, Rule: gate.RuleAuth}}, want: ReplyNotAllowed},
		{desc: "resolved address denied", err: &outbound.Error{Kind: outbound.KindDenied}, want: ReplyNotAllowed},
		{desc: "loop", err: &outbound.Error{Kind: outbound.KindLoop}, want: ReplyNotAllowed},
		{desc: "network unreachable", err: &outbound.Error{Kind: outbound.KindNetUnreachable}, want: ReplyNetUnreachable},
		{desc: "host unreachable", err: &outbound.Error{Kind: outbound.KindHostUnreachable}, want: ReplyHostUnreachable},
		{desc: "no such host", err: &outbound.Error{Kind: outbound.KindNoHost}, want: ReplyHostUnreachable},
		{desc: "timeout", err: fmt.Errorf("wrapped: %w", &outbound.Error{Kind: outbound.KindTimeout}), want: ReplyHostUnreachable},
		{desc: "refused", err: &outbound.Error{Kind: outbound.KindRefused}, want: ReplyConnRefused},
		{desc: "anything else", err: io.ErrClosedPipe, want: ReplyGeneralFailure},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := replyFor(tc.err); got != tc.want {
				t.Fatalf("replyFor = %v, want %v", got, tc.want)
			}
		})
	}
}
