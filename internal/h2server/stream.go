package h2server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

var (
	errStreamReset = errors.New("h2server: stream reset")
	errStreamDone  = errors.New("h2server: stream ended")
)

// stream is one request and its response; it is the handler's
// http.ResponseWriter.
type stream struct {
	sc     *conn
	id     uint32
	ctx    context.Context
	cancel context.CancelFunc
	req    *http.Request
	body   *body // nil when the request has no content

	// Under sc.wmu.
	sendWindow int32
	recvWindow int32
	sentHead   bool
	ended      bool // END_STREAM sent
	werr       error

	// Under sc.mu.
	remoteClosed bool // END_STREAM received
	forgotten    bool // out of sc.streams
	deferred     bool // its handler waits for the content's end

	// The handler's alone.
	hdr       http.Header
	status    int
	buf       []byte
	written   int64
	declared  []string // trailer names the head announced
	head      bool     // a HEAD request: no content is sent
	deadlineT *time.Timer
}

func tlsStateOf(c net.Conn) *tls.ConnectionState {
	if cs, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		s := cs.ConnectionState()
		return &s
	}
	return nil
}

// onHeaders opens a stream, or takes a request's trailers.
func (sc *conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	sc.mu.Lock()
	if st := sc.streams[id]; st != nil {
		return sc.onTrailers(st, f) // it unlocks sc.mu
	}
	if id <= sc.lastID {
		sc.mu.Unlock()
		return nil // a stream that is over: ignored (its block is decoded)
	}
	sc.lastID = id
	if sc.goingAway {
		sc.mu.Unlock()
		return nil // after our GOAWAY: ignored
	}
	if sc.handlers >= int(sc.o.MaxConcurrentStreams) {
		sc.refused++
		refused := sc.refused
		sc.mu.Unlock()
		if refused > maxRefused {
			return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
		}
		_ = sc.write(func() error { return sc.fr.WriteRSTStream(id, http2.ErrCodeRefusedStream) })
		return nil
	}
	sc.mu.Unlock()

	if f.Truncated {
		// Over the header list limit: 431, as HTTP/1.1 gets (RFC 6585).
		sc.answerOnly(id, http.StatusRequestHeaderFieldsTooLarge)
		return nil
	}
	req, code := sc.newRequest(f)
	if code != 0 {
		sc.streamError(id, code)
		return nil
	}
	st := sc.newStream(id, req, f.StreamEnded())
	if req.ContentLength == 0 && !f.StreamEnded() {
		// Content-Length 0 with the stream still open: the handler starts
		// once the (empty) content has ended, so that data sent against
		// the declared length resets the stream before any answer.
		st.deferred = true
		return nil
	}
	sc.run(st)
	return nil
}

// startDeferred starts the handler of a stream that waited for its
// content to end.
func (sc *conn) startDeferred(st *stream) {
	sc.mu.Lock()
	start := st.deferred && !st.forgotten
	st.deferred = false
	sc.mu.Unlock()
	if start {
		sc.run(st)
	}
}

// answerOnly answers a stream Janus will not hand to the handler.
func (sc *conn) answerOnly(id uint32, status int) {
	_ = sc.write(func() error {
		sc.encBuf.Reset()
		_ = sc.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
		return sc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: sc.encBuf.Bytes(), EndStream: true, EndHeaders: true})
	})
}

func (sc *conn) newStream(id uint32, req *http.Request, ended bool) *stream {
	ctx, cancel := context.WithCancel(sc.ctx)
	st := &stream{sc: sc, id: id, ctx: ctx, cancel: cancel, head: req.Method == http.MethodHead}
	if !ended {
		st.body = newBody(st, req.ContentLength)
		// The client waits for a 100 before sending (RFC 9110 §10.1.1):
		// it gets one when the handler first reads the content.
		st.body.continue100 = strings.EqualFold(req.Header.Get("Expect"), "100-continue")
		req.Body = st.body
	} else {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	st.req = req.WithContext(ctx)
	sc.wmu.Lock()
	st.sendWindow = sc.peerWindow
	st.recvWindow = sc.o.StreamWindow
	sc.wmu.Unlock()
	sc.mu.Lock()
	st.remoteClosed = ended
	sc.streams[id] = st
	sc.handlers++
	sc.mu.Unlock()
	return st
}

// startUpgraded serves the request of an h2c upgrade as stream 1.
func (sc *conn) startUpgraded(up *Upgrade) {
	req := up.Request
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/2.0", 2, 0
	req.RemoteAddr = sc.remote
	sc.mu.Lock()
	sc.lastID = 1
	sc.mu.Unlock()
	st := sc.newStream(1, req, true)
	sc.run(st)
}

// run starts the handler of st.
func (sc *conn) run(st *stream) {
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		defer sc.handlerDone(st)
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					buf := make([]byte, 16<<10)
					buf = buf[:runtime.Stack(buf, false)]
					sc.o.Log.Error("http2: handler panic", "client", sc.remote, "panic", fmt.Sprint(p), "stack", string(buf))
				}
				st.abort()
			}
		}()
		sc.h.ServeHTTP(st, st.req)
		st.finish()
	}()
}

