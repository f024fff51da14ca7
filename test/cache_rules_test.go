package test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestCacheRulesPerRoute: a route's own cache rules (key_headers,
// store_set_cookie) apply to that route only; the others keep the cache
// section's.
func TestCacheRulesPerRoute(t *testing.T) {
	o := newScriptOrigin(t)
	for _, p := range []string{"/tenant/x", "/shared/x"} {
		o.static(p, 200, "Cache-Control", "max-age=600")
	}
	for _, p := range []string{"/cookies/x", "/plain/x"} {
		o.static(p, 200, "Cache-Control", "max-age=600", "Set-Cookie", "session=abc")
	}
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: tenant, match: {path_prefix: /tenant/}, upstream: origin, cache: {key_headers: [X-Tenant]}}
        - {name: cookies, match: {path_prefix: /cookies/}, upstream: origin, cache: {store_set_cookie: true}}
        - {name: rest, match: {path_prefix: /}, upstream: origin, cache: on}
upstreams:
  origin: {targets: ["%s"]}
cache: {memory: 16MiB}
`, o.hostPort()), nil)
	e := &cacheEnv{t: t, o: o, j: j, web: "http://" + j.Addr(t, "web"), client: janusClient(t)}
	hit := func(path string, fields ...string) (bool, *http.Response) {
		resp, _ := e.do("GET", path, fields...)
		return strings.Contains(resp.Header.Get("Cache-Status"), "hit"), resp
	}
	for _, tc := range []struct {
		desc   string
		path   string
		fields [][]string
		hits   []bool
	}{
		{"key_headers: each tenant its own copy", "/tenant/x",
			[][]string{{"X-Tenant", "a"}, {"X-Tenant", "b"}, {"X-Tenant", "a"}, {"X-Tenant", "b"}}, []bool{false, false, true, true}},
		{"without them: one copy for all", "/shared/x",
			[][]string{{"X-Tenant", "a"}, {"X-Tenant", "b"}}, []bool{false, true}},
		{"store_set_cookie: stored", "/cookies/x", [][]string{nil, nil}, []bool{false, true}},
		{"by default: Set-Cookie responses not stored", "/plain/x", [][]string{nil, nil}, []bool{false, false}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			for i, f := range tc.fields {
				got, resp := hit(tc.path, f...)
				if got != tc.hits[i] {
					t.Errorf("request %d %v: hit=%v, want %v (Cache-Status: %s)", i+1, f, got, tc.hits[i], resp.Header.Get("Cache-Status"))
				}
				if got && resp.Header.Get("Set-Cookie") != "" {
					t.Errorf("request %d: a stored answer carries Set-Cookie", i+1)
				}
			}
		})
	}
}
