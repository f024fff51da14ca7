package httpface

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/upstream"
)

// stdRequest builds the request for a round tripper: the target's address
// as the URL host (the transport dials it), the TLS name from the config or
// the target's host name, the header given, and body.
func stdRequest(ctx context.Context, u *Upstream, host *upstream.Host, out *httpmsg.RequestHead, body io.Reader, length int64) (*http.Request, error) {
	scheme := "http"
	if u.TLS != nil || u.Protocol == "h2" {
		scheme = "https"
	}
	url := scheme + "://" + host.Addr().String() + string(out.Path)
	req, err := http.NewRequestWithContext(ctx, string(out.Method), url, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = length
	if body == nil || length == 0 {
		req.Body = http.NoBody
	}
	for i := 0; i < out.Header.Len(); i++ {
		name, value := out.Header.Field(i)
		switch {
		case httpmsg.EqualFold(name, "Host"):
			req.Host = string(value)
		case httpmsg.EqualFold(name, "Content-Length"), httpmsg.EqualFold(name, "Transfer-Encoding"),
			httpmsg.EqualFold(name, "Connection"):
		default:
			req.Header.Add(string(name), string(value))
		}
	}
	if name := host.Name(); name != "" && u.TLS != nil {
		// TLS verifies the target by its configured name, not the IP dialed.
		u.Transport.names.Store(host.Addr().String(), name)
	}
	return req, nil
}

// exchangeStd is the HTTP/2 front's exchange with a round-tripper upstream.
func (x *h2exchange) exchangeStd(t *tries) {
	s, q, r := x.s, x.q, x.r
	u := t.u
	out := x.buildOutbound()
	// gRPC needs TE: trailers end to end (RFC 9113 §8.2.2 allows it).
	if r.Header.Get("TE") == "trailers" {
		out.Header.SetBytes("Te", []byte("trailers"))
	}
	length := r.ContentLength
	// The round-tripper closes the body of a request that fails; the
	// stream's body stays open for the next target, and what was read of
	// it is counted.
	body := &countingReader{r: r.Body}
	if r.Body == nil || r.Body == http.NoBody {
		length = 0
	}
	var resp *http.Response
	var began time.Time
	var host *upstream.Host
	var try stdTry
	defer try.stop()
	// A fill outlives the stream that leads it: its followers and the
	// store want the response even if this client goes away.
	parent := r.Context()
	if x.fill != nil {
		parent = s.ctx
		x.fill.Prepare(out)
	}
	for {
		host = t.host
		ctx := try.begin(parent)
		var rb io.Reader = body
		if length == 0 {
			rb = nil
		}
		req, err := stdRequest(ctx, u, host, out, rb, length)
		if err != nil {
			x.plain(http.StatusBadRequest, err.Error())
			return
		}
		req.Trailer = r.Trailer
		host.Begin()
		began = time.Now()
		x.sent = began
		timer := time.AfterFunc(x.responseTimeout(u), try.cancel)
		resp, err = u.Transport.RoundTrip(req)
		timer.Stop()
		resp, err = discardLate(ctx, resp, err)
		if err != nil {
			if r.Context().Err() != nil {
				host.End(upstream.Outcome{Abandoned: true})
				x.err = "stream reset by the client"
				return
			}
			if isConnectFailure(err) {
				host.End(upstream.Outcome{ConnectFailed: true})
				if body.n.Load() == 0 && t.next() {
					continue
				}
			} else {
				host.End(upstream.Outcome{Latency: time.Since(began)})
				if ctx.Err() != nil && t.onTimeout() || ctx.Err() == nil && t.onBroken() {
					continue
				}
			}
			if x.staleOnFailure(err) {
				return
			}
			if ctx.Err() != nil {
				x.plain(http.StatusGatewayTimeout, "upstream timed out")
				return
			}
			x.plain(http.StatusBadGateway, "upstream failed: "+err.Error())
			return
		}
		if t.onStatus(resp.StatusCode) {
			host.End(upstream.Outcome{Status: resp.StatusCode, Latency: time.Since(began)})
			resp.Body.Close()
			continue
		}
		break
	}
	stdResponseHead(&q.resp, resp)
	if x.fillResponse() {
		// The cache answers (a 304 refreshed what it holds, or a stale
		// response stands in for a 5xx).
		resp.Body.Close()
		host.End(upstream.Outcome{Status: resp.StatusCode, Latency: time.Since(began)})
		x.writeCached()
		return
	}
	h := &q.rout
	h.Reset()
	h.Status = resp.StatusCode
	h.Header.CopyFrom(&q.resp.Header)
	if x.cache != nil {
		x.addCacheStatus(&h.Header)
		x.invalidate()
	}
	x.writeHead(h)
	var n int64
	var err error
	filled := x.fill != nil
	if filled {
		n, err = x.relayStdFill(resp, &try) // trailers included
	} else {
		n, err = copyFlush(x.w, resp.Body)
		resp.Body.Close()
	}
	x.down = n
	x.up = body.n.Load()
	host.End(upstream.Outcome{Status: resp.StatusCode, Latency: time.Since(began)})
	if err != nil {
		x.err = "relaying response: " + err.Error()
		panic(http.ErrAbortHandler)
	}
	if filled {
		return
	}
	// Trailers are known once the body has ended (gRPC's status travels
	// there); TrailerPrefix sends them without announcing them first.
	for name, values := range resp.Trailer {
		for _, v := range values {
			x.w.Header().Add(http.TrailerPrefix+name, v)
		}
	}
}

func (x *h2exchange) responseTimeout(u *Upstream) time.Duration {
	if u.ResponseTimeout > 0 {
		return u.ResponseTimeout
	}
	return x.s.o.ResponseTimeout
}

// copyFlush copies src to w, flushing after each read so that streamed
// responses (gRPC server streams, server-sent events) are not held back.
func copyFlush(w http.ResponseWriter, src io.Reader) (int64, error) {
	f, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			if f != nil {
				f.Flush()
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// proxyStd is the HTTP/1.1 front's exchange with a round-tripper upstream:
// the request goes as net/http builds it, the response comes back through
// the http1 writer.
func (c *conn) proxyStd(t *tries, f http1.Framing) {
	s := c.s
	u := t.u
	out := &c.m.out
	var body io.Reader
	length := int64(0)
	switch f.Kind {
	case http1.LengthBody:
		body, length = &c.m.body, f.Length
	case http1.ChunkedBody:
		body, length = &c.m.body, -1
	}
	var resp *http.Response
	var began time.Time
	host := t.host
	var try stdTry
	defer try.stop()
	if c.x.fill != nil {
		c.x.fill.Prepare(out)
	}
	for {
		host = t.host
		ctx := try.begin(s.ctx)
		req, err := stdRequest(ctx, u, host, out, body, length)
		if err != nil {
			c.fail(400, "bad request", err)
			return
		}
		host.Begin()
		began = time.Now()
		c.x.sent = began
		timer := time.AfterFunc(c.responseTimeout(), try.cancel)
		resp, err = u.Transport.RoundTrip(req)
		timer.Stop()
		resp, err = discardLate(ctx, resp, err)
		c.x.up = c.m.body.Count()
		// Content read from the client cannot go to another target.
		unsent := c.m.body.Count() == 0
		if err != nil {
			if isConnectFailure(err) {
				host.End(upstream.Outcome{ConnectFailed: true})
				if unsent && t.next() {
					continue
				}
			} else {
				host.End(upstream.Outcome{Latency: time.Since(began)})
				if f.Empty() && (ctx.Err() != nil && t.onTimeout() || ctx.Err() == nil && t.onBroken()) {
					continue
				}
			}
			if !c.m.body.Done() {
				c.x.closeConn = true
			}
			if c.staleOnFailure(err) {
				return
			}
			if ctx.Err() != nil {
				c.fail(504, "upstream timed out", nil)
				return
			}
			c.fail(502, "upstream failed", err)
			return
		}
		if f.Empty() && t.onStatus(resp.StatusCode) {
			host.End(upstream.Outcome{Status: resp.StatusCode, Latency: time.Since(began)})
			resp.Body.Close()
			continue
		}
		break
	}
	if !c.m.body.Done() {
		c.x.closeConn = true
	}
	stdResponseHead(&c.m.resp, resp)
	if c.fillResponse() {
		// The cache answers (a 304 refreshed what it holds, or a stale
		// response stands in for a 5xx).
		resp.Body.Close()
		host.End(upstream.Outcome{Status: resp.StatusCode, Latency: time.Since(began)})
		c.writeCached()
		return
	}
	var err error
	h := &c.m.rout
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = resp.StatusCode
	h.Header.CopyFrom(&c.m.resp.Header)
	h.Header.RemoveHopByHop(httpmsg.ResponseHopByHop, false)
	h.Header.Del("Content-Length")
	c.responseRules(&h.Header, s.via11)
	chunked := false
	switch {
	case resp.ContentLength >= 0 && len(resp.Trailer) == 0:
		h.Header.AddString("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	case c.m.req.Version.AtLeast(1, 1):
		chunked = true
		h.Header.AddString("Transfer-Encoding", "chunked")
	default:
		c.x.closeConn = true
	}
	if c.x.closeConn || !c.clientKeepAlive() || s.shutting.Load() {
		c.x.closeConn = true
		h.Header.AddString("Connection", "close")
	}
	if c.x.cache != nil {
		c.addCacheStatus(&h.Header)
		c.invalidate()
	}
	c.x.status = resp.StatusCode
	c.extendWrite()
	c.w.WriteResponseHead(h)
	var n int64
	switch {
	case c.x.fill != nil:
		n, err = c.relayStdFill(resp, &try, chunked)
	case chunked:
		cw := http1.ChunkedWriter{W: &c.w}
		n, err = io.Copy(cw, resp.Body)
		if err == nil {
			err = cw.Close(stdTrailer(resp))
		}
		resp.Body.Close()
	default:
		n, err = io.Copy(&c.w, resp.Body)
		resp.Body.Close()
	}
	c.x.down = n
	if ferr := c.w.Flush(); err == nil {
		err = ferr
	}
	host.End(upstream.Outcome{Status: resp.StatusCode, Latency: time.Since(began)})
	if err != nil {
		c.x.closeConn = true
		c.x.err = "relaying response: " + err.Error()
	}
	c.logAccess()
}

// stdTry is the context of one try with a round-tripper upstream: the
// response timeout cancels it, and so does the next try or the end of the
// exchange.
type stdTry struct{ cancel context.CancelFunc }

// begin ends the previous try's context and returns a new one.
func (t *stdTry) begin(parent context.Context) context.Context {
	t.stop()
	ctx, cancel := context.WithCancel(parent)
	t.cancel = cancel
	return ctx
}

func (t *stdTry) stop() {
	if t.cancel != nil {
		t.cancel()
	}
}

// discardLate turns a response that came after the try's context was
// cancelled (its response timeout fired, or the client went away) into the
// cancellation's error. net/http's Transport hands over a response that
// races the cancellation, and that response may be the target's reaction
// to it (a handler that gave up when its connection closed, answering an
// empty 200): it must not reach the client as the answer.
func discardLate(ctx context.Context, resp *http.Response, err error) (*http.Response, error) {
	if err == nil && ctx.Err() != nil {
		resp.Body.Close()
		return nil, ctx.Err()
	}
	return resp, err
}
