package http1

import (
	"errors"
	"io"
	"os"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// BodyKind says how a message's content is delimited (RFC 9112 §6.3).
type BodyKind uint8

// Body kinds.
const (
	NoBody      BodyKind = iota // no content at all
	LengthBody                  // exactly Framing.Length bytes
	ChunkedBody                 // chunked transfer coding, then trailers
	CloseBody                   // until the connection closes (responses only)
)

func (k BodyKind) String() string {
	switch k {
	case NoBody:
		return "none"
	case LengthBody:
		return "length"
	case ChunkedBody:
		return "chunked"
	case CloseBody:
		return "close"
	}
	return "BodyKind(?)"
}

// Framing is how a message's content is delimited.
type Framing struct {
	Kind   BodyKind
	Length int64 // for LengthBody
}

// Empty reports whether the message has no content for sure.
func (f Framing) Empty() bool {
	return f.Kind == NoBody || f.Kind == LengthBody && f.Length == 0
}

// maxLeadingCRLF bounds the empty lines skipped before a request line
// (RFC 9112 §2.2: a server SHOULD ignore at least one).
const maxLeadingCRLF = 4

// ReadRequest reads a request head into h and returns its body's framing.
//
// At a clean end of input before any byte of a request it returns io.EOF,
// and when a read times out before any byte, the timeout error itself: the
// caller closes quietly. Once part of a head has arrived, a timeout is an
// *Error with status 408 and the end of input one with 400. Every malformed
// head is an *Error carrying the status to answer; after it the connection
// must be closed, since where the next message starts is unknown.
func ReadRequest(r *Reader, h *httpmsg.RequestHead, lim Limits) (Framing, error) {
	h.Reset()
	maxLine := lim.maxLine()
	var line []byte
	var err error
	for skipped := 0; ; skipped++ {
		line, err = r.line(maxLine, ErrLineTooLong)
		if err != nil {
			if skipped > 0 {
				return Framing{}, partial(err)
			}
			return Framing{}, err
		}
		if len(line) != 2 {
			break
		}
		if skipped == maxLeadingCRLF {
			return Framing{}, errorf(400, "too many empty lines before the request line")
		}
		r.Discard(2)
	}
	if err := parseRequestLine(h, line[:len(line)-2]); err != nil {
		return Framing{}, err
	}
	budget := lim.maxHead() - len(line)
	r.Discard(len(line))

	var ff framingFields
	ff.reset()
	if err := readFields(r, &h.Header, budget, &ff, 400); err != nil {
		return Framing{}, partial(err)
	}
	return requestFraming(h, &ff)
}

// partial turns the error of a read that ended inside a head into the
// answer: 408 for a timeout, 400 for an early end.
func partial(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errorf(408, "timeout inside the request head")
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}

// readFields reads field lines up to the empty line that ends a head or a
// trailer section, within budget bytes. Errors carry status.
func readFields(r *Reader, hdr *httpmsg.Header, budget int, ff *framingFields, status int) error {
	// A request's oversize head is 431 whatever else goes wrong; every
	// error about a response is 502.
	var tooLarge error = ErrHeadTooLarge
	if status != 400 {
		tooLarge = errResponseHeadTooBig
	}
	for {
		if budget < 2 {
			return tooLarge
		}
		line, err := r.line(budget, tooLarge)
		if err != nil {
			if e, ok := err.(*Error); ok && status != 400 {
				return e.withStatus(status)
			}
			return err
		}
		n := len(line)
		if n == 2 {
			r.Discard(2)
			return nil
		}
		name, value, err := parseField(line[:n-2], status)
		if err != nil {
			return err
		}
		hdr.Add(name, value)
		if ff != nil {
			ff.observe(name, value)
		}
		budget -= n
		r.Discard(n)
	}
}

// parseRequestLine parses "method SP request-target SP HTTP-version"
// (RFC 9112 §3) with exactly one space between the parts.
func parseRequestLine(h *httpmsg.RequestHead, line []byte) error {
	sp := indexByte(line, ' ')
	if sp <= 0 {
		return errorf(400, "malformed request line")
	}
	method := line[:sp]
	if !isToken(method) {
		return errorf(400, "bad method")
	}
	rest := line[sp+1:]
	sp = indexByte(rest, ' ')
	if sp <= 0 {
		return errorf(400, "malformed request line")
	}
	target, version := rest[:sp], rest[sp+1:]
	v, err := parseVersion(version, 400)
	if err != nil {
		return err
	}
	for _, c := range target {
		if !targetByte[c] {
			return errorf(400, "bad byte in request target")
		}
	}
	h.Version = v
	h.Method = h.Store(method)
	return parseTarget(h, target)
}

// parseVersion parses "HTTP/1.x" exactly. Another major version on an
// HTTP/1 connection is 505 (RFC 9110 §15.6.6).
func parseVersion(v []byte, status int) (httpmsg.Version, error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return httpmsg.Version{}, errorf(status, "malformed HTTP version")
	}
	if v[5] != '1' {
		if status == 400 {
			status = 505
		}
		return httpmsg.Version{}, errorf(status, "unsupported HTTP major version")
	}
	return httpmsg.Version{Major: 1, Minor: v[7] - '0'}, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// parseTarget classifies and splits the request-target (RFC 9112 §3.2).
func parseTarget(h *httpmsg.RequestHead, t []byte) error {
	switch {
	case httpmsg.EqualFold(h.Method, "CONNECT"):
		// §3.2.3: authority-form, and the port is not optional.
		host, port, hasPort, err := httpmsg.SplitAuthority(t)
		if err != nil || !hasPort {
			return errorf(400, "CONNECT target must be host:port")
		}
		h.Form = httpmsg.AuthorityForm
		h.Authority = h.Store(t)
		h.Host = h.StoreLower(host)
		h.Port = port
		return nil
	case t[0] == '/':
		h.Form = httpmsg.OriginForm
		h.Path = h.Store(t)
		return nil
	case len(t) == 1 && t[0] == '*':
		// §3.2.4: only for a server-wide OPTIONS.
		if !httpmsg.EqualFold(h.Method, "OPTIONS") {
			return errorf(400, "asterisk-form target on a method other than OPTIONS")
		}
		h.Form = httpmsg.AsteriskForm
		h.Path = h.Store(t)
		return nil
	}
	return parseAbsolute(h, t)
}

// parseAbsolute parses "scheme://authority[path][?query]" (RFC 3986 §3).
// URIs without an authority (a "mailto:" target) are refused: a proxy
// cannot forward them.
func parseAbsolute(h *httpmsg.RequestHead, t []byte) error {
	i := 0
	for i < len(t) && t[i] != ':' {
		c := t[i]
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return errorf(400, "bad request target")
		}
		i++
	}
	if i == 0 || len(t) < i+3 || t[i+1] != '/' || t[i+2] != '/' {
		return errorf(400, "bad request target")
	}
	scheme := t[:i]
	rest := t[i+3:]
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != '?' {
		end++
	}
	authority, path := rest[:end], rest[end:]
	host, port, _, err := httpmsg.SplitAuthority(authority)
	if err != nil {
		return errorf(400, "bad authority in request target")
	}
	h.Form = httpmsg.AbsoluteForm
	h.Scheme = h.StoreLower(scheme)
	h.Authority = h.Store(authority)
	h.Host = h.StoreLower(host)
	if port == 0 {
		port = httpmsg.DefaultPort(scheme)
	}
	h.Port = port
	switch {
	case len(path) == 0:
		h.Path = h.StoreString("/")
	case path[0] == '?':
		// RFC 9112 §3.2.1: an empty path is sent as "/".
		h.Path = h.StoreJoin("/", path)
	default:
		h.Path = h.Store(path)
	}
	return nil
}

