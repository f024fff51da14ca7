package httpface

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// pumpResult is what a request-content pump did.
type pumpResult struct {
	n   int64
	err error
}

// clientSideError marks a pump failure on the client's side: its content
// was malformed, cut short or too slow.
type clientSideError struct{ err error }

func (e *clientSideError) Error() string { return "request content: " + e.err.Error() }
func (e *clientSideError) Unwrap() error { return e.err }

// sending tracks the request's content on its way to the origin.
type sending struct {
	started  bool // some content was consumed from the client
	done     bool // all content was sent
	pumping  bool // a pump goroutine is sending it
	buffered int  // content sent from the read buffer, not consumed yet
	err      error
}

// roundTrip sends the request on oc and relays the response. When it
// returns stale or nextTarget it has written nothing to the client; on
// stale it leaves oc to the caller.
func (c *conn) roundTrip(oc *http1.ClientConn, p *plan) exchanged {
	s := c.s
	f := p.f
	_ = oc.Conn.SetDeadline(time.Now().Add(c.responseTimeout()))
	readBefore := oc.R.Count()
	if c.x.fill != nil {
		c.x.fill.Prepare(&c.m.out)
		c.x.sent = time.Now()
	}
	oc.W.WriteRequestHead(&c.m.out)

	var snd sending
	switch {
	case f.Empty():
		snd.done = true
	case p.expect:
		// Content waits for the origin's 100 (or a timeout).
	case f.Kind == http1.LengthBody && int64(c.r.Buffered()) >= f.Length:
		// The whole content is here: send it with the head, and consume it
		// only once the origin answers, so a retry can send it again.
		_, _ = oc.W.Write(c.r.Bytes()[:f.Length])
		snd.buffered = int(f.Length)
		snd.done = true
	default:
		if err := oc.W.Flush(); err != nil {
			return c.sendFailed(oc, &snd, readBefore, err)
		}
		c.startPump(oc, &snd)
	}
	if !snd.pumping {
		if err := oc.W.Flush(); err != nil {
			return c.sendFailed(oc, &snd, readBefore, err)
		}
	}
	if p.expect {
		c.awaitContinue(oc, &snd)
	}

	// Read responses; 1xx ones are passed on (RFC 9110 §15.2).
	var fr http1.Framing
	for interim := 0; ; interim++ {
		var err error
		fr, err = http1.ReadResponse(&oc.R, &c.m.resp, c.m.req.Method, s.limits)
		if err != nil {
			if oc.Reused && !snd.started && oc.R.Count() == readBefore && isClosedBeforeResponse(err) {
				c.finishPump(oc, &snd, false)
				return stale
			}
			if !snd.started && oc.R.Count() == readBefore &&
				(isTimeout(err) && p.tries.onTimeout() || isClosedBeforeResponse(err) && p.tries.onBroken()) {
				oc.Close()
				c.m.resp.Status = 0 // no response: a failure of the target's
				return nextTarget
			}
			c.responseFailed(oc, &snd, err)
			return answered
		}
		if c.m.resp.Status == 101 {
			if !p.upgrade {
				c.responseFailed(oc, &snd, errUnasked101)
				return answered
			}
			c.switchProtocols(oc)
			return answered
		}
		if !c.m.resp.Informational() {
			break
		}
		if interim == maxInterim {
			c.responseFailed(oc, &snd, errTooManyInterim)
			return answered
		}
		if c.m.resp.Status == 100 && p.expect && !snd.started && !snd.pumping {
			c.startPump(oc, &snd)
		}
		if c.m.req.Version.AtLeast(1, 1) {
			// HTTP/1.0 clients never see 1xx (RFC 9110 §15.2).
			c.writeInterim()
		}
	}
	if !snd.started && !p.expect && p.tries.onStatus(c.m.resp.Status) {
		// The content, if any, is still in the read buffer: it goes again
		// to the next target. This connection's response is not read.
		oc.Close()
		return nextTarget
	}
	c.consumeBuffered(&snd)
	if !snd.started && !snd.done {
		// The origin answered before asking for the content (Expect): it
		// will not be sent, and it is still in the client's stream.
		c.x.closeConn = true
	}

	if c.fillResponse() {
		// The cache answers (a 304 refreshed what it holds, or a stale
		// response stands in for a 5xx): the origin's content is not
		// wanted, nor its connection.
		oc.Close()
		c.finishPump(oc, &snd, false)
		c.x.up = c.m.body.Count()
		c.writeCached()
		return answered
	}

	c.x.status = c.m.resp.Status
	chunkedOut := c.writeResponseHead(fr)
	c.m.rb.Reset(&oc.R, fr, 502, s.o.MaxHeaderBytes)
	detached, relayErr := c.relayFill(oc, fr, chunkedOut, &snd) // cachefill.go
	if !detached {
		relayErr = c.relayBody(oc, fr, chunkedOut)
		c.x.down = c.m.rb.Count()
	}
	if c.x.cache != nil {
		c.finishFill(relayErr)
		c.invalidate()
	}

	if snd.pumping {
		// A successful response lets the upload finish (the origin may
		// still be reading); any other ends it.
		c.finishPump(oc, &snd, relayErr == nil && c.m.resp.Status < 300)
	}
	if !snd.done {
		// Content the origin never asked for (Expect) or never took is
		// still in the client's stream: that connection cannot go on.
		c.x.closeConn = true
	}
	c.x.up = c.m.body.Count()

	reuse := relayErr == nil && snd.done && snd.err == nil && c.m.rb.Done() && fr.Kind != http1.CloseBody &&
		originKeepAlive(&c.m.resp)
	switch {
	case detached: // the fill's goroutine pools or closes oc
	case reuse:
		s.pool.Put(oc)
	default:
		oc.Close()
	}
	if relayErr != nil {
		// What the origin did send goes out before the close, without the
		// end its framing lacks: the client sees a cut response, as it
		// would have from the origin itself (and may resume it with a
		// Range request), rather than no response at all.
		_ = c.w.Flush()
		if !chunkedOut && fr.Kind != http1.LengthBody {
			// The client's copy ends with the connection (an HTTP/1.0
			// client, RFC 9112 §6.3): a clean close would say the content
			// is complete, so the connection is reset instead.
			c.resetOnClose()
		}
		c.x.closeConn = true
		c.x.err = "relaying response: " + relayErr.Error()
	}
	c.logAccess()
	return answered
}

