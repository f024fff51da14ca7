package reverse

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestNewTableRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		desc  string
		spec  RouteSpec
		field string // SpecError.Field
		msg   string // part of the message
	}{
		{desc: "no action", spec: RouteSpec{}, field: "action", msg: "0 actions"},
		{desc: "two actions", spec: RouteSpec{Action: ActionSpec{Upstream: "a", Respond: &RespondSpec{}}}, field: "action", msg: "2 actions"},
		{desc: "path and prefix", spec: RouteSpec{Match: MatchSpec{Path: "/a", PathPrefix: "/b"}, Action: to("a")}, field: "match", msg: "both"},
		{desc: "relative path", spec: RouteSpec{Match: MatchSpec{Path: "a"}, Action: to("a")}, field: "match.path", msg: "start with /"},
		{desc: "path not normal", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/a//b"}, Action: to("a")}, field: "match.path_prefix", msg: `"/a/b"`},
		{desc: "path with encoded unreserved", spec: RouteSpec{Match: MatchSpec{Path: "/%61"}, Action: to("a")}, field: "match.path", msg: `"/a"`},
		{desc: "path climbing", spec: RouteSpec{Match: MatchSpec{Path: "/../a"}, Action: to("a")}, field: "match.path", msg: "climbs"},
		{desc: "host with port", spec: RouteSpec{Match: MatchSpec{Hosts: []string{"a.test:80"}}, Action: to("a")}, field: "match.hosts[0]", msg: "port"},
		{desc: "wildcard inside", spec: RouteSpec{Match: MatchSpec{Hosts: []string{"a.*.test"}}, Action: to("a")}, field: "match.hosts[0]", msg: "wildcard"},
		{desc: "wildcard suffix", spec: RouteSpec{Match: MatchSpec{Hosts: []string{"a.*"}}, Action: to("a")}, field: "match.hosts[0]", msg: "wildcard"},
		{desc: "empty label", spec: RouteSpec{Match: MatchSpec{Hosts: []string{"a..test"}}, Action: to("a")}, field: "match.hosts[0]", msg: "label"},
		{desc: "host with slash", spec: RouteSpec{Match: MatchSpec{Hosts: []string{"ok.test", "a/b"}}, Action: to("a")}, field: "match.hosts[1]", msg: "not allowed"},
		{desc: "bad method", spec: RouteSpec{Match: MatchSpec{Methods: []string{"GE T"}}, Action: to("a")}, field: "match.methods[0]", msg: "method"},
		{desc: "bad header name", spec: RouteSpec{Match: MatchSpec{Headers: []FieldMatch{{Name: "X Y"}}}, Action: to("a")}, field: "match.headers[0]", msg: "field name"},
		{desc: "value and regex", spec: RouteSpec{Match: MatchSpec{Query: []FieldMatch{{Name: "q", Value: "a", Regex: "b"}}}, Action: to("a")}, field: "match.query[0]", msg: "both"},
		{desc: "bad regex", spec: RouteSpec{Match: MatchSpec{Headers: []FieldMatch{{Name: "X", Regex: "("}}}, Action: to("a")}, field: "match.headers[0]", msg: "regex"},
		{desc: "empty query name", spec: RouteSpec{Match: MatchSpec{Query: []FieldMatch{{}}}, Action: to("a")}, field: "match.query[0]", msg: "empty name"},
		{desc: "bad client", spec: RouteSpec{Match: MatchSpec{Clients: []string{"10.0.0.0/33"}}, Action: to("a")}, field: "match.clients[0]", msg: "CIDR"},
		{desc: "strip without path", spec: RouteSpec{StripPrefix: "/api", Action: to("a")}, field: "strip_prefix", msg: "not a prefix"},
		{desc: "strip not under path", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/ap"}, StripPrefix: "/api", Action: to("a")}, field: "strip_prefix", msg: "not a prefix"},
		{desc: "add not normal", spec: RouteSpec{AddPrefix: "/a/../b", Action: to("a")}, field: "add_prefix", msg: "normal form"},
		{desc: "redirect status", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Status: 200, Location: "/"}}}, field: "action.redirect.status", msg: "redirect status"},
		{desc: "redirect variable", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "https://$hots/"}}}, field: "action.redirect.location", msg: "$hots"},
		{desc: "redirect empty", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{}}}, field: "action.redirect.location", msg: "empty"},
		{desc: "redirect with newline", spec: RouteSpec{Action: ActionSpec{Redirect: &RedirectSpec{Location: "/a\r\nSet-Cookie: x"}}}, field: "action.redirect.location", msg: "visible ASCII"},
		{desc: "respond status", spec: RouteSpec{Action: ActionSpec{Respond: &RespondSpec{Status: 99}}}, field: "action.respond.status", msg: "between"},
		{desc: "respond content type", spec: RouteSpec{Action: ActionSpec{Respond: &RespondSpec{ContentType: "a\nb"}}}, field: "action.respond.content_type", msg: "field value"},
		{desc: "static root missing", spec: RouteSpec{Action: ActionSpec{Static: &StaticSpec{Root: dir + "/nope"}}}, field: "action.static", msg: "no such file"},
		{desc: "static index with slash", spec: RouteSpec{Action: ActionSpec{Static: &StaticSpec{Root: dir, Index: []string{"a/b"}}}}, field: "action.static", msg: "index"},
		{desc: "set framing field", spec: RouteSpec{Action: to("a"), Request: HeaderSpec{Set: []Field{{Name: "Content-Length", Value: "1"}}}}, field: "request", msg: "managed"},
		{desc: "remove Host", spec: RouteSpec{Action: to("a"), Request: HeaderSpec{Remove: []string{"host"}}}, field: "request", msg: "managed"},
		{desc: "header value with newline", spec: RouteSpec{Action: to("a"), Response: HeaderSpec{Add: []Field{{Name: "X", Value: "a\r\nb"}}}}, field: "response", msg: "value"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.spec.Name = "bad"
			_, err := NewTable([]RouteSpec{{Action: to("ok")}, tt.spec})
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("NewTable error %v, want a *SpecError", err)
			}
			if se.Index != 1 || se.Name != "bad" || se.Field != tt.field || !strings.Contains(se.Error(), tt.msg) {
				t.Fatalf("SpecError{Index %d, Name %q, Field %q}: %v; want field %q and %q in the message", se.Index, se.Name, se.Field, se, tt.field, tt.msg)
			}
			if !strings.HasPrefix(se.Error(), `route 1 ("bad"): `+tt.field+": ") {
				t.Fatalf("message %q does not name the route and field", se.Error())
			}
		})
	}
}

