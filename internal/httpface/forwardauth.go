package httpface

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
)

// Forward auth (nginx's auth_request, Traefik's ForwardAuth): before a
// route's request goes on, a GET to the route's auth service carrying the
// request's fields decides. The service is named by the config, as
// upstream targets are, so its address is dialed without a policy check
// (loops to Janus itself are still refused by the dialer).

// authAnswerMax bounds the body of a refusal passed back to the client.
const authAnswerMax = 64 << 10

// authClient returns the listener's client for auth services.
func (s *Server) authClient() *http.Client {
	s.authOnce.Do(func() {
		s.auth = &http.Client{
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
					host, port, err := net.SplitHostPort(addr)
					if err != nil {
						return nil, err
					}
					p, err := strconv.ParseUint(port, 10, 16)
					if err != nil {
						return nil, err
					}
					return s.o.Dialer.DialTCP(ctx, host, uint16(p), nil)
				},
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
			// A redirect is an answer for the client (a login page).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return s.auth
}

// askAuth asks the route's auth service about a request. It returns the
// answer, whose body the caller closes, or an error when there is none.
func (s *Server) askAuth(ctx context.Context, fa *reverse.ForwardAuth, in *authInput) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, fa.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fa.URL, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	for i := 0; i < in.header.Len(); i++ {
		name, value := in.header.Field(i)
		switch {
		case httpmsg.EqualFold(name, "Content-Length"), httpmsg.EqualFold(name, "Transfer-Encoding"),
			httpmsg.EqualFold(name, "Connection"), httpmsg.EqualFold(name, "Host"):
		default:
			req.Header.Add(string(name), string(value))
		}
	}
	req.Header.Set("X-Forwarded-Method", in.method)
	req.Header.Set("X-Forwarded-Proto", s.scheme)
	req.Header.Set("X-Forwarded-Host", in.host)
	req.Header.Set("X-Forwarded-Uri", in.uri)
	req.Header.Set("X-Forwarded-For", in.client.String())
	resp, err := s.authClient().Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// authInput is what the auth service is told about a request.
type authInput struct {
	method, host, uri string
	client            netip.Addr
	header            *httpmsg.Header
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// authCopy keeps the fields of a 2xx answer the route copies upstream.
func authCopy(dst []string, fa *reverse.ForwardAuth, resp *http.Response) []string {
	for _, name := range fa.CopyHeaders {
		for _, v := range resp.Header.Values(name) {
			dst = append(dst, name, v)
		}
	}
	return dst
}

// applyAuthCopy puts the copied fields on the request sent upstream, in
// place of any the client sent under those names.
func applyAuthCopy(h *httpmsg.Header, fa *reverse.ForwardAuth, kv []string) {
	if fa == nil {
		return
	}
	for _, name := range fa.CopyHeaders {
		h.Del(name)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.AddString(kv[i], kv[i+1])
	}
}

// refusalFields are the fields of an auth service's refusal passed to the
// client with its status and body.
var refusalFields = []string{"WWW-Authenticate", "Location", "Set-Cookie", "Content-Type", "Cache-Control", "Retry-After"}

// forwardAuth runs the route's forward auth for an HTTP/1.1 request. It
// reports false, having answered, when the request may not go on.
func (c *conn) forwardAuth(fa *reverse.ForwardAuth) bool {
	in := authInput{method: string(c.m.req.Method), host: string(c.m.params.Host), uri: string(c.m.req.Path),
		client: c.client.Addr(), header: &c.m.req.Header}
	resp, err := c.s.askAuth(c.s.ctx, fa, &in)
	if err != nil {
		c.fail(500, "forward auth: no answer from the auth service", err)
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		c.x.authCopy = authCopy(c.x.authCopy[:0], fa, resp)
		return true
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, authAnswerMax))
	c.x.denied = true
	c.x.rule = c.x.route.Name + " forward_auth"
	h := &c.m.rout
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = resp.StatusCode
	for _, name := range refusalFields {
		for _, v := range resp.Header.Values(name) {
			h.Header.AddString(name, v)
		}
	}
	h.Header.SetBytes("Content-Length", strconv.AppendInt(nil, int64(len(body)), 10))
	c.writeOwn(h, body)
	c.logAccess()
	return false
}

// forwardAuth runs the route's forward auth for an HTTP/2 or HTTP/3
// request, as the HTTP/1.1 face does.
func (x *h2exchange) forwardAuth(fa *reverse.ForwardAuth) bool {
	in := authInput{method: x.r.Method, host: string(x.q.params.Host), uri: x.r.RequestURI,
		client: x.client.Addr(), header: &x.q.req.Header}
	resp, err := x.s.askAuth(x.r.Context(), fa, &in)
	if err != nil {
		x.plain(http.StatusInternalServerError, "forward auth: no answer from the auth service")
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		x.authCopy = authCopy(x.authCopy[:0], fa, resp)
		return true
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, authAnswerMax))
	x.denied = true
	dst := x.w.Header()
	for _, name := range refusalFields {
		for _, v := range resp.Header.Values(name) {
			dst.Add(name, v)
		}
	}
	x.status = resp.StatusCode
	x.w.WriteHeader(resp.StatusCode)
	if x.r.Method != http.MethodHead {
		n, _ := x.w.Write(body)
		x.down = int64(n)
	}
	return false
}
