package httpmsg

import (
	"errors"
	"fmt"
	"strconv"
)

// Version is an HTTP protocol version.
type Version struct{ Major, Minor uint8 }

// Versions Janus speaks.
var (
	HTTP10 = Version{1, 0}
	HTTP11 = Version{1, 1}
)

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor uint8) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// String returns "HTTP/1.1" and the like.
func (v Version) String() string {
	return "HTTP/" + strconv.Itoa(int(v.Major)) + "." + strconv.Itoa(int(v.Minor))
}

// TargetForm is how a request names its target (RFC 9112 §3.2).
type TargetForm uint8

// Request-target forms.
const (
	OriginForm    TargetForm = iota + 1 // "/path?query": to an origin or reverse proxy
	AbsoluteForm                        // "http://host/path": to a forward proxy
	AuthorityForm                       // "host:port": CONNECT only
	AsteriskForm                        // "*": server-wide OPTIONS
)

func (f TargetForm) String() string {
	switch f {
	case OriginForm:
		return "origin-form"
	case AbsoluteForm:
		return "absolute-form"
	case AuthorityForm:
		return "authority-form"
	case AsteriskForm:
		return "asterisk-form"
	}
	return "TargetForm(" + strconv.Itoa(int(f)) + ")"
}

// RequestHead is a request without its content: method, target, version and
// header. The byte slices alias storage the head owns (see the package doc).
type RequestHead struct {
	Method    []byte
	Form      TargetForm
	Scheme    []byte // lower case; absolute-form only
	Authority []byte // host[:port] as the target gave it (absolute- and authority-form)
	Host      []byte // the authority's host, lower case, IPv6 without brackets
	Port      uint16 // the authority's port, else the scheme's default, else 0
	Path      []byte // path and query; "/" for an absolute URI without one; "*" for asterisk-form
	Version   Version
	Header    Header

	line []byte // storage for Method, Scheme, Authority, Host, Path
}

// Reset empties h for reuse.
func (h *RequestHead) Reset() {
	*h = RequestHead{Header: h.Header, line: h.line[:0]}
	h.Header.Reset()
}

// Store copies b into h's storage and returns the copy. Codecs use it to
// point the head's slices at bytes the head owns.
func (h *RequestHead) Store(b []byte) []byte {
	off := len(h.line)
	h.line = append(h.line, b...)
	return h.line[off:len(h.line):len(h.line)]
}

// StoreString copies s into h's storage.
func (h *RequestHead) StoreString(s string) []byte {
	off := len(h.line)
	h.line = append(h.line, s...)
	return h.line[off:len(h.line):len(h.line)]
}

// StoreJoin copies prefix and b, one after the other, into h's storage.
func (h *RequestHead) StoreJoin(prefix string, b []byte) []byte {
	off := len(h.line)
	h.line = append(h.line, prefix...)
	h.line = append(h.line, b...)
	return h.line[off:len(h.line):len(h.line)]
}

// StoreLower copies b into h's storage in lower case.
func (h *RequestHead) StoreLower(b []byte) []byte {
	off := len(h.line)
	for _, c := range b {
		h.line = append(h.line, lower(c))
	}
	return h.line[off:len(h.line):len(h.line)]
}

// CopyFrom makes h a deep copy of src.
func (h *RequestHead) CopyFrom(src *RequestHead) {
	h.Reset()
	h.Method = h.Store(src.Method)
	h.Form = src.Form
	h.Scheme = h.Store(src.Scheme)
	h.Authority = h.Store(src.Authority)
	h.Host = h.Store(src.Host)
	h.Port = src.Port
	h.Path = h.Store(src.Path)
	h.Version = src.Version
	h.Header.CopyFrom(&src.Header)
}

// ResponseHead is a response without its content.
type ResponseHead struct {
	Version Version
	Status  int
	Reason  []byte
	Header  Header

	line []byte // storage for Reason
}

// Reset empties h for reuse.
func (h *ResponseHead) Reset() {
	*h = ResponseHead{Header: h.Header, line: h.line[:0]}
	h.Header.Reset()
}

