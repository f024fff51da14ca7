package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
	"github.com/janus-proxy/janus/internal/proxyproto"
)

// TestPROXYProtocolGivesTheClientAddress: behind a load balancer that sends
// PROXY protocol v1 or v2, the client's address is the one in the header,
// for the forwarding fields, the access log and the policy; a connection
// without a header is refused.
func TestPROXYProtocolGivesTheClientAddress(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	j := janustest.Start(t, fmt.Sprintf(`
log: {access: {format: json}}
listeners:
  - name: behind-lb
    listen: 127.0.0.1:0
    proxy_protocol: {trusted: [127.0.0.1], timeout: 2s}
    forward: {policy: lb-clients}
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app}]}
upstreams:
  app: {targets: [%q]}
policies:
  lb-clients: [{allow: {clients: [203.0.113.0/24]}}]
`, strings.TrimPrefix(origin.URL, "http://")), nil)
	addr := j.Addr(t, "behind-lb")
	src := netip.MustParseAddrPort("203.0.113.7:5555")
	dst := netip.MustParseAddrPort("127.0.0.1:80")
	v2, err := proxyproto.AppendV2(nil, proxyproto.Header{Command: proxyproto.Proxy, Source: src, Destination: dst})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc   string
		header []byte
	}{
		{"v1", proxyproto.AppendV1(nil, src, dst)},
		{"v2", v2},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			// The reverse face (origin-form), then the forward face
			// (absolute-form) on the same connection.
			req := append(append([]byte{}, tc.header...), "GET /via-lb HTTP/1.1\r\nHost: site\r\n\r\n"...)
			req = append(req, "GET "+origin.URL+"/forward HTTP/1.1\r\nHost: x\r\n\r\n"...)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			for _, want := range []string{"/via-lb", "/forward"} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				seen := janustest.DecodeSeen(t, resp.Body)
				resp.Body.Close()
				if seen.Path != want {
					t.Fatalf("origin saw %q, want %q (status %d)", seen.Path, want, resp.StatusCode)
				}
				if want == "/via-lb" && seen.Header.Get("X-Forwarded-For") != "203.0.113.7" {
					t.Errorf("X-Forwarded-For %q, want the address from the header", seen.Header.Get("X-Forwarded-For"))
				}
			}
		})
	}
	j.WaitLog(t, func(l map[string]any) bool { return l["client"] == "203.0.113.7:5555" && l["rule"] == "app" })
	// No header: refused before anything is served.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("a connection without a PROXY header was answered: %q", b)
	}
}
