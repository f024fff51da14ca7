package gate

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/janus-proxy/janus/internal/addrset"
)

func set(t *testing.T, entries ...string) addrset.Set {
	t.Helper()
	var sets []addrset.Set
	for _, e := range entries {
		s, err := addrset.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
	}
	return addrset.Union(sets...)
}

func hosts(t *testing.T, patterns ...string) []HostPattern {
	t.Helper()
	var hs []HostPattern
	for _, p := range patterns {
		h, err := ParseHostPattern(p)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

var (
	alice = &Identity{Name: "alice", Groups: []string{"staff"}}
	bob   = &Identity{Name: "bob"}
)

// TestEveryRuleDimension pins each condition a rule can carry, alone.
func TestEveryRuleDimension(t *testing.T) {
	base := Request{Client: netip.MustParseAddr("127.0.0.1"), Protocol: HTTP, Method: "GET", Host: "example.com", Port: 80}
	for _, tc := range []struct {
		desc  string
		rule  Rule
		req   func(r *Request)
		ip    string // resolved destination
		allow bool
	}{
		{desc: "client CIDR matches", rule: Rule{Clients: set(t, "127.0.0.0/8")}, allow: true},
		{desc: "client CIDR misses", rule: Rule{Clients: set(t, "10.0.0.0/8")}},
		{desc: "client set name", rule: Rule{Clients: set(t, "loopback")}, allow: true},
		{desc: "user matches", rule: Rule{Users: []string{"alice"}}, req: func(r *Request) { r.User = alice }, allow: true},
		{desc: "user misses", rule: Rule{Users: []string{"alice"}}, req: func(r *Request) { r.User = bob }},
		{desc: "user rule needs a user", rule: Rule{Users: []string{"*"}}},
		{desc: "any user", rule: Rule{Users: []string{"*"}}, req: func(r *Request) { r.User = bob }, allow: true},
		{desc: "group matches", rule: Rule{Groups: []string{"staff"}}, req: func(r *Request) { r.User = alice }, allow: true},
		{desc: "group misses", rule: Rule{Groups: []string{"staff"}}, req: func(r *Request) { r.User = bob }},
		{desc: "exact host", rule: Rule{Hosts: hosts(t, "example.com")}, allow: true},
		{desc: "exact host ignores case and trailing dot", rule: Rule{Hosts: hosts(t, "example.com")}, req: func(r *Request) { r.Host = "EXAMPLE.com." }, allow: true},
		{desc: "wildcard host", rule: Rule{Hosts: hosts(t, "*.example.com")}, req: func(r *Request) { r.Host = "a.b.example.com" }, allow: true},
		{desc: "wildcard excludes apex", rule: Rule{Hosts: hosts(t, "*.example.com")}},
		{desc: "wildcard is not a suffix match", rule: Rule{Hosts: hosts(t, "*.example.com")}, req: func(r *Request) { r.Host = "badexample.com" }},
		{desc: "destination CIDR on resolved address", rule: Rule{Dests: set(t, "127.0.0.2/32")}, ip: "127.0.0.2", allow: true},
		{desc: "destination CIDR misses", rule: Rule{Dests: set(t, "127.0.0.2/32")}, ip: "127.0.0.3"},
		{desc: "destination v4-mapped form", rule: Rule{Dests: set(t, "127.0.0.2")}, ip: "::ffff:127.0.0.2", allow: true},
		{desc: "destination literal host", rule: Rule{Dests: set(t, "10.0.0.0/8")}, req: func(r *Request) { r.Host = "10.1.1.1" }, allow: true},
		{desc: "port", rule: Rule{Ports: PortSet{{80, 80}}}, allow: true},
		{desc: "port range misses", rule: Rule{Ports: PortSet{{8000, 8999}}}},
		{desc: "protocol", rule: Rule{Protocols: []Protocol{SOCKS5}}, req: func(r *Request) { r.Protocol = SOCKS5 }, allow: true},
		{desc: "protocol misses", rule: Rule{Protocols: []Protocol{SOCKS4}}},
		{desc: "method ignores case", rule: Rule{Methods: []string{"get"}}, allow: true},
		{desc: "method misses", rule: Rule{Methods: []string{"POST"}}},
		{desc: "all conditions must hold", rule: Rule{Ports: PortSet{{80, 80}}, Methods: []string{"POST"}}},
		{desc: "host or address: host matches", rule: Rule{Hosts: hosts(t, "example.com"), Dests: set(t, "10.0.0.0/8")}, ip: "1.2.3.4", allow: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			r := base
			if tc.req != nil {
				tc.req(&r)
			}
			rule := tc.rule
			rule.Name, rule.Allow = "r", true
			g := &Gate{Policy: &Policy{Rules: []Rule{rule}}}
			ip := netip.MustParseAddr("93.184.215.14")
			if tc.ip != "" {
				ip = netip.MustParseAddr(tc.ip)
			}
			if lit, err := netip.ParseAddr(r.Host); err == nil {
				ip = lit
			}
			err := g.CheckAddr(&r, ip)
			if (err == nil) != tc.allow {
				t.Fatalf("CheckAddr = %v, want allow=%v", err, tc.allow)
			}
			if !tc.allow {
				var de *DeniedError
				if !errors.As(err, &de) || de.Rule != RuleDefault {
					t.Errorf("err = %v, want denied by %s", err, RuleDefault)
				}
			}
		})
	}
}

// TestDecideBeforeResolution pins the three-valued evaluation: a rule on
// destination addresses cannot decide before the name is resolved.
func TestDecideBeforeResolution(t *testing.T) {
	denySpecial := Rule{Name: "deny-special", Dests: addrset.Special()}
	allowAlice := Rule{Name: "alice", Allow: true, Users: []string{"alice"}}
	allowAll := Rule{Name: "all", Allow: true}
	denyAll := Rule{Name: "none"}
	allowLocal := Rule{Name: "local", Allow: true, Dests: set(t, "127.0.0.1")}
	for _, tc := range []struct {
		desc  string
		rules []Rule
		user  *Identity
		host  string
		want  Decision
	}{
		{"deny-address then no match is final", []Rule{denySpecial, allowAlice}, bob, "example.com", Decision{Verdict: Deny, Rule: RuleDefault}},
		{"deny-address then allow is provisional", []Rule{denySpecial, allowAlice}, alice, "example.com", Decision{Verdict: Allow, Rule: "alice"}},
		{"literal address decides at once", []Rule{denySpecial, allowAll}, alice, "127.0.0.2", Decision{Verdict: Deny, Rule: "deny-special"}},
		{"allow-address then deny stays open", []Rule{allowLocal, denyAll}, bob, "localhost", Decision{Verdict: Allow, Rule: "local"}},
		{"deny-address then deny is final", []Rule{denySpecial, denyAll}, bob, "example.com", Decision{Verdict: Deny, Rule: "none"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			g := &Gate{Policy: &Policy{Rules: tc.rules}}
			r := &Request{Client: netip.MustParseAddr("127.0.0.1"), User: tc.user, Protocol: HTTP, Method: "GET", Host: tc.host, Port: 80}
			if got := g.Decide(r); got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNameResolvingToForbiddenAddressIsDenied(t *testing.T) {
	g := &Gate{Policy: &Policy{Rules: []Rule{
		{Name: "deny-special", Dests: addrset.Special()},
		{Name: "all", Allow: true},
	}}}
	r := &Request{Client: netip.MustParseAddr("127.0.0.1"), Protocol: SOCKS5, Method: "CONNECT", Host: "rebind.example", Port: 443}
	if d := g.Decide(r); d.Verdict != Allow {
		t.Fatalf("before resolution: %+v, want provisional allow", d)
	}
	for _, forbidden := range []string{"127.0.0.2", "169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1"} {
		err := g.CheckAddr(r, netip.MustParseAddr(forbidden))
		var de *DeniedError
		if !errors.As(err, &de) || de.Rule != "deny-special" {
			t.Errorf("%s: err = %v, want denied by deny-special", forbidden, err)
		}
	}
	if err := g.CheckAddr(r, netip.MustParseAddr("93.184.215.14")); err != nil {
		t.Errorf("public address denied: %v", err)
	}
}

func TestAuthRequiredChallengesAndUnauthenticatedRules(t *testing.T) {
	g := &Gate{AuthRequired: true, Policy: &Policy{Rules: []Rule{
		{Name: "socks4-lan", Allow: true, Unauthenticated: true, Protocols: []Protocol{SOCKS4}, Clients: set(t, "127.0.0.0/8")},
		{Name: "users", Allow: true, Users: []string{"*"}},
	}}}
	for _, tc := range []struct {
		desc   string
		client string
		proto  Protocol
		user   *Identity
		want   Decision
	}{
		{"http without credentials is challenged", "127.0.0.1", HTTP, nil, Decision{Verdict: Challenge, Rule: RuleAuth}},
		{"http with a user passes", "127.0.0.1", HTTP, bob, Decision{Verdict: Allow, Rule: "users"}},
		{"socks4 from an allowed client passes", "127.0.0.1", SOCKS4, nil, Decision{Verdict: Allow, Rule: "socks4-lan"}},
		{"socks4 from elsewhere is challenged", "192.0.2.1", SOCKS4, nil, Decision{Verdict: Challenge, Rule: RuleAuth}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			r := &Request{Client: netip.MustParseAddr(tc.client), User: tc.user, Protocol: tc.proto, Method: "CONNECT", Host: "example.com", Port: 443}
			if got := g.Decide(r); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestConnectPorts(t *testing.T) {
	g := &Gate{}
	r := &Request{Client: netip.MustParseAddr("127.0.0.1"), Protocol: CONNECT, Method: "CONNECT", Host: "example.com", Port: 22}
	if d := g.Decide(r); d.Verdict != Deny || d.Rule != RuleConnectPorts {
		t.Errorf("CONNECT :22 with default ports = %+v", d)
	}
	r.Port = 443
	if d := g.Decide(r); d.Verdict != Allow {
		t.Errorf("CONNECT :443 = %+v", d)
	}
	g.ConnectPorts = PortSet{{1, 65535}}
	r.Port = 22
	if d := g.Decide(r); d.Verdict != Allow {
		t.Errorf("CONNECT :22 with all ports = %+v", d)
	}
	r.Protocol = SOCKS5
	g.ConnectPorts = nil
	if d := g.Decide(r); d.Verdict != Allow {
		t.Errorf("SOCKS5 is not bound by connect ports: %+v", d)
	}
}

func TestUsersAuthenticate(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("wonderland"), bcrypt.MinCost)
	u, err := NewUsers([]User{{Name: "alice", Hash: hash, Groups: []string{"staff"}}}, time.Minute, [16]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	id, err := u.Authenticate("alice", "wonderland")
	if err != nil || id.Name != "alice" || !id.InGroup("staff") {
		t.Fatalf("good password: %v %+v", err, id)
	}
	// Second time from the cache.
	if _, err := u.Authenticate("alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ desc, user, pass string }{
		{"wrong password", "alice", "looking-glass"},
		{"unknown user", "mallory", "wonderland"},
		{"empty", "", ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := u.Authenticate(tc.user, tc.pass)
			if !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v", err)
			}
			if tc.pass != "" && strings.Contains(err.Error(), tc.pass) {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestParseHtpasswd(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	users, err := ParseHtpasswd(strings.NewReader("# c\n\nalice:" + string(hash) + ":staff, ops\nbob:" + string(hash) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || strings.Join(users[0].Groups, "|") != "staff|ops" || users[1].Groups != nil {
		t.Fatalf("users = %+v", users)
	}
	_, err = ParseHtpasswd(strings.NewReader("alice:" + string(hash) + "\ncarol:$apr1$abc$def\n"))
	var he *HtpasswdError
	if !errors.As(err, &he) || he.Line != 2 {
		t.Fatalf("err = %v, want an error at line 2", err)
	}
}

func TestPortRanges(t *testing.T) {
	for _, tc := range []struct {
		desc string
		in   string
		want PortRange
		bad  bool
	}{
		{desc: "single", in: "443", want: PortRange{443, 443}},
		{desc: "range", in: "8000-8999", want: PortRange{8000, 8999}},
		{desc: "zero", in: "0", bad: true},
		{desc: "too big", in: "65536", bad: true},
		{desc: "reversed", in: "9-1", bad: true},
		{desc: "junk", in: "http", bad: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := ParsePortRange(tc.in)
			if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
				t.Errorf("ParsePortRange(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}
