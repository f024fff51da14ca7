package reverse

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// readRequest parses a raw request head with Janus's own HTTP/1.1 engine,
// so the tests see requests exactly as the face will.
func readRequest(t testing.TB, raw string) *httpmsg.RequestHead {
	t.Helper()
	var r http1.Reader
	r.Reset(strings.NewReader(raw))
	h := new(httpmsg.RequestHead)
	if _, err := http1.ReadRequest(&r, h, http1.Limits{}); err != nil {
		t.Fatalf("parsing %q: %v", raw, err)
	}
	return h
}

// get builds "GET target HTTP/1.1" with a Host and extra field lines.
func get(t testing.TB, method, target, host string, fields ...string) *httpmsg.RequestHead {
	t.Helper()
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	return readRequest(t, b.String())
}

func mustTable(t testing.TB, specs []RouteSpec) *Table {
	t.Helper()
	tb, err := NewTable(specs)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tb
}

func to(name string) ActionSpec { return ActionSpec{Upstream: name} }

// precedenceSpecs is the table TestMatchPrecedence runs against. Each
// route proxies to a pool named after the route, so a result names itself.
var precedenceSpecs = []RouteSpec{
	{Name: "any-root", Match: MatchSpec{PathPrefix: "/"}},
	{Name: "any-api", Match: MatchSpec{PathPrefix: "/api/"}},
	{Name: "any-api-v1", Match: MatchSpec{PathPrefix: "/api/v1/"}},
	{Name: "any-api-exact", Match: MatchSpec{Path: "/api/status"}},
	{Name: "any-api-post", Match: MatchSpec{PathPrefix: "/api/", Methods: []string{"POST", "PUT"}}},
	{Name: "any-api-post-json", Match: MatchSpec{PathPrefix: "/api/", Methods: []string{"POST"},
		Headers: []FieldMatch{{Name: "Content-Type", Value: "application/json"}}}},
	{Name: "wild", Match: MatchSpec{Hosts: []string{"*.example.com"}, PathPrefix: "/"}},
	{Name: "wild-deep", Match: MatchSpec{Hosts: []string{"*.EU.example.com"}, PathPrefix: "/"}},
	{Name: "exact-host", Match: MatchSpec{Hosts: []string{"www.example.com"}, PathPrefix: "/"}},
	{Name: "exact-host-api", Match: MatchSpec{Hosts: []string{"www.example.com"}, PathPrefix: "/api/"}},
	{Name: "tie-first", Match: MatchSpec{Hosts: []string{"tie.test"}, PathPrefix: "/",
		Query: []FieldMatch{{Name: "debug"}}}},
	{Name: "tie-second", Match: MatchSpec{Hosts: []string{"tie.test"}, PathPrefix: "/",
		Headers: []FieldMatch{{Name: "X-Debug"}}}},
	{Name: "client-internal", Match: MatchSpec{Hosts: []string{"tie.test"}, Path: "/internal",
		Clients: []string{"10.0.0.0/8"}}},
	{Name: "exact-host-nopath", Match: MatchSpec{Hosts: []string{"bare.test"}}},
	{Name: "query-exact", Match: MatchSpec{PathPrefix: "/search", Query: []FieldMatch{{Name: "q", Value: "a b"}}}},
	{Name: "header-regex", Match: MatchSpec{PathPrefix: "/ua", Headers: []FieldMatch{{Name: "User-Agent", Regex: "curl/.*"}}}},
	{Name: "two-hosts", Match: MatchSpec{Hosts: []string{"one.test", "*.two.test"}, Path: "/x"}},
	{Name: "case-sensitive-method", Match: MatchSpec{Path: "/m", Methods: []string{"get"}}},
}

func init() {
	for i := range precedenceSpecs {
		precedenceSpecs[i].Action = to(precedenceSpecs[i].Name)
	}
}

