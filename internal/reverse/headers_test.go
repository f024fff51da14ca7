package reverse

import (
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// fields lists a header as "Name: value" lines, in order.
func fields(h *httpmsg.Header) []string {
	var out []string
	for i := 0; i < h.Len(); i++ {
		n, v := h.Field(i)
		out = append(out, string(n)+": "+string(v))
	}
	return out
}

func values(h *httpmsg.Header, name string) []string {
	var out []string
	for i := h.Index(name, 0); i >= 0; i = h.Index(name, i+1) {
		out = append(out, string(h.Value(i)))
	}
	return out
}

var lb = addrset.New(netip.MustParsePrefix("10.0.0.0/8"))

func TestForwardingFieldsFollowPeerTrust(t *testing.T) {
	f := NewForwarding(ForwardingOptions{Trusted: lb, RequestID: RequestIDOff})
	spoofed := []string{
		"X-Forwarded-For: 6.6.6.6",
		"X-Forwarded-Proto: https",
		"X-Forwarded-Host: evil.test",
		"X-Forwarded-Port: 1",
		"Forwarded: for=6.6.6.6;proto=https",
		"X-Real-IP: 6.6.6.6",
		"True-Client-IP: 6.6.6.6",
	}
	tests := []struct {
		desc   string
		peer   string
		scheme string
		host   string
		in     []string
		want   map[string][]string // field → values; nil slice: absent
	}{
		{desc: "untrusted peer without fields gets Janus's", peer: "192.0.2.7", scheme: "http", host: "site.test",
			want: map[string][]string{
				"X-Forwarded-For":   {"192.0.2.7"},
				"X-Forwarded-Proto": {"http"},
				"X-Forwarded-Host":  {"site.test"},
				"X-Real-IP":         {"192.0.2.7"},
				"Forwarded":         {"for=192.0.2.7;host=site.test;proto=http"},
			}},
		{desc: "untrusted peer's spoofed fields are replaced", peer: "192.0.2.7", scheme: "https", host: "site.test:8443", in: spoofed,
			want: map[string][]string{
				"X-Forwarded-For":   {"192.0.2.7"},
				"X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host":  {"site.test:8443"},
				"X-Real-IP":         {"192.0.2.7"},
				"Forwarded":         {`for=192.0.2.7;host="site.test:8443";proto=https`},
				"X-Forwarded-Port":  nil,
				"True-Client-IP":    nil,
			}},
		{desc: "trusted peer's fields are kept and extended", peer: "10.1.1.1", scheme: "http", host: "site.test", in: spoofed,
			want: map[string][]string{
				"X-Forwarded-For":   {"6.6.6.6, 10.1.1.1"},
				"X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host":  {"evil.test"},
				"X-Forwarded-Port":  {"1"},
				"X-Real-IP":         {"6.6.6.6"},
				"Forwarded":         {"for=6.6.6.6;proto=https, for=10.1.1.1;host=site.test;proto=http"},
				"True-Client-IP":    {"6.6.6.6"},
			}},
		{desc: "trusted peer's repeated fields are combined", peer: "10.1.1.1", scheme: "http", host: "h",
			in:   []string{"X-Forwarded-For: 1.1.1.1", "X-Forwarded-For: 2.2.2.2, 3.3.3.3"},
			want: map[string][]string{"X-Forwarded-For": {"1.1.1.1, 2.2.2.2, 3.3.3.3, 10.1.1.1"}}},
		{desc: "trusted peer as a mapped address", peer: "::ffff:10.1.1.1", scheme: "http", host: "h",
			in:   []string{"X-Forwarded-For: 1.1.1.1"},
			want: map[string][]string{"X-Forwarded-For": {"1.1.1.1, 10.1.1.1"}, "X-Real-IP": {"10.1.1.1"}}},
		{desc: "IPv6 peer is bracketed and quoted in Forwarded", peer: "2001:db8::7", scheme: "https", host: "h",
			want: map[string][]string{
				"X-Forwarded-For": {"2001:db8::7"},
				"Forwarded":       {`for="[2001:db8::7]";host=h;proto=https`},
			}},
		{desc: "no host", peer: "192.0.2.7", scheme: "http",
			want: map[string][]string{"X-Forwarded-Host": nil, "Forwarded": {"for=192.0.2.7;proto=http"}}},
		{desc: "unknown peer", scheme: "http",
			want: map[string][]string{"Forwarded": {"for=unknown;proto=http"}, "X-Forwarded-For": nil, "X-Real-IP": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			req := get(t, "GET", "/", "site.test", tt.in...)
			in := Inbound{Scheme: tt.scheme, Host: []byte(tt.host)}
			if tt.peer != "" {
				in.Peer = netip.MustParseAddr(tt.peer)
			}
			f.Apply(&req.Header, &in)
			for name, want := range tt.want {
				got := values(&req.Header, name)
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s = %q, want %q\nheader: %q", name, got, want, fields(&req.Header))
				}
			}
		})
	}
}