// SetReason copies reason into h's storage.
func (h *ResponseHead) SetReason(reason []byte) {
	h.line = append(h.line[:0], reason...)
	h.Reason = h.line
}

// SetReasonString copies reason into h's storage.
func (h *ResponseHead) SetReasonString(reason string) {
	h.line = append(h.line[:0], reason...)
	h.Reason = h.line
}

// Informational reports whether the status is 1xx: an interim response that
// a final one follows (RFC 9110 §15.2).
func (h *ResponseHead) Informational() bool { return h.Status >= 100 && h.Status < 200 }

// ParseDigits reads a field value that is 1*DIGIT (Content-Length, RFC
// 9110 §8.6; Max-Forwards, §7.6.2): no sign, no spaces, no list, at most
// 18 digits so that it cannot overflow.
func ParseDigits(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// DefaultPort returns the port a scheme implies, 0 for other schemes.
func DefaultPort(scheme []byte) uint16 {
	switch {
	case EqualFold(scheme, "http"), EqualFold(scheme, "ws"):
		return 80
	case EqualFold(scheme, "https"), EqualFold(scheme, "wss"):
		return 443
	}
	return 0
}

// ErrBadAuthority is wrapped by the errors of SplitAuthority.
var ErrBadAuthority = errors.New("bad authority")

// SplitAuthority splits "host", "host:port", "[v6]" or "[v6]:port" (RFC 3986
// §3.2). The host keeps its case and loses IPv6 brackets; port is 0 when
// absent. It checks the port's digits and range and that the host holds no
// byte that could end a URI or a field (RFC 3986 reg-name, IP-literal), but
// not that a name resolves.
func SplitAuthority(a []byte) (host []byte, port uint16, hasPort bool, err error) {
	if len(a) == 0 {
		return nil, 0, false, fmt.Errorf("%w: empty", ErrBadAuthority)
	}
	var rest []byte
	if a[0] == '[' {
		end := -1
		for i, c := range a {
			if c == ']' {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, 0, false, fmt.Errorf("%w: %q: unclosed [", ErrBadAuthority, a)
		}
		host, rest = a[1:end], a[end+1:]
		if len(host) == 0 {
			return nil, 0, false, fmt.Errorf("%w: %q: empty IP literal", ErrBadAuthority, a)
		}
		for _, c := range host {
			if !isHex(c) && c != ':' && c != '.' {
				// Zones (RFC 6874) and IPvFuture have no place in a proxy target.
				return nil, 0, false, fmt.Errorf("%w: %q: bad IP literal", ErrBadAuthority, a)
			}
		}
	} else {
		i := 0
		for i < len(a) && a[i] != ':' {
			if !isRegNameByte(a[i]) {
				return nil, 0, false, fmt.Errorf("%w: %q: byte %#x not allowed in a host", ErrBadAuthority, a, a[i])
			}
			i++
		}
		host, rest = a[:i], a[i:]
		if len(host) == 0 {
			return nil, 0, false, fmt.Errorf("%w: %q: empty host", ErrBadAuthority, a)
		}
	}
	if len(rest) == 0 {
		return host, 0, false, nil
	}
	if rest[0] != ':' {
		return nil, 0, false, fmt.Errorf("%w: %q: junk after host", ErrBadAuthority, a)
	}
	digits := rest[1:]
	if len(digits) == 0 {
		// RFC 3986 §3.2.3 allows an empty port; it means the default.
		return host, 0, false, nil
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, 0, false, fmt.Errorf("%w: %q: bad port", ErrBadAuthority, a)
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return nil, 0, false, fmt.Errorf("%w: %q: port out of range", ErrBadAuthority, a)
		}
	}
	if n == 0 {
		return nil, 0, false, fmt.Errorf("%w: %q: port 0", ErrBadAuthority, a)
	}
	return host, uint16(n), true, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isRegNameByte accepts RFC 3986 reg-name bytes: unreserved, pct-encoded
// and sub-delims. '@' (userinfo) is refused: a forward proxy target with
// credentials is a phishing shape and has no meaning here.
func isRegNameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '%', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}
