package test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestRouteBasicAuthAndPolicy: a route may ask for a password (HTTP Basic,
// the users of the config) and apply a policy to the client, user, groups
// and method; Janus's credentials do not reach the upstream.
func TestRouteBasicAuthAndPolicy(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	j := janustest.Start(t, fmt.Sprintf(`
log: {access: {format: json}}
users:
  inline:
    - {name: alice, hash: '%s', groups: [staff]}
    - {name: bob, hash: '%s'}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: staff-area, match: {path_prefix: /staff}, upstream: app, auth: basic, realm: Staff, policy: staff-only}
        - {name: lan-only, match: {path_prefix: /lan}, upstream: app, policy: lan}
        - {name: open, match: {path_prefix: /}, upstream: app}
upstreams:
  app: {targets: [%q]}
policies:
  staff-only: [{allow: {groups: [staff], methods: [GET, HEAD]}}]
  lan: [{allow: {clients: [10.0.0.0/8]}}]
`, aliceHash, bobHash, strings.TrimPrefix(origin.URL, "http://")), nil)
	base := "http://" + j.Addr(t, "web")
	basic := func(user, pass string) map[string]string {
		return map[string]string{"Authorization": "Basic " + b64(user+":"+pass)}
	}
	for _, tc := range []struct {
		desc string
		path string
		hdr  map[string]string
		want int
	}{
		{"no credentials", "/staff/x", nil, 401},
		{"wrong password", "/staff/x", basic("alice", "nope"), 401},
		{"staff member", "/staff/x", basic("alice", "wonderland"), 200},
		{"not in the group", "/staff/x", basic("bob", "builder"), 403},
		{"client outside the policy", "/lan", nil, 403},
		{"open route", "/public", nil, 200},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			resp, body := get(t, base+tc.path, tc.hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="Staff", charset="UTF-8"` {
				t.Errorf("challenge %q", resp.Header.Get("WWW-Authenticate"))
			}
			if tc.want == 200 && tc.path == "/staff/x" {
				if s := janustest.DecodeSeen(t, strings.NewReader(body)); s.Header.Get("Authorization") != "" {
					t.Error("Janus's credentials were forwarded upstream")
				}
			}
		})
	}
	if strings.Contains(j.Log.String()+j.App.String(), "nope") {
		t.Error("a password reached the logs")
	}
	j.WaitLog(t, func(l map[string]any) bool { return l["status"] == float64(403) && l["user"] == "bob" })
}
