package httpface

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/upstream"
)

// Upstreams spoken to in HTTP/2 (h2c or over TLS) or in HTTP/1.1 over TLS
// go through net/http's and x/net/http2's transports, which pool and
// multiplex connections themselves; every connection they open is dialed
// through the outbound dialer to exactly the address the pool picked.
// Plain HTTP/1.1 upstreams keep the faster http1 engine.

// UpstreamTransport is the round tripper of an upstream spoken to through
// net/http or x/net/http2. It knows each target's host name, so that TLS
// verifies the name configured rather than the address dialed.
type UpstreamTransport struct {
	rt    http.RoundTripper
	names sync.Map // "ip:port" → the target's host name, for SNI
}

// CloseIdleConnections closes the transport's idle connections, when an
// upstream is retired.
func (t *UpstreamTransport) CloseIdleConnections() {
	if ci, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// RoundTrip sends req through the transport.
func (t *UpstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.rt.RoundTrip(req)
}

// TransportOptions describe an upstream's round-tripper.
type TransportOptions struct {
	Protocol    string      // "h2c", "h2" or "http1"
	TLS         *tls.Config // spoken to the targets; nil for plain TCP
	MaxIdle     int         // idle connections kept per target (HTTP/1.1 over TLS); 0: 64
	IdleTimeout time.Duration
}

// NewUpstreamTransport returns the transport for an upstream that speaks
// HTTP/2 or HTTP/1.1 over TLS, or nil when the http1 engine serves it
// (plain HTTP/1.1).
func NewUpstreamTransport(o TransportOptions, d Dialer) *UpstreamTransport {
	protocol, tlsCfg := o.Protocol, o.TLS
	idle := cmp.Or(o.IdleTimeout, 90*time.Second)
	t := &UpstreamTransport{}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("upstream address %q: %w", addr, err)
		}
		c, err := d.DialTCP(ctx, ap.Addr().String(), ap.Port(), nil)
		if err != nil {
			// Nothing was sent: any request may try another target.
			return nil, &connectError{err}
		}
		return c, nil
	}
	dialTLS := func(ctx context.Context, addr string, cfg *tls.Config) (net.Conn, error) {
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			if name, ok := t.names.Load(addr); ok {
				cfg.ServerName = name.(string)
			} else if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		c, err := dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, &connectError{fmt.Errorf("TLS to upstream %s: %w", addr, err)}
		}
		return tc, nil
	}
	switch {
	case protocol == "h2c":
		t.rt = &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, _, addr string, _ *tls.Config) (net.Conn, error) {
				return dial(ctx, addr)
			},
			ReadIdleTimeout: 30 * time.Second,
			IdleConnTimeout: idle,
		}
	case protocol == "h2":
		t.rt = &http2.Transport{
			TLSClientConfig: withALPN(tlsCfg, "h2"),
			DialTLSContext: func(ctx context.Context, _, addr string, cfg *tls.Config) (net.Conn, error) {
				return dialTLS(ctx, addr, cfg)
			},
			ReadIdleTimeout: 30 * time.Second,
			IdleConnTimeout: idle,
		}
	case tlsCfg != nil:
		alpn := withALPN(tlsCfg, "http/1.1")
		t.rt = &http.Transport{
			DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialTLS(ctx, addr, alpn)
			},
			MaxIdleConnsPerHost: cmp.Or(o.MaxIdle, 64),
			IdleConnTimeout:     idle,
			DisableCompression:  true,
		}
	default:
		return nil
	}
	return t
}

func withALPN(cfg *tls.Config, proto string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{proto}
	return cfg
}

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
	out := &q.out
	out.Reset()
	out.Method = out.Store(q.req.Method)
	q.tgt = x.route.Target(q.tgt[:0], q.req.Path, &q.params)
	out.Path = out.Store(q.tgt)
	for i := 0; i < q.req.Header.Len(); i++ {
		name, value := q.req.Header.Field(i)
		out.Header.Add(name, value)
	}
	s.o.Forwarding.Apply(&out.Header, &reverse.Inbound{Peer: x.client.Addr(), Scheme: s.scheme, Host: q.req.Header.Get("Host")})
	x.route.Request.Apply(&out.Header)
	applyAuthCopy(&out.Header, x.route.ForwardAuth, x.authCopy)
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
	for {
		host = t.host
		ctx := try.begin(r.Context())
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
	defer resp.Body.Close()
	h := &q.rout
	h.Reset()
	h.Status = resp.StatusCode
	for name, values := range resp.Header {
		for _, v := range values {
			h.Header.AddString(name, v)
		}
	}
	h.Header.Del("Content-Length")
	if resp.ContentLength >= 0 {
		h.Header.AddString("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	x.writeHead(h)
	n, err := copyFlush(x.w, resp.Body)
	x.down = n
	x.up = body.n.Load()
	host.End(upstream.Outcome{Status: resp.StatusCode, Latency: time.Since(began)})
	if err != nil {
		x.err = "relaying response: " + err.Error()
		panic(http.ErrAbortHandler)
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
	var err error
	defer resp.Body.Close()
	h := &c.m.rout
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = resp.StatusCode
	for name, values := range resp.Header {
		for _, v := range values {
			h.Header.AddString(name, v)
		}
	}
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
	c.x.status = resp.StatusCode
	c.extendWrite()
	c.w.WriteResponseHead(h)
	var n int64
	if chunked {
		cw := http1.ChunkedWriter{W: &c.w}
		n, err = io.Copy(cw, resp.Body)
		if err == nil {
			var trl httpmsg.Header
			for name, values := range resp.Trailer {
				for _, v := range values {
					trl.AddString(name, v)
				}
			}
			err = cw.Close(&trl)
		}
	} else {
		n, err = io.Copy(&c.w, resp.Body)
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
