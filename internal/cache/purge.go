package cache

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// normalizeURL turns an absolute http(s) URL into the URI part of a key
// (scheme://host:port/path?query).
func normalizeURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("cache: purge url %q: %w", raw, err)
	}
	if u.Host == "" || u.Scheme == "" {
		return "", fmt.Errorf("cache: purge url %q: not absolute", raw)
	}
	var h httpmsg.RequestHead
	h.Form = httpmsg.AbsoluteForm
	h.Scheme = []byte(strings.ToLower(u.Scheme))
	h.Host = []byte(strings.ToLower(u.Hostname()))
	if p := u.Port(); p != "" {
		var n uint64
		for _, c := range p {
			n = n*10 + uint64(c-'0')
		}
		h.Port = uint16(n)
	}
	h.Path = []byte(u.RequestURI())
	if strings.HasSuffix(raw, "?") && u.RawQuery == "" {
		h.Path = append(h.Path, '?')
	}
	k, _ := appendURI(nil, &h, false)
	return string(k), nil
}

// uriOf returns the URI part of a primary key (after the method class).
func uriOf(key string) string {
	if i := strings.IndexByte(key, ' '); i >= 0 {
		return key[i+1:]
	}
	return key
}

// PurgeURL removes every stored response (all variants, all method
// classes) for an absolute URL and returns how many it removed.
func (c *Cache) PurgeURL(rawURL string) (int, error) {
	uri, err := normalizeURL(rawURL)
	if err != nil {
		return 0, err
	}
	return c.purgeURIs([]string{uri}), nil
}

// purgeURIs removes every entry of the URIs, under every method class.
func (c *Cache) purgeURIs(uris []string) int {
	classes := c.o.Store.Methods
	if classes == nil {
		classes = []string{"GET"}
	}
	var p purging
	c.mu.Lock()
	for _, u := range uris {
		for _, cl := range classes {
			for _, e := range append([]*entry(nil), c.index[cl+" "+u]...) {
				p.remove(c, e)
			}
		}
	}
	c.mu.Unlock()
	return p.done(c)
}

// purging collects what a purge removed; the files go once unlocked.
type purging struct {
	files []string
	n     int
}

// remove takes e out; the caller holds c.mu.
func (p *purging) remove(c *Cache, e *entry) {
	if f := c.remove(e); f != "" {
		p.files = append(p.files, f)
	}
	p.n++
}

func (p *purging) done(c *Cache) int {
	removeFiles(p.files)
	c.stats.purged.Add(int64(p.n))
	return p.n
}

// PurgePrefix removes every stored response whose URL starts with prefix
// (an absolute URL: scheme and host must be given; compared after the
// normalisation of keys, so the host's case and default port do not
// matter).
func (c *Cache) PurgePrefix(prefix string) (int, error) {
	p, err := normalizeURL(prefix)
	if err != nil {
		return 0, err
	}
	// "http://host" normalises to "http://host:80/": the whole host, and
	// not "http://host:8080/".
	return c.purge(func(key string, _ *meta) bool { return strings.HasPrefix(uriOf(key), p) }), nil
}

// PurgeTag removes every stored response tagged tag by a Surrogate-Key
// (space-separated) or Cache-Tag (comma-separated) response field.
func (c *Cache) PurgeTag(tag string) int {
	return c.purge(func(_ string, m *meta) bool { return m.hasTag(tag) })
}

func (c *Cache) purge(match func(string, *meta) bool) int {
	var p purging
	c.mu.Lock()
	for key, vs := range c.index {
		for _, e := range append([]*entry(nil), vs...) {
			if match(key, e.meta.Load()) {
				p.remove(c, e)
			}
		}
	}
	c.mu.Unlock()
	return p.done(c)
}

// Invalidate applies RFC 9111 §4.4 after the face relayed the response to
// an unsafe request: a 2xx or 3xx response to a method other than GET,
// HEAD, OPTIONS or TRACE invalidates the target URI and the URIs in
// Location and Content-Location when they have the same origin. tls is as
// in Request. It returns how many stored responses it removed.
func (c *Cache) Invalidate(req *httpmsg.RequestHead, tls bool, resp *httpmsg.ResponseHead) int {
	m := req.Method
	if resp.Status < 200 || resp.Status >= 400 || httpmsg.EqualFold(m, "GET") || httpmsg.EqualFold(m, "HEAD") ||
		httpmsg.EqualFold(m, "OPTIONS") || httpmsg.EqualFold(m, "TRACE") {
		return 0
	}
	target, ok := appendURI(nil, req, tls)
	if !ok {
		return 0
	}
	uris := []string{string(target)}
	base, err := url.Parse(string(target))
	if err == nil {
		for _, name := range []string{"Location", "Content-Location"} {
			v := resp.Header.Get(name)
			if v == nil {
				continue
			}
			ref, err := url.Parse(string(httpmsg.TrimOWS(v)))
			if err != nil {
				continue
			}
			abs := base.ResolveReference(ref)
			if u, err := normalizeURL(abs.String()); err == nil && sameOrigin(u, uris[0]) {
				uris = append(uris, u)
			}
		}
	}
	return c.purgeURIs(uris)
}

// sameOrigin compares the scheme://host:port parts of two key URIs.
func sameOrigin(a, b string) bool {
	return origin(a) == origin(b)
}

func origin(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
		return u[:i+3+j]
	}
	return u
}
