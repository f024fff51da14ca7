package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Reverse configures the reverse face on a listener: origin-form requests
// ("GET /path") are routed to upstream pools, redirects, fixed responses or
// static files. A listener may serve both faces.
type Reverse struct {
	Routes []Route `yaml:"routes"`
	// TrustedProxies are the peers (load balancers, CDNs) whose
	// X-Forwarded-*, Forwarded and X-Real-IP fields are kept and extended;
	// from anyone else they are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// RequestID: preserve (default: pass a well-formed X-Request-Id on,
	// else generate one), generate (always a fresh one) or off.
	RequestID string `yaml:"request_id"`
}

// Route is one reverse route: conditions and exactly one action.
type Route struct {
	Name  string     `yaml:"name"`
	Match RouteMatch `yaml:"match"`

	// Actions: exactly one.
	Upstream string         `yaml:"upstream"`
	Redirect *RouteRedirect `yaml:"redirect"`
	Respond  *RouteRespond  `yaml:"respond"`
	Static   *RouteStatic   `yaml:"static"`

	StripPrefix     string    `yaml:"strip_prefix"`
	AddPrefix       string    `yaml:"add_prefix"`
	RequestHeaders  HeaderOps `yaml:"request_headers"`
	ResponseHeaders HeaderOps `yaml:"response_headers"`
	HideServer      bool      `yaml:"hide_server"`
	// MaxBody bounds request content on this route (413 beyond it).
	MaxBody Size `yaml:"max_body"`
	// Filter refuses requests the route matched but must not take.
	Filter RouteFilter `yaml:"filter"`
	// Limits names request-rate limits (under limits) for this route.
	Limits []string `yaml:"limits"`
	// ForwardAuth asks an auth service about each request first.
	ForwardAuth *RouteForwardAuth `yaml:"forward_auth"`
	// Policy names a policy (under policies) that decides who may use the
	// route: its clients, users, groups and methods conditions apply.
	Policy string `yaml:"policy"`
	// Auth "basic" asks for a user name and password (HTTP Basic, users
	// from the users section) before the policy decides; 401 without.
	Auth  string `yaml:"auth"`
	Realm string `yaml:"realm"` // shown by browsers; default "janus"
	// Cache on sends the route's requests through the cache section's
	// cache; default off.
	Cache CacheUse `yaml:"cache"`
}

// RouteForwardAuth is a route's auth service (nginx's auth_request,
// Traefik's ForwardAuth).
type RouteForwardAuth struct {
	URL         string   `yaml:"url"`          // http://host:port/path, asked with GET
	CopyHeaders []string `yaml:"copy_headers"` // fields of a 2xx answer sent upstream with the request
	Timeout     Duration `yaml:"timeout"`      // default 5s; past it the client gets 500
}

// RouteFilter is what a request must pass to be taken by its route.
type RouteFilter struct {
	Methods      []string     `yaml:"methods"`       // allowed; others get 405
	AllowPaths   []string     `yaml:"allow_paths"`   // regexes on the normalised path; none matching: 403
	DenyPaths    []string     `yaml:"deny_paths"`    // regexes; one matching: 403
	DenyHeaders  []FieldMatch `yaml:"deny_headers"`  // a field matching: 403
	AllowClients []string     `yaml:"allow_clients"` // CIDRs, addresses or sets; others: 403
	DenyClients  []string     `yaml:"deny_clients"`  // refused: 403
}

// RouteMatch is a route's conditions; all given must hold.
type RouteMatch struct {
	Hosts      []string     `yaml:"hosts"`       // exact names or *.example.com
	Path       string       `yaml:"path"`        // exact path
	PathPrefix string       `yaml:"path_prefix"` // string prefix, as nginx's location prefixes
	Methods    []string     `yaml:"methods"`
	Headers    []FieldMatch `yaml:"headers"`
	Query      []FieldMatch `yaml:"query"`
	Clients    []string     `yaml:"clients"` // CIDRs, addresses or set names
}

// FieldMatch is a condition on a header field or query parameter: present,
// equal to value, or matching regex (anchored).
type FieldMatch struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
	Regex string `yaml:"regex"`
}

// RouteRedirect answers with a redirect.
type RouteRedirect struct {
	Status   int    `yaml:"status"`   // 301, 302 (default), 303, 307, 308
	Location string `yaml:"location"` // template: $scheme $host $request_uri $path $query $is_args
}

// RouteRespond answers with a fixed response.
type RouteRespond struct {
	Status      int    `yaml:"status"` // default 200
	Body        string `yaml:"body"`
	ContentType string `yaml:"content_type"` // default text/plain; charset=utf-8
}

// RouteStatic serves files from a directory.
type RouteStatic struct {
	Root  string   `yaml:"root"`  // relative to the config file
	Index []string `yaml:"index"` // default [index.html]
}

// HeaderOps changes a header: remove first, then set (replace), then add.
type HeaderOps struct {
	Remove []string          `yaml:"remove"`
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
}

