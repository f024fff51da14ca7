package cache

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// AppendKey appends the primary cache key of a request (RFC 9111 §4.1):
// the method class, then the effective request URI (RFC 9110 §7.1) with a
// lower-case scheme and host and an explicit port, and the path and query
// as received. GET and HEAD share a class, so HEAD is answered from a
// stored GET. ok is false when the request names no host.
func AppendKey(dst []byte, h *httpmsg.RequestHead, tls bool) (key []byte, ok bool) {
	dst = appendMethodClass(dst, h.Method)
	dst = append(dst, ' ')
	return appendURI(dst, h, tls)
}

func appendMethodClass(dst, method []byte) []byte {
	if httpmsg.EqualFold(method, "HEAD") {
		return append(dst, "GET"...)
	}
	return append(dst, method...)
}

// appendURI appends scheme://host:port/path of the effective request URI.
func appendURI(dst []byte, h *httpmsg.RequestHead, tls bool) ([]byte, bool) {
	scheme, host, port := h.Scheme, h.Host, h.Port
	if len(host) == 0 {
		// origin-form: the Host field names the authority (RFC 9110 §7.2).
		a := h.Header.Get("Host")
		var err error
		var hasPort bool
		if host, port, hasPort, err = httpmsg.SplitAuthority(httpmsg.TrimOWS(a)); err != nil {
			return dst, false
		}
		_ = hasPort
	}
	if len(scheme) == 0 {
		if tls {
			scheme = []byte("https")
		} else {
			scheme = []byte("http")
		}
	}
	if port == 0 {
		port = httpmsg.DefaultPort(scheme)
	}
	for _, c := range scheme {
		dst = append(dst, lowerByte(c))
	}
	dst = append(dst, "://"...)
	for _, c := range host {
		dst = append(dst, lowerByte(c))
	}
	dst = append(dst, ':')
	dst = appendUint(dst, uint64(port))
	if len(h.Path) == 0 || h.Path[0] != '/' {
		dst = append(dst, '/')
	}
	return append(dst, h.Path...), true
}

func appendUint(dst []byte, n uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// varyField is one request field a stored response was selected by: a
// Vary name (RFC 9111 §4.1) or a configured key addition, with the
// request's normalised value.
type varyField struct {
	name    string // lower case
	value   string // normalised; see appendNormalized
	present bool
}

// caseless reports whether a field's values compare ignoring case: the
// elements of the Accept family are tokens (RFC 9110 §12.5). name is lower
// case.
func caseless(name string) bool {
	switch name {
	case "accept", "accept-charset", "accept-encoding", "accept-language":
		return true
	}
	return false
}

// appendNormalized appends the request's value for a field, normalised as
// RFC 9111 §4.1 allows: every field line combined, list elements trimmed of
// whitespace, empty elements dropped, joined with ","; tokens of the Accept
// family in lower case. present is false when the field is absent, which
// only matches an absent field.
func appendNormalized(dst []byte, h *httpmsg.Header, name string) (out []byte, present bool) {
	fold := caseless(name)
	first := true
	for i := h.Index(name, 0); i >= 0; i = h.Index(name, i+1) {
		present = true
		list := h.Value(i)
		for len(list) > 0 {
			var elem []byte
			elem, list = httpmsg.NextElement(list)
			if len(elem) == 0 {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			if fold {
				for _, c := range elem {
					dst = append(dst, lowerByte(c))
				}
			} else {
				dst = append(dst, elem...)
			}
		}
	}
	return dst, present
}

// varyNames returns the distinct field names a response's Vary lists plus
// the key additions, in lower case.
func varyNames(resp *httpmsg.Header, additions []string) []string {
	var names []string
	add := func(n []byte) {
		if len(n) == 0 {
			return
		}
		s := make([]byte, len(n))
		for i, c := range n {
			s[i] = lowerByte(c)
		}
		for _, have := range names {
			if have == string(s) {
				return
			}
		}
		names = append(names, string(s))
	}
	for i := resp.Index("Vary", 0); i >= 0; i = resp.Index("Vary", i+1) {
		list := resp.Value(i)
		for len(list) > 0 {
			var elem []byte
			elem, list = httpmsg.NextElement(list)
			add(elem)
		}
	}
	for _, a := range additions {
		add([]byte(a))
	}
	return names
}

// secondaryKey records the request's values for names.
func secondaryKey(req *httpmsg.Header, names []string) []varyField {
	if len(names) == 0 {
		return nil
	}
	fields := make([]varyField, len(names))
	var buf []byte
	for i, n := range names {
		var present bool
		buf, present = appendNormalized(buf[:0], req, n)
		fields[i] = varyField{name: n, value: string(buf), present: present}
	}
	return fields
}

// varyMatches reports whether a request selects a stored response with
// these secondary-key fields (RFC 9111 §4.1). scratch is reused.
func varyMatches(req *httpmsg.Header, fields []varyField, scratch *[]byte) bool {
	for i := range fields {
		f := &fields[i]
		var present bool
		*scratch, present = appendNormalized((*scratch)[:0], req, f.name)
		if present != f.present || string(*scratch) != f.value {
			return false
		}
	}
	return true
}
