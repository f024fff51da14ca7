package httpmsg

import "net/textproto"

// CopyTo adds every field of h to m, a net/http header, under its
// canonical name. One string holds every name and value and one array the
// one-element value slices, so the copy costs two allocations whatever
// the number of fields (the HTTP/2 and HTTP/3 fronts copy every response
// head this way), instead of two or three per field.
func (h *Header) CopyTo(m map[string][]string) {
	if len(h.fields) == 0 {
		return
	}
	s := string(h.buf)
	vals := make([]string, len(h.fields))
	for i, f := range h.fields {
		// A canonical name comes back as the same string: no allocation.
		key := textproto.CanonicalMIMEHeaderKey(s[f.name.off:f.name.end])
		vals[i] = s[f.value.off:f.value.end]
		if old, ok := m[key]; ok {
			m[key] = append(old, vals[i])
		} else {
			m[key] = vals[i : i+1 : i+1]
		}
	}
}
