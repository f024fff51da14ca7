package httpface

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/outbound"
	"golang.org/x/crypto/bcrypt"
)

func usersGate(t *testing.T, rules ...gate.Rule) *gate.Gate {
	t.Helper()
	hash := func(pw string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	users, err := gate.NewUsers([]gate.User{
		{Name: "alice", Hash: hash("wonderland")},
		{Name: "bob", Hash: hash("builder")},
	}, time.Minute, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	return &gate.Gate{
		Policy:       &gate.Policy{Name: "office", Rules: rules},
		Users:        users,
		AuthRequired: true,
		ConnectPorts: gate.PortSet{{Lo: 1, Hi: 65535}},
	}
}

func proxyClientAs(t *testing.T, p *proxyUnderTest, user, password string) *http.Client {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: p.addr}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestProxyAuthentication407Flow(t *testing.T) {
	origin := echoOrigin(t)
	g := usersGate(t, gate.Rule{Name: "office#1", Allow: true, Users: []string{"*"}})
	p := startProxy(t, Options{Gate: g})
	tests := []struct {
		desc       string
		user, pass string
		status     int
		logUser    string
	}{
		{desc: "no credentials are challenged", status: 407},
		{desc: "a wrong password is refused", user: "alice", pass: "looking-glass", status: 407, logUser: "alice"},
		{desc: "an unknown user is refused", user: "mallory", pass: "x", status: 407, logUser: "mallory"},
		{desc: "good credentials pass", user: "alice", pass: "wonderland", status: 200, logUser: "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			logged := p.access.count()
			resp, err := proxyClientAs(t, p, tt.user, tt.pass).Get(origin.URL)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 407 && resp.Header.Get("Proxy-Authenticate") != `Basic realm="janus"` {
				t.Errorf("Proxy-Authenticate %q", resp.Header.Get("Proxy-Authenticate"))
			}
			e := p.access.find(t, func(*observe.Entry) bool { return p.access.count() > logged })
			if e.User != tt.logUser || e.Status != tt.status {
				t.Errorf("logged user %q status %d", e.User, e.Status)
			}
			if tt.pass != "" && strings.Contains(e.Error, tt.pass) {
				t.Errorf("the password is in the log: %q", e.Error)
			}
		})
	}
}

func TestAuthenticatedUsersAreHeldToTheirRules(t *testing.T) {
	origin := echoOrigin(t)
	g := usersGate(t, gate.Rule{Name: "office#1", Allow: true, Users: []string{"alice"}})
	p := startProxy(t, Options{Gate: g})
	cl := proxyClientAs(t, p, "alice", "wonderland")
	for i := 0; i < 5; i++ {
		resp, err := cl.Get(origin.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// bob is a valid user but no rule lets him in.
	resp, err := proxyClientAs(t, p, "bob", "builder").Get(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), gate.RuleDefault) {
		t.Fatalf("bob got %d %q, want 403 by %s", resp.StatusCode, b, gate.RuleDefault)
	}
}

func TestDenyAnswers403NamingTheRule(t *testing.T) {
	origin := echoOrigin(t)
	host, _ := mustURL(origin.URL).Hostname(), 0
	g := &gate.Gate{Policy: &gate.Policy{Rules: []gate.Rule{
		{Name: "office#1", Allow: false, Hosts: []gate.HostPattern{mustHost(t, host)}},
		{Name: "office#2", Allow: true},
	}}}
	p := startProxy(t, Options{Gate: g})
	resp, err := p.client(t).Get(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || strings.TrimSpace(string(b)) != "access denied by rule office#1" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	if e := p.access.last(t); e.Rule != "office#1" || e.Status != 403 || e.Error == "" {
		t.Errorf("access entry %+v", e)
	}
}

func mustHost(t *testing.T, s string) gate.HostPattern {
	h, err := gate.ParseHostPattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// mapResolver answers names from a map, without DNS.
type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ contextContext, _, host string) ([]netip.Addr, error) {
	if a, ok := m[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// listenOn starts an origin on a given loopback alias and counts accepts.
func listenOn(t *testing.T, ip string) (port string, accepts *int32Counter) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reached") }))
	s.Listener.Close()
	s.Listener = ln
	accepts = &int32Counter{}
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepts.add()
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, accepts
}

func TestForbiddenResolvedAddressIsDeniedAtDialTime(t *testing.T) {
	port, accepts := listenOn(t, "127.0.0.2")
	dests, _ := addrset.Parse("127.0.0.2")
	g := &gate.Gate{Policy: &gate.Policy{Rules: []gate.Rule{
		{Name: "no-alias", Allow: false, Dests: dests},
		{Name: "rest", Allow: true},
	}}}
	d := &outbound.Dialer{Resolver: mapResolver{"innocent.test": {netip.MustParseAddr("127.0.0.2")}}}
	p := startProxy(t, Options{Gate: g, Dialer: d})
	for _, target := range []string{"http://innocent.test:" + port + "/", "http://127.0.0.2:" + port + "/"} {
		resp, err := p.client(t).Get(target)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(b), "no-alias") {
			t.Errorf("%s: %d %q", target, resp.StatusCode, b)
		}
	}
	if n := accepts.get(); n != 0 {
		t.Fatalf("the forbidden origin accepted %d connections", n)
	}
}

func TestPooledConnectionIsRecheckedForEachRequest(t *testing.T) {
	port, accepts := listenOn(t, "127.0.0.1")
	dests, _ := addrset.Parse("127.0.0.1")
	g := usersGate(t,
		gate.Rule{Name: "bob-not-local", Allow: false, Users: []string{"bob"}, Dests: dests},
		gate.Rule{Name: "users", Allow: true, Users: []string{"*"}},
	)
	d := &outbound.Dialer{Resolver: mapResolver{"app.test": {netip.MustParseAddr("127.0.0.1")}}}
	p := startProxy(t, Options{Gate: g, Dialer: d})
	target := "http://app.test:" + port + "/"
	resp, err := proxyClientAs(t, p, "alice", "wonderland").Get(target)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("alice: %d", resp.StatusCode)
	}
	waitFor(t, func() bool { return p.srv.pool.Len() == 1 })
	resp, err = proxyClientAs(t, p, "bob", "builder").Get(target)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "bob-not-local") {
		t.Fatalf("bob on alice's pooled connection: %d %q", resp.StatusCode, b)
	}
	if accepts.get() != 1 {
		t.Fatalf("origin accepted %d connections", accepts.get())
	}
}