func TestMatchPrecedence(t *testing.T) {
	tb := mustTable(t, precedenceSpecs)
	outside := netip.MustParseAddr("192.0.2.1")
	inside := netip.MustParseAddr("10.1.2.3")
	tests := []struct {
		desc   string
		method string
		target string
		host   string
		fields []string
		client netip.Addr
		raw    string // a whole request instead of method/target/host
		want   string // "" for no route
	}{
		{desc: "root prefix catches everything else", target: "/", host: "other.test", want: "any-root"},
		{desc: "longer prefix beats shorter", target: "/api/x", host: "other.test", want: "any-api"},
		{desc: "longest prefix wins", target: "/api/v1/x", host: "other.test", want: "any-api-v1"},
		{desc: "exact path beats longest prefix", target: "/api/status", host: "other.test", want: "any-api-exact"},
		{desc: "exact path beats more conditions", method: "POST", target: "/api/status", host: "other.test", want: "any-api-exact"},
		{desc: "more conditions beat fewer on the same prefix", method: "POST", target: "/api/x", host: "other.test", want: "any-api-post"},
		{desc: "any listed method holds", method: "PUT", target: "/api/x", host: "other.test", want: "any-api-post"},
		{desc: "two conditions beat one", method: "POST", target: "/api/x", host: "other.test",
			fields: []string{"Content-Type: application/json"}, want: "any-api-post-json"},
		{desc: "header value is exact", method: "POST", target: "/api/x", host: "other.test",
			fields: []string{"Content-Type: application/json; charset=utf-8"}, want: "any-api-post"},
		{desc: "longer prefix beats more conditions", method: "POST", target: "/api/v1/x", host: "other.test", want: "any-api-v1"},
		{desc: "exact host beats wildcard", target: "/", host: "www.example.com", want: "exact-host"},
		{desc: "exact host longest prefix", target: "/api/x", host: "www.example.com", want: "exact-host-api"},
		{desc: "host ignores case and port", target: "/api/x", host: "WWW.Example.COM:8080", want: "exact-host-api"},
		{desc: "host ignores one trailing dot", target: "/", host: "www.example.com.", want: "exact-host"},
		{desc: "wildcard host beats catch-all with a longer path", target: "/api/v1/x", host: "a.example.com", want: "wild"},
		{desc: "longer wildcard beats shorter", target: "/", host: "x.eu.example.com", want: "wild-deep"},
		{desc: "wildcard covers deeper names", target: "/", host: "a.b.x.eu.example.com", want: "wild-deep"},
		{desc: "wildcard covers one label", target: "/", host: "eu.example.com", want: "wild"},
		{desc: "wildcard does not cover the apex", target: "/", host: "example.com", want: "any-root"},
		{desc: "wildcard needs a non-empty label", target: "/", host: ".example.com", want: "any-root"},
		{desc: "config order breaks a full tie", target: "/?debug=1", host: "tie.test",
			fields: []string{"X-Debug: 1"}, want: "tie-first"},
		{desc: "second of a tie when the first fails", target: "/", host: "tie.test",
			fields: []string{"X-Debug: 1"}, want: "tie-second"},
		{desc: "falls through to a catch-all host when host routes fail", target: "/", host: "tie.test", want: "any-root"},
		{desc: "client CIDR holds", target: "/internal", host: "tie.test", client: inside, want: "client-internal"},
		{desc: "client CIDR holds for a mapped address", target: "/internal", host: "tie.test",
			client: netip.MustParseAddr("::ffff:10.9.9.9"), want: "client-internal"},
		{desc: "client CIDR fails and falls through", target: "/internal", host: "tie.test", want: "any-root"},
		{desc: "host route without path beats any path", target: "/api/v1/x", host: "bare.test", want: "exact-host-nopath"},
		{desc: "query value is form-decoded (+)", target: "/search?q=a+b", host: "other.test", want: "query-exact"},
		{desc: "query value is form-decoded (%20)", target: "/search?x=1&q=a%20b", host: "other.test", want: "query-exact"},
		{desc: "query name is form-decoded", target: "/search?%71=a+b", host: "other.test", want: "query-exact"},
		{desc: "query value must be exact", target: "/search?q=ab", host: "other.test", want: "any-root"},
		{desc: "query presence", target: "/?x&debug", host: "tie.test", want: "tie-first"},
		{desc: "header regex holds", target: "/ua", host: "other.test", fields: []string{"User-Agent: curl/8.5"}, want: "header-regex"},
		{desc: "header regex is anchored", target: "/ua", host: "other.test", fields: []string{"User-Agent: xcurl/8.5"}, want: "any-root"},
		{desc: "header regex against any field of the name", target: "/ua", host: "other.test",
			fields: []string{"User-Agent: x", "User-Agent: curl/1"}, want: "header-regex"},
		{desc: "route with two hosts, exact", target: "/x", host: "one.test", want: "two-hosts"},
		{desc: "route with two hosts, wildcard", target: "/x", host: "a.two.test", want: "two-hosts"},
		{desc: "methods are case-sensitive", target: "/m", host: "other.test", want: "any-root"},
		{desc: "method matches as written", method: "get", target: "/m", host: "other.test", want: "case-sensitive-method"},
		{desc: "absolute-form target overrides Host", raw: "GET http://www.example.com/api/x HTTP/1.1\r\nHost: other.test\r\n\r\n", want: "exact-host-api"},
		{desc: "no Host reaches catch-all routes", raw: "GET /api/x HTTP/1.0\r\n\r\n", want: "any-api"},
		{desc: "IPv6 literal host", target: "/", host: "[::1]:8080", want: "any-root"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var req *httpmsg.RequestHead
			if tt.raw != "" {
				req = readRequest(t, tt.raw)
			} else {
				m := tt.method
				if m == "" {
					m = "GET"
				}
				req = get(t, m, tt.target, tt.host, tt.fields...)
			}
			client := tt.client
			if !client.IsValid() {
				client = outside
			}
			r, _, err := tb.Match(req, client)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			got := ""
			if r != nil {
				got = r.Name
			}
			if got != tt.want {
				t.Fatalf("Match(%s %s, Host %s) = %q, want %q", req.Method, req.Path, tt.host, got, tt.want)
			}
		})
	}
}

