package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/proxyproto"
	"github.com/janus-proxy/janus/internal/reverse"
)

// compiled holds the runtime values that validation built while checking,
// so that nothing is parsed twice and building a server cannot fail on
// something validation accepted.
type compiled struct {
	policies   map[string]*gate.Policy
	users      []gate.User
	hosts      map[string][]netip.Addr
	upstreams  map[string]UpstreamPlan
	tables     []*reverse.Table // by listener index; nil without a reverse face
	forwarding []reverse.ForwardingOptions
	tls        []*tls.Config // by listener index; nil for plain listeners
	proxyProto []*proxyproto.Options
	adminAllow addrset.Set    // clients that may reach the admin API
	cache      *cache.Options // nil without a cache section
	purge      addrset.Set    // who may PURGE
	limits     map[string]LimitPlan
	quotaStore string
	quotas     []QuotaPlan
}

type validator struct {
	*decoder
	c   *Config
	dir string
}

func (v *validator) at(key string) int { return v.lines[key] }

func (v *validator) fail(key, format string, args ...any) {
	v.errorf(v.at(key), key, format, args...)
}

func (v *validator) validate() {
	v.c.compiled.policies = map[string]*gate.Policy{}
	v.checkLog()
	v.checkUsers()
	v.checkResolver()
	v.checkPolicies()
	v.checkLimits()
	v.checkQuotas()
	v.checkCluster()
	v.checkUpstreams()
	v.checkListeners()
	v.checkLimitRefs()
	v.checkAdmin()
	v.checkCache()
	v.checkCacheSwitches()
	sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
}

func (v *validator) checkLog() {
	l := v.c.Log
	if !oneOf(l.Level, "", "debug", "info", "warn", "error") {
		v.fail("log.level", "unknown level %q (want debug, info, warn or error)", l.Level)
	}
	if !oneOf(l.Format, "", "text", "json") {
		v.fail("log.format", "unknown format %q (want text or json)", l.Format)
	}
	if _, err := observe.ParseFormat(l.Access.Format); err != nil {
		v.fail("log.access.format", "%v", err)
	}
}

func (v *validator) checkUsers() {
	u := v.c.Users
	var users []gate.User
	if u.File != "" {
		path := v.resolvePath(u.File)
		data, err := os.ReadFile(path)
		if err != nil {
			v.fail("users.file", "cannot read users file: %v", err)
		} else {
			fileUsers, err := gate.ParseHtpasswd(bytes.NewReader(data))
			var he *gate.HtpasswdError
			switch {
			case errors.As(err, &he):
				v.fail("users.file", "%s:%d: %s", u.File, he.Line, he.Msg)
			case err != nil:
				v.fail("users.file", "%v", err)
			}
			users = append(users, fileUsers...)
		}
	}
	for i, in := range u.Inline {
		key := fmt.Sprintf("users.inline[%d]", i)
		if in.Name == "" || strings.ContainsAny(in.Name, ": \t") {
			v.fail(key+".name", "want a user name without spaces or colons")
			continue
		}
		if _, err := gate.NewUsers([]gate.User{{Name: in.Name, Hash: []byte(in.Hash)}}, 0, [16]byte{}); err != nil {
			v.fail(key+".hash", "not a bcrypt hash (make one with `janus hash-password`)")
			continue
		}
		users = append(users, gate.User{Name: in.Name, Hash: []byte(in.Hash), Groups: in.Groups})
	}
	index := map[string]int{}
	for i, usr := range users {
		if _, dup := index[usr.Name]; dup {
			v.fail("users", "user %q is defined twice", usr.Name)
			continue
		}
		index[usr.Name] = i
	}
	for _, group := range sortedKeys(u.Groups) {
		for _, name := range u.Groups[group] {
			i, ok := index[name]
			if !ok {
				v.fail("users.groups."+group, "unknown user %q", name)
				continue
			}
			users[i].Groups = append(users[i].Groups, group)
		}
	}
	v.c.compiled.users = users
}

func (v *validator) resolvePath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

func (v *validator) checkResolver() {
	hosts := map[string][]netip.Addr{}
	for _, name := range sortedKeys(v.c.Resolver.Hosts) {
		key := "resolver.hosts." + name
		if _, err := gate.ParseHostPattern(name); err != nil || strings.HasPrefix(name, "*") {
			v.fail(key, "want a host name")
			continue
		}
		norm := strings.ToLower(strings.TrimSuffix(name, "."))
		addrs := v.c.Resolver.Hosts[name]
		if len(addrs) == 0 {
			v.fail(key, "want at least one address")
		}
		for _, a := range addrs {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				v.fail(key, "bad address %q", a)
				continue
			}
			hosts[norm] = append(hosts[norm], ip.Unmap())
		}
	}
	v.c.compiled.hosts = hosts
}

