package reverse

import (
	"cmp"
	"net/netip"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// FuzzMatch checks Table.Match on arbitrary requests, as a codec less
// strict than HTTP/1.1 might deliver them, against the precedence table's
// routes. It must never panic; a request it accepts must match exactly as
// the same request with its path already normalised (so no spelling of a
// path reaches another route), and the route it picks must be the one a
// brute-force reading of the package doc's precedence rules picks. Seeds:
// testdata/fuzz/FuzzMatch.
func FuzzMatch(f *testing.F) {
	tb, err := NewTable(precedenceSpecs)
	if err != nil {
		f.Fatal(err)
	}
	clients := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("::ffff:10.0.0.1"), {}}
	f.Fuzz(func(t *testing.T, method, target, host, value string, client uint8) {
		req := &httpmsg.RequestHead{Method: []byte(method), Form: httpmsg.OriginForm, Path: []byte(target), Version: httpmsg.HTTP11}
		req.Header.AddString("Host", host)
		for _, n := range []string{"X-Debug", "Content-Type", "User-Agent"} {
			req.Header.AddString(n, value)
		}
		addr := clients[int(client)%len(clients)]
		r, p, err := tb.Match(req, addr)
		if err != nil {
			return
		}
		if string(req.Path) != target {
			t.Fatalf("Match changed the target from %q to %q", target, req.Path)
		}
		if !IsNormal(p.Path) {
			t.Fatalf("Params.Path %q is not normal", p.Path)
		}
		// The same request, already normalised, matches the same route.
		norm := &httpmsg.RequestHead{Method: req.Method, Form: httpmsg.OriginForm, Version: httpmsg.HTTP11}
		norm.Header.CopyFrom(&req.Header)
		norm.Path = append([]byte(string(p.Path)), target[len(target)-len(p.Query)-boolInt(p.Query != nil):]...)
		r2, _, err := tb.Match(norm, addr)
		if err != nil || r2 != r {
			t.Fatalf("%q matched %v, its normal form %q matched %v (%v)", target, name(r), norm.Path, name(r2), err)
		}
		if want := bruteForceMatch(tb, req, &p, addr); want != r {
			t.Fatalf("%s %q Host %q: Match = %v, precedence rules say %v", method, target, host, name(r), name(want))
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func name(r *Route) string {
	if r == nil {
		return "no route"
	}
	return r.Name
}

// bruteForceMatch reads the package doc's rules literally: among every
// (route, host pattern) pair whose conditions hold, the greatest key
// (host rank, path rank, conditions, earlier index) wins.
func bruteForceMatch(tb *Table, req *httpmsg.RequestHead, p *Params, client netip.Addr) *Route {
	type key struct{ host, hostLen, path, pathLen, conds, index int }
	better := func(a, b key) bool {
		if c := cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.hostLen, b.hostLen), cmp.Compare(a.path, b.path),
			cmp.Compare(a.pathLen, b.pathLen), cmp.Compare(a.conds, b.conds), cmp.Compare(b.index, a.index)); c != 0 {
			return c > 0
		}
		return false
	}
	host := strings.ToLower(string(p.Host))
	var best *Route
	var bestKey key
	for _, r := range tb.Routes() {
		if !r.condsHold(req, p, client) {
			continue
		}
		k := key{conds: r.conds, index: r.Index}
		switch {
		case r.path == "":
		case r.exactPath && string(p.Path) == r.path:
			k.path = 2
		case !r.exactPath && strings.HasPrefix(string(p.Path), r.path):
			k.path, k.pathLen = 1, len(r.path)
		default:
			continue
		}
		hosts := precedenceSpecs[r.Index].Match.Hosts
		if len(hosts) == 0 {
			hosts = []string{"*"}
		}
		for _, h := range hosts {
			h = strings.ToLower(h)
			hk := k
			switch {
			case h == "*":
			case strings.HasPrefix(h, "*."):
				sfx := h[1:]
				if len(host) <= len(sfx) || !strings.HasSuffix(host, sfx) {
					continue
				}
				hk.host, hk.hostLen = 1, len(sfx)
			case host == h:
				hk.host = 2
			default:
				continue
			}
			if best == nil || better(hk, bestKey) {
				best, bestKey = r, hk
			}
		}
	}
	return best
}