func TestMatchWithoutCatchAllReturnsNil(t *testing.T) {
	tb := mustTable(t, []RouteSpec{{Match: MatchSpec{Hosts: []string{"a.test"}, PathPrefix: "/a"}, Action: to("a")}})
	for _, tt := range []struct{ desc, target, host string }{
		{desc: "other host", target: "/a", host: "b.test"},
		{desc: "other path", target: "/b", host: "a.test"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			r, _, err := tb.Match(get(t, "GET", tt.target, tt.host), netip.Addr{})
			if r != nil || err != nil {
				t.Fatalf("Match = %v, %v; want no route", r, err)
			}
		})
	}
}

// TestNormalisedPathsCannotBypassAdminFilter sends each known trick for
// reaching /admin under another spelling against a table that answers 403
// for /admin and proxies the rest: every one either meets the filter or is
// refused with 400, and never reaches the upstream.
func TestNormalisedPathsCannotBypassAdminFilter(t *testing.T) {
	tb := mustTable(t, []RouteSpec{
		{Name: "app", Match: MatchSpec{PathPrefix: "/"}, Action: to("app")},
		{Name: "deny-admin", Match: MatchSpec{PathPrefix: "/admin"}, Action: ActionSpec{Respond: &RespondSpec{Status: 403}}},
		// A host-specific site must not be a way around the filter when it
		// repeats it (see the package doc on precedence).
		{Name: "site", Match: MatchSpec{Hosts: []string{"site.test"}, PathPrefix: "/"}, Action: to("site")},
		{Name: "site-deny-admin", Match: MatchSpec{Hosts: []string{"site.test"}, PathPrefix: "/admin"}, Action: ActionSpec{Respond: &RespondSpec{Status: 403}}},
	})
	tests := []struct {
		desc   string
		target string
		want   string // route name, or "400"
	}{
		{desc: "plain", target: "/admin", want: "deny-admin"},
		{desc: "below", target: "/admin/users", want: "deny-admin"},
		{desc: "with query", target: "/admin?x=1", want: "deny-admin"},
		{desc: "path parameter", target: "/admin;jsessionid=1", want: "deny-admin"},
		{desc: "encoded letter", target: "/%61dmin", want: "deny-admin"},
		{desc: "encoded letter lower hex", target: "/%61%64%6d%69%6e/", want: "deny-admin"},
		{desc: "encoded letter upper hex", target: "/%41dmin", want: "app"}, // %41 is "A": /Admin
		{desc: "dot segment", target: "/./admin", want: "deny-admin"},
		{desc: "encoded dot segment", target: "/%2e/admin", want: "deny-admin"},
		{desc: "duplicate slash", target: "//admin", want: "deny-admin"},
		{desc: "many slashes", target: "///admin//x", want: "deny-admin"},
		{desc: "double dot", target: "/x/../admin", want: "deny-admin"},
		{desc: "encoded double dot", target: "/x/%2e%2e/admin", want: "deny-admin"},
		{desc: "mixed double dot", target: "/x/.%2E/admin", want: "deny-admin"},
		{desc: "double dot after slashes", target: "/x//..//admin", want: "deny-admin"},
		{desc: "trailing dot segment", target: "/admin/.", want: "deny-admin"},
		{desc: "absolute-form", target: "http://example.test//./admin", want: "deny-admin"},
		{desc: "encoded slash", target: "/x%2f..%2fadmin", want: "400"},
		{desc: "encoded slash upper", target: "/%2Fadmin", want: "400"},
		{desc: "backslash", target: "/x\\..\\admin", want: "400"},
		{desc: "encoded backslash", target: "/x%5c..%5cadmin", want: "400"},
		{desc: "encoded NUL", target: "/admin%00", want: "400"},
		{desc: "climbing above the root", target: "/../admin", want: "400"},
		{desc: "encoded climbing", target: "/%2e%2e/admin", want: "400"},
		{desc: "malformed escape", target: "/%zdmin", want: "400"},
		{desc: "escape of a byte that stays encoded", target: "/%admin", want: "app"}, // %AD: not /admin
		{desc: "double encoding is not decoded twice", target: "/%2561dmin", want: "app"},
		// Case-sensitive as in nginx (see the package doc): an origin that
		// folds case must be guarded by a route per spelling or a regex.
		{desc: "other case is another path", target: "/ADMIN", want: "app"},
		{desc: "site host, plain", target: "/admin", want: "site-deny-admin"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			host := "example.test"
			if strings.HasPrefix(tt.desc, "site host") {
				host = "site.test"
			}
			req := get(t, "GET", tt.target, host)
			r, p, err := tb.Match(req, netip.MustParseAddr("192.0.2.1"))
			got := ""
			switch {
			case err != nil:
				var re *RequestError
				if !errors.As(err, &re) || re.Status() != 400 || !errors.Is(err, ErrBadRequest) {
					t.Fatalf("error %v is not a 400 RequestError", err)
				}
				got = "400"
			case r != nil:
				got = r.Name
				if !IsNormal(p.Path) {
					t.Fatalf("Params.Path %q is not normal", p.Path)
				}
			}
			if got != tt.want {
				t.Fatalf("Match(%q) = %q (path %q), want %q", tt.target, got, p.Path, tt.want)
			}
		})
	}
}