func TestConnectionHeaderCannotDropXForwardedFor(t *testing.T) {
	f := NewForwarding(ForwardingOptions{Trusted: lb})
	for _, tt := range []struct {
		desc, peer, want string
	}{
		{desc: "untrusted", peer: "192.0.2.7", want: "192.0.2.7"},
		{desc: "trusted", peer: "10.0.0.9", want: "10.0.0.9"}, // the client's own list went with Connection
	} {
		t.Run(tt.desc, func(t *testing.T) {
			req := get(t, "GET", "/", "h",
				"Connection: keep-alive, X-Forwarded-For, X-Request-Id, Forwarded, X-Private",
				"X-Forwarded-For: 6.6.6.6",
				"X-Private: secret",
				"Keep-Alive: timeout=5",
				"Upgrade: websocket",
				"TE: trailers",
				"Proxy-Authorization: Basic eA==")
			f.Apply(&req.Header, &Inbound{Peer: netip.MustParseAddr(tt.peer), Scheme: "http"})
			if got := values(&req.Header, "X-Forwarded-For"); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("X-Forwarded-For = %q, want [%q]", got, tt.want)
			}
			if len(values(&req.Header, "Forwarded")) != 1 || len(values(&req.Header, "X-Request-Id")) != 1 {
				t.Fatalf("Janus's Forwarded or X-Request-Id missing: %q", fields(&req.Header))
			}
			for _, gone := range []string{"Connection", "X-Private", "Keep-Alive", "Upgrade", "TE", "Proxy-Authorization"} {
				if req.Header.Has(gone) {
					t.Fatalf("%s was forwarded: %q", gone, fields(&req.Header))
				}
			}
		})
	}
}

func TestForwardingKeepsUpgradeWhenAsked(t *testing.T) {
	f := NewForwarding(ForwardingOptions{})
	req := get(t, "GET", "/ws", "h", "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Key: x")
	f.Apply(&req.Header, &Inbound{Peer: netip.MustParseAddr("192.0.2.1"), Scheme: "http", Upgrade: true})
	if string(req.Header.Get("Upgrade")) != "websocket" || req.Header.Has("Connection") || !req.Header.Has("Sec-WebSocket-Key") {
		t.Fatalf("header = %q", fields(&req.Header))
	}
}

var idShape = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestIDModes(t *testing.T) {
	tests := []struct {
		desc string
		mode RequestIDMode
		in   []string
		want string // "new": a fresh ID; "": none
	}{
		{desc: "preserve passes a well-formed id", mode: RequestIDPreserve, in: []string{"X-Request-Id: 3f2a-77:b.c_d"}, want: "3f2a-77:b.c_d"},
		{desc: "preserve generates without one", mode: RequestIDPreserve, want: "new"},
		{desc: "preserve replaces a malformed id", mode: RequestIDPreserve, in: []string{"X-Request-Id: a b\"<script>"}, want: "new"},
		{desc: "preserve replaces an overlong id", mode: RequestIDPreserve, in: []string{"X-Request-Id: " + strings.Repeat("a", 129)}, want: "new"},
		{desc: "preserve replaces repeated ids", mode: RequestIDPreserve, in: []string{"X-Request-Id: a", "X-Request-Id: b"}, want: "new"},
		{desc: "generate replaces", mode: RequestIDGenerate, in: []string{"X-Request-Id: abc"}, want: "new"},
		{desc: "off leaves it", mode: RequestIDOff, in: []string{"X-Request-Id: a b"}, want: "a b"},
		{desc: "off without one", mode: RequestIDOff, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := NewForwarding(ForwardingOptions{RequestID: tt.mode})
			req := get(t, "GET", "/", "h", tt.in...)
			id := f.Apply(&req.Header, &Inbound{Peer: netip.MustParseAddr("192.0.2.1")})
			got := values(&req.Header, "X-Request-Id")
			switch tt.want {
			case "":
				if id != nil || got != nil {
					t.Fatalf("id %q, header %q; want none", id, got)
				}
			case "new":
				if !idShape.Match(id) || len(got) != 1 || got[0] != string(id) {
					t.Fatalf("id %q, header %q; want one fresh id", id, got)
				}
			default:
				if string(id) != tt.want || len(got) != 1 || got[0] != tt.want {
					t.Fatalf("id %q, header %q; want %q", id, got, tt.want)
				}
			}
		})
	}
}

