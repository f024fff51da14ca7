package httpface

import (
	"io"

	"github.com/janus-proxy/janus/internal/http1"
)

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
