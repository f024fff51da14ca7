package config

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/upstream"
)

// UpstreamPlan is a checked upstream: the pool's options (the server adds
// the resolver, dialer and logger) and what the face does around each
// request.
type UpstreamPlan struct {
	Pool            upstream.Options
	Attempts        int           // targets a request may try, at least 1
	RetryStatuses   []int         // responses that send an idempotent request to another target
	RetryTimeout    bool          // so does a response head that does not come in time
	ProxyProtocol   int           // 0: none; 1 or 2: the PROXY protocol version sent to targets
	MaxIdle         int           // idle connections kept per target
	IdleTimeout     time.Duration // how long an idle one is kept
	ResponseTimeout time.Duration // to the response head
	Protocol        string        // http1, h2c or h2
	TLS             *tls.Config   // nil: plain TCP to the targets
}

// Default upstream settings.
const (
	DefaultAttempts        = 2
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultMaxIdle         = 1024
	DefaultUpstreamIdle    = 90 * time.Second
)

// UpstreamPlans returns every checked upstream by name.
func (c *Config) UpstreamPlans() map[string]UpstreamPlan { return c.compiled.upstreams }

// ReverseTable returns the compiled route table of listener i, nil when it
// has no reverse face.
func (c *Config) ReverseTable(i int) *reverse.Table {
	if i < len(c.compiled.tables) {
		return c.compiled.tables[i]
	}
	return nil
}

// ForwardingOptions returns the forwarding-field options of listener i's
// reverse face.
func (c *Config) ForwardingOptions(i int) reverse.ForwardingOptions {
	if i < len(c.compiled.forwarding) {
		return c.compiled.forwarding[i]
	}
	return reverse.ForwardingOptions{}
}

func (v *validator) checkUpstreams() {
	v.c.compiled.upstreams = map[string]UpstreamPlan{}
	for _, name := range sortedKeys(v.c.Upstreams) {
		key := "upstreams." + name
		u := v.c.Upstreams[name]
		plan := UpstreamPlan{Pool: upstream.Options{Name: name}}
		if len(u.Targets) == 0 {
			v.fail(key, "no targets: an upstream needs at least one host:port")
		}
		for i, t := range u.Targets {
			tk := fmt.Sprintf("%s.targets[%d]", key, i)
			if err := checkHostPort(t.Addr); err != nil {
				v.fail(tk, "%v", err)
				continue
			}
			if t.Weight < 0 || t.Weight > upstream.MaxWeight {
				v.fail(tk+".weight", "want 1 to %d", upstream.MaxWeight)
				continue
			}
			plan.Pool.Targets = append(plan.Pool.Targets, upstream.Target{Addr: t.Addr, Weight: t.Weight})
		}
		if u.Balance != "" {
			b, ok := upstream.ParseBalance(u.Balance)
			if !ok {
				v.fail(key+".balance", "unknown balancer %q (want round_robin, least_conn, random, p2c, ewma, hash or cookie)", u.Balance)
			}
			plan.Pool.Balance = b
		}
		if u.Hash.Source != "" {
			src, ok := upstream.ParseHashSource(u.Hash.Source)
			if !ok {
				v.fail(key+".hash.source", "unknown hash source %q (want client_ip, header, cookie or uri)", u.Hash.Source)
			}
			if (u.Hash.Source == "header" || u.Hash.Source == "cookie") && u.Hash.Name == "" {
				v.fail(key+".hash.name", "a %s hash needs the %s's name", u.Hash.Source, u.Hash.Source)
			}
			plan.Pool.Hash = upstream.HashKey{Source: src, Name: u.Hash.Name}
		} else if u.Balance == "hash" {
			v.fail(key+".hash", "the hash balancer needs hash.source")
		}
		plan.Pool.CookieName = u.Cookie
		h := u.Health
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			v.fail(key+".health.path", "want a path starting with /")
		}
		if h.Rise < 0 || h.Fall < 0 {
			v.fail(key+".health", "rise and fall must not be negative")
		}
		plan.Pool.Health = upstream.Health{Path: h.Path, Host: h.Host, StatusMin: h.Expect.Min, StatusMax: h.Expect.Max,
			Interval: h.Interval.D(), Timeout: h.Timeout.D(), Rise: h.Rise, Fall: h.Fall}
		e := u.Eject
		plan.Pool.Eject = upstream.Eject{Consecutive: e.Consecutive, ConnectOnly: e.ConnectOnly, Base: e.Base.D(), Max: e.Max.D(), MaxShare: float64(e.MaxShare)}
		plan.Pool.SlowStart = u.SlowStart.D()
		plan.Pool.ResolveInterval = u.ResolveInterval.D()
		r := u.Retries
		if r.Attempts < 0 || r.Attempts > 10 {
			v.fail(key+".retries.attempts", "want 1 to 10 tries")
		}
		plan.Attempts = r.Attempts
		if plan.Attempts == 0 {
			plan.Attempts = DefaultAttempts
		}
		for i, st := range r.Statuses {
			if st < 200 || st > 599 {
				v.fail(fmt.Sprintf("%s.retries.statuses[%d]", key, i), "want a final status 200-599, not %d", st)
			}
		}
		if u.Keepalive.MaxIdle < 0 || u.Keepalive.MaxIdle > 100000 {
			v.fail(key+".keepalive.max_idle", "want 1 to 100000 connections")
		}
		plan.MaxIdle = cmp.Or(u.Keepalive.MaxIdle, DefaultMaxIdle)
		plan.IdleTimeout = u.Keepalive.IdleTimeout.Or(DefaultUpstreamIdle)
		plan.RetryStatuses = r.Statuses
		plan.RetryTimeout = r.OnTimeout
		// Zero values take the budget's defaults (20%, 10 per second).
		plan.Pool.Retry = upstream.BudgetOptions{Ratio: float64(r.Budget), MinPerSecond: float64(r.MinPerSecond)}
		plan.ResponseTimeout = u.Timeouts.Response.Or(DefaultUpstreamTimeout)
		plan.Protocol = u.Protocol
		switch u.Protocol {
		case "":
			plan.Protocol = "http1"
		case "http1", "h2c":
		case "h2":
			if u.TLS == nil {
				u.TLS = &UpstreamTLS{}
			}
		default:
			v.fail(key+".protocol", "unknown protocol %q (want http1, h2c or h2)", u.Protocol)
		}
		switch u.ProxyProtocol {
		case "":
		case "v1":
			plan.ProxyProtocol = 1
		case "v2":
			plan.ProxyProtocol = 2
		default:
			v.fail(key+".proxy_protocol", "unknown version %q (want v1 or v2)", u.ProxyProtocol)
		}
		if plan.ProxyProtocol != 0 && (plan.Protocol != "http1" || u.TLS != nil) {
			// Shared transports (TLS, HTTP/2) pool connections across
			// clients, and a PROXY header names one client.
			v.fail(key+".proxy_protocol", "is sent on plain HTTP/1.1 connections only (protocol http1 without tls)")
		}
		if u.Protocol == "h2c" && u.TLS != nil {
			v.fail(key+".tls", "h2c is HTTP/2 without TLS: use protocol h2 with tls")
		}
		if u.TLS != nil {
			cfg, err := v.upstreamTLS(u.TLS)
			if err != nil {
				v.fail(key+".tls", "%v", err)
			}
			plan.TLS = cfg
		}
		v.c.compiled.upstreams[name] = plan
	}
}

