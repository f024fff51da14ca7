package reverse

import (
	"net/netip"
	"strconv"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Params is what Match learned about a request, for the route's action.
// Its slices alias the request head's storage (see Match) and are valid as
// long as the head is.
type Params struct {
	// Host is the request's host, from the target in absolute-form or else
	// the Host field: without port, IPv6 brackets or a trailing dot, in
	// the case received. Empty when the request names no host.
	Host []byte
	// Path is the normalised path (see AppendNormalized), without query.
	Path []byte
	// Query is the query as received, without "?"; nil when the target has
	// none.
	Query []byte
}

// Match returns the most specific route for req from a client at client
// (precedence: see the package doc), or nil when none matches (the face
// answers 404).
//
// An error, a *RequestError with status 400 that wraps ErrBadRequest,
// means the request must be refused before any route is considered: a
// path that cannot be normalised (encoded slash, climbing above the root,
// ...), a target that is not a path (asterisk- or authority-form) or a
// malformed or overlong (more than 255 bytes) Host.
//
// req is not changed, except that a path needing normalisation has its
// normal form appended to req's storage (RequestHead.Store), where
// Params.Path then points; a connection that reuses its heads therefore
// matches without allocating.
func (t *Table) Match(req *httpmsg.RequestHead, client netip.Addr) (*Route, Params, error) {
	var p Params
	host, err := requestHost(req)
	if err != nil {
		return nil, p, err
	}
	p.Host = host
	raw, query := SplitTarget(req.Path)
	p.Query = query
	if IsNormal(raw) {
		p.Path = raw
	} else {
		var buf [512]byte
		n, err := AppendNormalized(buf[:0], raw)
		if err != nil {
			return nil, p, err
		}
		p.Path = req.Store(n)
	}
	return t.match(req, &p, client), p, nil
}

// match finds the route for a request whose Params are known.
func (t *Table) match(req *httpmsg.RequestHead, p *Params, client netip.Addr) *Route {
	if len(t.exactHosts)+len(t.wildHosts) > 0 && len(p.Host) > 0 {
		var buf [maxHostLen]byte
		lh := buf[:len(p.Host)]
		for i, c := range p.Host {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lh[i] = c
		}
		if b := t.exactHosts[string(lh)]; b != nil {
			if r := b.match(req, p, client); r != nil {
				return r
			}
		}
		if len(t.wildHosts) > 0 {
			// The leftmost dot gives the longest suffix: most specific first.
			for i := 1; i < len(lh); i++ {
				if lh[i] != '.' {
					continue
				}
				if b := t.wildHosts[string(lh[i:])]; b != nil {
					if r := b.match(req, p, client); r != nil {
						return r
					}
				}
			}
		}
	}
	return t.anyHost.match(req, p, client)
}

// maxHostLen bounds the hosts Janus routes: a DNS name has at most 253
// bytes (RFC 1035 §2.3.4), so a longer Host names no site. Refusing it
// (rather than letting it fall to catch-all routes) keeps a padded Host
// from stepping around a wildcard site's routes, and lets matching lower
// the host into a fixed buffer.
const maxHostLen = 255

func (b *bucket) match(req *httpmsg.RequestHead, p *Params, client netip.Addr) *Route {
	if len(b.exact) > 0 {
		for _, r := range b.exact[string(p.Path)] {
			if r.condsHold(req, p, client) {
				return r
			}
		}
	}
	for _, r := range b.prefix {
		if hasPrefix(p.Path, r.path) && r.condsHold(req, p, client) {
			return r
		}
	}
	for _, r := range b.any {
		if r.condsHold(req, p, client) {
			return r
		}
	}
	return nil
}

func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// condsHold checks the conditions other than host and path, cheapest first.
func (r *Route) condsHold(req *httpmsg.RequestHead, p *Params, client netip.Addr) bool {
	if r.conds == 0 {
		return true
	}
	if len(r.methods) > 0 && !r.methodHolds(req.Method) {
		return false
	}
	if !r.clients.Empty() && !r.clients.Contains(client) {
		return false
	}
	for i := range r.headers {
		if !r.headers[i].headerHolds(&req.Header) {
			return false
		}
	}
	for i := range r.query {
		if !r.query[i].queryHolds(p.Query) {
			return false
		}
	}
	return true
}

func (r *Route) methodHolds(m []byte) bool {
	for _, want := range r.methods {
		if string(m) == want {
			return true
		}
	}
	return false
}

func (c *fieldCond) headerHolds(h *httpmsg.Header) bool {
	for i := h.Index(c.name, 0); i >= 0; i = h.Index(c.name, i+1) {
		if c.valueHolds(h.Value(i)) {
			return true
		}
	}
	return false
}

func (c *fieldCond) valueHolds(v []byte) bool {
	switch {
	case c.re != nil:
		return c.re.Match(v)
	case c.value != "":
		return string(v) == c.value
	}
	return true
}

// queryHolds looks for a parameter named c.name whose value satisfies c,
// comparing after form decoding (percent-encoding, '+' as space) without
// copying in the common cases.
func (c *fieldCond) queryHolds(q []byte) bool {
	for len(q) > 0 {
		var param []byte
		param, q = cut(q, '&')
		name, value := cut(param, '=')
		if !formEqual(name, c.name) {
			continue
		}
		switch {
		case c.re != nil:
			if !needsFormDecoding(value) {
				if c.re.Match(value) {
					return true
				}
			} else if c.re.Match(appendFormDecoded(make([]byte, 0, len(value)), value)) {
				return true
			}
		case c.value != "":
			if formEqual(value, c.value) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// cut splits b at the first sep; rest is nil when there is none.
func cut(b []byte, sep byte) (before, rest []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

func needsFormDecoding(b []byte) bool {
	for _, c := range b {
		if c == '%' || c == '+' {
			return true
		}
	}
	return false
}

// formDecodedByte returns the byte that b's first byte or escape stands for,
// and how many bytes of b it took. A '%' not followed by two hex digits
// stands for itself, as lenient form decoders read it.
func formDecodedByte(b []byte) (byte, int) {
	switch c := b[0]; {
	case c == '+':
		return ' ', 1
	case c == '%' && len(b) >= 3 && isHex(b[1]) && isHex(b[2]):
		return unhex(b[1])<<4 | unhex(b[2]), 3
	default:
		return c, 1
	}
}

// formEqual reports whether raw, form-decoded, equals want.
func formEqual(raw []byte, want string) bool {
	j := 0
	for i := 0; i < len(raw); {
		c, n := formDecodedByte(raw[i:])
		if j >= len(want) || want[j] != c {
			return false
		}
		i += n
		j++
	}
	return j == len(want)
}

func appendFormDecoded(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c, n := formDecodedByte(raw[i:])
		dst = append(dst, c)
		i += n
	}
	return dst
}

// requestHost returns the host a request names: the target's in
// absolute-form, else the Host field's, without port or trailing dot.
func requestHost(req *httpmsg.RequestHead) ([]byte, error) {
	switch req.Form {
	case httpmsg.AbsoluteForm:
		// RFC 9112 §3.2.2: the target's authority overrides Host.
		return checkHostLen(trimDot(req.Host))
	case httpmsg.AuthorityForm, httpmsg.AsteriskForm:
		return nil, requestErr("path", req.Path, "target is "+req.Form.String()+", not a path")
	}
	i := req.Header.Index("Host", 0)
	if i < 0 {
		return nil, nil
	}
	v := req.Header.Value(i)
	if len(v) == 0 {
		// RFC 9112 §3.2: an empty Host is allowed when the URI has no host.
		return nil, nil
	}
	if req.Header.Index("Host", i+1) >= 0 {
		return nil, requestErr("host", v, "more than one Host field")
	}
	host, _, _, err := httpmsg.SplitAuthority(v)
	if err != nil {
		return nil, requestErr("host", v, err.Error())
	}
	return checkHostLen(trimDot(host))
}

func checkHostLen(h []byte) ([]byte, error) {
	if len(h) > maxHostLen {
		return nil, requestErr("host", h, "longer than "+strconv.Itoa(maxHostLen)+" bytes")
	}
	return h, nil
}

func trimDot(h []byte) []byte {
	if len(h) > 0 && h[len(h)-1] == '.' {
		return h[:len(h)-1]
	}
	return h
}