func TestMatchParamsDescribeTheRequest(t *testing.T) {
	tb := mustTable(t, []RouteSpec{{Match: MatchSpec{PathPrefix: "/"}, Action: to("app")}})
	tests := []struct {
		desc              string
		req               string
		host, path, query string
		hasQuery          bool
	}{
		{desc: "host loses port and trailing dot, keeps case", req: "GET /a HTTP/1.1\r\nHost: Example.COM.:81\r\n\r\n",
			host: "Example.COM", path: "/a"},
		{desc: "IPv6 host loses brackets", req: "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
			host: "2001:db8::1", path: "/"},
		{desc: "query kept raw", req: "GET /a/../b?x=%2F&y HTTP/1.1\r\nHost: h\r\n\r\n",
			host: "h", path: "/b", query: "x=%2F&y", hasQuery: true},
		{desc: "empty query is not nil", req: "GET /b? HTTP/1.1\r\nHost: h\r\n\r\n",
			host: "h", path: "/b", hasQuery: true},
		{desc: "absolute-form host is the target's", req: "GET http://Target.test:8080/p HTTP/1.1\r\nHost: other\r\n\r\n",
			host: "target.test", path: "/p"},
		{desc: "empty Host", req: "GET / HTTP/1.1\r\nHost: \r\n\r\n", path: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			req := readRequest(t, tt.req)
			before := string(req.Path)
			_, p, err := tb.Match(req, netip.Addr{})
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if string(p.Host) != tt.host || string(p.Path) != tt.path || string(p.Query) != tt.query || (p.Query != nil) != tt.hasQuery {
				t.Fatalf("Params = host %q path %q query %q (nil %v)", p.Host, p.Path, p.Query, p.Query == nil)
			}
			if string(req.Path) != before {
				t.Fatalf("Match changed req.Path from %q to %q", before, req.Path)
			}
		})
	}
}

