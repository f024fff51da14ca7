package http1

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// ReadResponse reads a response head into h and returns its body's framing.
// requestMethod is the method of the request it answers: a response to HEAD
// has no content whatever its fields say (RFC 9112 §6.3).
//
// Every malformed head is an *Error with status 502: a proxy answers a bad
// origin with Bad Gateway. A clean end of input before any byte is io.EOF,
// so that a client can tell an origin that closed an idle connection from
// one that sent garbage.
func ReadResponse(r *Reader, h *httpmsg.ResponseHead, requestMethod []byte, lim Limits) (Framing, error) {
	h.Reset()
	line, err := r.line(lim.maxLine(), errStatusLineTooLong)
	if err != nil {
		if err == ErrTruncated || err == ErrBareLF {
			return Framing{}, err.(*Error).withStatus(502)
		}
		return Framing{}, err
	}
	if err := parseStatusLine(h, line[:len(line)-2]); err != nil {
		return Framing{}, err
	}
	budget := lim.maxHead() - len(line)
	r.Discard(len(line))

	var ff framingFields
	ff.reset()
	if err := readFields(r, &h.Header, budget, &ff, 502); err != nil {
		if err == ErrTruncated {
			return Framing{}, ErrTruncated.withStatus(502)
		}
		return Framing{}, err
	}
	return responseFraming(h, requestMethod, &ff)
}

// parseStatusLine parses "HTTP-version SP status-code SP [reason-phrase]"
// (RFC 9112 §4). The space before an empty reason is often left out; that
// is accepted, as it cannot change where the message ends.
func parseStatusLine(h *httpmsg.ResponseHead, line []byte) error {
	if len(line) < 12 || line[8] != ' ' {
		return errorf(502, "malformed status line")
	}
	v, err := parseVersion(line[:8], 502)
	if err != nil {
		return err
	}
	code := line[9:12]
	status := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return errorf(502, "malformed status code")
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return errorf(502, "status code below 100")
	}
	reason := line[12:]
	if len(reason) > 0 {
		if reason[0] != ' ' {
			return errorf(502, "malformed status line")
		}
		reason = reason[1:]
		for _, c := range reason {
			if !vchar[c] {
				return errorf(502, "control byte in reason phrase")
			}
		}
	}
	h.Version = v
	h.Status = status
	h.SetReason(reason)
	return nil
}

// responseFraming applies RFC 9112 §6.3 to a response.
func responseFraming(h *httpmsg.ResponseHead, requestMethod []byte, ff *framingFields) (Framing, error) {
	if ff.lengthBad {
		return Framing{}, errorf(502, "bad or conflicting Content-Length")
	}
	if ff.te && ff.length >= 0 {
		// §6.3 item 3: "ought to be handled as an error".
		return Framing{}, errorf(502, "both Content-Length and Transfer-Encoding")
	}
	// §6.3 items 1 and 2: these never have content, whatever the fields say.
	if httpmsg.EqualFold(requestMethod, "HEAD") || h.Status < 200 || h.Status == 204 || h.Status == 304 {
		return Framing{Kind: NoBody}, nil
	}
	if ff.te {
		switch {
		case !h.Version.AtLeast(1, 1):
			return Framing{}, errorf(502, "Transfer-Encoding in an HTTP/1.0 response")
		case ff.teEmpty || !ff.teLast || ff.teChunked > 1 || ff.teOther:
			// Codings other than chunked would have to be forwarded as a
			// hop-by-hop field; Janus does not re-apply them.
			return Framing{}, errorf(502, "unsupported transfer coding in response")
		}
		return Framing{Kind: ChunkedBody}, nil
	}
	if ff.length >= 0 {
		return Framing{Kind: LengthBody, Length: ff.length}, nil
	}
	return Framing{Kind: CloseBody}, nil
}
