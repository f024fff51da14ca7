package upstream

import (
	"bytes"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func cookieRequest(cookie string) *Request {
	var h httpmsg.Header
	if cookie != "" {
		h.AddString("Cookie", cookie)
	}
	return &Request{Header: &h}
}

// TestStickyCookieKeepsClientOnItsHost: a new client is balanced and told
// which cookie to set; with the cookie it stays on that host; when the host
// goes away it moves and is told the new value.
func TestStickyCookieKeepsClientOnItsHost(t *testing.T) {
	clk := newFakeClock()
	p := newPool(t, NewRegistry(clk.Now), checked(Options{Targets: targets(3), Balance: Cookie, CookieName: "srv"}))

	first, err := p.Pick(cookieRequest(""))
	if err != nil {
		t.Fatal(err)
	}
	name, value, ok := p.StickyCookie(cookieRequest(""), first)
	if !ok || name != "srv" || value != first.ID() {
		t.Fatalf("StickyCookie for a new client = %q, %q, %v; want srv, %s, true", name, value, ok, first.ID())
	}
	if strings.Contains(value, "127.0.0") || len(value) != 16 {
		t.Errorf("cookie value %q should be an opaque 16-hex-digit id", value)
	}

	back := cookieRequest("theme=dark; srv=" + value)
	for range 20 {
		h, err := p.Pick(back)
		if err != nil {
			t.Fatal(err)
		}
		if h != first {
			t.Fatalf("client with cookie went to %s, want %s", h.addr, first.addr)
		}
		if _, _, ok := p.StickyCookie(back, h); ok {
			t.Fatal("StickyCookie asks to set the cookie the client already has")
		}
	}

	first.unhealthy.Store(true)
	moved, err := p.Pick(back)
	if err != nil {
		t.Fatal(err)
	}
	if moved == first {
		t.Fatal("client stuck to an unhealthy host")
	}
	if _, v, ok := p.StickyCookie(back, moved); !ok || v != moved.ID() {
		t.Fatalf("after moving, StickyCookie = %q, %v; want %s, true", v, ok, moved.ID())
	}

	// An unknown value (a host removed by a reload) is balanced.
	if h, err := p.Pick(cookieRequest("srv=0123456789abcdef")); err != nil || h == nil {
		t.Fatalf("unknown cookie value: %v, %v", h, err)
	}
	// A sticky client still honours exclusion (a retry).
	first.unhealthy.Store(false)
	if h, _ := p.Pick(back, first); h == first {
		t.Fatal("retry went back to the excluded sticky host")
	}
}

// TestHostIDIsStableAcrossRegistries: another instance (or a restart)
// gives a host the same id, so cookies survive them.
func TestHostIDIsStableAcrossRegistries(t *testing.T) {
	a := newPool(t, NewRegistry(nil), Options{Targets: targets(2), Balance: Cookie})
	b := newPool(t, NewRegistry(nil), Options{Targets: targets(2), Balance: Cookie})
	for i, h := range a.members.Load().hosts {
		if h.ID() != b.members.Load().hosts[i].ID() {
			t.Fatalf("host %s has ids %s and %s", h.addr, h.ID(), b.members.Load().hosts[i].ID())
		}
	}
	c := newPool(t, NewRegistry(nil), Options{Name: "other", Targets: targets(1), Balance: Cookie})
	if c.members.Load().hosts[0].ID() == a.members.Load().hosts[0].ID() {
		t.Error("the same address in two pools has the same id")
	}
	if _, _, ok := newPool(t, NewRegistry(nil), Options{Targets: targets(1)}).StickyCookie(nil, a.members.Load().hosts[0]); ok {
		t.Error("a round-robin pool asks for a sticky cookie")
	}
}

func TestFindCookie(t *testing.T) {
	for _, tc := range []struct {
		desc, value, name string
		want              string
		found             bool
	}{
		{desc: "only pair", value: "a=1", name: "a", want: "1", found: true},
		{desc: "later pair", value: "a=1; b=2", name: "b", want: "2", found: true},
		{desc: "no space", value: "a=1;b=2", name: "b", want: "2", found: true},
		{desc: "extra whitespace", value: "a=1 ;  b = 2 ", name: "b", want: "2", found: true},
		{desc: "quoted", value: `b="x y"`, name: "b", want: "x y", found: true},
		{desc: "empty value", value: "b=", name: "b", want: "", found: true},
		{desc: "value with equals", value: "b=x=y", name: "b", want: "x=y", found: true},
		{desc: "first wins", value: "b=1; b=2", name: "b", want: "1", found: true},
		{desc: "case sensitive", value: "B=1", name: "b"},
		{desc: "prefix is not a match", value: "bb=1", name: "b"},
		{desc: "pair without equals", value: "b; c=1", name: "b"},
		{desc: "empty", value: "", name: "b"},
		{desc: "lone quote", value: `b="`, name: "b", want: `"`, found: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok := findCookie([]byte(tc.value), tc.name)
			if ok != tc.found || string(got) != tc.want {
				t.Errorf("findCookie(%q, %q) = %q, %v; want %q, %v", tc.value, tc.name, got, ok, tc.want, tc.found)
			}
		})
	}
}

// FuzzFindCookie: never panics, returns a piece of its input without ";",
// and finds a well-formed pair appended to any cookie-string that does not
// already name it.
func FuzzFindCookie(f *testing.F) {
	for _, s := range []string{"a=1; b=2", `sid="abc"`, "x", ";;;", "=; =", " b = c ", `b="`} {
		f.Add(s, "b", "v1")
	}
	f.Fuzz(func(t *testing.T, s, name, value string) {
		got, ok := findCookie([]byte(s), name)
		if ok {
			if bytes.IndexByte(got, ';') >= 0 || !strings.Contains(s, string(got)) {
				t.Fatalf("findCookie(%q, %q) = %q", s, name, got)
			}
		} else if got != nil {
			t.Fatalf("not found but returned %q", got)
		}
		if !cookieToken(name) || !cookieToken(value) {
			return
		}
		if _, named := findCookie([]byte(s), name); named {
			return
		}
		got, ok = findCookie([]byte(s+"; "+name+"="+value), name)
		if !ok || string(got) != value {
			t.Fatalf("findCookie(%q + %q=%q) = %q, %v", s, name, value, got, ok)
		}
	})
}

// cookieToken: a name or value of RFC 6265 §4.1.1 cookie-octets, without
// "=" and without quotes (which the parser strips).
func cookieToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`";,\=`, c) >= 0 {
			return false
		}
	}
	return true
}