// handlerDone forgets st once its handler has returned; a stream whose
// client is still sending is reset (RFC 9113 §8.1: the response is complete).
func (sc *conn) handlerDone(st *stream) {
	if st.deadlineT != nil {
		st.deadlineT.Stop()
	}
	sc.mu.Lock()
	sc.handlers--
	open := !st.remoteClosed && !st.forgotten
	sc.forget(st)
	last := sc.goingAway && len(sc.streams) == 0
	sc.mu.Unlock()
	st.cancel()
	if open {
		_ = sc.write(func() error { return sc.fr.WriteRSTStream(st.id, http2.ErrCodeNo) })
	}
	if last {
		sc.closeSoon(goAwayGrace)
	}
}

// forget takes st out of the stream table; sc.mu is held. A stream whose
// handler never started gives its handler slot back here.
func (sc *conn) forget(st *stream) {
	if !st.forgotten {
		st.forgotten = true
		delete(sc.streams, st.id)
		if st.deferred {
			st.deferred = false
			sc.handlers--
			st.cancel()
		}
	}
}

// remoteEnded notes the client's END_STREAM on st.
func (sc *conn) remoteEnded(st *stream) {
	sc.mu.Lock()
	st.remoteClosed = true
	sc.mu.Unlock()
}

// reset ends st's request and response for its handler; sc.mu is held.
func (st *stream) reset(err error) {
	st.cancel()
	if st.body != nil {
		st.body.fail(err)
	}
	st.sc.wcond.Broadcast()
}

// onTrailers takes the trailer section of a request (RFC 9113 §8.1); it
// is called with sc.mu held and unlocks it.
func (sc *conn) onTrailers(st *stream, f *http2.MetaHeadersFrame) error {
	if !f.StreamEnded() || st.remoteClosed || st.body == nil {
		sc.mu.Unlock()
		sc.streamError(st.id, http2.ErrCodeProtocol)
		return nil
	}
	st.remoteClosed = true
	sc.mu.Unlock()
	tr := http.Header{}
	for _, hf := range f.RegularFields() {
		tr.Add(hf.Name, hf.Value)
	}
	if len(f.PseudoFields()) > 0 {
		sc.streamError(st.id, http2.ErrCodeProtocol)
		return nil
	}
	st.body.trailers(tr)
	sc.startDeferred(st)
	return nil
}

// newRequest checks a request head (RFC 9113 §8.2, §8.3) and makes the
// handler's request of it; a non-zero code refuses the stream.
func (sc *conn) newRequest(f *http2.MetaHeadersFrame) (*http.Request, http2.ErrCode) {
	var method, scheme, authority, path, protocol string
	var seen [5]bool
	for _, hf := range f.PseudoFields() {
		var i int
		switch hf.Name {
		case ":method":
			i, method = 0, hf.Value
		case ":scheme":
			i, scheme = 1, hf.Value
		case ":authority":
			i, authority = 2, hf.Value
		case ":path":
			i, path = 3, hf.Value
		case ":protocol":
			i, protocol = 4, hf.Value
		default:
			return nil, http2.ErrCodeProtocol
		}
		if seen[i] {
			return nil, http2.ErrCodeProtocol
		}
		seen[i] = true
	}
	switch {
	case method == "":
		return nil, http2.ErrCodeProtocol
	case method == http.MethodConnect && protocol == "":
		if authority == "" || scheme != "" || path != "" {
			return nil, http2.ErrCodeProtocol
		}
	case protocol != "" && (method != http.MethodConnect || !sc.o.ConnectProtocol):
		return nil, http2.ErrCodeProtocol
	default:
		if scheme == "" || path == "" {
			return nil, http2.ErrCodeProtocol
		}
	}
	if !httpguts.ValidHostHeader(authority) {
		return nil, http2.ErrCodeProtocol
	}
	fields := f.RegularFields()
	h := make(http.Header, len(fields)+1)
	var cookies []string
	for _, hf := range fields {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return nil, http2.ErrCodeProtocol // connection-specific (§8.2.2)
		case "te":
			if hf.Value != "trailers" {
				return nil, http2.ErrCodeProtocol
			}
		case "cookie":
			cookies = append(cookies, hf.Value) // joined below (§8.2.3)
			continue
		}
		k := http.CanonicalHeaderKey(hf.Name)
		h[k] = append(h[k], hf.Value)
	}
	if len(cookies) > 0 {
		h["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	if protocol != "" {
		h[":protocol"] = []string{protocol}
	}
	req := &http.Request{
		Method: method, Proto: "HTTP/2.0", ProtoMajor: 2, Header: h,
		Host: authority, RequestURI: path, RemoteAddr: sc.remote, TLS: sc.tlsConn,
		ContentLength: -1,
	}
	if req.Host == "" {
		req.Host = h.Get("Host")
	}
	var err error
	if method == http.MethodConnect && protocol == "" {
		req.URL = &url.URL{Host: authority}
		req.RequestURI = authority
	} else if req.URL, err = url.ParseRequestURI(path); err != nil {
		return nil, http2.ErrCodeProtocol
	}
	if cl := h["Content-Length"]; len(cl) > 0 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return nil, http2.ErrCodeProtocol
			}
		}
		n, err := strconv.ParseUint(cl[0], 10, 63) // digits only: no sign, no prefix
		if err != nil {
			return nil, http2.ErrCodeProtocol
		}
		req.ContentLength = int64(n)
	}
	if vv := h["Trailer"]; len(vv) > 0 {
		req.Trailer = http.Header{}
		for _, name := range trailerNames(vv) {
			req.Trailer[name] = nil
		}
	}
	return req, 0
}

