package httpface

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/h2server"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/sniff"
	"github.com/janus-proxy/janus/internal/upstream"
)

// HTTP/2 on the front (RFC 9113) is served by internal/h2server, over
// golang.org/x/net/http2's framer and HPACK, hardened against rapid reset
// and CONTINUATION floods. Each stream's request is converted to the shared
// message model and goes through the same route table, forwarding rules and
// upstream pools as HTTP/1.1; upstreams are spoken to in HTTP/1.1 by the
// http1 engine.

// h2Preface is what an HTTP/2 client sends first (RFC 9113 §3.4); on a
// plain listener with h2c it marks a prior-knowledge HTTP/2 connection.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// IsH2Preface reports whether b starts an HTTP/2 connection preface (as
// much of it as b holds, at least "PRI ").
func IsH2Preface(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	n := min(len(b), len(h2Preface))
	return string(b[:n]) == h2Preface[:n]
}

// ServeH2 serves an HTTP/2 connection (after TLS ALPN "h2", or h2c with
// prior knowledge) until it ends, then closes it and calls done.
func (s *Server) ServeH2(c net.Conn, done func()) { s.serveH2Conn(c, done, nil) }

// initH2 makes the HTTP/2 server, once. The listener's max_header_bytes
// bounds an HTTP/2 header list as it bounds an HTTP/1.1 head (431 beyond).
func (s *Server) initH2() {
	s.h2 = h2server.New(h2server.Options{
		MaxConcurrentStreams: 250,
		MaxHeaderBytes:       s.o.MaxHeaderBytes,
		MaxReadFrameSize:     1 << 20,
		IdleTimeout:          s.o.IdleTimeout,
		ConnectProtocol:      true, // RFC 8441 WebSocket (h2ws.go)
		Log:                  s.log,
	})
}

// shutdownH2 drains the HTTP/2 connections: each gets a GOAWAY and closes
// once its streams are done.
func (s *Server) shutdownH2() {
	s.h2once.Do(s.initH2)
	s.h2.Shutdown()
}

// serveH2Conn serves an HTTP/2 connection; up, when not nil, is the
// HTTP/1.1 request that upgraded it (h2c Upgrade), served as stream 1.
func (s *Server) serveH2Conn(c net.Conn, done func(), up *h2server.Upgrade) {
	defer done()
	defer c.Close()
	client := sniff.AddrPort(c.RemoteAddr())
	s.h2once.Do(s.initH2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveH2(w, r, client, protoH2) })
	s.h2.ServeConn(s.ctx, cork(c), h, up)
}

// h2req is one HTTP/2 request's storage, pooled.
type h2req struct {
	req    httpmsg.RequestHead
	out    httpmsg.RequestHead
	resp   httpmsg.ResponseHead
	rout   httpmsg.ResponseHead
	rb     http1.Body
	params reverse.Params
	reply  reverse.Reply
	tgt    []byte
	key    []byte
	entry  observe.Entry
	tries  tries
	cache  h2cache
}

var h2reqPool = sync.Pool{New: func() any { return new(h2req) }}

// streamProto says which codec carries a request served by serveH2.
type streamProto uint8

const (
	protoH2 streamProto = iota // HTTP/2 (RFC 9113), over TLS or h2c
	protoH3                    // HTTP/3 (RFC 9114), over QUIC
)