// Upstream is a pool of targets for reverse routes.
type Upstream struct {
	Targets         []UpstreamTarget `yaml:"targets"`
	Balance         string           `yaml:"balance"` // round_robin (default), least_conn, random, p2c, ewma, hash, cookie
	Hash            UpstreamHash     `yaml:"hash"`
	Cookie          string           `yaml:"cookie"` // the cookie balancer's cookie name
	Health          UpstreamHealth   `yaml:"health"`
	Eject           UpstreamEject    `yaml:"eject"`
	SlowStart       Duration         `yaml:"slow_start"`
	Retries         UpstreamRetries  `yaml:"retries"`
	ResolveInterval Duration         `yaml:"resolve_interval"`
	Timeouts        UpstreamTimeouts `yaml:"timeouts"`
	// Protocol is what Janus speaks to the targets: http1 (default),
	// h2c (HTTP/2 without TLS, for gRPC services) or h2 (HTTP/2 over TLS).
	Protocol string `yaml:"protocol"`
	// TLS makes Janus speak TLS to the targets (h2 implies it).
	TLS *UpstreamTLS `yaml:"tls"`
	// Keepalive bounds the idle connections kept to each target.
	Keepalive UpstreamKeepalive `yaml:"keepalive"`
	// ProxyProtocol is empty (default), "v1" or "v2": each connection to a
	// target starts with a PROXY protocol header naming the client, as
	// HAProxy's send-proxy does; such connections serve one client only.
	ProxyProtocol string `yaml:"proxy_protocol"`
}

// UpstreamTLS configures TLS to upstream targets.
type UpstreamTLS struct {
	CA         string `yaml:"ca"`          // PEM bundle that signs the targets' certificates; default: the system's roots
	ServerName string `yaml:"server_name"` // SNI and the name verified; default: the target's host
	Cert       string `yaml:"cert"`        // client certificate for mutual TLS
	Key        string `yaml:"key"`
}

// UpstreamTarget is "host:port" or {addr: "host:port", weight: N}.
type UpstreamTarget struct {
	Addr   string `yaml:"addr"`
	Weight int    `yaml:"weight"`
}

func (t *UpstreamTarget) decodeNode(d *decoder, n *yaml.Node, path string, depth int) {
	if n.Kind == yaml.ScalarNode {
		t.Addr = n.Value
		return
	}
	type plain UpstreamTarget // without decodeNode
	d.decode(n, reflect.ValueOf((*plain)(t)).Elem(), path, depth+1)
}

// UpstreamHash is the hash balancer's key.
type UpstreamHash struct {
	Source string `yaml:"source"` // client_ip, header, cookie, uri
	Name   string `yaml:"name"`   // the header or cookie name
}

// UpstreamHealth configures active health checks; no path, no checks.
type UpstreamHealth struct {
	Path     string      `yaml:"path"`
	Host     string      `yaml:"host"`
	Expect   StatusRange `yaml:"expect"` // default 200-399
	Interval Duration    `yaml:"interval"`
	Timeout  Duration    `yaml:"timeout"`
	Rise     int         `yaml:"rise"`
	Fall     int         `yaml:"fall"`
}

// UpstreamEject configures passive outlier ejection.
type UpstreamEject struct {
	Consecutive int      `yaml:"consecutive"` // 0: 5; negative: off
	ConnectOnly bool     `yaml:"connect_only"`
	Base        Duration `yaml:"base"`
	Max         Duration `yaml:"max"`
	MaxShare    Ratio    `yaml:"max_share"` // e.g. 50%
}

// UpstreamRetries configures retries to other targets.
type UpstreamRetries struct {
	Attempts     int   `yaml:"attempts"`       // total tries per request, 1 = no retry; default 2
	Budget       Ratio `yaml:"budget"`         // retries at most this share of requests; default 20%
	MinPerSecond int   `yaml:"min_per_second"` // a floor of retries per second; default 10
	// Statuses are responses that send an idempotent request whose content
	// can be sent again to another target (nginx's proxy_next_upstream
	// http_502 ...); none by default.
	Statuses []int `yaml:"statuses"`
	// OnTimeout does the same when a target sends no response head within
	// timeouts.response (the per-try timeout).
	OnTimeout bool `yaml:"on_timeout"`
}

// UpstreamKeepalive bounds the idle connections kept to each target, as
// nginx's keepalive and keepalive_timeout do.
type UpstreamKeepalive struct {
	MaxIdle     int      `yaml:"max_idle"`     // per target; default 1024
	IdleTimeout Duration `yaml:"idle_timeout"` // default 90s
}

// UpstreamTimeouts bound the exchange with a target.
type UpstreamTimeouts struct {
	Response Duration `yaml:"response"` // to the response head; default 60s → 504
}

// StatusRange is "200-399" or one status "200".
type StatusRange struct{ Min, Max int }

func (r *StatusRange) parseScalar(s string) error {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || a < 100 || b > 599 || b < a {
		return fmt.Errorf("bad status range %q: want like 200-399", s)
	}
	r.Min, r.Max = a, b
	return nil
}

// Ratio is a share written "20%" or "0.2".
type Ratio float64

func (q *Ratio) parseScalar(s string) error {
	t := strings.TrimSpace(s)
	scale := 1.0
	if p, ok := strings.CutSuffix(t, "%"); ok {
		t, scale = strings.TrimSpace(p), 100
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f/scale > 1 {
		return fmt.Errorf("bad share %q: want a percentage like 20%% or a fraction like 0.2", s)
	}
	*q = Ratio(f / scale)
	return nil
}