// trailerNames lists the field names a Trailer field's values declare,
// canonical.
func trailerNames(vv []string) []string {
	var names []string
	for _, v := range vv {
		for name := range strings.SplitSeq(v, ",") {
			if name = http.CanonicalHeaderKey(strings.TrimSpace(name)); name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// Header, WriteHeader, Write and Flush make a stream an
// http.ResponseWriter and an http.Flusher.
func (st *stream) Header() http.Header {
	if st.hdr == nil {
		st.hdr = make(http.Header, 8)
	}
	return st.hdr
}

func (st *stream) WriteHeader(code int) {
	if st.status != 0 {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		st.sendInterim(code, st.hdr)
		return
	}
	st.status = code
}

func (st *stream) Write(p []byte) (int, error) {
	if st.status == 0 {
		st.WriteHeader(http.StatusOK)
	}
	if st.head {
		st.written += int64(len(p))
		return len(p), nil
	}
	if len(st.buf)+len(p) <= maxBuffered {
		st.buf = append(st.buf, p...)
		return len(p), nil
	}
	if err := st.send(st.buf, false); err != nil {
		return 0, err
	}
	st.buf = st.buf[:0]
	if len(p) > maxBuffered {
		if err := st.send(p, false); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	st.buf = append(st.buf, p...)
	return len(p), nil
}

func (st *stream) WriteString(s string) (int, error) { return st.Write([]byte(s)) }

// maxBuffered is what a stream holds back before sending: a response
// written in pieces leaves in one DATA frame when it is small.
const maxBuffered = 16 << 10

func (st *stream) Flush() { _ = st.FlushError() }

func (st *stream) FlushError() error {
	if st.status == 0 {
		st.WriteHeader(http.StatusOK)
	}
	err := st.send(st.buf, false)
	st.buf = st.buf[:0]
	return err
}

// SetWriteDeadline makes writes waiting for the client's window give up
// at t (http.ResponseController).
func (st *stream) SetWriteDeadline(t time.Time) error {
	if st.deadlineT != nil {
		st.deadlineT.Stop()
	}
	expire := func() {
		st.sc.wmu.Lock()
		if st.werr == nil {
			st.werr = os.ErrDeadlineExceeded
		}
		st.sc.wmu.Unlock()
		st.sc.wcond.Broadcast()
	}
	if t.IsZero() {
		return nil
	}
	if d := time.Until(t); d <= 0 {
		expire()
	} else {
		st.deadlineT = time.AfterFunc(d, expire)
	}
	return nil
}

// SetReadDeadline bounds the wait for the request's content.
func (st *stream) SetReadDeadline(t time.Time) error {
	if st.body != nil {
		st.body.setDeadline(t)
	}
	return nil
}

// sendInterim sends a 1xx response with the fields of h (nil: none).
func (st *stream) sendInterim(code int, h http.Header) {
	sc := st.sc
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if sc.wdead || st.ended {
		return
	}
	sc.encBuf.Reset()
	_ = sc.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(code)})
	st.encodeFields(h, false)
	_ = sc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: sc.encBuf.Bytes(), EndHeaders: true})
}

