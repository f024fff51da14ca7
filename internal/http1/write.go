package http1

import (
	"strconv"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// AppendRequestHead serializes h: the request line in h's target form, the
// fields, and the empty line. Content framing fields are the caller's: they
// are written as they are in h.Header.
func AppendRequestHead(b []byte, h *httpmsg.RequestHead) []byte {
	b = append(b, h.Method...)
	b = append(b, ' ')
	switch h.Form {
	case httpmsg.AbsoluteForm:
		b = append(b, h.Scheme...)
		b = append(b, "://"...)
		b = append(b, h.Authority...)
		b = append(b, h.Path...)
	case httpmsg.AuthorityForm:
		b = append(b, h.Authority...)
	default:
		b = append(b, h.Path...)
	}
	b = append(b, ' ')
	b = appendVersion(b, h.Version)
	b = append(b, '\r', '\n')
	b = AppendFields(b, &h.Header)
	return append(b, '\r', '\n')
}

// AppendResponseHead serializes h: status line, fields, empty line. An empty
// Reason is filled from the status code's standard phrase.
func AppendResponseHead(b []byte, h *httpmsg.ResponseHead) []byte {
	b = appendVersion(b, h.Version)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(h.Status), 10)
	b = append(b, ' ')
	if len(h.Reason) > 0 {
		b = append(b, h.Reason...)
	} else {
		b = append(b, StatusText(h.Status)...)
	}
	b = append(b, '\r', '\n')
	b = AppendFields(b, &h.Header)
	return append(b, '\r', '\n')
}

// AppendFields writes each field as "Name: value\r\n".
func AppendFields(b []byte, hdr *httpmsg.Header) []byte {
	for i := 0; i < hdr.Len(); i++ {
		name, value := hdr.Field(i)
		b = append(b, name...)
		b = append(b, ':', ' ')
		b = append(b, value...)
		b = append(b, '\r', '\n')
	}
	return b
}

func appendVersion(b []byte, v httpmsg.Version) []byte {
	if v.Major == 0 {
		v = httpmsg.HTTP11
	}
	return append(b, 'H', 'T', 'T', 'P', '/', '0'+v.Major, '.', '0'+v.Minor)
}

// WriteRequestHead serializes h into w's buffer.
func (w *Writer) WriteRequestHead(h *httpmsg.RequestHead) {
	w.setBuf(AppendRequestHead(w.appendBuf(), h))
}

// WriteResponseHead serializes h into w's buffer.
func (w *Writer) WriteResponseHead(h *httpmsg.ResponseHead) {
	w.setBuf(AppendResponseHead(w.appendBuf(), h))
}

// ChunkedWriter writes content in the chunked coding (RFC 9112 §7.1) to a
// Writer: each Write is one chunk. Close writes the last chunk and trailers.
type ChunkedWriter struct {
	W *Writer
}

// Write writes p as one chunk; an empty p writes nothing (a zero-size chunk
// would end the body).
func (c ChunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b := c.W.appendBuf()
	b = strconv.AppendUint(b, uint64(len(p)), 16)
	c.W.setBuf(append(b, '\r', '\n'))
	n, err := c.W.Write(p)
	if err != nil {
		return n, err
	}
	if _, err := c.W.WriteString("\r\n"); err != nil {
		return n, err
	}
	return n, nil
}

// Close writes the last chunk, the trailer fields (nil for none) and the
// final CRLF. It does not flush.
func (c ChunkedWriter) Close(trailer *httpmsg.Header) error {
	b := append(c.W.appendBuf(), '0', '\r', '\n')
	if trailer != nil {
		b = AppendFields(b, trailer)
	}
	c.W.setBuf(append(b, '\r', '\n'))
	return c.W.Err()
}

// StatusText returns the reason phrase of a status code (RFC 9110 §15), ""
// for unknown codes.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 421:
		return "Misdirected Request"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}
