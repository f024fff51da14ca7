package reverse

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/janus-proxy/janus/internal/addrset"
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
	// MaxBody bounds the request content (0: no limit), see RouteSpec.
	MaxBody int64
	// Filter decides which of the requests matched the route it takes.
	Filter Filter
	// ForwardAuth is the route's auth service, nil without one.
	ForwardAuth *ForwardAuth

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
