package http1

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Limits bound what a reader accepts. Zero fields take the defaults.
type Limits struct {
	MaxLine int // request or status line, CRLF included; 0 = 8 KiB (longer request lines: 414)
	MaxHead int // the whole head, start line included; 0 = 64 KiB (larger: 431)
}

// Default limits.
const (
	DefaultMaxLine = 8 << 10
	DefaultMaxHead = 64 << 10
)

func (l Limits) maxLine() int {
	if l.MaxLine > 0 {
		return l.MaxLine
	}
	return DefaultMaxLine
}

func (l Limits) maxHead() int {
	if l.MaxHead > 0 {
		return l.MaxHead
	}
	return DefaultMaxHead
}

// tchar marks the bytes of a token (RFC 9110 §5.6.2).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// vchar marks the bytes allowed in a field value (RFC 9110 §5.5: VCHAR,
// obs-text, SP, HTAB). NUL, CR, LF and the other controls are refused, not
// replaced: a value that another parser would cut differently is a
// smuggling vector.
var vchar = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true
	}
	t['\t'] = true
	return t
}()

// targetByte marks the bytes allowed in a request-target: visible ASCII but
// '#', which starts a fragment that never goes on the wire (RFC 9112 §3.2).
var targetByte = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = true
	}
	t['#'] = false
	return t
}()

// ValidMethod reports whether m is a method as the request line has it: a
// token (RFC 9110 §9.1). A codec that carries the method elsewhere (HTTP/2's
// :method field, which may hold spaces) checks with it before a request
// goes upstream on an HTTP/1.1 request line, where a space would split it.
func ValidMethod(m string) bool { return allIn(m, &tchar) }

// ValidTarget reports whether t may stand as the request-target of an
// HTTP/1.1 request line, as ReadRequest accepts one: visible ASCII without
// '#' (RFC 9112 §3.2). HTTP/2's :path may also hold spaces, tabs and
// non-ASCII bytes, which would split or garble the request line upstream.
func ValidTarget(t string) bool { return allIn(t, &targetByte) }

// allIn reports whether s is not empty and all its bytes are in set.
func allIn(s string, set *[256]bool) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return false
		}
	}
	return true
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// parseField splits one field line (CRLF removed) into name and value
// (RFC 9112 §5): a token, a colon with no whitespace before it, and a value
// trimmed of optional whitespace.
func parseField(line []byte, status int) (name, value []byte, err error) {
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return nil, nil, ErrObsFold.withStatus(status)
	}
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
		if !tchar[c] {
			// Whitespace between name and colon is the classic smuggling
			// shape (RFC 9112 §5.1 requires a 400).
			return nil, nil, errorf(status, "bad byte in field name")
		}
	}
	if colon <= 0 {
		return nil, nil, errorf(status, "field line without name or colon")
	}
	name = line[:colon]
	value = httpmsg.TrimOWS(line[colon+1:])
	for _, c := range value {
		if !vchar[c] {
			if c == '\r' {
				return nil, nil, ErrBareCR.withStatus(status)
			}
			return nil, nil, errorf(status, "control byte in field value")
		}
	}
	return name, value, nil
}

func (e *Error) withStatus(status int) *Error {
	if e.Status == status {
		return e
	}
	return &Error{Status: status, Msg: e.Msg}
}

// parseContentLength reads a Content-Length value: digits only (RFC 9110
// §8.6), no sign, no list, and small enough that it cannot overflow.
func parseContentLength(v []byte) (int64, bool) { return httpmsg.ParseDigits(v) }

// framingFields gathers what the head says about its body while the fields
// are read, so that no second pass is needed.
type framingFields struct {
	length    int64 // -1: no Content-Length
	lengthBad bool
	te        bool // a Transfer-Encoding field was seen
	teLast    bool // the last coding seen is chunked
	teChunked int  // how many times chunked appears
	teOther   bool // a coding other than chunked appears
	teEmpty   bool // a Transfer-Encoding field with no coding
	hosts     int
	host      []byte
}

func (f *framingFields) reset() {
	*f = framingFields{length: -1}
}

// observe notes a field that matters for framing. It returns false for a
// conflicting Content-Length.
func (f *framingFields) observe(name, value []byte) {
	switch len(name) {
	case 4:
		if httpmsg.EqualFold(name, "Host") {
			f.hosts++
			f.host = value
		}
	case 14:
		if httpmsg.EqualFold(name, "Content-Length") {
			n, ok := parseContentLength(value)
			if !ok || f.length >= 0 && n != f.length {
				f.lengthBad = true
			}
			f.length = n
		}
	case 17:
		if httpmsg.EqualFold(name, "Transfer-Encoding") {
			f.te = true
			f.observeCodings(value)
		}
	}
}

// observeCodings walks a Transfer-Encoding list (RFC 9112 §6.1). Codings of
// several fields form one list, in order.
func (f *framingFields) observeCodings(list []byte) {
	any := false
	for len(list) > 0 {
		var c []byte
		c, list = httpmsg.NextElement(list)
		if len(c) == 0 {
			continue
		}
		any = true
		if httpmsg.EqualFold(c, "chunked") {
			f.teChunked++
			f.teLast = true
			continue
		}
		f.teOther = true
		f.teLast = false
	}
	if !any {
		f.teEmpty = true
	}
}
