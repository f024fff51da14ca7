package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/janustest"
	"github.com/janus-proxy/janus/internal/proxyproto"
)

// TestPROXYProtocolToUpstreams: with proxy_protocol on an upstream, each
// connection Janus opens to a target starts with a PROXY header naming the
// client, so the target sees each client's own address (two clients, from
// 127.0.0.1 and 127.0.0.2, over HTTP/1.1 and HTTP/2), and a connection
// carries one client's requests only: a client's keep-alive requests share
// one upstream connection, two clients never do.
func TestPROXYProtocolToUpstreams(t *testing.T) {
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			var accepted atomic.Int32
			origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%s", r.RemoteAddr)
			}))
			trusted, err := addrset.Parse("127.0.0.1/32")
			if err != nil {
				t.Fatal(err)
			}
			origin.Listener = &proxyproto.Listener{Listener: origin.Listener, Options: proxyproto.Options{Trusted: trusted, Required: true}}
			origin.Config.ConnState = func(c net.Conn, s http.ConnState) {
				if s == http.StateNew {
					accepted.Add(1)
				}
			}
			origin.Start()
			defer origin.Close()
			j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app}]}
upstreams:
  app: {targets: [%q], proxy_protocol: %s}
`, strings.TrimPrefix(origin.URL, "http://"), version), nil)
			addr := j.Addr(t, "web")
			for _, front := range []string{"HTTP/1.1", "HTTP/2"} {
				before := accepted.Load()
				for _, src := range []string{"127.0.0.1", "127.0.0.2"} {
					client := clientFrom(t, src, front == "HTTP/2")
					for i := range 3 {
						resp, err := client.Get("http://" + addr + "/who")
						if err != nil {
							t.Fatalf("%s from %s, request %d: %v", front, src, i, err)
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						host, _, _ := net.SplitHostPort(string(body))
						if resp.StatusCode != 200 || host != src {
							t.Errorf("%s from %s: %d, the target saw %q", front, src, resp.StatusCode, body)
						}
					}
				}
				if n := accepted.Load() - before; n != 2 {
					t.Errorf("%s: the target accepted %d connections for 2 clients of 3 requests each, want 2", front, n)
				}
			}
		})
	}
}

// clientFrom returns a client whose connections come from the local
// address src, speaking HTTP/1.1 or h2c.
func clientFrom(t *testing.T, src string, h2c bool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	var rt http.RoundTripper
	if h2c {
		tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	} else {
		tr := &http.Transport{DialContext: d.DialContext}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}
