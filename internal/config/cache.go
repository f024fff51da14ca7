package config

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/cache"
)

// Cache is the top-level cache section (issue 4). Its presence makes a
// cache; reverse routes and forward listeners still opt in with
// `cache: on`, so adding the section changes nothing by itself.
type Cache struct {
	Memory          Size       `yaml:"memory"`            // memory tier bound; default 64MiB
	MemoryMaxObject Size       `yaml:"memory_max_object"` // largest object in memory; default memory/8
	Disk            *CacheDisk `yaml:"disk"`              // a disk tier that survives restarts; none by default
	// Heuristic freshness (RFC 9111 §4.2.2) for responses with
	// Last-Modified and no explicit lifetime.
	Heuristic CacheHeuristic `yaml:"heuristic"`
	// Grace serves a stale response this long past its freshness when the
	// upstream fails (5xx or no response); default 0 (only stale-if-error).
	Grace Duration `yaml:"grace"`
	// CollapseWait bounds how long a request waits for another's response
	// to the same URL (request collapsing); default 10s; "off" disables
	// collapsing.
	CollapseWait OffDuration `yaml:"collapse_wait"`
	// Status adds the Cache-Status response field (RFC 9211); default on.
	Status *bool `yaml:"status"`
	// Name is the cache's name in Cache-Status; default "janus".
	Name string `yaml:"name"`
	// StoreSetCookie stores responses carrying Set-Cookie, without the
	// Set-Cookie fields; default off (they are not stored at all).
	StoreSetCookie bool `yaml:"store_set_cookie"`
	// KeyHeaders are request fields added to every cache key, as if every
	// response named them in Vary.
	KeyHeaders []string `yaml:"key_headers"`
	// Methods whose responses are stored; default [GET]. HEAD is answered
	// from a stored GET.
	Methods []string `yaml:"methods"`
	// Purge allows the PURGE method from some clients.
	Purge *CachePurge `yaml:"purge"`
}

// CacheDisk is the cache's disk tier.
type CacheDisk struct {
	Path      string `yaml:"path"`       // a directory of the cache's own, relative to the config file
	Size      Size   `yaml:"size"`       // default 1GiB
	MaxObject Size   `yaml:"max_object"` // default size/8
}

// CacheHeuristic bounds heuristic freshness.
type CacheHeuristic struct {
	Fraction *Ratio   `yaml:"fraction"` // of the time since Last-Modified; default 10%, 0 disables
	Max      Duration `yaml:"max"`      // default 24h
}

// CachePurge says who may send PURGE requests.
type CachePurge struct {
	Allow []string `yaml:"allow"` // client CIDRs, addresses or set names
}

// Switch is an on/off setting: on, off, true or false.
type Switch bool

func (s *Switch) parseScalar(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes":
		*s = true
	case "off", "false", "no":
		*s = false
	default:
		return fmt.Errorf("want on or off, got %q", v)
	}
	return nil
}

// CacheUse is a route's or a forward listener's `cache`: on or off, or a
// mapping of the route's own storing rules, which turns it on:
// `cache: {key_headers: [X-Tenant], store_set_cookie: true}`.
type CacheUse struct {
	On             bool
	KeyHeaders     []string // request fields added to this route's cache keys
	StoreSetCookie *bool    // nil: the cache section's store_set_cookie
}

// cacheRules is CacheUse's mapping form.
type cacheRules struct {
	KeyHeaders     []string `yaml:"key_headers"`
	StoreSetCookie *bool    `yaml:"store_set_cookie"`
}

func (u *CacheUse) decodeNode(d *decoder, n *yaml.Node, path string, depth int) {
	if n.Kind == yaml.ScalarNode {
		var s Switch
		if err := s.parseScalar(n.Value); err != nil {
			d.errorf(n.Line, path, "%v", err)
		}
		*u = CacheUse{On: bool(s)}
		return
	}
	var r cacheRules
	d.decodeStruct(n, reflect.ValueOf(&r).Elem(), path, depth)
	*u = CacheUse{On: true, KeyHeaders: r.KeyHeaders, StoreSetCookie: r.StoreSetCookie}
}

// Rules returns the cache rules of a CacheUse with any of its own; nil
// when it only says on or off.
func (u CacheUse) Rules() *cache.Rules {
	if len(u.KeyHeaders) == 0 && u.StoreSetCookie == nil {
		return nil
	}
	return &cache.Rules{KeyFields: u.KeyHeaders, StoreSetCookie: u.StoreSetCookie}
}

// OffDuration is a duration, or "off" (stored as a negative value).
type OffDuration Duration

func (d *OffDuration) parseScalar(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		*d = -1
		return nil
	}
	return (*Duration)(d).parseScalar(s)
}

// CacheOptions returns the checked cache options; ok is false when the
// config has no cache section. The Logger is the caller's to set.
func (c *Config) CacheOptions() (o cache.Options, ok bool) {
	if c.compiled.cache == nil {
		return cache.Options{}, false
	}
	return *c.compiled.cache, true
}