// checkHostPort accepts "host:port" with a DNS name or an IP literal.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("want host:port, got %q", s)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("bad port in %q", s)
	}
	return nil
}

// checkReverse compiles listener i's routes.
func (v *validator) checkReverse(i int, key string, r *Reverse) {
	for len(v.c.compiled.tables) <= i {
		v.c.compiled.tables = append(v.c.compiled.tables, nil)
		v.c.compiled.forwarding = append(v.c.compiled.forwarding, reverse.ForwardingOptions{})
	}
	fo := reverse.ForwardingOptions{}
	for j, t := range r.TrustedProxies {
		s, err := addrset.Parse(t)
		if err != nil {
			v.fail(fmt.Sprintf("%s.trusted_proxies[%d]", key, j), "%v", err)
			continue
		}
		fo.Trusted = addrset.Union(fo.Trusted, s)
	}
	switch r.RequestID {
	case "", "preserve":
		fo.RequestID = reverse.RequestIDPreserve
	case "generate":
		fo.RequestID = reverse.RequestIDGenerate
	case "off":
		fo.RequestID = reverse.RequestIDOff
	default:
		v.fail(key+".request_id", "unknown mode %q (want preserve, generate or off)", r.RequestID)
	}
	v.c.compiled.forwarding[i] = fo

	if len(r.Routes) == 0 {
		v.fail(key+".routes", "no routes: the reverse face would answer 404 to everything")
		return
	}
	specs := make([]reverse.RouteSpec, len(r.Routes))
	for j, rt := range r.Routes {
		rk := fmt.Sprintf("%s.routes[%d]", key, j)
		specs[j] = v.routeSpec(rk, rt)
		if rt.Policy != "" {
			if _, ok := v.c.Policies[rt.Policy]; !ok {
				v.fail(rk+".policy", "undefined policy %q (define it under policies)", rt.Policy)
			}
		}
		switch rt.Auth {
		case "", "none":
		case "basic":
			if len(v.c.compiled.users) == 0 {
				v.fail(rk+".auth", "basic auth needs users (add users.file or users.inline)")
			}
		default:
			v.fail(rk+".auth", "unknown auth %q (want basic or none)", rt.Auth)
		}
		if rt.Upstream != "" {
			if _, ok := v.c.Upstreams[rt.Upstream]; !ok {
				v.fail(rk+".upstream", "undefined upstream %q (define it under upstreams)", rt.Upstream)
			}
		}
	}
	t, err := reverse.NewTable(specs)
	if err != nil {
		v.routeErrors(key, err)
		return
	}
	v.c.compiled.tables[i] = t
}