func (v *validator) knownUser(name string) bool {
	for _, u := range v.c.compiled.users {
		if u.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) knownGroup(group string) bool {
	for _, u := range v.c.compiled.users {
		for _, g := range u.Groups {
			if g == group {
				return true
			}
		}
	}
	return false
}

func (v *validator) checkPolicies() {
	for _, name := range sortedKeys(v.c.Policies) {
		key := "policies." + name
		if name == DefaultPolicyName {
			v.fail(key, "the name %q is reserved for the built-in policy", name)
			continue
		}
		p := &gate.Policy{Name: name}
		for i, r := range v.c.Policies[name] {
			rk := fmt.Sprintf("%s[%d]", key, i)
			if r.Allow {
				rk += ".allow"
			} else {
				rk += ".deny"
			}
			if rule, ok := v.compileRule(rk, r, fmt.Sprintf("%s#%d", name, i+1)); ok {
				p.Rules = append(p.Rules, rule)
			}
		}
		v.c.compiled.policies[name] = p
	}
}

func (v *validator) compileRule(key string, r Rule, defName string) (gate.Rule, bool) {
	m := r.Match
	ok := true
	bad := func(sub, format string, args ...any) {
		k := key
		if sub != "" {
			k += "." + sub
		}
		line := v.at(k)
		if line == 0 {
			line = r.Line
		}
		v.errorf(line, k, format, args...)
		ok = false
	}
	rule := gate.Rule{Name: m.Name, Allow: r.Allow, Unauthenticated: m.Unauthenticated, Users: m.Users, Groups: m.Groups}
	if rule.Name == "" {
		rule.Name = defName
	}
	for i, c := range m.Clients {
		s, err := addrset.Parse(c)
		if err != nil {
			bad(fmt.Sprintf("clients[%d]", i), "%v", err)
			continue
		}
		rule.Clients = addrset.Union(rule.Clients, s)
	}
	for i, t := range m.To {
		sub := fmt.Sprintf("to[%d]", i)
		if addrset.LooksLikeAddr(t) {
			s, err := addrset.Parse(t)
			if err != nil {
				bad(sub, "%v", err)
				continue
			}
			rule.Dests = addrset.Union(rule.Dests, s)
			continue
		}
		h, err := gate.ParseHostPattern(t)
		if err != nil {
			bad(sub, "%v (or a CIDR, an address, or one of the sets %s)", err, strings.Join(addrset.Names(), ", "))
			continue
		}
		rule.Hosts = append(rule.Hosts, h)
	}
	rule.Ports = portSet(m.Ports)
	for i, p := range m.Protocols {
		proto, known := gate.ParseProtocol(p)
		if !known {
			bad(fmt.Sprintf("protocols[%d]", i), "unknown protocol %q (want http, connect, socks5 or socks4)", p)
			continue
		}
		rule.Protocols = append(rule.Protocols, proto)
	}
	for i, meth := range m.Methods {
		if !isToken(meth) {
			bad(fmt.Sprintf("methods[%d]", i), "bad method %q", meth)
		}
	}
	rule.Methods = m.Methods
	for i, u := range m.Users {
		if u != "*" && !v.knownUser(u) {
			bad(fmt.Sprintf("users[%d]", i), "unknown user %q (define it under users)", u)
		}
	}
	for i, g := range m.Groups {
		if !v.knownGroup(g) {
			bad(fmt.Sprintf("groups[%d]", i), "unknown group %q (no user belongs to it)", g)
		}
	}
	return rule, ok
}

var listenerProtocols = []string{"http", "connect", "socks5", "socks4"}

func (v *validator) checkListeners() {
	if len(v.c.Listeners) == 0 {
		v.fail("listeners", "no listeners: Janus would serve nothing")
		return
	}
	names := map[string]string{}
	addrs := map[string]string{}
	for i := range v.c.Listeners {
		l := &v.c.Listeners[i]
		key := fmt.Sprintf("listeners[%d]", i)
		if l.Name == "" {
			l.Name = l.Listen
		}
		if prev, dup := names[l.Name]; dup {
			v.fail(key+".name", "listener name %q already used by %s", l.Name, prev)
		}
		names[l.Name] = key
		if norm, err := normaliseListen(l.Listen); err != nil {
			v.fail(key+".listen", "%v", err)
		} else if !strings.HasSuffix(norm, ":0") {
			if prev, dup := addrs[norm]; dup {
				v.fail(key+".listen", "address %s already used by %s", l.Listen, prev)
			}
			addrs[norm] = key
		}
		for j, p := range l.Protocols {
			if !oneOf(p, listenerProtocols...) {
				v.fail(fmt.Sprintf("%s.protocols[%d]", key, j), "unknown protocol %q (want %s)", p, strings.Join(listenerProtocols, ", "))
			}
		}
		if l.MaxConnections < 0 {
			v.fail(key+".max_connections", "must not be negative")
		}
		if l.MaxHeaderBytes != 0 && (l.MaxHeaderBytes < 1024 || l.MaxHeaderBytes > 1<<24) {
			v.fail(key+".max_header_bytes", "want between 1KiB and 16MiB")
		}
		if l.TLS != nil {
			v.checkTLS(i, key+".tls", l)
		}
		if pp := l.ProxyProtocol; pp != nil {
			v.checkProxyProtocol(i, key+".proxy_protocol", pp)
		}
		if l.H2C && (l.TLS != nil || l.Reverse == nil) {
			v.fail(key+".h2c", "h2c is for plain listeners with a reverse face (TLS listeners offer HTTP/2 through ALPN)")
		}
		if l.HTTP3 != nil && *l.HTTP3 && (l.TLS == nil || l.Reverse == nil || !l.Allows("http")) {
			v.fail(key+".http3", "http3 is for TLS listeners with a reverse face (QUIC is always encrypted; the forward face's clients speak HTTP/1.1)")
		}
		if l.Forward == nil && l.Reverse == nil {
			v.fail(key, "the listener serves nothing: add `forward: {}` or `reverse: {routes: [...]}`")
			continue
		}
		if l.Forward != nil {
			v.checkForward(key+".forward", l.Forward)
		}
		if l.Reverse != nil {
			v.checkReverse(i, key+".reverse", l.Reverse)
		}
	}
}

func (v *validator) checkForward(key string, f *Forward) {
	switch f.Auth {
	case "", "none":
	case "required":
		if len(v.c.compiled.users) == 0 {
			v.fail(key+".auth", "auth is required but no users are defined (add users.file or users.inline)")
		}
	default:
		v.fail(key+".auth", "unknown auth %q (want none or required)", f.Auth)
	}
	if f.Policy != "" {
		if _, ok := v.c.Policies[f.Policy]; !ok {
			v.fail(key+".policy", "undefined policy %q (define it under policies)", f.Policy)
		}
	}
	if !oneOf(f.Anonymity, "", "transparent", "anonymous", "elite") {
		v.fail(key+".anonymity", "unknown level %q (want transparent, anonymous or elite)", f.Anonymity)
	}
	if f.Via != "" && !isToken(f.Via) {
		v.fail(key+".via", "want a single token, got %q", f.Via)
	}
}

// normaliseListen checks a listen address and returns it in a form where
// two spellings of the same address compare equal.
func normaliseListen(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("want host:port, got %q", s)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("bad port in %q", s)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("want an IP address to listen on, got %q", host)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)).String(), nil
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v *validator) checkProxyProtocol(i int, key string, pp *ProxyProtocol) {
	for len(v.c.compiled.proxyProto) <= i {
		v.c.compiled.proxyProto = append(v.c.compiled.proxyProto, nil)
	}
	if len(pp.Trusted) == 0 {
		v.fail(key+".trusted", "list the load balancers whose header is believed (a header from anyone could claim any address)")
		return
	}
	o := &proxyproto.Options{Required: !pp.Optional, Timeout: pp.Timeout.D()}
	for j, t := range pp.Trusted {
		s, err := addrset.Parse(t)
		if err != nil {
			v.fail(fmt.Sprintf("%s.trusted[%d]", key, j), "%v", err)
			continue
		}
		o.Trusted = addrset.Union(o.Trusted, s)
	}
	v.c.compiled.proxyProto[i] = o
}

// ProxyProtocol returns listener i's PROXY protocol policy, nil when off.
func (c *Config) ProxyProtocol(i int) *proxyproto.Options {
	if i < len(c.compiled.proxyProto) {
		return c.compiled.proxyProto[i]
	}
	return nil
}