// requestFraming applies RFC 9112 §6.3 to a request, and §3.2 to its Host.
func requestFraming(h *httpmsg.RequestHead, ff *framingFields) (Framing, error) {
	switch {
	case ff.hosts > 1:
		return Framing{}, errorf(400, "more than one Host field")
	case ff.hosts == 0 && h.Version.AtLeast(1, 1):
		return Framing{}, errorf(400, "HTTP/1.1 request without Host")
	case ff.hosts == 1 && len(ff.host) > 0:
		if _, _, _, err := httpmsg.SplitAuthority(ff.host); err != nil {
			return Framing{}, errorf(400, "bad Host field")
		}
	}
	if ff.lengthBad {
		return Framing{}, errorf(400, "bad or conflicting Content-Length")
	}
	if ff.te {
		switch {
		case !h.Version.AtLeast(1, 1):
			// §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
			return Framing{}, errorf(400, "Transfer-Encoding in an HTTP/1.0 request")
		case ff.length >= 0:
			// §6.1 lets a server reject CL with TE; accepting it is how
			// CL.TE and TE.CL smuggling work.
			return Framing{}, errorf(400, "both Content-Length and Transfer-Encoding")
		case ff.teEmpty || !ff.teLast || ff.teChunked > 1:
			return Framing{}, errorf(400, "Transfer-Encoding must end in one chunked")
		case ff.teOther:
			return Framing{}, errorf(501, "unsupported transfer coding")
		}
		return Framing{Kind: ChunkedBody}, nil
	}
	if ff.length >= 0 {
		// An explicit zero stays LengthBody: some origins want to see it.
		return Framing{Kind: LengthBody, Length: ff.length}, nil
	}
	return Framing{Kind: NoBody}, nil
}