// finish ends the response when the handler returns: the head if it was
// not sent (with Content-Length when the whole content is known), the
// content held back, and the trailers.
func (st *stream) finish() {
	if st.status == 0 {
		st.status = http.StatusOK
	}
	tr := st.trailers()
	if !st.sentHeadNow() && st.hdr["Content-Length"] == nil && bodyAllowed(st.status) && (!st.head || st.written > 0) {
		n := int64(len(st.buf))
		if st.head {
			n = st.written
		}
		st.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	}
	if err := st.send(st.buf, tr == nil); err != nil {
		return
	}
	if tr != nil {
		st.sendTrailers(tr)
	}
}

func (st *stream) sentHeadNow() bool {
	st.sc.wmu.Lock()
	defer st.sc.wmu.Unlock()
	return st.sentHead
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// trailers gathers the trailer fields set after the head: those it
// declared in Trailer and those named with http.TrailerPrefix.
func (st *stream) trailers() http.Header {
	var tr http.Header
	for k, vv := range st.hdr {
		name, ok := strings.CutPrefix(k, http.TrailerPrefix)
		if !ok {
			continue
		}
		if tr == nil {
			tr = http.Header{}
		}
		tr[http.CanonicalHeaderKey(name)] = vv
	}
	for _, name := range st.declared {
		if vv := st.hdr[name]; len(vv) > 0 {
			if tr == nil {
				tr = http.Header{}
			}
			tr[name] = vv
		}
	}
	return tr
}

// abort resets the stream after a handler panic (http.ErrAbortHandler
// included): the client must not take a cut response for a whole one.
func (st *stream) abort() {
	sc := st.sc
	_ = sc.write(func() error {
		if st.ended {
			return nil
		}
		st.ended = true
		return sc.fr.WriteRSTStream(st.id, http2.ErrCodeInternal)
	})
}

// send writes the head if it was not, then p; end ends the stream.
func (st *stream) send(p []byte, end bool) error {
	sc := st.sc
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if err := st.writable(); err != nil {
		return err
	}
	if !st.sentHead {
		st.sentHead = true
		endNow := end && len(p) == 0
		if err := st.writeHead(endNow); err != nil {
			return err
		}
		if endNow {
			st.ended = true
			return nil
		}
	}
	for {
		n := min(len(p), sc.peerFrame)
		for n > 0 && (sc.sendWindow <= 0 || st.sendWindow <= 0) {
			sc.wcond.Wait()
			if err := st.writable(); err != nil {
				return err
			}
		}
		n = min(n, int(sc.sendWindow), int(st.sendWindow))
		last := end && n == len(p)
		if n == 0 && !last {
			return nil
		}
		if err := sc.fr.WriteData(st.id, last, p[:n]); err != nil {
			st.werr = err
			return err
		}
		sc.sendWindow -= int32(n)
		st.sendWindow -= int32(n)
		p = p[n:]
		if last {
			st.ended = true
			return nil
		}
		if len(p) == 0 && !end {
			return nil
		}
	}
}

// writable reports why st can take no more frames; sc.wmu is held.
func (st *stream) writable() error {
	switch {
	case st.sc.wdead:
		return errConnDone
	case st.werr != nil:
		return st.werr
	case st.ended:
		return errStreamDone
	case st.ctx.Err() != nil:
		return errStreamReset
	}
	return nil
}

// writeHead encodes and writes the response head; sc.wmu is held.
func (st *stream) writeHead(end bool) error {
	sc := st.sc
	sc.encBuf.Reset()
	_ = sc.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(st.status)})
	st.encodeFields(st.hdr, true)
	if st.hdr["Date"] == nil {
		_ = sc.enc.WriteField(hpack.HeaderField{Name: "date", Value: httpDate()})
	}
	return st.writeBlock(end)
}

// writeBlock writes the encoded field block, in CONTINUATION frames past
// the client's frame size.
func (st *stream) writeBlock(end bool) error {
	sc := st.sc
	block := sc.encBuf.Bytes()
	first := min(len(block), sc.peerFrame)
	if err := sc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: block[:first],
		EndStream: end, EndHeaders: first == len(block)}); err != nil {
		st.werr = err
		return err
	}
	for block = block[first:]; len(block) > 0; {
		n := min(len(block), sc.peerFrame)
		if err := sc.fr.WriteContinuation(st.id, n == len(block), block[:n]); err != nil {
			st.werr = err
			return err
		}
		block = block[n:]
	}
	return nil
}

