package reverse

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// HeaderOps is a compiled HeaderSpec: fields to remove, set and add, in
// that order. The zero HeaderOps changes nothing.
type HeaderOps struct {
	remove httpmsg.FieldNames
	set    []Field
	add    []Field
}

// Empty reports whether ops changes nothing.
func (o *HeaderOps) Empty() bool { return len(o.remove)+len(o.set)+len(o.add) == 0 }

// Apply changes h.
func (o *HeaderOps) Apply(h *httpmsg.Header) {
	if len(o.remove) > 0 {
		h.DelNames(o.remove)
	}
	for _, f := range o.set {
		h.Set(f.Name, f.Value)
	}
	for _, f := range o.add {
		h.AddString(f.Name, f.Value)
	}
}

// hiddenServer are the fields HideServer removes: they advertise the
// upstream's software and version.
var hiddenServer = httpmsg.FieldNames{"Server", "X-Powered-By"}

// framingFields are fields a route may not set, add or remove: the codec
// owns them, and changing them by hand is how messages get mis-framed
// (RFC 9112 §6.3).
var framingFields = httpmsg.FieldNames{"Content-Length", "Transfer-Encoding", "Connection", "Host"}

func compileHeaderOps(s *HeaderSpec, hideServer bool) (HeaderOps, error) {
	var o HeaderOps
	for _, n := range s.Remove {
		if err := checkOpName(n); err != nil {
			return o, fmt.Errorf("remove: %w", err)
		}
		o.remove = append(o.remove, n)
	}
	if hideServer {
		o.remove = append(o.remove, hiddenServer...)
	}
	for _, list := range []struct {
		what string
		in   []Field
		out  *[]Field
	}{{"set", s.Set, &o.set}, {"add", s.Add, &o.add}} {
		for _, f := range list.in {
			if err := checkOpName(f.Name); err != nil {
				return o, fmt.Errorf("%s: %w", list.what, err)
			}
			if !isFieldValue(f.Value) {
				return o, fmt.Errorf("%s: %s: value %q holds bytes no field value can hold", list.what, f.Name, f.Value)
			}
		}
		*list.out = slices.Clone(list.in)
	}
	return o, nil
}

func checkOpName(n string) error {
	if !isToken(n) {
		return fmt.Errorf("%q is not a field name", n)
	}
	if framingFields.Contains([]byte(n)) {
		return fmt.Errorf("%s is managed by Janus and cannot be changed by a route", n)
	}
	return nil
}

// RequestIDMode says what Forwarding does with X-Request-Id.
type RequestIDMode uint8

// Request ID modes. The zero value is RequestIDPreserve.
const (
	// RequestIDPreserve passes on a well-formed X-Request-Id the client
	// sent, so a caller can follow its request through, and generates one
	// otherwise.
	RequestIDPreserve RequestIDMode = iota
	// RequestIDGenerate always replaces it with a fresh one.
	RequestIDGenerate
	// RequestIDOff leaves the field as the client sent it.
	RequestIDOff
)

// ForwardingOptions configures NewForwarding.
type ForwardingOptions struct {
	// Trusted holds the peers, typically load balancers or CDNs in front
	// of Janus, whose X-Forwarded-*, Forwarded and X-Real-IP fields are
	// believed and extended. From any other peer those fields are replaced,
	// since a client can write anything in them. The zero Set trusts no
	// one.
	Trusted addrset.Set
	// RequestID says what happens to X-Request-Id.
	RequestID RequestIDMode
	// IDs generates request IDs; nil makes a generator of its own.
	IDs *RequestIDs
}

// Forwarding is a listener's rules for the fields that tell an upstream
// who the client is and what it asked for. It is immutable and safe for
// concurrent use.
type Forwarding struct {
	o ForwardingOptions
}

// NewForwarding returns the rules o describes.
func NewForwarding(o ForwardingOptions) *Forwarding {
	if o.IDs == nil {
		o.IDs = NewRequestIDs()
	}
	return &Forwarding{o: o}
}

// Inbound is what Forwarding needs to know about the client's request.
type Inbound struct {
	// Peer is the address the request came from: the TCP peer, or the
	// address a PROXY protocol header gave.
	Peer netip.Addr
	// Scheme is "http" or "https", as the client reached Janus.
	Scheme string
	// Host is the authority the client asked for (Host field, or the
	// target's in absolute-form), with its port if it had one; empty if
	// none.
	Host []byte
	// Upgrade keeps Upgrade while a protocol upgrade (WebSocket) is being
	// forwarded; the face then writes its own Connection: upgrade.
	Upgrade bool
}

// The fields Forwarding manages. From an untrusted peer every one of them
// is removed, including the ones Janus does not set itself (X-Forwarded-Port
// and the like), because an origin may believe them.
const (
	xForwardedFor   = "X-Forwarded-For"
	xForwardedProto = "X-Forwarded-Proto"
	xForwardedHost  = "X-Forwarded-Host"
	forwarded       = "Forwarded" // RFC 7239
	xRealIP         = "X-Real-IP"
	xRequestID      = "X-Request-Id"
)

