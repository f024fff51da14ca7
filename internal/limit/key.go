package limit

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// Kind is what a key part is made of. It is the part's first byte, so two
// parts of different kinds never compare equal ("user bob" is not
// "group bob").
type Kind byte

// The kinds of key part.
const (
	KindIP     Kind = 'i' // client address, possibly masked to a prefix
	KindUser   Kind = 'u' // authenticated user name
	KindGroup  Kind = 'g' // group name
	KindRoute  Kind = 'r' // reverse route name
	KindHeader Kind = 'h' // a request header's value
	KindHost   Kind = 'd' // destination host
	KindName   Kind = 'n' // anything else the caller names (a listener, a limit)
)

var kindNames = map[Kind]string{
	KindIP: "ip", KindUser: "user", KindGroup: "group", KindRoute: "route",
	KindHeader: "header", KindHost: "host", KindName: "name",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxKeyLen bounds a key: a longer string part is cut (after its length
// prefix, so a cut key still differs from a short one). Keys live in maps
// and in Redis, and a header value is client-chosen.
const MaxKeyLen = 256

// AppendIP appends a client-address part to dst: the address masked to
// bits4 leading bits for IPv4 and bits6 for IPv6 (0 or out of range means
// the whole address). Limiting IPv6 clients per /64 is usual: one host
// holds a whole /64. It allocates only if dst is too small; callers pass a
// stack buffer, e.g. `var b [64]byte; k := limit.AppendIP(b[:0], ip, 32, 64)`.
func AppendIP(dst []byte, a netip.Addr, bits4, bits6 int) []byte {
	a = a.Unmap()
	bits := bits6
	if a.Is4() {
		bits = bits4
	}
	if bits > 0 && bits < a.BitLen() {
		if p, err := a.Prefix(bits); err == nil {
			a = p.Addr()
		}
	} else {
		bits = a.BitLen()
	}
	dst = append(dst, byte(KindIP), byte(bits))
	if a.Is4() {
		b := a.As4()
		return append(dst, b[:]...)
	}
	b := a.As16()
	return append(dst, b[:]...)
}

// AppendString appends a part of kind k holding s: the kind, s's length
// as a uvarint, then s (cut at MaxKeyLen bytes). The length prefix keeps
// compound keys unambiguous: route "a" + user "bc" differs from route
// "ab" + user "c".
func AppendString(dst []byte, k Kind, s string) []byte {
	if len(s) > MaxKeyLen {
		s = s[:MaxKeyLen]
	}
	dst = append(dst, byte(k))
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes is AppendString for a value held as bytes (a header value
// from the message model), without converting it.
func AppendBytes(dst []byte, k Kind, s []byte) []byte {
	if len(s) > MaxKeyLen {
		s = s[:MaxKeyLen]
	}
	dst = append(dst, byte(k))
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// FormatKey renders a key for logs and the admin API, e.g.
// "ip=192.0.2.0/24 user=bob". It allocates; keep it off hot paths. A
// malformed key is rendered as far as it parses, then quoted.
func FormatKey(key []byte) string {
	var out []byte
	for len(key) > 0 {
		if len(out) > 0 {
			out = append(out, ' ')
		}
		k := Kind(key[0])
		key = key[1:]
		if k == KindIP {
			if len(key) < 1 {
				break
			}
			bits := int(key[0])
			key = key[1:]
			var a netip.Addr
			switch {
			case bits <= 32 && len(key) >= 4:
				a = netip.AddrFrom4([4]byte(key[:4]))
				key = key[4:]
			case len(key) >= 16:
				a = netip.AddrFrom16([16]byte(key[:16]))
				key = key[16:]
			default:
				return string(out) + strconv.Quote(string(key))
			}
			out = append(out, "ip="...)
			out = a.AppendTo(out)
			if bits < a.BitLen() {
				out = append(out, '/')
				out = strconv.AppendInt(out, int64(bits), 10)
			}
			continue
		}
		n, w := binary.Uvarint(key)
		if w <= 0 || uint64(len(key)-w) < n {
			return string(out) + strconv.Quote(string(key))
		}
		v := key[w : w+int(n)]
		key = key[w+int(n):]
		out = append(out, k.String()...)
		out = append(out, '=')
		if utf8.Valid(v) && strconv.CanBackquote(string(v)) {
			out = append(out, v...)
		} else {
			out = strconv.AppendQuote(out, string(v))
		}
	}
	return string(out)
}
