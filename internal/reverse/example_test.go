package reverse_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
)

// The face's use of the package for one request: match, then act on the
// route's action.
func ExampleTable_Match() {
	table, err := reverse.NewTable([]reverse.RouteSpec{
		{Name: "app", Match: reverse.MatchSpec{PathPrefix: "/"}, Action: reverse.ActionSpec{Upstream: "local"}},
		{Name: "api", Match: reverse.MatchSpec{PathPrefix: "/api/"}, StripPrefix: "/api", Action: reverse.ActionSpec{Upstream: "api"}},
		{Name: "no-admin", Match: reverse.MatchSpec{PathPrefix: "/admin"}, Action: reverse.ActionSpec{Respond: &reverse.RespondSpec{Status: 403}}},
	})
	if err != nil {
		panic(err)
	}
	fwd := reverse.NewForwarding(reverse.ForwardingOptions{
		Trusted:   addrset.New(netip.MustParsePrefix("10.0.0.0/8")),
		RequestID: reverse.RequestIDOff, // for a stable output
	})
	client := netip.MustParseAddr("192.0.2.7")

	for _, raw := range []string{
		"GET /api//users?id=7 HTTP/1.1\r\nHost: site.test\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n",
		"GET /%61dmin/ HTTP/1.1\r\nHost: site.test\r\n\r\n",
		"GET /x/../../etc/passwd HTTP/1.1\r\nHost: site.test\r\n\r\n",
	} {
		var r http1.Reader
		r.Reset(strings.NewReader(raw))
		var req httpmsg.RequestHead
		if _, err := http1.ReadRequest(&r, &req, http1.Limits{}); err != nil {
			panic(err)
		}
		route, p, err := table.Match(&req, client)
		switch {
		case err != nil:
			fmt.Println("400:", err)
		case route == nil:
			fmt.Println("404")
		case route.Action == reverse.Proxy:
			var out httpmsg.RequestHead
			out.CopyFrom(&req) // the inbound request stays as received
			out.Path = out.Store(route.Target(nil, req.Path, &p))
			fwd.Apply(&out.Header, &reverse.Inbound{Peer: client, Scheme: "http", Host: req.Header.Get("Host")})
			fmt.Printf("proxy to %s: %s %s X-Forwarded-For: %s\n", route.Upstream, out.Method, out.Path, out.Header.Get("X-Forwarded-For"))
		default:
			var rp reverse.Reply
			route.Reply(&rp, &reverse.TemplateInput{Scheme: "http", Req: &req, Params: &p})
			fmt.Println(rp.Status, "from", route.Name)
		}
	}
	// Output:
	// proxy to api: GET /users?id=7 X-Forwarded-For: 192.0.2.7
	// 403 from no-admin
	// 400: reverse: bad request path "/x/../../etc/passwd": climbs above the root
}
