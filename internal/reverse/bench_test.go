package reverse

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// benchSpecs is a table of about 100 routes shaped like a busy site: a
// dozen virtual hosts with a few prefixes each, wildcard sites, and a long
// list of host-less prefixes with some conditions.
func benchSpecs() []RouteSpec {
	var specs []RouteSpec
	add := func(m MatchSpec) {
		specs = append(specs, RouteSpec{Name: fmt.Sprint("r", len(specs)), Match: m, Action: to("pool")})
	}
	for h := range 10 {
		host := fmt.Sprintf("site%d.example.com", h)
		add(MatchSpec{Hosts: []string{host}, PathPrefix: "/"})
		add(MatchSpec{Hosts: []string{host}, PathPrefix: "/api/"})
		add(MatchSpec{Hosts: []string{host}, PathPrefix: "/api/v2/"})
		add(MatchSpec{Hosts: []string{host}, Path: "/healthz"})
		add(MatchSpec{Hosts: []string{host}, PathPrefix: "/static/", Methods: []string{"GET", "HEAD"}})
	}
	for h := range 10 {
		host := fmt.Sprintf("*.tenant%d.example.net", h)
		add(MatchSpec{Hosts: []string{host}, PathPrefix: "/"})
		add(MatchSpec{Hosts: []string{host}, PathPrefix: "/admin", Clients: []string{"10.0.0.0/8"}})
	}
	for i := range 40 {
		add(MatchSpec{PathPrefix: fmt.Sprintf("/section%d/", i)})
	}
	add(MatchSpec{PathPrefix: "/", Headers: []FieldMatch{{Name: "X-Canary", Value: "1"}}})
	add(MatchSpec{PathPrefix: "/search", Query: []FieldMatch{{Name: "q"}}})
	add(MatchSpec{PathPrefix: "/"})
	return specs
}

func BenchmarkMatch(b *testing.B) {
	tb, err := NewTable(benchSpecs())
	if err != nil {
		b.Fatal(err)
	}
	client := netip.MustParseAddr("192.0.2.10")
	b.Run("baseline: CopyFrom only", func(b *testing.B) {
		src := get(b, "GET", "/api/v2/users/42?expand=1", "site7.example.com", "User-Agent: bench", "Accept: */*")
		req := new(httpmsg.RequestHead)
		b.ReportAllocs()
		for b.Loop() {
			req.CopyFrom(src)
		}
	})
	for _, bc := range []struct{ desc, target, host string }{
		{desc: "exact host, prefix", target: "/api/v2/users/42?expand=1", host: "site7.example.com"},
		{desc: "exact host, exact path", target: "/healthz", host: "site3.example.com"},
		{desc: "wildcard host", target: "/admin/x", host: "shop.tenant4.example.net"},
		{desc: "no host match, last of 40 prefixes", target: "/section39/page", host: "other.test"},
		{desc: "no host match, falls to root", target: "/index.html", host: "other.test"},
		{desc: "path needing normalisation", target: "//section1/./a/../%62", host: "other.test"},
	} {
		b.Run(bc.desc, func(b *testing.B) {
			src := get(b, "GET", bc.target, bc.host, "User-Agent: bench", "Accept: */*")
			req := new(httpmsg.RequestHead)
			b.ReportAllocs()
			for b.Loop() {
				req.CopyFrom(src) // what a reused connection's head goes through
				if r, _, err := tb.Match(req, client); r == nil || err != nil {
					b.Fatal(r, err)
				}
			}
		})
	}
}