func TestNewTableReportsEveryProblem(t *testing.T) {
	_, err := NewTable([]RouteSpec{
		{Match: MatchSpec{Path: "a"}},
		{Action: to("ok")},
		{Match: MatchSpec{Hosts: []string{"a:1"}}, Action: to("a")},
	})
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var se *SpecError
		if !errors.As(e, &se) {
			t.Fatalf("%v is not a *SpecError", e)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("got %d errors, want 3 (two for route 0, one for route 2): %v", n, err)
	}
}

func TestNewTableRejectsRoutesThatCanNeverMatch(t *testing.T) {
	tests := []struct {
		desc  string
		specs []RouteSpec
		bad   bool
	}{
		{desc: "same prefix, no conditions", specs: []RouteSpec{
			{Name: "a", Match: MatchSpec{PathPrefix: "/x"}, Action: to("a")},
			{Name: "b", Match: MatchSpec{PathPrefix: "/x"}, Action: to("b")},
		}, bad: true},
		{desc: "same exact path and host", specs: []RouteSpec{
			{Name: "a", Match: MatchSpec{Hosts: []string{"h"}, Path: "/x"}, Action: to("a")},
			{Name: "b", Match: MatchSpec{Hosts: []string{"H."}, Path: "/x"}, Action: to("b")},
		}, bad: true},
		{desc: "second has a condition", specs: []RouteSpec{
			{Name: "a", Match: MatchSpec{PathPrefix: "/x"}, Action: to("a")},
			{Name: "b", Match: MatchSpec{PathPrefix: "/x", Methods: []string{"GET"}}, Action: to("b")},
		}},
		{desc: "first has a condition", specs: []RouteSpec{
			{Name: "a", Match: MatchSpec{PathPrefix: "/x", Methods: []string{"GET"}}, Action: to("a")},
			{Name: "b", Match: MatchSpec{PathPrefix: "/x"}, Action: to("b")},
		}},
		{desc: "other hosts", specs: []RouteSpec{
			{Name: "a", Match: MatchSpec{Hosts: []string{"h1"}}, Action: to("a")},
			{Name: "b", Match: MatchSpec{Hosts: []string{"h2"}}, Action: to("b")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := NewTable(tt.specs)
			if (err != nil) != tt.bad {
				t.Fatalf("NewTable error %v, want error %v", err, tt.bad)
			}
			if tt.bad && !strings.Contains(err.Error(), `route 1 ("b"): match: never matches: a has`) {
				t.Fatalf("error %q does not name both routes", err)
			}
		})
	}
}

func TestRoutesKeepSpecOrderAndActions(t *testing.T) {
	tb := mustTable(t, []RouteSpec{
		{Match: MatchSpec{PathPrefix: "/p"}, Action: to("pool")},
		{Name: "r", Match: MatchSpec{PathPrefix: "/r"}, Action: ActionSpec{Redirect: &RedirectSpec{Location: "/"}}},
		{Match: MatchSpec{PathPrefix: "/f"}, Action: ActionSpec{Respond: &RespondSpec{}}},
		{Match: MatchSpec{PathPrefix: "/s"}, Action: ActionSpec{Static: &StaticSpec{Root: t.TempDir()}}},
	})
	want := []struct {
		name   string
		action Action
	}{{"route 0", Proxy}, {"r", Redirect}, {"route 2", Respond}, {"route 3", Static}}
	for i, r := range tb.Routes() {
		if r.Name != want[i].name || r.Index != i || r.Action != want[i].action {
			t.Fatalf("route %d = %q %v (index %d), want %q %v", i, r.Name, r.Action, r.Index, want[i].name, want[i].action)
		}
	}
	if tb.Routes()[0].Upstream != "pool" || Action(9).String() != "Action(9)" || Static.String() != "static" {
		t.Fatalf("Upstream or Action.String wrong")
	}
}

func TestTargetRewritesOnlyWhenConfigured(t *testing.T) {
	tests := []struct {
		desc         string
		spec         RouteSpec
		target, want string
	}{
		{desc: "no rewrite forwards the target as received", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api/"}},
			target: "/api//x/./y?q=%41", want: "/api//x/./y?q=%41"},
		{desc: "strip", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api/"}, StripPrefix: "/api"},
			target: "/api/x?q=1", want: "/x?q=1"},
		{desc: "strip works on the normalised path", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api/"}, StripPrefix: "/api"},
			target: "//%61pi/x/../y?q", want: "/y?q"},
		{desc: "strip cannot let dot segments climb back", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api/"}, StripPrefix: "/api"},
			target: "/api/../api/x", want: "/x"},
		{desc: "strip to empty gives root", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api"}, StripPrefix: "/api"},
			target: "/api", want: "/"},
		{desc: "strip with trailing slash", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api/"}, StripPrefix: "/api/"},
			target: "/api/x", want: "/x"},
		{desc: "strip inside a segment", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api"}, StripPrefix: "/api"},
			target: "/apix/y", want: "/x/y"},
		{desc: "strip leaving a dot segment drops it", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/api"}, StripPrefix: "/api"},
			target: "/api../etc", want: "/etc"},
		{desc: "add", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/"}, AddPrefix: "/v1"},
			target: "/x?a=b", want: "/v1/x?a=b"},
		{desc: "add with trailing slash does not double it", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/"}, AddPrefix: "/v1/"},
			target: "/x", want: "/v1/x"},
		{desc: "add slash adds nothing", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/"}, AddPrefix: "/"},
			target: "/x//y", want: "/x//y"},
		{desc: "strip and add", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/old/"}, StripPrefix: "/old", AddPrefix: "/new"},
			target: "/old/a/b?c", want: "/new/a/b?c"},
		{desc: "strip all and add", spec: RouteSpec{Match: MatchSpec{Path: "/old"}, StripPrefix: "/old", AddPrefix: "/new"},
			target: "/old", want: "/new/"},
		{desc: "empty query kept", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/"}, AddPrefix: "/v1"},
			target: "/x?", want: "/v1/x?"},
		{desc: "query kept raw", spec: RouteSpec{Match: MatchSpec{PathPrefix: "/"}, AddPrefix: "/v1"},
			target: "/x?a=%2f+b", want: "/v1/x?a=%2f+b"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.spec.Action = to("app")
			tb := mustTable(t, []RouteSpec{tt.spec})
			req := get(t, "GET", tt.target, "h")
			r, p, err := tb.Match(req, netip.Addr{})
			if r == nil || err != nil {
				t.Fatalf("Match = %v, %v", r, err)
			}
			got := r.Target(nil, req.Path, &p)
			if string(got) != tt.want {
				t.Fatalf("Target(%q) = %q, want %q", tt.target, got, tt.want)
			}
			if !r.Rewrites() && &got[0] != &req.Path[0] {
				t.Fatalf("Target copied the target without a rewrite")
			}
			path, _ := SplitTarget(got)
			if r.Rewrites() && !IsNormal(path) {
				t.Fatalf("rewritten path %q is not normal", path)
			}
		})
	}
}