// serveH2 answers one HTTP/2 or HTTP/3 request through the route table:
// both codecs hand over a net/http request, and from here on they share
// the route table, header rules and upstream pools.
func (s *Server) serveH2(w http.ResponseWriter, r *http.Request, client netip.AddrPort, proto streamProto) {
	q := h2reqPool.Get().(*h2req)
	defer func() {
		q.tries = tries{}
		h2reqPool.Put(q)
	}()
	x := h2exchange{s: s, w: w, r: r, q: q, client: client, proto: proto, start: time.Now()}
	defer x.log()
	// Extended CONNECT (RFC 8441) is served over HTTP/2 only; RFC 9220's
	// over HTTP/3 is not.
	if s.o.Routes == nil || r.Method == http.MethodConnect && proto != protoH2 {
		x.plain(http.StatusMethodNotAllowed, "not served over "+proto.String()+" here")
		return
	}
	if r.Method == http.MethodConnect && !x.acceptExtendedConnect() {
		return // answered: only RFC 8441 WebSocket is served
	}
	// Requests go upstream in HTTP/1.1, so they must be ones the HTTP/1.1
	// parser would take from a client. HTTP/2 carries method and path as
	// field values, which may hold spaces, tabs and non-ASCII bytes that
	// would split the request line on the way down (":method: GET /admin"
	// with ":path: /public" passes the routes as /public and reaches a
	// lenient origin as /admin), and a Content-Length that is not digits
	// (RFC 9110 §8.6).
	if !http1.ValidMethod(r.Method) || !http1.ValidTarget(r.RequestURI) {
		x.plain(http.StatusBadRequest, "method or path not allowed in a request line")
		return
	}
	if cl := r.Header["Content-Length"]; len(cl) > 0 && !validH2ContentLength(cl) {
		x.plain(http.StatusBadRequest, "bad or conflicting Content-Length")
		return
	}
	h := &q.req
	h.Reset()
	h.Method = h.StoreString(x.method())
	h.Form = httpmsg.OriginForm
	h.Path = h.StoreString(r.RequestURI)
	h.Version = httpmsg.Version{Major: 2}
	if proto == protoH3 {
		h.Version = httpmsg.Version{Major: 3}
	}
	h.Header.AddString("Host", r.Host)
	for name, values := range r.Header {
		if name[0] == ':' {
			continue // ":protocol" of an extended CONNECT (RFC 8441 §4)
		}
		for _, v := range values {
			h.Header.AddString(name, v)
		}
	}
	rt, params, err := s.o.Routes.Match(h, client.Addr())
	if err != nil {
		x.plain(http.StatusBadRequest, err.Error())
		return
	}
	if rt == nil {
		x.plain(http.StatusNotFound, "no route for this request")
		return
	}
	x.route = rt
	q.params = params
	if v := rt.Filter.Check(h, &q.params, client.Addr()); v.Status != 0 {
		x.denied = true
		if v.Allow != "" {
			w.Header().Set("Allow", v.Allow)
		}
		x.plain(v.Status, v.Reason)
		return
	}
	if g := s.routeGate(rt); g != nil && !x.admit(g) {
		return
	}
	if x.unhold != nil {
		defer x.unhold()
	}
	if fa := rt.ForwardAuth; fa != nil && !x.forwardAuth(fa) {
		return
	}
	if x.ws && rt.Action != reverse.Proxy {
		x.webSocketElsewhere()
		return
	}
	if rt.MaxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > rt.MaxBody {
			x.plain(http.StatusRequestEntityTooLarge, "content too large for this route")
			return
		}
		r.Body = &maxBody{ReadCloser: r.Body, left: rt.MaxBody}
	}
	switch rt.Action {
	case reverse.Proxy:
		x.proxy()
	case reverse.Static:
		x.static()
	default:
		rt.Reply(&q.reply, &reverse.TemplateInput{Scheme: s.scheme, Req: h, Params: &q.params})
		q.reply.Head(&q.rout)
		x.writeHead(&q.rout)
		if r.Method != http.MethodHead {
			n, _ := w.Write(q.reply.Body)
			x.down = int64(n)
		}
	}
}

// validH2ContentLength reports whether Content-Length values are digits
// and all the same.
func validH2ContentLength(values []string) bool {
	for _, v := range values {
		if _, ok := httpmsg.ParseDigits([]byte(v)); !ok || v != values[0] {
			return false
		}
	}
	return true
}

// h2exchange is the state of one HTTP/2 request.
type h2exchange struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	q        *h2req
	client   netip.AddrPort
	proto    streamProto
	route    *reverse.Route
	start    time.Time
	ws       bool // an RFC 8441 WebSocket (extended CONNECT), sent upstream as a GET upgrade
	status   int
	up, down int64
	err      string
	upstream string // the pool that served it
	denied   bool   // a route's gate refused it or asked for credentials
	limited  bool   // a rate, concurrency or quota limit refused it
	metered  bool   // its bytes were charged to quotas as they moved
	cache    *cache.Cache
	fill     *cache.Fill
	sent     time.Time
	unhold   func()   // gives back the route's concurrency-limit slots
	authCopy []string // fields a forward-auth answer sends upstream
}

// plain answers with a short text of Janus's own.
func (x *h2exchange) plain(status int, msg string) {
	x.status = status
	x.err = msg
	x.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	x.advertise(x.w.Header())
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		_, _ = io.WriteString(x.w, msg+"\n")
	}
}

// writeHead sends a response head: hop-by-hop fields out (RFC 9113 §8.2.2
// forbids them), the route's rules and HSTS in.
func (x *h2exchange) writeHead(h *httpmsg.ResponseHead) {
	h.Header.RemoveHopByHop(httpmsg.ResponseHopByHop, false)
	if x.route != nil {
		x.route.Response.Apply(&h.Header)
	}
	if x.s.o.HSTS != "" {
		h.Header.SetBytes("Strict-Transport-Security", []byte(x.s.o.HSTS))
	}
	dst := x.w.Header()
	h.Header.CopyTo(dst)
	x.advertise(dst)
	x.status = h.Status
	x.w.WriteHeader(h.Status)
}

