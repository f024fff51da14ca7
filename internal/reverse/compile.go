package reverse

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"net/url"
)

func compileRoute(i int, s *RouteSpec) (*Route, []hostPattern, []error) {
	r := &Route{Name: s.Name, Index: i}
	if r.Name == "" {
		r.Name = "route " + strconv.Itoa(i)
	}
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, &SpecError{Index: i, Name: s.Name, Field: field, Err: err})
	}

	var hosts []hostPattern
	for j, h := range s.Match.Hosts {
		p, err := parseHostPattern(h)
		if err != nil {
			fail("match.hosts["+strconv.Itoa(j)+"]", err)
			continue
		}
		hosts = append(hosts, p)
	}
	if len(s.Match.Hosts) == 0 {
		hosts = append(hosts, hostPattern{kind: anyHost})
	}

	switch {
	case s.Match.Path != "" && s.Match.PathPrefix != "":
		fail("match", errors.New("path and path_prefix are both set"))
	case s.Match.Path != "":
		r.path, r.exactPath = s.Match.Path, true
		if err := checkNormal(s.Match.Path); err != nil {
			fail("match.path", err)
		}
	case s.Match.PathPrefix != "":
		r.path = s.Match.PathPrefix
		if err := checkNormal(s.Match.PathPrefix); err != nil {
			fail("match.path_prefix", err)
		}
	}

	for j, m := range s.Match.Methods {
		if !isToken(m) {
			fail("match.methods["+strconv.Itoa(j)+"]", fmt.Errorf("%q is not a method token", m))
		}
	}
	r.methods = slices.Clone(s.Match.Methods)
	if len(r.methods) > 0 {
		r.conds++
	}
	for j, m := range s.Match.Headers {
		c, err := compileField(m, true)
		if err != nil {
			fail("match.headers["+strconv.Itoa(j)+"]", err)
		}
		r.headers = append(r.headers, c)
	}
	for j, m := range s.Match.Query {
		c, err := compileField(m, false)
		if err != nil {
			fail("match.query["+strconv.Itoa(j)+"]", err)
		}
		r.query = append(r.query, c)
	}
	r.conds += len(r.headers) + len(r.query)
	var sets []addrset.Set
	for j, c := range s.Match.Clients {
		set, err := addrset.Parse(c)
		if err != nil {
			fail("match.clients["+strconv.Itoa(j)+"]", err)
		}
		sets = append(sets, set)
	}
	if len(sets) > 0 {
		r.clients = addrset.Union(sets...)
		r.conds++
	}

	compileRewrite(r, s, fail)
	compileAction(r, s, fail)
	var err error
	if r.Request, err = compileHeaderOps(&s.Request, false); err != nil {
		fail("request", err)
	}
	if r.Response, err = compileHeaderOps(&s.Response, s.HideServer); err != nil {
		fail("response", err)
	}
	if s.MaxBody < 0 {
		fail("max_body", fmt.Errorf("want a size of at least 0, not %d", s.MaxBody))
	}
	r.MaxBody = s.MaxBody
	r.Filter = compileFilter(&s.Filter, fail)
	if fa := s.ForwardAuth; fa != nil {
		u, err := url.Parse(fa.URL)
		switch {
		case err != nil:
			fail("forward_auth.url", err)
		case u.Scheme != "http" || u.Host == "":
			fail("forward_auth.url", fmt.Errorf("want an http:// URL with a host, not %q", fa.URL))
		}
		for j, h := range fa.CopyHeaders {
			if !isToken(h) {
				fail("forward_auth.copy_headers["+strconv.Itoa(j)+"]", fmt.Errorf("%q is not a field name", h))
			}
		}
		r.ForwardAuth = fa
	}
	return r, hosts, errs
}

func compileRewrite(r *Route, s *RouteSpec, fail func(string, error)) {
	if s.StripPrefix != "" {
		switch {
		case s.StripPrefix[0] != '/':
			fail("strip_prefix", fmt.Errorf("%q does not start with /", s.StripPrefix))
		case !strings.HasPrefix(r.path, s.StripPrefix):
			fail("strip_prefix", fmt.Errorf("%q is not a prefix of the route's path condition %q, so some matching requests would not have it", s.StripPrefix, r.path))
		}
		r.strip = s.StripPrefix
	}
	if s.AddPrefix != "" {
		if err := checkNormal(s.AddPrefix); err != nil {
			fail("add_prefix", err)
		}
		// Kept without its trailing slash: the path it goes before
		// brings one. "/" thus adds nothing.
		r.add = strings.TrimSuffix(s.AddPrefix, "/")
	}
}