// resetOnClose makes the client connection's close a reset (RST) rather
// than an end of stream (FIN). Over TLS the close still sends close_notify,
// which a client may take as a clean end.
func (c *conn) resetOnClose() {
	if tcp, ok := c.raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
}

// consumeBuffered marks content sent straight from the read buffer as read.
func (c *conn) consumeBuffered(snd *sending) {
	for snd.buffered > 0 {
		chunk, err := c.m.body.Next()
		if err != nil {
			break
		}
		c.m.body.Consume(len(chunk))
		snd.buffered -= len(chunk)
	}
	snd.buffered = 0
}

// sendFailed handles a failed write of the request head. On a reused
// connection it asks for a retry when nothing was consumed.
func (c *conn) sendFailed(oc *http1.ClientConn, snd *sending, readBefore int64, err error) exchanged {
	if oc.Reused && !snd.started && oc.R.Count() == readBefore && isClosedBeforeResponse(err) {
		return stale
	}
	c.responseFailed(oc, snd, err)
	return answered
}

// awaitContinue waits briefly for the origin's first response bytes after
// a head with Expect: 100-continue; if none come, the content goes anyway.
func (c *conn) awaitContinue(oc *http1.ClientConn, snd *sending) {
	_ = oc.Conn.SetReadDeadline(time.Now().Add(expectWait))
	err := oc.R.Fill()
	_ = oc.Conn.SetReadDeadline(time.Now().Add(c.responseTimeout()))
	if err != nil && isTimeout(err) && oc.R.Buffered() == 0 {
		c.startPump(oc, snd)
	}
	// Other errors show again when the response is read.
}

// responseFailed answers 502 or 504 for an origin that did not give a
// usable response head, and drops the origin connection.
func (c *conn) responseFailed(oc *http1.ClientConn, snd *sending, err error) {
	oc.Close()
	c.finishPump(oc, snd, false)
	c.consumeBuffered(snd)
	if !snd.done || snd.err != nil {
		c.x.closeConn = true
	}
	c.x.up = c.m.body.Count()
	var ce *clientSideError
	if errors.As(snd.err, &ce) {
		// The client's content broke the exchange; say so, if it listens.
		c.fail(http1.StatusOf(ce.err), "bad request content", ce.err)
		return
	}
	if c.staleOnFailure(err) {
		return
	}
	switch {
	case isTimeout(err):
		c.fail(504, "origin did not answer in time", err)
	case err == io.EOF:
		c.fail(502, "origin closed the connection without a response", nil)
	default:
		c.fail(502, "bad response from origin", err)
	}
}

