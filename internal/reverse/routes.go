package reverse

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Action is what a route does with a request.
type Action uint8

// Actions.
const (
	Proxy    Action = iota + 1 // send it to Route.Upstream
	Redirect                   // answer with Route.Reply
	Respond                    // answer with Route.Reply
	Static                     // answer with Route.PlanStatic
)

func (a Action) String() string {
	switch a {
	case Proxy:
		return "proxy"
	case Redirect:
		return "redirect"
	case Respond:
		return "respond"
	case Static:
		return "static"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Route is one compiled route. A Table owns it; it never changes, so any
// number of requests may use it at once.
type Route struct {
	Name     string // the spec's Name, or "route N"
	Index    int    // position in the spec list, from 0
	Action   Action
	Upstream string // the pool, for Proxy

	// Request is applied to the header sent upstream, after the listener's
	// Forwarding rules; Response to every response header the face sends
	// for this route, upstream's or Janus's own.
	Request  HeaderOps
	Response HeaderOps

	path      string // exact path or prefix; "" without a path condition
	exactPath bool
	methods   []string
	headers   []fieldCond
	query     []fieldCond
	clients   addrset.Set
	conds     int // how many conditions besides host and path (precedence key 3)

	strip, add string

	redirectStatus int
	location       Template
	respondStatus  int
	body           []byte
	contentType    string
	static         *staticSpec
}

// fieldCond is a compiled FieldMatch.
type fieldCond struct {
	name  string
	value string
	re    *regexp.Regexp // nil: exact value, or presence when value is ""
}

// Table is an immutable, compiled list of routes. Use NewTable.
type Table struct {
	routes     []*Route           // spec order
	exactHosts map[string]*bucket // lower-case host
	wildHosts  map[string]*bucket // ".example.com" for "*.example.com"
	anyHost    bucket
}

// bucket holds the routes that compete under one host pattern, in
// precedence order within each list.
type bucket struct {
	exact  map[string][]*Route // by exact path
	prefix []*Route            // longest prefix first
	any    []*Route            // no path condition
}

// Routes returns the routes in spec order. The slice is shared: do not
// change it.
func (t *Table) Routes() []*Route { return t.routes }

// SpecError is a route that cannot be compiled. Field names the offending
// setting as a dotted path under the route ("match.path",
// "action.redirect.location"), so a config loader can point at its line.
type SpecError struct {
	Index int    // the route's position in the spec list
	Name  string // the route's name, if it has one
	Field string
	Err   error
}

func (e *SpecError) Error() string {
	who := "route " + strconv.Itoa(e.Index)
	if e.Name != "" {
		who += " (" + strconv.Quote(e.Name) + ")"
	}
	return who + ": " + e.Field + ": " + e.Err.Error()
}

func (e *SpecError) Unwrap() error { return e.Err }

// NewTable checks and compiles specs. The error, if any, joins one
// *SpecError per problem found (errors.Join), so every mistake in a config
// is reported at once.
func NewTable(specs []RouteSpec) (*Table, error) {
	t := &Table{exactHosts: map[string]*bucket{}, wildHosts: map[string]*bucket{}}
	var errs []error
	for i := range specs {
		r, hosts, es := compileRoute(i, &specs[i])
		errs = append(errs, es...)
		if len(es) > 0 {
			continue
		}
		t.routes = append(t.routes, r)
		for _, h := range hosts {
			t.bucketFor(h).add(r)
		}
	}
	for _, b := range t.buckets() {
		b.sort()
		errs = append(errs, b.shadowed(specs)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// bucketFor returns the bucket of a compiled host pattern.
func (t *Table) bucketFor(h hostPattern) *bucket {
	m := t.exactHosts
	switch h.kind {
	case anyHost:
		return &t.anyHost
	case wildHost:
		m = t.wildHosts
	}
	b := m[h.name]
	if b == nil {
		b = &bucket{exact: map[string][]*Route{}}
		m[h.name] = b
	}
	return b
}

func (t *Table) buckets() []*bucket {
	bs := []*bucket{&t.anyHost}
	for _, b := range t.exactHosts {
		bs = append(bs, b)
	}
	for _, b := range t.wildHosts {
		bs = append(bs, b)
	}
	return bs
}

func (b *bucket) add(r *Route) {
	switch {
	case r.path == "":
		b.any = append(b.any, r)
	case r.exactPath:
		if b.exact == nil {
			b.exact = map[string][]*Route{}
		}
		b.exact[r.path] = append(b.exact[r.path], r)
	default:
		b.prefix = append(b.prefix, r)
	}
}

// byConds orders routes with the same host and path rank: more conditions
// first, then spec order.
func byConds(a, b *Route) int {
	if c := cmp.Compare(b.conds, a.conds); c != 0 {
		return c
	}
	return cmp.Compare(a.Index, b.Index)
}

func (b *bucket) sort() {
	for _, rs := range b.exact {
		slices.SortFunc(rs, byConds)
	}
	slices.SortFunc(b.prefix, func(x, y *Route) int {
		if c := cmp.Compare(len(y.path), len(x.path)); c != 0 {
			return c
		}
		return byConds(x, y)
	})
	slices.SortFunc(b.any, byConds)
}

// shadowed reports routes that can never match under this bucket's host
// because an earlier route has the same path condition and no other
// condition. A route is reported only when every one of its hosts shadows
// it, which for a single-host route is this bucket.
func (b *bucket) shadowed(specs []RouteSpec) []error {
	var errs []error
	check := func(rs []*Route) {
		for i := 1; i < len(rs); i++ {
			prev, r := rs[i-1], rs[i]
			if prev.conds == 0 && prev.path == r.path && len(specs[r.Index].Match.Hosts) <= 1 {
				errs = append(errs, &SpecError{Index: r.Index, Name: specs[r.Index].Name, Field: "match",
					Err: fmt.Errorf("never matches: %s has the same host and path and no other condition", prev.Name)})
			}
		}
	}
	for _, rs := range b.exact {
		check(rs)
	}
	check(b.prefix)
	check(b.any)
	return errs
}

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
