package httpface

import (
	"io"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
)

// filtered answers a request a route's filter refused (403, or 405 with
// Allow), counted as a denial.
func (c *conn) filtered(v reverse.Verdict) bool {
	c.x.denied = true
	var extra func(*httpmsg.Header)
	if v.Allow != "" {
		extra = func(h *httpmsg.Header) { h.AddString("Allow", v.Allow) }
	}
	c.reply(v.Status, v.Reason, extra)
	c.logError(v.Reason)
	return !c.x.closeConn
}

// maxBody ends a stream's content with http1.ErrContentTooLarge (413) once
// it goes past a route's max_body.
type maxBody struct {
	io.ReadCloser
	left int64
}

func (b *maxBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, http1.ErrContentTooLarge
	}
	return n, err
}