// startPump sends the request's content to the origin from a goroutine, so
// that an origin answering before it has read everything is heard.
func (c *conn) startPump(oc *http1.ClientConn, snd *sending) {
	if c.m.pumpDone == nil {
		c.m.pumpDone = make(chan pumpResult, 1)
	}
	snd.started = true
	snd.pumping = true
	go c.pump(oc)
}

// finishPump waits for the pump. Unless wait is set, it first closes the
// origin connection so that a blocked pump ends now.
func (c *conn) finishPump(oc *http1.ClientConn, snd *sending, wait bool) {
	if !snd.pumping {
		return
	}
	if !wait {
		select {
		case r := <-c.m.pumpDone:
			c.pumped(snd, r)
			return
		default:
		}
		_ = oc.Conn.Close()
	}
	c.pumped(snd, <-c.m.pumpDone)
}

func (c *conn) pumped(snd *sending, r pumpResult) {
	snd.pumping = false
	snd.err = r.err
	snd.done = r.err == nil && c.m.body.Done()
}

// pump copies the request content to the origin (one goroutine per
// request with content still to read). It touches only the client reader
// and the origin writer; the serving goroutine keeps to the others.
func (c *conn) pump(oc *http1.ClientConn) {
	n, err := c.sendBody(oc)
	var ce *clientSideError
	if errors.As(err, &ce) {
		// The origin would wait for the rest forever: end its connection
		// so that the serving goroutine stops waiting for a response.
		_ = oc.Conn.Close()
	}
	c.m.pumpDone <- pumpResult{n, err}
}

// sendBody streams the request content to the origin, chunked if it came
// chunked, with progress deadlines on both sides.
func (c *conn) sendBody(oc *http1.ClientConn) (int64, error) {
	idle := c.s.o.IdleTimeout
	var start = c.m.body.Count()
	chunked := c.m.body.Kind() == http1.ChunkedBody
	cw := http1.ChunkedWriter{W: &oc.W}
	for {
		now := time.Now()
		_ = oc.Conn.SetWriteDeadline(now.Add(idle))
		if !chunked {
			if _, ok, err := c.m.body.Splice(&oc.W, 1<<20); ok {
				if err != nil {
					var he *http1.Error
					if errors.As(err, &he) {
						err = &clientSideError{err}
					}
					return c.m.body.Count() - start, err
				}
				if c.m.body.Done() {
					break
				}
				continue
			}
		}
		if c.r.Buffered() == 0 {
			if err := oc.W.Flush(); err != nil {
				return c.m.body.Count() - start, err
			}
			_ = c.raw.SetReadDeadline(now.Add(idle))
		}
		chunk, err := c.m.body.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c.m.body.Count() - start, &clientSideError{err}
		}
		if chunked {
			_, err = cw.Write(chunk)
		} else {
			_, err = oc.W.Write(chunk)
		}
		c.m.body.Consume(len(chunk))
		if err != nil {
			return c.m.body.Count() - start, err
		}
	}
	if chunked {
		c.m.trl.Reset()
		copyTrailer(&c.m.trl, &c.m.body.Trailer)
		_ = cw.Close(&c.m.trl)
	}
	return c.m.body.Count() - start, oc.W.Flush()
}

// notInTrailers are fields that must not travel as trailers (RFC 9110
// §6.5.1: framing, routing, authentication, content metadata), besides the
// hop-by-hop ones.
var notInTrailers = httpmsg.FieldNames{
	"Content-Length", "Transfer-Encoding", "Host", "Trailer", "Content-Encoding", "Content-Type",
	"Content-Range", "Authorization", "Proxy-Authorization", "Set-Cookie", "Cookie", "Cache-Control",
	"Expect", "Max-Forwards", "Pragma", "Range", "TE", "Age", "Expires", "Date", "Location",
	"Retry-After", "Vary", "Warning", "WWW-Authenticate", "Proxy-Authenticate",
}

// copyTrailer copies the trailer fields that may be forwarded.
func copyTrailer(dst, src *httpmsg.Header) {
	for i := 0; i < src.Len(); i++ {
		name, value := src.Field(i)
		if !notInTrailers.Contains(name) && !httpmsg.RequestHopByHop.Contains(name) {
			dst.Add(name, value)
		}
	}
}

// originKeepAlive reports whether the origin lets its connection be reused
// (RFC 9112 §9.3).
func originKeepAlive(h *httpmsg.ResponseHead) bool {
	if h.Version.AtLeast(1, 1) {
		return !h.Header.HasToken("Connection", "close")
	}
	return h.Header.HasToken("Connection", "keep-alive")
}
