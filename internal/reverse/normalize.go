package reverse

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrBadRequest is wrapped by every error about a request that Janus
// refuses to route (a malformed path or Host); the face answers 400.
var ErrBadRequest = errors.New("bad request")

// RequestError is a request refused before matching.
type RequestError struct {
	Part   string // "path" or "host"
	Value  string // what was received, cut to a sane length
	Reason string
}

func (e *RequestError) Error() string {
	return "reverse: bad request " + e.Part + " " + strconv.Quote(e.Value) + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrBadRequest) hold.
func (e *RequestError) Unwrap() error { return ErrBadRequest }

// Status is the response a face gives to the request: 400.
func (e *RequestError) Status() int { return 400 }

func requestErr(part string, v []byte, reason string) error {
	const max = 256 // keep a hostile value from filling the logs
	if len(v) > max {
		return &RequestError{Part: part, Value: string(v[:max]) + "...", Reason: reason}
	}
	return &RequestError{Part: part, Value: string(v), Reason: reason}
}

func pathErr(p []byte, reason string) error { return requestErr("path", p, reason) }

// SplitTarget splits an origin-form request-target into its path and its
// query (without the '?', nil when there is none). RFC 3986 §3.4: the
// first '?' starts the query.
func SplitTarget(target []byte) (path, query []byte) {
	for i, c := range target {
		if c == '?' {
			return target[:i], target[i+1:]
		}
	}
	return target, nil
}

// IsNormal reports whether path (without a query) is already in the form
// AppendNormalized produces, so that it can be used as it is.
func IsNormal(path []byte) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' {
			// Normal only with upper-case hex and a byte that stays encoded.
			if i+2 >= len(path) || !isUpperHex(path[i+1]) || !isUpperHex(path[i+2]) {
				return false
			}
			d := unhex(path[i+1])<<4 | unhex(path[i+2])
			if unreserved[d] || d == '/' || d == '\\' || d == 0 {
				return false
			}
			i += 2
			continue
		}
		if !plainPathByte[c] {
			return false
		}
		if c != '/' || i+1 == len(path) {
			continue
		}
		// A slash followed by a slash, or by "." or ".." ending a segment.
		switch path[i+1] {
		case '/':
			return false
		case '.':
			rest := path[i+2:]
			if len(rest) == 0 || rest[0] == '/' {
				return false
			}
			if rest[0] == '.' && (len(rest) == 1 || rest[1] == '/') {
				return false
			}
		}
	}
	return true
}

// AppendNormalized appends the normal form of path (RFC 3986 §6.2.2; no
// query) to dst:
//
//   - percent-encoded unreserved characters (ALPHA, DIGIT, "-", ".", "_",
//     "~", §2.3) are decoded and other percent-encodings get upper-case
//     hex digits (§6.2.2.1, §6.2.2.2);
//   - dot segments are resolved (§5.2.4, after decoding, so "%2e%2e" is
//     "..") and runs of slashes merged into one, as nginx's merge_slashes
//     does.
//
// It refuses, with an error wrapping ErrBadRequest: a path that does not
// start with "/"; malformed percent-encoding; an encoded "/" (%2F), which
// would let a segment hide a slash from matching; a backslash, encoded or
// not, which some origins read as a slash; NUL and other bytes that are
// not visible ASCII, encoded NUL included; and a ".." that would climb
// above the root. On error dst is returned unchanged.
//
// The result starts with "/", never holds "//", "/./" or "/../", never
// ends in "/." or "/..", and normalising it again changes nothing.
func AppendNormalized(dst, path []byte) ([]byte, error) {
	if len(path) == 0 || path[0] != '/' {
		return dst, pathErr(path, "does not start with /")
	}
	base := len(dst)
	out := append(dst, '/')
	i := 1
	for i <= len(path) {
		// One segment: path[i:end].
		end := i
		for end < len(path) && path[end] != '/' {
			end++
		}
		last := end == len(path)
		segStart := len(out)
		var err error
		if out, err = appendDecodedSegment(out, path, i, end); err != nil {
			return dst[:base], err
		}
		seg := out[segStart:]
		switch {
		case len(seg) == 0:
			// An empty segment: "//" merges, a trailing "/" stays.
		case len(seg) == 1 && seg[0] == '.':
			out = out[:segStart]
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			out = out[:segStart]
			if segStart == base+1 {
				return dst[:base], pathErr(path, "climbs above the root")
			}
			// Drop the previous segment, keeping the slash before it.
			j := segStart - 2
			for out[j] != '/' {
				j--
			}
			out = out[:j+1]
		default:
			if !last {
				out = append(out, '/')
			}
		}
		i = end + 1
	}
	return out, nil
}

// appendDecodedSegment appends path[i:end], one segment, with its
// percent-encodings normalised, or fails on a byte that has no place in a
// path.
func appendDecodedSegment(out, path []byte, i, end int) ([]byte, error) {
	for ; i < end; i++ {
		c := path[i]
		if c != '%' {
			if !plainPathByte[c] {
				return out, pathErr(path, fmt.Sprintf("byte %#02x not allowed", c))
			}
			out = append(out, c)
			continue
		}
		if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
			return out, pathErr(path, "malformed percent-encoding")
		}
		d := unhex(path[i+1])<<4 | unhex(path[i+2])
		switch {
		case unreserved[d]:
			out = append(out, d)
		case d == '/':
			return out, pathErr(path, "encoded slash")
		case d == '\\':
			return out, pathErr(path, "encoded backslash")
		case d == 0:
			return out, pathErr(path, "encoded NUL")
		default:
			out = append(out, '%', upperHex[d>>4], upperHex[d&15])
		}
		i += 2
	}
	return out, nil
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// unreserved marks RFC 3986 §2.3 unreserved characters.
var unreserved = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['.'], t['_'], t['~'] = true, true, true, true
	return t
}()

// plainPathByte marks the bytes a normal path holds as they are: visible
// ASCII except '%' (it starts an encoding, which IsNormal checks by the
// slow road), '\\' (refused), '?' (starts the query) and '#' (a fragment,
// never on the wire).
var plainPathByte = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = true
	}
	t['%'], t['\\'], t['?'], t['#'] = false, false, false, false
	return t
}()