// PurgeAllowed returns the clients that may send PURGE; empty when nobody
// may.
func (c *Config) PurgeAllowed() addrset.Set { return c.compiled.purge }

func (v *validator) checkCache() {
	cc := v.c.Cache
	if cc == nil {
		return
	}
	const key = "cache"
	o := cache.Options{
		Name:            cc.Name,
		CacheStatus:     cc.Status == nil || *cc.Status,
		MemoryBytes:     int64(cc.Memory),
		MemoryMaxObject: int64(cc.MemoryMaxObject),
		Grace:           cc.Grace.D(),
		KeyFields:       cc.KeyHeaders,
		Store:           cache.StorePolicy{StoreSetCookie: cc.StoreSetCookie},
	}
	if cc.Name != "" && !isToken(cc.Name) {
		v.fail(key+".name", "want a single token, got %q", cc.Name)
	}
	if cc.Memory != 0 && cc.Memory < 64<<10 {
		v.fail(key+".memory", "want at least 64KiB")
	}
	mem := cc.Memory.Or(64 << 20)
	if cc.MemoryMaxObject > Size(mem) {
		v.fail(key+".memory_max_object", "larger than the memory tier (%d bytes)", mem)
	}
	if d := cc.Disk; d != nil {
		if d.Path == "" {
			v.errorf(v.at(key+".disk"), key+".disk.path", "want a directory")
		}
		o.Dir = v.resolvePath(d.Path)
		o.DiskBytes, o.DiskMaxObject = int64(d.Size), int64(d.MaxObject)
		if d.Size != 0 && d.Size < 1<<20 {
			v.fail(key+".disk.size", "want at least 1MiB")
		}
		if d.MaxObject != 0 && d.MaxObject > Size(d.Size.Or(1<<30)) {
			v.fail(key+".disk.max_object", "larger than the disk tier")
		}
	}
	switch h := cc.Heuristic; {
	case h.Fraction != nil && *h.Fraction == 0:
		o.Heuristic = cache.Heuristic{Fraction: -1}
	case h.Fraction != nil || h.Max != 0:
		o.Heuristic = cache.Heuristic{Fraction: 0.1, Max: h.Max.Or(24 * time.Hour)}
		if h.Fraction != nil {
			o.Heuristic.Fraction = float64(*h.Fraction)
		}
	}
	if cc.Grace < 0 {
		v.fail(key+".grace", "must not be negative")
	}
	o.CollapseWait = time.Duration(cc.CollapseWait)
	for i, name := range cc.KeyHeaders {
		if !isToken(name) {
			v.fail(fmt.Sprintf("%s.key_headers[%d]", key, i), "not a field name: %q", name)
		}
	}
	for i, m := range cc.Methods {
		if !isToken(m) || m != strings.ToUpper(m) {
			v.fail(fmt.Sprintf("%s.methods[%d]", key, i), "want an upper-case method, got %q", m)
			continue
		}
		switch m {
		case http.MethodGet:
		case http.MethodHead:
			v.fail(fmt.Sprintf("%s.methods[%d]", key, i), "HEAD is answered from a stored GET; list GET")
		default:
			// A POST response is reusable only for the same content
			// (RFC 9110 §9.3.3), and keys do not hold the content.
			v.fail(fmt.Sprintf("%s.methods[%d]", key, i), "responses to %s are not cached (keys do not include request content): want GET", m)
		}
		o.Store.Methods = append(o.Store.Methods, m)
	}
	if p := cc.Purge; p != nil {
		for i, a := range p.Allow {
			s, err := addrset.Parse(a)
			if err != nil {
				v.fail(fmt.Sprintf("%s.purge.allow[%d]", key, i), "%v", err)
				continue
			}
			v.c.compiled.purge = addrset.Union(v.c.compiled.purge, s)
		}
	}
	v.c.compiled.cache = &o
}

// checkCacheSwitches refuses `cache: on` without a cache section, and on
// routes that do not proxy.
func (v *validator) checkCacheSwitches() {
	for i := range v.c.Listeners {
		l := &v.c.Listeners[i]
		key := fmt.Sprintf("listeners[%d]", i)
		if f := l.Forward; f != nil && f.Cache.On {
			if v.c.Cache == nil {
				v.fail(key+".forward.cache", "cache is on but there is no top-level cache section")
			}
			v.checkCacheRules(key+".forward.cache", f.Cache)
		}
		if l.Reverse == nil {
			continue
		}
		for j, rt := range l.Reverse.Routes {
			if !rt.Cache.On {
				continue
			}
			rk := fmt.Sprintf("%s.reverse.routes[%d].cache", key, j)
			v.checkCacheRules(rk, rt.Cache)
			switch {
			case v.c.Cache == nil:
				v.fail(rk, "cache is on but there is no top-level cache section")
			case rt.Upstream == "":
				v.fail(rk, "only routes to an upstream are cached")
			}
		}
	}
}

func (v *validator) checkCacheRules(key string, u CacheUse) {
	for i, name := range u.KeyHeaders {
		if !isToken(name) {
			v.fail(fmt.Sprintf("%s.key_headers[%d]", key, i), "not a field name: %q", name)
		}
	}
}