func TestRequestIDsAreUniqueAcrossGoroutinesAndGenerators(t *testing.T) {
	const goroutines, each = 8, 20000
	seen := make(map[string]bool, 2*goroutines*each)
	var mu sync.Mutex
	for _, g := range []*RequestIDs{NewRequestIDs(), NewRequestIDs()} {
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				ids := make([]string, 0, each)
				var b [RequestIDLen]byte
				for range each {
					ids = append(ids, string(g.Append(b[:0])))
				}
				mu.Lock()
				defer mu.Unlock()
				for _, id := range ids {
					if seen[id] || !idShape.MatchString(id) {
						t.Errorf("id %q repeated or malformed", id)
						return
					}
					seen[id] = true
				}
			})
		}
		wg.Wait()
	}
}

func TestHeaderOpsRemoveThenSetThenAdd(t *testing.T) {
	tb := mustTable(t, []RouteSpec{{
		Action:     to("app"),
		HideServer: true,
		Request: HeaderSpec{
			Remove: []string{"x-debug", "Cookie"},
			Set:    []Field{{Name: "X-Env", Value: "prod"}, {Name: "X-Debug", Value: "0"}},
			Add:    []Field{{Name: "X-Tag", Value: "a"}, {Name: "X-Env", Value: "second"}},
		},
		Response: HeaderSpec{Set: []Field{{Name: "Cache-Control", Value: "no-store"}}},
	}})
	r := tb.Routes()[0]
	req := get(t, "GET", "/", "h", "X-Debug: 1", "Cookie: a=b", "X-Env: dev", "X-Env: test", "X-Tag: z")
	r.Request.Apply(&req.Header)
	want := "Host: h|X-Tag: z|X-Env: prod|X-Debug: 0|X-Tag: a|X-Env: second"
	if got := strings.Join(fields(&req.Header), "|"); got != want {
		t.Fatalf("request header %q, want %q", got, want)
	}

	var resp httpmsg.ResponseHead
	for _, f := range []string{"Server", "X-Powered-By", "x-powered-by", "Cache-Control", "Content-Type"} {
		resp.Header.AddString(f, "v")
	}
	r.Response.Apply(&resp.Header)
	if got := strings.Join(fields(&resp.Header), "|"); got != "Content-Type: v|Cache-Control: no-store" {
		t.Fatalf("response header %q", got)
	}
	if r.Request.Empty() || (&HeaderOps{}).Empty() == false {
		t.Fatalf("Empty is wrong")
	}
}

func TestForwardingApplyDoesNotAllocate(t *testing.T) {
	f := NewForwarding(ForwardingOptions{Trusted: lb})
	src := get(t, "GET", "/", "site.test", "X-Forwarded-For: 1.2.3.4", "Connection: keep-alive", "User-Agent: x")
	req := new(httpmsg.RequestHead)
	in := &Inbound{Peer: netip.MustParseAddr("2001:db8::1"), Scheme: "https", Host: []byte("site.test")}
	for range 3 { // grow the head's storage
		req.CopyFrom(src)
		f.Apply(&req.Header, in)
	}
	allocs := testing.AllocsPerRun(200, func() {
		req.CopyFrom(src)
		f.Apply(&req.Header, in)
	})
	if allocs != 0 {
		t.Fatalf("Apply allocates %v times per request", allocs)
	}
}

func BenchmarkForwardingApply(b *testing.B) {
	f := NewForwarding(ForwardingOptions{Trusted: lb})
	src := get(b, "GET", "/", "site.test", "X-Forwarded-For: 1.2.3.4", "Connection: keep-alive", "User-Agent: x", "Accept: */*")
	req := new(httpmsg.RequestHead)
	in := &Inbound{Peer: netip.MustParseAddr("192.0.2.1"), Scheme: "https", Host: []byte("site.test")}
	b.ReportAllocs()
	for b.Loop() {
		req.CopyFrom(src)
		f.Apply(&req.Header, in)
	}
}
