package reverse

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// FilterSpec is a route's request filter: checks a request that matched
// the route must also pass, or be refused, as nginx's limit_except,
// location-level deny and ModSecurity-style header rules do. Routes choose
// where a request goes; filters say which requests the route takes.
type FilterSpec struct {
	// Methods lists the methods allowed; others get 405 with Allow.
	Methods []string
	// AllowPaths, when set, are regular expressions (unanchored, Go
	// syntax) one of which the normalised path must match; DenyPaths ones
	// it must not. Either way the client gets 403. Both see the path after
	// normalisation, so /%61dmin is /admin to them.
	AllowPaths []string
	DenyPaths  []string
	// DenyHeaders refuses (403) a request carrying a field that matches:
	// by presence, exact value or regex.
	DenyHeaders []FieldMatch
	// AllowClients, when set, lists the only client addresses (CIDRs,
	// addresses or set names) allowed; DenyClients those refused (403).
	AllowClients []string
	DenyClients  []string
}

// Filter is a compiled FilterSpec. The zero Filter passes everything.
type Filter struct {
	methods     []string
	allow       string // the Allow field of a 405
	allowPaths  []*regexp.Regexp
	denyPaths   []*regexp.Regexp
	denyHeaders []fieldCond
	allowIPs    addrset.Set
	hasAllowIPs bool
	denyIPs     addrset.Set
	hasDenyIPs  bool
	active      bool
}

// Verdict is what a filter decided: Status 0 lets the request through;
// otherwise the face answers Status with Reason (and Allow for 405).
type Verdict struct {
	Status int
	Reason string
	Allow  string
}

// Check applies the filter to a request from client whose route matched
// with p (p.Path is the normalised path).
func (f *Filter) Check(req *httpmsg.RequestHead, p *Params, client netip.Addr) Verdict {
	if !f.active {
		return Verdict{}
	}
	if f.hasDenyIPs && f.denyIPs.Contains(client) {
		return Verdict{Status: 403, Reason: "client address refused by the route's filter"}
	}
	if f.hasAllowIPs && !f.allowIPs.Contains(client) {
		return Verdict{Status: 403, Reason: "client address not allowed by the route's filter"}
	}
	if len(f.methods) > 0 && !slices.Contains(f.methods, string(req.Method)) {
		return Verdict{Status: 405, Reason: "method not allowed on this route", Allow: f.allow}
	}
	for _, re := range f.denyPaths {
		if re.Match(p.Path) {
			return Verdict{Status: 403, Reason: "path refused by the route's filter"}
		}
	}
	if len(f.allowPaths) > 0 {
		ok := false
		for _, re := range f.allowPaths {
			if re.Match(p.Path) {
				ok = true
				break
			}
		}
		if !ok {
			return Verdict{Status: 403, Reason: "path not allowed by the route's filter"}
		}
	}
	for i := range f.denyHeaders {
		if f.denyHeaders[i].headerHolds(&req.Header) {
			return Verdict{Status: 403, Reason: "request field " + f.denyHeaders[i].name + " refused by the route's filter"}
		}
	}
	return Verdict{}
}

// compileFilter compiles s; fail reports each problem under its key.
func compileFilter(s *FilterSpec, fail func(string, error)) Filter {
	var f Filter
	for j, m := range s.Methods {
		if !isToken(m) {
			fail("filter.methods["+strconv.Itoa(j)+"]", fmt.Errorf("%q is not a method", m))
			continue
		}
		f.methods = append(f.methods, m)
	}
	f.allow = strings.Join(f.methods, ", ")
	compileRegexps := func(key string, in []string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for j, p := range in {
			re, err := regexp.Compile(p)
			if err != nil {
				fail(key+"["+strconv.Itoa(j)+"]", err)
				continue
			}
			out = append(out, re)
		}
		return out
	}
	f.allowPaths = compileRegexps("filter.allow_paths", s.AllowPaths)
	f.denyPaths = compileRegexps("filter.deny_paths", s.DenyPaths)
	for j, m := range s.DenyHeaders {
		c, err := compileField(m, true)
		if err != nil {
			fail("filter.deny_headers["+strconv.Itoa(j)+"]", err)
			continue
		}
		f.denyHeaders = append(f.denyHeaders, c)
	}
	compileSet := func(key string, in []string) (addrset.Set, bool) {
		var sets []addrset.Set
		for j, c := range in {
			set, err := addrset.Parse(c)
			if err != nil {
				fail(key+"["+strconv.Itoa(j)+"]", err)
				continue
			}
			sets = append(sets, set)
		}
		if len(sets) == 0 {
			return addrset.Set{}, false
		}
		return addrset.Union(sets...), true
	}
	f.allowIPs, f.hasAllowIPs = compileSet("filter.allow_clients", s.AllowClients)
	f.denyIPs, f.hasDenyIPs = compileSet("filter.deny_clients", s.DenyClients)
	f.active = len(f.methods)+len(f.allowPaths)+len(f.denyPaths)+len(f.denyHeaders) > 0 || f.hasAllowIPs || f.hasDenyIPs
	return f
}