func compileAction(r *Route, s *RouteSpec, fail func(string, error)) {
	a := &s.Action
	n := 0
	if a.Upstream != "" {
		n++
		r.Action, r.Upstream = Proxy, a.Upstream
	}
	if a.Redirect != nil {
		n++
		r.Action = Redirect
		r.redirectStatus = a.Redirect.Status
		switch r.redirectStatus {
		case 0:
			r.redirectStatus = 302
		case 301, 302, 303, 307, 308:
		default:
			fail("action.redirect.status", fmt.Errorf("%d is not a redirect status (301, 302, 303, 307, 308)", a.Redirect.Status))
		}
		t, err := ParseTemplate(a.Redirect.Location)
		if err != nil {
			fail("action.redirect.location", err)
		}
		if a.Redirect.Location == "" {
			fail("action.redirect.location", errors.New("empty"))
		}
		r.location = t
	}
	if a.Respond != nil {
		n++
		r.Action = Respond
		r.respondStatus = a.Respond.Status
		if r.respondStatus == 0 {
			r.respondStatus = 200
		}
		if r.respondStatus < 200 || r.respondStatus > 599 {
			fail("action.respond.status", fmt.Errorf("%d is not between 200 and 599", a.Respond.Status))
		}
		r.body = []byte(a.Respond.Body)
		r.contentType = a.Respond.ContentType
		if r.contentType == "" && len(r.body) > 0 {
			r.contentType = "text/plain; charset=utf-8"
		}
		if !isFieldValue(r.contentType) {
			fail("action.respond.content_type", fmt.Errorf("%q is not a valid field value", r.contentType))
		}
	}
	if a.Static != nil {
		n++
		r.Action = Static
		st, err := compileStatic(a.Static)
		if err != nil {
			fail("action.static", err)
		}
		r.static = st
	}
	if n != 1 {
		fail("action", fmt.Errorf("%d actions set, want exactly one of upstream, redirect, respond, static", n))
	}
}

func compileField(m FieldMatch, header bool) (fieldCond, error) {
	c := fieldCond{name: m.Name, value: m.Value}
	switch {
	case m.Name == "":
		return c, errors.New("empty name")
	case header && !isToken(m.Name):
		return c, fmt.Errorf("%q is not a field name", m.Name)
	case m.Value != "" && m.Regex != "":
		return c, errors.New("value and regex are both set")
	case header && !isFieldValue(m.Value):
		return c, fmt.Errorf("value %q holds bytes no field value can hold", m.Value)
	}
	if m.Regex != "" {
		re, err := regexp.Compile("^(?:" + m.Regex + ")$")
		if err != nil {
			return c, fmt.Errorf("regex %q: %w", m.Regex, err)
		}
		c.re = re
	}
	return c, nil
}

func checkNormal(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("%q does not start with /", p)
	}
	n, err := AppendNormalized(nil, []byte(p))
	if err != nil {
		return err
	}
	if string(n) != p {
		return fmt.Errorf("%q is not in normal form, which is %q: requests are matched after normalisation", p, n)
	}
	return nil
}

// Host patterns.
type hostKind uint8

const (
	anyHost hostKind = iota
	exactHost
	wildHost
)

type hostPattern struct {
	kind hostKind
	name string // lower case; ".example.com" for "*.example.com"
}

func parseHostPattern(s string) (hostPattern, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	if p == "*" {
		return hostPattern{kind: anyHost}, nil
	}
	kind := exactHost
	if rest, ok := strings.CutPrefix(p, "*."); ok {
		kind, p = wildHost, rest
	}
	if strings.Contains(p, "*") {
		return hostPattern{}, fmt.Errorf("%q: a wildcard is only allowed as the whole first label (*.example.com)", s)
	}
	host, _, hasPort, err := httpmsg.SplitAuthority([]byte(p))
	if err != nil {
		return hostPattern{}, fmt.Errorf("%q: %w", s, err)
	}
	if hasPort || strings.HasSuffix(p, ":") {
		return hostPattern{}, fmt.Errorf("%q: a host pattern has no port (the request's port is ignored)", s)
	}
	name := strings.TrimSuffix(string(host), ".")
	if name == "" || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return hostPattern{}, fmt.Errorf("%q: empty label", s)
	}
	if kind == wildHost {
		name = "." + name
	}
	return hostPattern{kind: kind, name: name}, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isFieldValue reports whether s can be sent as a field value (RFC 9110
// §5.5): visible ASCII, obs-text, spaces and tabs, not at either end.
func isFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return s == strings.Trim(s, " \t")
}
