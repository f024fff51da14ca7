package test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestTLSUpstreams: Janus speaks HTTPS (HTTP/1.1 and HTTP/2) to targets,
// verifying them against a CA file, and presents a client certificate to an
// upstream that requires one (mTLS).
func TestTLSUpstreams(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	_, _, serverPair := ca.Issue(t, "upstream", false, "127.0.0.1")
	clientCert, clientKey, _ := ca.Issue(t, "janus-client", true, "janus")
	for _, tc := range []struct {
		desc, protocol string
		h2             bool
		mtls           bool
	}{
		{"HTTPS with HTTP/1.1", "http1", false, false},
		{"HTTP/2 over TLS", "h2", true, false},
		{"HTTP/2 over mutual TLS", "h2", true, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "proto=%s client-cert=%v", r.Proto, len(r.TLS.PeerCertificates) > 0)
			}))
			origin.EnableHTTP2 = tc.h2
			origin.TLS = tlsServerConfig(serverPair, ca, tc.mtls)
			origin.StartTLS()
			defer origin.Close()
			clientTLS := ""
			if tc.mtls {
				clientTLS = fmt.Sprintf(", cert: %q, key: %q", clientCert, clientKey)
			}
			j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: secure}]}
upstreams:
  secure:
    targets: [%q]
    protocol: %s
    tls: {ca: %q%s}
`, strings.TrimPrefix(origin.URL, "https://"), tc.protocol, ca.PEMPath, clientTLS), nil)
			resp, body := get(t, "http://"+j.Addr(t, "web")+"/", nil)
			want := "proto=HTTP/1.1"
			if tc.h2 {
				want = "proto=HTTP/2.0"
			}
			want += fmt.Sprintf(" client-cert=%v", tc.mtls)
			if resp.StatusCode != 200 || body != want {
				t.Errorf("%d %q, want %q", resp.StatusCode, body, want)
			}
		})
	}
	// A target whose certificate the CA did not sign is refused: 502.
	stranger := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer stranger.Close()
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: secure}]}
upstreams:
  secure: {targets: [%q], tls: {ca: %q}}
`, strings.TrimPrefix(stranger.URL, "https://"), ca.PEMPath), nil)
	if resp, _ := get(t, "http://"+j.Addr(t, "web")+"/", nil); resp.StatusCode != 502 {
		t.Errorf("unverified upstream: status %d, want 502", resp.StatusCode)
	}
}

func tlsServerConfig(pair tls.Certificate, ca *janustest.CA, requireClient bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}}
	if requireClient {
		cfg.ClientCAs = ca.Pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}