func (x *h2exchange) static() {
	plan, err := x.route.PlanStatic(&x.q.req, &x.q.params)
	if err != nil {
		x.plain(http.StatusInternalServerError, "cannot serve the file")
		return
	}
	defer plan.Close()
	plan.Head(&x.q.rout)
	x.writeHead(&x.q.rout)
	if plan.File != nil && x.r.Method != http.MethodHead {
		n, err := io.Copy(x.w, io.NewSectionReader(plan.File, plan.Offset, plan.Length))
		x.down = n
		if err != nil {
			x.err = "sending file: " + err.Error()
		}
	}
}

// proxy sends the request to a target of the route's pool and relays the
// response, trailers included, moving on to other targets as tries allows.
func (x *h2exchange) proxy() {
	s, q, r := x.s, x.q, x.r
	u := s.o.Upstreams[x.route.Upstream]
	if u == nil || u.Pool == nil {
		x.plain(http.StatusBadGateway, "no such upstream")
		return
	}
	x.upstream = u.Pool.Name()
	if r.Context().Err() != nil {
		// Reset by the client before its turn (a rapid reset): no target
		// hears of it.
		x.err = "stream reset by the client"
		return
	}
	if ch := s.cacheFor(x.route); ch != nil && !x.ws {
		if x.cacheLookup(ch) {
			return
		}
		if x.fill != nil {
			defer x.endFill()
		}
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	t := &q.tries
	preq := upstream.Request{ClientIP: x.client.Addr(), URI: q.req.Path, Header: &q.req.Header}
	if err := t.start(u, preq, !hasBody && upstream.Retryable(r.Method, true)); err != nil {
		if x.staleOnFailure(err) {
			return
		}
		x.plain(http.StatusServiceUnavailable, "no healthy target in upstream "+x.route.Upstream)
		return
	}
	if u.Transport != nil {
		if x.ws {
			x.plain(http.StatusBadGateway, "WebSocket over HTTP/2 needs an http1 upstream")
			return
		}
		x.exchangeStd(t)
		return
	}
	for {
		oc, err := x.upstreamConn(t.host, u)
		if err != nil {
			connectFailed(t.host)
			if r.Context().Err() == nil && t.next() {
				continue
			}
			if x.staleOnFailure(err) {
				return
			}
			x.plain(http.StatusBadGateway, "cannot reach the upstream: "+err.Error())
			return
		}
		if x.ws {
			x.exchangeWebSocket(t.host, oc, u)
			return
		}
		if !x.exchange(t, oc) {
			return
		}
	}
}

func (x *h2exchange) upstreamConn(host *upstream.Host, u *Upstream) (*http1.ClientConn, error) {
	x.q.key = poolKey(x.q.key[:0], host, u, x.client)
	if oc := x.s.pool.Get(x.q.key); oc != nil {
		return oc, nil
	}
	ip, port := host.DialAddr()
	// The stream's context: a stream reset while connecting stops the dial.
	tcp, err := x.s.o.Dialer.DialTCP(x.r.Context(), ip, port, nil)
	if err != nil {
		return nil, err
	}
	if u.ProxyProtocol != 0 {
		local, _ := x.r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if err := sendProxyHeader(tcp, u.ProxyProtocol, x.client, sniff.AddrPort(local), x.s.o.IdleTimeout); err != nil {
			tcp.Close()
			return nil, err
		}
	}
	return u.clientConn(tcp, x.q.key), nil
}

// exchange runs the request on oc and relays the response. It reports true
// when the target's answer was set aside for the next target of t.
func (x *h2exchange) exchange(t *tries, oc *http1.ClientConn) (next bool) {
	s, q, r := x.s, x.q, x.r
	host, u := t.host, t.u
	host.Begin()
	began := time.Now()
	outcome := upstream.Outcome{}
	defer func() {
		outcome.Latency = time.Since(began)
		host.End(outcome)
	}()
	out := x.buildOutbound() // h2out.go
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	switch {
	case !hasBody:
	case r.ContentLength > 0:
		out.Header.AddString("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	default:
		out.Header.AddString("Transfer-Encoding", "chunked")
	}
	timeout := u.ResponseTimeout
	if timeout <= 0 {
		timeout = s.o.ResponseTimeout
	}
	_ = oc.Conn.SetDeadline(time.Now().Add(timeout))
	if x.fill != nil {
		x.fill.Prepare(out)
		x.sent = time.Now()
	}
	oc.W.WriteRequestHead(out)
	if hasBody {
		var err error
		if r.ContentLength > 0 {
			var n int64
			n, err = io.Copy(&oc.W, io.LimitReader(r.Body, r.ContentLength))
			x.up = n
			if err == nil && n != r.ContentLength {
				err = io.ErrUnexpectedEOF
			}
		} else {
			cw := http1.ChunkedWriter{W: &oc.W}
			x.up, err = io.Copy(cw, r.Body)
			if err == nil {
				err = cw.Close(nil)
			}
		}
		if err != nil {
			oc.Close()
			x.plain(http1.StatusOf(err), "request content: "+err.Error())
			return false
		}
	}
	if err := oc.W.Flush(); err != nil {
		oc.Close()
		x.upstreamFailed(err)
		return false
	}
	var fr http1.Framing
	for {
		var err error
		fr, err = http1.ReadResponse(&oc.R, &q.resp, q.req.Method, s.limits)
		if err != nil {
			oc.Close()
			if isTimeout(err) && t.onTimeout() || isClosedBeforeResponse(err) && t.onBroken() {
				return true
			}
			x.upstreamFailed(err)
			return false
		}
		if !q.resp.Informational() {
			break
		}
	}
	outcome.Status = q.resp.Status
	if t.onStatus(q.resp.Status) {
		oc.Close()
		return true
	}
	if x.fillResponse() {
		oc.Close()
		x.writeCached()
		return false
	}
	x.relay(oc, fr, &outcome)
	if x.cache != nil {
		x.invalidate()
	}
	return false
}

// relay passes the response head read on oc to the client, then its
// content and trailers; oc goes back to the pool if it can be reused.
func (x *h2exchange) relay(oc *http1.ClientConn, fr http1.Framing, outcome *upstream.Outcome) {
	s, q := x.s, x.q
	outcome.Status = q.resp.Status
	_ = oc.Conn.SetDeadline(time.Now().Add(s.o.IdleTimeout))
	h := &q.rout
	h.Reset()
	h.Status = q.resp.Status
	h.Header.CopyFrom(&q.resp.Header)
	h.Header.Del("Content-Length")
	if fr.Kind == http1.LengthBody {
		h.Header.AddString("Content-Length", strconv.FormatInt(fr.Length, 10))
	}
	if x.cache != nil {
		x.addCacheStatus(&h.Header)
	}
	x.writeHead(h)
	q.rb.Reset(&oc.R, fr, 502, s.o.MaxHeaderBytes)
	if x.fill != nil && x.relayFill(oc, fr, outcome) { // h2cache.go
		return
	}
	flusher, _ := x.w.(http.Flusher)
	for {
		chunk, err := q.rb.Next()
		if len(chunk) > 0 {
			if x.fill != nil {
				_, _ = x.fill.Write(chunk)
			}
			if _, werr := x.w.Write(chunk); werr != nil {
				x.finishFill(werr)
				oc.Close()
				x.err = "client went away: " + werr.Error()
				outcome.Abandoned = true
				return
			}
			q.rb.Consume(len(chunk))
			// Streamed content goes out as it comes; content that has all
			// arrived goes with the end of the stream, in one write.
			if flusher != nil && oc.R.Buffered() == 0 && !q.rb.Done() {
				flusher.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A body cut by the origin is cut for the client too: the
			// stream is reset rather than ended cleanly.
			oc.Close()
			x.finishFill(err)
			x.err = "relaying response: " + err.Error()
			panic(http.ErrAbortHandler)
		}
	}
	x.down = q.rb.Count()
	x.finishFill(nil)
	// Trailer fields go to the client as HTTP/2 trailers (gRPC's status
	// travels there).
	for i := 0; i < q.rb.Trailer.Len(); i++ {
		name, value := q.rb.Trailer.Field(i)
		x.w.Header().Add(http.TrailerPrefix+string(name), string(value))
	}
	if fr.Kind != http1.CloseBody && q.rb.Done() && !q.resp.Header.HasToken("Connection", "close") {
		s.pool.Put(oc)
	} else {
		oc.Close()
	}
	return
}

// upstreamFailed answers 504 for a target too slow, 502 otherwise.
func (x *h2exchange) upstreamFailed(err error) {
	if x.staleOnFailure(err) {
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		x.plain(http.StatusGatewayTimeout, "upstream timed out")
		return
	}
	x.plain(http.StatusBadGateway, "upstream failed: "+err.Error())
}

// log writes the exchange's access-log line.
func (x *h2exchange) log() {
	a := x.s.o.Access
	if a == nil {
		return
	}
	e := &x.q.entry
	*e = observe.Entry{
		Time:      x.start,
		Listener:  x.s.o.Listener,
		Client:    x.client,
		Protocol:  x.proto.String(),
		Method:    x.r.Method,
		Target:    x.r.RequestURI,
		Status:    x.status,
		BytesUp:   x.up,
		BytesDown: x.down,
		Duration:  time.Since(x.start),
		Error:     x.err,
		UserAgent: x.r.UserAgent(),
		Referer:   x.r.Referer(),
	}
	e.Face = "reverse"
	e.Denied = x.denied
	e.Limited = x.limited
	e.Metered = x.metered
	e.Upstream = x.upstream
	if x.route != nil {
		e.Rule = x.route.Name
		e.Route = x.route.Name
	}
	a.Log(e)
}