func TestMatchRefusesTargetsThatAreNotPaths(t *testing.T) {
	tb := mustTable(t, []RouteSpec{{Match: MatchSpec{PathPrefix: "/"}, Action: to("app")}})
	for _, tt := range []struct{ desc, req string }{
		{desc: "asterisk-form", req: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"},
		{desc: "authority-form", req: "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if r, _, err := tb.Match(readRequest(t, tt.req), netip.Addr{}); r != nil || !errors.Is(err, ErrBadRequest) {
				t.Fatalf("Match = %v, %v; want a bad request", r, err)
			}
		})
	}
	t.Run("overlong Host cannot step around a wildcard site", func(t *testing.T) {
		// Found by FuzzMatch: a Host past the lookup buffer fell through to
		// catch-all routes. Now it is refused.
		host := strings.Repeat("w", 300) + ".example.com"
		if _, _, err := tb.Match(get(t, "GET", "/", host), netip.Addr{}); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("Match = %v; want a bad request", err)
		}
		abs := readRequest(t, "GET http://"+host+"/ HTTP/1.1\r\nHost: h\r\n\r\n")
		if _, _, err := tb.Match(abs, netip.Addr{}); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("Match(absolute-form) = %v; want a bad request", err)
		}
	})
	t.Run("bad Host from another codec", func(t *testing.T) {
		// HTTP/1.1 refuses it while parsing; a codec that did not must not
		// get a host match out of it.
		req := &httpmsg.RequestHead{Method: []byte("GET"), Form: httpmsg.OriginForm, Path: []byte("/")}
		req.Header.AddString("Host", "a b")
		if _, _, err := tb.Match(req, netip.Addr{}); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("Match = %v; want a bad request", err)
		}
	})
}

func TestMatchDoesNotAllocate(t *testing.T) {
	tb := mustTable(t, precedenceSpecs)
	for _, tt := range []struct{ desc, target, host string }{
		{desc: "normal path, exact host", target: "/api/x?y=1", host: "WWW.example.com:80"},
		{desc: "path needing normalisation", target: "//a/./b/../%61pi/x", host: "x.eu.example.com"},
		{desc: "query condition", target: "/search?q=a+b", host: "other.test"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			req := get(t, "GET", tt.target, tt.host)
			client := netip.MustParseAddr("10.0.0.1")
			tb.Match(req, client) // grow req's storage once
			req2 := new(httpmsg.RequestHead)
			allocs := testing.AllocsPerRun(200, func() {
				req2.CopyFrom(req)
				if r, _, err := tb.Match(req2, client); r == nil || err != nil {
					t.Fatalf("Match = %v, %v", r, err)
				}
			})
			if allocs != 0 {
				t.Fatalf("Match allocates %v times per request", allocs)
			}
		})
	}
}