var spoofable = httpmsg.FieldNames{
	xForwardedFor, xForwardedProto, xForwardedHost, forwarded, xRealIP,
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Scheme",
	"X-Forwarded-Ssl", "X-Forwarded-Server", "X-Client-IP",
	"True-Client-IP", "X-Cluster-Client-IP",
}

// Apply prepares the header of a request about to go upstream and returns
// the request's ID (aliasing h; nil with RequestIDOff and no ID sent).
//
// In order:
//
//  1. Hop-by-hop fields go, with every field a Connection field names
//     (RFC 9110 §7.6.1).
//  2. From a peer outside Trusted, every forwarding field goes.
//  3. Janus's own fields are added: the peer is appended to
//     X-Forwarded-For and to Forwarded (as "for=...;host=...;proto=...",
//     RFC 7239 §4), and X-Forwarded-Proto, X-Forwarded-Host and X-Real-IP
//     are set unless a trusted peer already set them.
//  4. X-Request-Id is kept or generated (see RequestIDMode).
//
// Because step 3 comes after step 1, "Connection: X-Forwarded-For" cannot
// remove the X-Forwarded-For Janus adds; it only removes the client's.
func (f *Forwarding) Apply(h *httpmsg.Header, in *Inbound) []byte {
	h.RemoveHopByHop(httpmsg.RequestHopByHop, in.Upgrade)
	trusted := f.o.Trusted.Contains(in.Peer)
	if !trusted {
		h.DelNames(spoofable)
	}

	peer := addrset.Canonical(in.Peer)
	if peer.IsValid() {
		// Without an address (a Unix socket listener) there is nothing to
		// add; Forwarded says "unknown" below.
		var buf [64]byte // the longest IPv6 text fits
		ip := peer.AppendTo(buf[:0])
		if i := h.Combine(xForwardedFor); i >= 0 {
			h.AppendValue(i, ", ", ip)
		} else {
			h.Add([]byte(xForwardedFor), ip)
		}
		if !h.Has(xRealIP) {
			h.Add([]byte(xRealIP), ip)
		}
	}
	if !h.Has(xForwardedProto) && in.Scheme != "" {
		h.AddString(xForwardedProto, in.Scheme)
	}
	if !h.Has(xForwardedHost) && len(in.Host) > 0 {
		h.Add([]byte(xForwardedHost), in.Host)
	}

	var eb [512]byte
	elem := appendForwardedElement(eb[:0], peer, in)
	if i := h.Combine(forwarded); i >= 0 {
		h.AppendValue(i, ", ", elem)
	} else {
		h.Add([]byte(forwarded), elem)
	}
	return f.requestID(h)
}

// appendForwardedElement writes "for=...;host=...;proto=..." (RFC 7239
// §4, §5). An IPv6 address is bracketed and quoted (§6), and so is a host
// with a port, since ":" is not a token character.
func appendForwardedElement(dst []byte, peer netip.Addr, in *Inbound) []byte {
	dst = append(dst, "for="...)
	switch {
	case peer.Is6():
		dst = append(dst, `"[`...)
		dst = peer.AppendTo(dst)
		dst = append(dst, `]"`...)
	case peer.IsValid():
		dst = peer.AppendTo(dst)
	default:
		dst = append(dst, "unknown"...) // §6.3
	}
	if len(in.Host) > 0 {
		dst = append(dst, ";host="...)
		dst = appendForwardedValue(dst, in.Host)
	}
	if in.Scheme != "" {
		dst = append(dst, ";proto="...)
		dst = append(dst, in.Scheme...)
	}
	return dst
}

// appendForwardedValue writes v as a token, or as a quoted-string when it
// holds anything else (RFC 7239 §4, RFC 9110 §5.6.6).
func appendForwardedValue(dst, v []byte) []byte {
	if isToken(string(v)) {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// requestID applies the RequestIDMode and returns the ID sent.
func (f *Forwarding) requestID(h *httpmsg.Header) []byte {
	switch f.o.RequestID {
	case RequestIDOff:
		return h.Get(xRequestID)
	case RequestIDPreserve:
		if i := h.Index(xRequestID, 0); i >= 0 && h.Index(xRequestID, i+1) < 0 && validRequestID(h.Value(i)) {
			return h.Value(i)
		}
	}
	var b [RequestIDLen]byte
	h.SetBytes(xRequestID, f.o.IDs.Append(b[:0]))
	return h.Get(xRequestID)
}

// validRequestID accepts what request IDs look like in practice (UUIDs,
// hex, base64url, dotted trace IDs) and nothing that could confuse a log
// line: 1 to 128 bytes of letters, digits and "-_.:+/=".
func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}