// encodeFields adds h's fields to the block: names in lower case, without
// connection-specific ones (RFC 9113 §8.2.2) and trailer-only ones. In a
// head it notes the trailers that Trailer declares.
func (st *stream) encodeFields(h http.Header, head bool) {
	enc := st.sc.enc
	for k, vv := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) || connectionSpecific(k) {
			continue
		}
		if head && k == "Trailer" {
			st.declared = append(st.declared, trailerNames(vv)...)
		}
		name := lowerName(k)
		for _, v := range vv {
			_ = enc.WriteField(hpack.HeaderField{Name: name, Value: v})
		}
	}
}

func (st *stream) sendTrailers(tr http.Header) {
	sc := st.sc
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if st.writable() != nil {
		return
	}
	sc.encBuf.Reset()
	st.encodeFields(tr, false)
	_ = st.writeBlock(true)
	st.ended = true
}

func connectionSpecific(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// lowerName is k in lower case, without allocating for common names.
func lowerName(k string) string {
	if v, ok := commonLower[k]; ok {
		return v
	}
	return strings.ToLower(k)
}

var commonLower = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept-Ranges", "Age", "Alt-Svc", "Cache-Control", "Cache-Status", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Range", "Content-Type", "Date", "Etag", "Expires",
		"Last-Modified", "Location", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer", "Vary",
		"Via", "Www-Authenticate", "X-Request-Id", "Retry-After", "Ratelimit", "Ratelimit-Policy", "Allow"} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// httpDate is the current time in the Date field's format, made at most
// once a second.
func httpDate() string {
	now := time.Now().Unix()
	dateMu.Lock()
	defer dateMu.Unlock()
	if now != dateAt {
		dateAt = now
		dateVal = time.Unix(now, 0).UTC().Format(http.TimeFormat)
	}
	return dateVal
}

var (
	dateMu  sync.Mutex
	dateAt  int64
	dateVal string
)

// body is a request's content as it arrives, read by the handler; reading
// gives the client its window back.
type body struct {
	st      *stream
	mu      sync.Mutex
	cond    sync.Cond
	data    []byte
	eof     bool
	err     error
	left    int64 // -1: no Content-Length
	tr      http.Header
	timer   *time.Timer
	expired bool

	continue100 bool // send 100 (Continue) at the first read
}

func newBody(st *stream, length int64) *body {
	b := &body{st: st, left: length}
	b.cond.L = &b.mu
	return b
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.continue100 {
		b.continue100 = false
		b.mu.Unlock()
		b.st.sendInterim(http.StatusContinue, nil)
		b.mu.Lock()
	}
	for len(b.data) == 0 && !b.eof && b.err == nil && !b.expired {
		b.cond.Wait()
	}
	if len(b.data) == 0 {
		defer b.mu.Unlock()
		switch {
		case b.err != nil:
			return 0, b.err
		case b.eof:
			if b.tr != nil && b.st.req.Trailer != nil {
				for k, vv := range b.tr {
					b.st.req.Trailer[k] = vv
				}
			}
			return 0, io.EOF
		}
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	if len(b.data) == 0 {
		b.data = nil
	}
	b.mu.Unlock()
	b.st.sc.refund(b.st.id, n)
	return n, nil
}

func (b *body) Close() error {
	b.fail(errBodyClosed)
	return nil
}

var errBodyClosed = errors.New("h2server: request body closed")

// put adds what a DATA frame carried; an error means the content broke its
// Content-Length.
func (b *body) put(p []byte, end bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left >= 0 {
		b.left -= int64(len(p))
		if b.left < 0 || end && b.left != 0 {
			b.err = io.ErrUnexpectedEOF
			b.cond.Broadcast()
			return b.err
		}
	}
	if b.err == nil {
		b.data = append(b.data, p...)
	}
	if end {
		b.eof = true
	}
	b.cond.Broadcast()
	return nil
}

func (b *body) trailers(tr http.Header) {
	b.mu.Lock()
	b.tr = tr
	b.eof = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *body) fail(err error) {
	b.mu.Lock()
	if b.err == nil && !b.eof || b.err == nil && err == errBodyClosed {
		b.err = err
	}
	b.data = nil
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *body) setDeadline(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.expired = false
	if t.IsZero() {
		return
	}
	d := time.Until(t)
	if d <= 0 {
		b.expired = true
		b.cond.Broadcast()
		return
	}
	b.timer = time.AfterFunc(d, func() {
		b.mu.Lock()
		b.expired = true
		b.cond.Broadcast()
		b.mu.Unlock()
	})
}
