package config

import (
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/upstream"
)

const siteYAML = `
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      trusted_proxies: [10.0.0.0/8]
      request_id: generate
      routes:
        - name: admin
          match: {path_prefix: /admin}
          respond: {status: 403, body: "no\n"}
        - name: app
          match: {hosts: [example.com, "*.example.com"], path_prefix: /, methods: [GET, POST], headers: [{name: X-A, regex: "a+"}]}
          upstream: app
          request_headers: {set: {X-Env: prod}, remove: [X-Debug]}
          hide_server: true
        - name: old
          match: {path: /old}
          redirect: {status: 301, location: "https://$host/new"}
upstreams:
  app:
    targets: ["127.0.0.1:9001", {addr: "127.0.0.1:9002", weight: 3}]
    balance: least_conn
    health: {path: /healthz, expect: "200-299", interval: 2s, rise: 1, fall: 2}
    eject: {consecutive: 3, max_share: 34%}
    retries: {attempts: 3, budget: 10%}
    timeouts: {response: 5s}
`

func TestReverseAndUpstreamsCompile(t *testing.T) {
	c, err := Parse("site.yaml", []byte(siteYAML))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReverseTable(0) == nil {
		t.Fatal("no route table for the reverse listener")
	}
	plan, ok := c.UpstreamPlans()["app"]
	if !ok {
		t.Fatal("upstream app missing")
	}
	p := plan.Pool
	if len(p.Targets) != 2 || p.Targets[1].Weight != 3 || p.Balance != upstream.LeastConn {
		t.Errorf("pool options %+v", p)
	}
	if p.Health.Path != "/healthz" || p.Health.StatusMin != 200 || p.Health.StatusMax != 299 || p.Health.Interval != 2*time.Second {
		t.Errorf("health %+v", p.Health)
	}
	if p.Eject.Consecutive != 3 || p.Eject.MaxShare < 0.339 || p.Eject.MaxShare > 0.341 {
		t.Errorf("eject %+v", p.Eject)
	}
	if plan.Attempts != 3 || plan.ResponseTimeout != 5*time.Second || p.Retry.Ratio != 0.1 {
		t.Errorf("plan %+v", plan)
	}
}

func TestReverseConfigErrors(t *testing.T) {
	base := "listeners:\n  - listen: 127.0.0.1:0\n    reverse:\n      routes:\n"
	for _, tc := range []struct {
		desc, yaml string
		want       []string
	}{
		{"undefined upstream", base + "        - {match: {path_prefix: /}, upstream: nope}\n",
			[]string{"t.yaml:5: listeners[0].reverse.routes[0].upstream: undefined upstream \"nope\""}},
		{"path not in normal form", base + "        - match: {path_prefix: /a/../b}\n          respond: {status: 200}\n",
			[]string{"t.yaml:5: listeners[0].reverse.routes[0].match.path_prefix:"}},
		{"two actions", base + "        - match: {path: /x}\n          respond: {status: 200}\n          redirect: {location: /y}\n",
			[]string{"listeners[0].reverse.routes[0]: 2 actions set"}},
		{"bad redirect status", base + "        - match: {path: /x}\n          redirect: {status: 200, location: /y}\n",
			[]string{"t.yaml:6: listeners[0].reverse.routes[0].redirect.status:"}},
		{"no routes", "listeners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: []}\n",
			[]string{"listeners[0].reverse.routes: no routes"}},
		{"bad upstream", "listeners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}}]}\nupstreams:\n  a:\n    targets: [nohostport]\n    balance: fastest\n    health: {path: healthz}\n",
			[]string{"t.yaml:6: upstreams.a.targets[0]: want host:port", "t.yaml:7: upstreams.a.balance: unknown balancer", "t.yaml:8: upstreams.a.health.path: want a path starting with /"}},
		{"bad status range", "listeners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}}]}\nupstreams:\n  a: {targets: ['127.0.0.1:1'], health: {path: /, expect: 200-99}}\n",
			[]string{"t.yaml:5: upstreams.a.health.expect: bad status range"}},
		{"hash without a key", "listeners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}}]}\nupstreams:\n  a: {targets: ['127.0.0.1:1'], balance: hash}\n",
			[]string{"upstreams.a.hash: the hash balancer needs hash.source"}},
		{"bad limits", "limits:\n  a: {rate: 5/day}\n  b: {rate: 5/s, key: colour}\nlisteners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}, limits: [nope]}]}\n",
			[]string{"t.yaml:2: limits.a.rate: unknown period", "t.yaml:3: limits.b.key: unknown key", `t.yaml:6: listeners[0].reverse.routes[0].limits[0]: undefined limit "nope"`}},
		{"bad limit keys and directions", "limits:\n  a: {rate: 5/s, key: 'header:'}\n  b: {rate: 5/s, key: 'header:X Y'}\n  c: {rate: 5/s, direction: up}\n  d: {bandwidth: 1MiB, direction: sideways}\n  e: {rate: 5/s, key: 'header:X-Api-Key'}\n  f: {concurrency: 5, key: group}\n  g: {bandwidth: 1MiB, key: route, direction: down}\nlisteners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}}]}\n",
			[]string{"t.yaml:2: limits.a.key: unknown key", "t.yaml:3: limits.b.key: unknown key", "t.yaml:4: limits.c.direction: direction is a setting of bandwidth limits", `t.yaml:5: limits.d.direction: unknown direction "sideways"`}},
		{"bad retry status", "listeners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}}]}\nupstreams:\n  a:\n    targets: ['127.0.0.1:1']\n    retries:\n      statuses: [503, 99]\n",
			[]string{"t.yaml:8: upstreams.a.retries.statuses[1]: want a final status 200-599, not 99"}},
		{"PROXY protocol to upstreams", "listeners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}}]}\nupstreams:\n  a: {targets: ['127.0.0.1:1'], proxy_protocol: v3}\n  b: {targets: ['127.0.0.1:1'], protocol: h2c, proxy_protocol: v2}\n",
			[]string{"t.yaml:5: upstreams.a.proxy_protocol: unknown version \"v3\"", "t.yaml:6: upstreams.b.proxy_protocol: is sent on plain HTTP/1.1 connections only"}},
		{"bad share", "listeners:\n  - listen: 127.0.0.1:0\n    reverse: {routes: [{respond: {}}]}\nupstreams:\n  a: {targets: ['127.0.0.1:1'], eject: {max_share: 150%}}\n",
			[]string{"upstreams.a.eject.max_share: bad share"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
		})
	}
}
