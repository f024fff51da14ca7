package reverse

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func TestRedirectTemplates(t *testing.T) {
	tests := []struct {
		desc     string
		spec     RouteSpec
		scheme   string
		target   string
		host     string
		status   int
		location string
	}{
		{desc: "to https keeping the target", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Status: 301, Location: "https://$host$request_uri"}}},
			scheme: "http", target: "/a/b?x=1", host: "Site.Test:8080", status: 301, location: "https://site.test/a/b?x=1"},
		{desc: "default status is 302", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "/"}}},
			target: "/x", host: "h", status: 302, location: "/"},
		{desc: "braces and literal dollar", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Status: 308, Location: "${scheme}://${host}x/$$y"}}},
			scheme: "https", target: "/", host: "h", status: 308, location: "https://hx/$y"},
		{desc: "path is the rewritten normalised path", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/old/"}, StripPrefix: "/old", AddPrefix: "/new",
			Action: ActionSpec{Redirect: &RedirectSpec{Status: 301, Location: "$scheme://$host$path$is_args$query"}}},
			scheme: "https", target: "/old//a/./b?q=1", host: "h", status: 301, location: "https://h/new/a/b?q=1"},
		{desc: "is_args empty without a query", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "/n$path$is_args$query"}}},
			target: "/a?", host: "h", status: 302, location: "/n/a"},
		{desc: "request_uri alone cannot redirect off-site", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "$request_uri"}}},
			target: "//evil.test/x", host: "h", status: 302, location: "/evil.test/x"},
		{desc: "scheme-relative template is kept", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "//cdn.test$path"}}},
			target: "/a", host: "h", status: 302, location: "//cdn.test/a"},
		{desc: "literal slash then a variable cannot make another host", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "/$query"}}},
			target: "/a?/evil.test", host: "h", status: 302, location: "/evil.test"},
		{desc: "IPv6 host stays as received", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "https://[$host]/"}}},
			target: "/", host: "[2001:DB8::1]", status: 302, location: "https://[2001:db8::1]/"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tb := mustTable(t, []RouteSpec{tt.spec})
			req := get(t, "GET", tt.target, tt.host)
			r, p, err := tb.Match(req, netip.Addr{})
			if r == nil || err != nil {
				t.Fatalf("Match = %v, %v", r, err)
			}
			var rp Reply
			if !r.Reply(&rp, &TemplateInput{Scheme: tt.scheme, Req: req, Params: &p}) {
				t.Fatalf("Reply = false for a redirect")
			}
			if rp.Status != tt.status || string(rp.Location) != tt.location || len(rp.Body) != 0 {
				t.Fatalf("Reply = %d %q body %q, want %d %q", rp.Status, rp.Location, rp.Body, tt.status, tt.location)
			}
			var h httpmsg.ResponseHead
			rp.Head(&h)
			if h.Status != tt.status || string(h.Header.Get("Location")) != tt.location || string(h.Header.Get("Content-Length")) != "0" {
				t.Fatalf("Head = %d %q", h.Status, fields(&h.Header))
			}
		})
	}
}

func TestTemplateEscapesBytesALocationCannotHold(t *testing.T) {
	tpl, err := ParseTemplate("/x?$query")
	if err != nil {
		t.Fatal(err)
	}
	// HTTP/1.1 never delivers these; another codec might.
	req := &httpmsg.RequestHead{Path: []byte("/")}
	p := &Params{Query: []byte("a b\r\nSet-Cookie:\x80")}
	got := string(tpl.Append(nil, &TemplateInput{Req: req, Params: p}))
	if got != "/x?a%20b%0D%0ASet-Cookie:%80" {
		t.Fatalf("Append = %q", got)
	}
	// Match refuses a backslash in a path; a leading "/\\" is cut anyway.
	tpl, _ = ParseTemplate("$request_uri")
	req.Path = []byte("/\\/evil.test")
	if got := string(tpl.Append([]byte("keep"), &TemplateInput{Req: req, Params: p})); got != "keep/evil.test" {
		t.Fatalf("Append = %q", got)
	}
}

func TestParseTemplateRejectsUnknownAndMalformedVariables(t *testing.T) {
	for _, tt := range []struct{ desc, in, msg string }{
		{desc: "unknown", in: "/$uri", msg: "$uri"},
		{desc: "empty name", in: "/$", msg: "unknown variable $"},
		{desc: "unclosed brace", in: "/${host", msg: "unclosed"},
		{desc: "upper case is another name", in: "/$HOST", msg: "unknown variable $"},
		{desc: "space", in: "/a b", msg: "0x20"},
		{desc: "non-ASCII", in: "/caf\u00e9", msg: "0xc3"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := ParseTemplate(tt.in); err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("ParseTemplate(%q) error %v, want one with %q", tt.in, err, tt.msg)
			}
		})
	}
}

func TestRespondReply(t *testing.T) {
	tests := []struct {
		desc   string
		spec   RespondSpec
		status int
		ctype  string
		body   string
	}{
		{desc: "forbidden without body", spec: RespondSpec{Status: 403}, status: 403},
		{desc: "default status and type", spec: RespondSpec{Body: "ok\n"}, status: 200, ctype: "text/plain; charset=utf-8", body: "ok\n"},
		{desc: "own type", spec: RespondSpec{Status: 503, Body: `{"down":true}`, ContentType: "application/json"}, status: 503, ctype: "application/json", body: `{"down":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tb := mustTable(t, []RouteSpec{{Action: ActionSpec{Respond: &tt.spec}}})
			req := get(t, "GET", "/", "h")
			r, p, _ := tb.Match(req, netip.Addr{})
			var rp Reply
			if !r.Reply(&rp, &TemplateInput{Req: req, Params: &p}) {
				t.Fatal("Reply = false")
			}
			var h httpmsg.ResponseHead
			rp.Head(&h)
			if h.Status != tt.status || string(h.Header.Get("Content-Type")) != tt.ctype || string(rp.Body) != tt.body ||
				string(h.Header.Get("Content-Length")) != itoa(len(tt.body)) || h.Header.Has("Location") {
				t.Fatalf("reply %d %q body %q", h.Status, fields(&h.Header), rp.Body)
			}
		})
	}
	t.Run("proxy route has no reply", func(t *testing.T) {
		tb := mustTable(t, []RouteSpec{{Action: to("a")}})
		if tb.Routes()[0].Reply(&Reply{}, &TemplateInput{}) {
			t.Fatal("Reply = true for a proxy route")
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestRedirectReplyDoesNotAllocate(t *testing.T) {
	tb := mustTable(t, []RouteSpec{{Action: ActionSpec{Redirect: &RedirectSpec{Status: 301, Location: "https://$host$request_uri"}}}})
	req := get(t, "GET", "/a/b?c=d", "Site.test")
	r, p, _ := tb.Match(req, netip.Addr{})
	var rp Reply
	var h httpmsg.ResponseHead
	in := &TemplateInput{Scheme: "http", Req: req, Params: &p}
	r.Reply(&rp, in)
	rp.Head(&h)
	if allocs := testing.AllocsPerRun(100, func() {
		r.Reply(&rp, in)
		rp.Head(&h)
	}); allocs != 0 {
		t.Fatalf("a redirect allocates %v times", allocs)
	}
}
