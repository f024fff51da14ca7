package upstream

import (
	"bytes"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// DefaultCookie is the sticky cookie's name when Options.CookieName is
// empty.
const DefaultCookie = "janus_upstream"

// StickyCookie tells the caller of a Cookie pool which cookie to set after
// Pick chose h for r: the cookie's name and h's ID. ok is false when r
// already carries that value, or when the pool does not balance by cookie.
// The face writes the Set-Cookie field with the attributes it chooses
// (Path=/, HttpOnly, Secure on TLS listeners).
func (p *Pool) StickyCookie(r *Request, h *Host) (name, value string, ok bool) {
	if p.opts.Balance != Cookie || h == nil {
		return "", "", false
	}
	if r != nil && string(cookieValue(r.Header, p.cookie)) == h.id {
		return "", "", false
	}
	return p.cookie, h.id, true
}

// sticky returns the usable host that r's sticky cookie names, or nil.
func (p *Pool) sticky(r *Request, m *members, c *candidates) *Host {
	if r == nil {
		return nil
	}
	v := cookieValue(r.Header, p.cookie)
	if len(v) == 0 {
		return nil
	}
	i, ok := m.byID[string(v)]
	if !ok || c.weight(i) == 0 {
		return nil
	}
	return m.hosts[i]
}

// cookieValue returns the value of the cookie named name in h's Cookie
// fields (several under HTTP/2, RFC 9113 §8.2.3), or nil.
func cookieValue(h *httpmsg.Header, name string) []byte {
	if h == nil || name == "" {
		return nil
	}
	for i := h.Index("cookie", 0); i >= 0; i = h.Index("cookie", i+1) {
		if v, ok := findCookie(h.Value(i), name); ok {
			return v
		}
	}
	return nil
}

// findCookie finds name in a cookie-string (RFC 6265 §4.2.1: pairs
// separated by "; "), leniently as §5.4's parsers are: any whitespace
// around pairs, names and values is ignored, a pair without "=" is skipped,
// names match case-sensitively, and a value in double quotes loses them
// (§4.1.1). The first match wins.
func findCookie(s []byte, name string) ([]byte, bool) {
	for len(s) > 0 {
		var pair []byte
		if i := bytes.IndexByte(s, ';'); i >= 0 {
			pair, s = s[:i], s[i+1:]
		} else {
			pair, s = s, nil
		}
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 || string(httpmsg.TrimOWS(pair[:eq])) != name {
			continue
		}
		v := httpmsg.TrimOWS(pair[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return nil, false
}