func (v *validator) routeSpec(key string, rt Route) reverse.RouteSpec {
	m := rt.Match
	spec := reverse.RouteSpec{
		Name: rt.Name,
		Match: reverse.MatchSpec{Hosts: m.Hosts, Path: m.Path, PathPrefix: m.PathPrefix, Methods: m.Methods,
			Headers: fieldMatches(m.Headers), Query: fieldMatches(m.Query), Clients: m.Clients},
		Action:      reverse.ActionSpec{Upstream: rt.Upstream},
		StripPrefix: rt.StripPrefix,
		AddPrefix:   rt.AddPrefix,
		Request:     headerSpec(rt.RequestHeaders),
		Response:    headerSpec(rt.ResponseHeaders),
		HideServer:  rt.HideServer,
		MaxBody:     int64(rt.MaxBody),
		Filter: reverse.FilterSpec{Methods: rt.Filter.Methods, AllowPaths: rt.Filter.AllowPaths, DenyPaths: rt.Filter.DenyPaths,
			DenyHeaders: fieldMatches(rt.Filter.DenyHeaders), AllowClients: rt.Filter.AllowClients, DenyClients: rt.Filter.DenyClients},
	}
	if fa := rt.ForwardAuth; fa != nil {
		spec.ForwardAuth = &reverse.ForwardAuth{URL: fa.URL, CopyHeaders: fa.CopyHeaders, Timeout: fa.Timeout.Or(5 * time.Second)}
	}
	if rt.Redirect != nil {
		spec.Action.Redirect = &reverse.RedirectSpec{Status: rt.Redirect.Status, Location: rt.Redirect.Location}
	}
	if rt.Respond != nil {
		spec.Action.Respond = &reverse.RespondSpec{Status: rt.Respond.Status, Body: rt.Respond.Body, ContentType: rt.Respond.ContentType}
	}
	if rt.Static != nil {
		spec.Action.Static = &reverse.StaticSpec{Root: v.resolvePath(rt.Static.Root), Index: rt.Static.Index}
		if rt.Static.Root == "" {
			v.fail(key+".static.root", "want a directory")
		}
	}
	return spec
}

// routeErrors reports the table's errors at the lines of the keys they name.
func (v *validator) routeErrors(key string, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var se *reverse.SpecError
		if !errors.As(e, &se) {
			v.fail(key+".routes", "%v", e)
			continue
		}
		field := se.Field
		field = strings.TrimPrefix(field, "action.")
		switch {
		case field == "action":
			field = ""
		case field == "request":
			field = "request_headers"
		case field == "response":
			field = "response_headers"
		}
		rk := fmt.Sprintf("%s.routes[%d]", key, se.Index)
		k := rk
		if field != "" {
			k += "." + field
		}
		line := v.at(k)
		if line == 0 {
			line = v.at(rk)
		}
		v.errorf(line, k, "%v", se.Err)
	}
}

func fieldMatches(in []FieldMatch) []reverse.FieldMatch {
	out := make([]reverse.FieldMatch, len(in))
	for i, f := range in {
		out[i] = reverse.FieldMatch{Name: f.Name, Value: f.Value, Regex: f.Regex}
	}
	return out
}

// headerSpec turns the config's maps into ordered lists (sorted by name, so
// the outcome does not depend on map order).
func headerSpec(h HeaderOps) reverse.HeaderSpec {
	spec := reverse.HeaderSpec{Remove: h.Remove}
	for _, k := range sortedKeys(h.Set) {
		spec.Set = append(spec.Set, reverse.Field{Name: k, Value: h.Set[k]})
	}
	for _, k := range sortedKeys(h.Add) {
		spec.Add = append(spec.Add, reverse.Field{Name: k, Value: h.Add[k]})
	}
	return spec
}

// upstreamTLS builds the client TLS config for an upstream.
func (v *validator) upstreamTLS(t *UpstreamTLS) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(v.resolvePath(t.CA))
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca %s: no PEM certificate in it", t.CA)
		}
		cfg.RootCAs = pool
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("a client certificate needs both cert and key")
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(v.resolvePath(t.Cert), v.resolvePath(t.Key))
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
