package test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

func tlsClient(pool *x509.CertPool, serverName string, certs ...tls.Certificate) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, Certificates: certs}}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestTLSTerminationWithSNIAndHSTS: two certificates on one listener, each
// chosen by SNI (one a wildcard); the origin learns the request came over
// HTTPS; responses carry HSTS; plain HTTP on the port gets 400.
func TestTLSTerminationWithSNIAndHSTS(t *testing.T) {
	janustest.CheckGoroutines(t)
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	aCert, aKey, _ := ca.Issue(t, "a", false, "a.test")
	bCert, bKey, _ := ca.Issue(t, "b", false, "*.b.test")
	origin := startNamedOrigin(t, "o")
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    timeouts: {header: 1s}
    tls:
      certificates: [{cert: %q, key: %q}, {cert: %q, key: %q}]
      hsts: {max_age: 1h, include_subdomains: true}
    reverse:
      routes: [{name: app, match: {path_prefix: /}, upstream: app}]
upstreams:
  app: {targets: [%q]}
`, aCert, aKey, bCert, bKey, origin.addr()), nil)
	addr := j.Addr(t, "tls")
	for _, name := range []string{"a.test", "www.b.test"} {
		t.Run(name, func(t *testing.T) {
			client := tlsClient(ca.Pool, name)
			defer client.Transport.(*http.Transport).CloseIdleConnections()
			resp, err := client.Get("https://" + addr + "/x")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			s := janustest.DecodeSeen(t, resp.Body)
			if resp.StatusCode != 200 || s.Header.Get("X-Forwarded-Proto") != "https" {
				t.Errorf("status %d, origin saw X-Forwarded-Proto %q", resp.StatusCode, s.Header.Get("X-Forwarded-Proto"))
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=3600; includeSubDomains" {
				t.Errorf("HSTS %q", got)
			}
			if got := resp.TLS.PeerCertificates[0].DNSNames[0]; !strings.HasSuffix(name, strings.TrimPrefix(got, "*")) {
				t.Errorf("SNI %s got the certificate for %s", name, got)
			}
		})
	}
	if status, _ := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"); status != "400" {
		t.Errorf("plain HTTP on the TLS port: status %q, want 400", status)
	}
	// A client that stalls in the handshake is closed after the header timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte{0x16, 3, 1})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := io.ReadAll(c); err != nil || time.Since(start) > 4*time.Second {
		t.Errorf("stalled handshake: %v after %v, want closed after ~1s", err, time.Since(start))
	}
	c.Close()
}

func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "server", false, "site.test")
	_, _, clientPair := ca.Issue(t, "client", true, "client-1")
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: mtls
    listen: 127.0.0.1:0
    timeouts: {header: 2s}
    tls: {certificates: [{cert: %q, key: %q}], client_ca: %q, client_auth: require, min_version: "1.3"}
    reverse:
      routes: [{name: hello, respond: {status: 200, body: "hello, client\n"}}]
`, cert, key, ca.PEMPath), nil)
	url := "https://" + j.Addr(t, "mtls") + "/"
	if _, err := tlsClient(ca.Pool, "site.test").Get(url); err == nil {
		t.Error("a client without a certificate was served")
	}
	resp, err := tlsClient(ca.Pool, "site.test", clientPair).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "hello, client\n" || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("body %q, TLS version %x", b, resp.TLS.Version)
	}
}

// TestHTTPSProxy: a forward listener behind TLS is an HTTPS proxy: the
// client speaks TLS to Janus, then CONNECT or plain requests inside.
func TestHTTPSProxy(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "proxy", false, "127.0.0.1")
	origin := janustest.EchoOrigin(t)
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: p
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}]}
    forward: {policy: all, connect_ports: ["1-65535"]}
policies:
  all: [{allow: {}}]
`, cert, key), nil)
	proxyURL, _ := http.NewRequest("GET", "https://"+j.Addr(t, "p"), nil)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL.URL), TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(origin.URL + "/through-https-proxy")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if s := janustest.DecodeSeen(t, resp.Body); s.Path != "/through-https-proxy" {
		t.Errorf("origin saw %+v", s)
	}
}
