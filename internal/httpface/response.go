package httpface

import (
	"errors"
	"io"
	"time"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

var (
	errUnasked101     = errors.New("origin switched protocols without being asked")
	errTooManyInterim = errors.New("too many 1xx responses")
)

// spliceChunk bounds one splice of response content, so that the progress
// deadlines are refreshed between chunks.
const spliceChunk = 4 << 20

// responseVia is this hop's Via entry for a response from the origin.
func (c *conn) responseVia() []byte {
	if c.m.resp.Version.AtLeast(1, 1) {
		return c.s.via11
	}
	return c.s.via10
}

// copyResponse starts the client's copy of the origin's response head.
func (c *conn) copyResponse(keepUpgrade bool) *httpmsg.ResponseHead {
	h := &c.m.rout
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = c.m.resp.Status
	h.SetReason(c.m.resp.Reason)
	h.Header.CopyFrom(&c.m.resp.Header)
	h.Header.RemoveHopByHop(httpmsg.ResponseHopByHop, keepUpgrade)
	c.responseRules(&h.Header, c.responseVia())
	return h
}

// writeInterim passes a 1xx response on at once.
func (c *conn) writeInterim() {
	h := c.copyResponse(false)
	c.extendWrite()
	c.w.WriteResponseHead(h)
	_ = c.w.Flush()
}

// writeResponseHead writes the final response head, choosing the framing
// the client gets, and reports whether that is chunked. Content of unknown
// length is chunked for HTTP/1.1 clients and delimited by closing the
// connection for HTTP/1.0 ones (RFC 9112 §6.3, §7).
func (c *conn) writeResponseHead(fr http1.Framing) (chunkedOut bool) {
	s := c.s
	h := c.copyResponse(false)
	client11 := c.m.req.Version.AtLeast(1, 1)
	switch fr.Kind {
	case http1.NoBody:
		// HEAD, 1xx, 204 and 304 keep the origin's Content-Length: it
		// describes the representation, not this message.
	case http1.LengthBody:
		h.Header.Del("Content-Length")
		var num [20]byte
		h.Header.Add(contentLength, appendInt(num[:0], fr.Length))
	default:
		h.Header.Del("Content-Length")
		if client11 {
			chunkedOut = true
			h.Header.AddString("Transfer-Encoding", "chunked")
			if t := c.m.resp.Header.Get("Trailer"); t != nil && fr.Kind == http1.ChunkedBody {
				h.Header.Add(trailerName, t)
			}
		} else {
			c.x.closeConn = true
		}
	}
	if !c.clientKeepAlive() || s.shutting.Load() {
		c.x.closeConn = true
	}
	if c.x.closeConn {
		h.Header.AddString("Connection", "close")
	} else if !client11 {
		h.Header.AddString("Connection", "keep-alive")
	}
	if c.x.cache != nil {
		c.addCacheStatus(&h.Header)
	}
	c.extendWrite()
	c.w.WriteResponseHead(h)
	return chunkedOut
}

// extendWrite makes sure the client has IdleTimeout to take what is written
// next. It touches the deadline only when less than half of it is left, so
// that a busy connection sets it rarely.
func (c *conn) extendWrite() {
	now := time.Now()
	idle := c.s.o.IdleTimeout
	if c.wdl.Sub(now) < idle/2 {
		c.wdl = now.Add(idle)
		_ = c.raw.SetWriteDeadline(c.wdl)
	}
}

// relayBody copies the response content to the client, re-chunking when
// asked, with a progress deadline on each side. Long Content-Length content
// between TCP connections is spliced. A failure here comes after the head
// went out, so the caller can only close the connection.
func (c *conn) relayBody(oc *http1.ClientConn, fr http1.Framing, chunkedOut bool) error {
	idle := c.s.o.IdleTimeout
	cw := http1.ChunkedWriter{W: &c.w}
	for {
		if !chunkedOut && c.x.fill == nil && oc.R.Buffered() == 0 && !c.m.rb.Done() {
			now := time.Now()
			_ = oc.Conn.SetReadDeadline(now.Add(idle))
			c.extendWrite()
			if _, ok, err := c.m.rb.Splice(&c.w, spliceChunk); ok {
				if err != nil {
					return err
				}
				if c.m.rb.Done() {
					break
				}
				continue
			}
		}
		if oc.R.Buffered() == 0 && !c.m.rb.Done() {
			// About to wait for the origin: let the client have what we
			// hold meanwhile.
			c.extendWrite()
			if err := c.w.Flush(); err != nil {
				return err
			}
			_ = oc.Conn.SetReadDeadline(time.Now().Add(idle))
		}
		chunk, err := c.m.rb.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if c.x.fill != nil {
			// The cache copies it (it never blocks nor fails).
			_, _ = c.x.fill.Write(chunk)
		}
		if chunkedOut {
			_, err = cw.Write(chunk)
		} else {
			_, err = c.w.Write(chunk)
		}
		c.m.rb.Consume(len(chunk))
		if err != nil {
			return err
		}
	}
	if chunkedOut {
		c.m.trl.Reset()
		if fr.Kind == http1.ChunkedBody {
			copyTrailer(&c.m.trl, &c.m.rb.Trailer)
		}
		_ = cw.Close(&c.m.trl)
	}
	c.extendWrite()
	return c.w.Flush()
}
