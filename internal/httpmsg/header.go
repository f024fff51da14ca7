// Package httpmsg is Janus's own small HTTP message model: request and
// response heads and an ordered header that every codec (HTTP/1.1 now,
// HTTP/2 and HTTP/3 later) fills and that the header rules, the gate and the
// faces work on. It knows HTTP semantics (RFC 9110), not any wire format.
//
// Values are byte slices into storage the message owns and reuses from one
// request to the next, so a connection that reuses its message allocates
// nothing per request. Slices returned by a message are valid until the
// message is next Reset or changed.
package httpmsg

// span is a half-open byte range of a Header's storage. Offsets rather than
// slices keep fields valid when the storage grows.
type span struct{ off, end uint32 }

type field struct{ name, value span }

// Header is an ordered list of fields (RFC 9110 §5). Names keep the case they
// were received or added with; lookups ignore ASCII case. The zero Header is
// empty and ready to use.
type Header struct {
	buf    []byte
	fields []field
}

// Reset empties h, keeping its storage for reuse.
func (h *Header) Reset() {
	h.buf = h.buf[:0]
	h.fields = h.fields[:0]
}

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.fields) }

// Field returns the name and value of the i-th field. The slices alias h's
// storage: do not modify them.
func (h *Header) Field(i int) (name, value []byte) {
	f := h.fields[i]
	return h.buf[f.name.off:f.name.end], h.buf[f.value.off:f.value.end]
}

// Name returns the name of the i-th field.
func (h *Header) Name(i int) []byte {
	f := h.fields[i]
	return h.buf[f.name.off:f.name.end]
}

// Value returns the value of the i-th field.
func (h *Header) Value(i int) []byte {
	f := h.fields[i]
	return h.buf[f.value.off:f.value.end]
}

func (h *Header) store(b []byte) span {
	off := uint32(len(h.buf))
	h.buf = append(h.buf, b...)
	return span{off, uint32(len(h.buf))}
}

func (h *Header) storeString(s string) span {
	off := uint32(len(h.buf))
	h.buf = append(h.buf, s...)
	return span{off, uint32(len(h.buf))}
}

// Add appends a field. It does not check the name or value: codecs validate
// what they receive, and code that adds fields adds well-formed ones.
func (h *Header) Add(name, value []byte) {
	n := h.store(name)
	v := h.store(value)
	h.fields = append(h.fields, field{n, v})
}

// AddString appends a field.
func (h *Header) AddString(name, value string) {
	n := h.storeString(name)
	v := h.storeString(value)
	h.fields = append(h.fields, field{n, v})
}

// Index returns the index of the first field at or after from whose name is
// name (ignoring case), or -1.
func (h *Header) Index(name string, from int) int {
	for i := from; i < len(h.fields); i++ {
		f := h.fields[i]
		if EqualFold(h.buf[f.name.off:f.name.end], name) {
			return i
		}
	}
	return -1
}

// Get returns the value of the first field named name, or nil.
func (h *Header) Get(name string) []byte {
	if i := h.Index(name, 0); i >= 0 {
		return h.Value(i)
	}
	return nil
}

// Has reports whether a field named name is present.
func (h *Header) Has(name string) bool { return h.Index(name, 0) >= 0 }

// Count returns how many fields are named name.
func (h *Header) Count(name string) int {
	n := 0
	for i := h.Index(name, 0); i >= 0; i = h.Index(name, i+1) {
		n++
	}
	return n
}

// DelAt removes the i-th field, keeping the order of the others.
func (h *Header) DelAt(i int) {
	copy(h.fields[i:], h.fields[i+1:])
	h.fields = h.fields[:len(h.fields)-1]
}

// Del removes every field named name and returns how many it removed.
func (h *Header) Del(name string) int {
	return h.delFunc(func(n []byte) bool { return EqualFold(n, name) })
}

// delBytes removes every field whose name equals name ignoring case.
func (h *Header) delBytes(name []byte) int {
	return h.delFunc(func(n []byte) bool { return equalFoldBytes(n, name) })
}

func (h *Header) delFunc(match func([]byte) bool) int {
	kept := h.fields[:0]
	for _, f := range h.fields {
		if !match(h.buf[f.name.off:f.name.end]) {
			kept = append(kept, f)
		}
	}
	n := len(h.fields) - len(kept)
	h.fields = kept
	return n
}

// Set replaces every field named name with one field.
func (h *Header) Set(name, value string) {
	h.Del(name)
	h.AddString(name, value)
}

// SetBytes replaces every field named name with one field.
func (h *Header) SetBytes(name string, value []byte) {
	h.Del(name)
	n := h.storeString(name)
	v := h.store(value)
	h.fields = append(h.fields, field{n, v})
}

// Combine merges every field named name into the first one, joining values
// with ", " as RFC 9110 §5.3 allows for list-based fields, and returns the
// index of the merged field, or -1 when there is none.
func (h *Header) Combine(name string) int {
	first := h.Index(name, 0)
	if first < 0 {
		return -1
	}
	next := h.Index(name, first+1)
	if next < 0 {
		return first
	}
	off := uint32(len(h.buf))
	h.buf = append(h.buf, h.Value(first)...)
	for i := next; i >= 0; i = h.Index(name, i+1) {
		h.buf = append(h.buf, ", "...)
		h.buf = append(h.buf, h.Value(i)...)
	}
	h.fields[first].value = span{off, uint32(len(h.buf))}
	for i := h.Index(name, first+1); i >= 0; i = h.Index(name, i) {
		h.DelAt(i)
	}
	return first
}

// AppendValue appends sep and extra to the value of the i-th field.
func (h *Header) AppendValue(i int, sep string, extra []byte) {
	off := uint32(len(h.buf))
	h.buf = append(h.buf, h.Value(i)...)
	h.buf = append(h.buf, sep...)
	h.buf = append(h.buf, extra...)
	h.fields[i].value = span{off, uint32(len(h.buf))}
}

// CopyFrom makes h a copy of src.
func (h *Header) CopyFrom(src *Header) {
	h.buf = append(h.buf[:0], src.buf...)
	h.fields = append(h.fields[:0], src.fields...)
}

// HasToken reports whether any field named name holds token in its
// comma-separated list (RFC 9110 §5.6.1), ignoring case.
func (h *Header) HasToken(name, token string) bool {
	for i := h.Index(name, 0); i >= 0; i = h.Index(name, i+1) {
		if ListHas(h.Value(i), token) {
			return true
		}
	}
	return false
}

// ListHas reports whether the comma-separated list holds token, ignoring
// case and optional whitespace around elements.
func ListHas(list []byte, token string) bool {
	for len(list) > 0 {
		var elem []byte
		elem, list = NextElement(list)
		if EqualFold(elem, token) {
			return true
		}
	}
	return false
}

// NextElement splits the first element off a comma-separated list (RFC 9110
// §5.6.1), trimming optional whitespace. Empty elements are returned as empty
// slices; callers skip them.
func NextElement(list []byte) (elem, rest []byte) {
	i := 0
	for i < len(list) && list[i] != ',' {
		i++
	}
	elem = TrimOWS(list[:i])
	if i < len(list) {
		rest = list[i+1:]
	}
	return elem, rest
}

// TrimOWS trims spaces and horizontal tabs (RFC 9110 §5.6.3) at both ends.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// EqualFold reports whether b and s are equal ignoring ASCII case. Field
// names and tokens are ASCII, so Unicode folding would be wrong here.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
