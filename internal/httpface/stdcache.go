package httpface

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// The cache's part of exchanges with round-tripper upstreams (h2c, h2,
// HTTP/1.1 over TLS; stdupstream.go): the response head becomes our
// message model for the cache, and a stored response's content is copied
// into the cache by a fillCopy from the response body while the leader
// reads it back (cachefill.go).

// stdResponseHead copies a round tripper's response head into h: status,
// fields, and Content-Length when the length is known.
func stdResponseHead(h *httpmsg.ResponseHead, resp *http.Response) {
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = resp.StatusCode
	for name, values := range resp.Header {
		if name == "Content-Length" {
			continue
		}
		for _, v := range values {
			h.Header.AddString(name, v)
		}
	}
	if resp.ContentLength >= 0 {
		h.Header.AddString("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
}

// stdTrailer returns resp's trailer fields, known once its body ended.
func stdTrailer(resp *http.Response) *httpmsg.Header {
	var trl httpmsg.Header
	for name, values := range resp.Trailer {
		for _, v := range values {
			trl.AddString(name, v)
		}
	}
	return &trl
}

var stdBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// stdSource is a round tripper's response body as a fillSource. Its
// request context is its own: the copy outlives the request that started
// it, and the idle timer cancels it when the upstream sends nothing for
// idle.
type stdSource struct {
	body    io.ReadCloser
	cancel  context.CancelFunc
	idle    time.Duration
	timer   *time.Timer
	buf     *[]byte
	pending []byte
	err     error
}

// newStdSource takes over resp's body and the cancel of its request's
// context.
func newStdSource(resp *http.Response, cancel context.CancelFunc, idle time.Duration) *stdSource {
	return &stdSource{body: resp.Body, cancel: cancel, idle: idle,
		timer: time.AfterFunc(idle, cancel), buf: stdBufs.Get().(*[]byte)}
}

func (s *stdSource) next() ([]byte, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		s.timer.Reset(s.idle)
		n, err := s.body.Read(*s.buf)
		s.pending, s.err = (*s.buf)[:n], err
	}
	return s.pending, nil
}

func (s *stdSource) consume(n int) { s.pending = s.pending[n:] }

// release closes the body (a transport pools its connection when the body
// was read whole) and ends the request's context.
func (s *stdSource) release(bool) {
	s.timer.Stop()
	_ = s.body.Close()
	s.cancel()
	s.pending = nil
	stdBufs.Put(s.buf)
	s.buf = nil
}

// relay copies the rest of the content to w (after a hand-back) and lets
// the upstream go.
func (s *stdSource) relay(w io.Writer) (int64, error) {
	var n int64
	for {
		chunk, err := s.next()
		if err == io.EOF {
			s.release(true)
			return n, nil
		}
		if err != nil {
			s.release(false)
			return n, err
		}
		k, werr := w.Write(chunk)
		n += int64(k)
		s.consume(len(chunk))
		if werr != nil {
			s.release(false)
			return n, werr
		}
	}
}

// relayStdFill is proxyStd's relay of a response this request leads a
// fill for: the copy into the cache runs on its own goroutine with the
// request's context (taken from try), and the client reads the object. It
// writes the chunked end with resp's trailers when chunked.
func (c *conn) relayStdFill(resp *http.Response, try *stdTry, chunked bool) (int64, error) {
	f := c.x.fill
	c.x.fill = nil
	src := newStdSource(resp, try.cancel, c.s.o.IdleTimeout)
	try.cancel = nil
	fc := startFill(f, src, &c.m.cres)
	fw := &c.m.fw
	*fw = flushWriter{c: c, chunked: chunked}
	c.m.cw = http1.ChunkedWriter{W: &c.w}
	n, back, err := fc.lead(&c.m.cres, fw)
	if back {
		var w io.Writer = &c.w
		if chunked {
			w = c.m.cw
		}
		var k int64
		k, err = src.relay(w)
		n += k
	}
	if err == nil && chunked {
		err = c.m.cw.Close(stdTrailer(resp))
	}
	return n, err
}

// relayStdFill is exchangeStd's relay of a response this stream leads a
// fill for (see conn.relayStdFill). Trailers go to the client as HTTP/2
// trailers.
func (x *h2exchange) relayStdFill(resp *http.Response, try *stdTry) (int64, error) {
	f := x.fill
	x.fill = nil
	src := newStdSource(resp, try.cancel, x.s.o.IdleTimeout)
	try.cancel = nil
	res := &x.q.cache.cres
	fc := startFill(f, src, res)
	w := h2flusher{x.w}
	n, back, err := fc.lead(res, w)
	if back {
		var k int64
		k, err = src.relay(w)
		n += k
	}
	if err == nil {
		for name, values := range resp.Trailer {
			for _, v := range values {
				x.w.Header().Add(http.TrailerPrefix+name, v)
			}
		}
	}
	return n, err
}
