package test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/janus-proxy/janus/internal/janustest"
)

// h3Client is an HTTP/3 client (quic-go's) trusting pool; it is closed
// when the test ends.
func h3Client(t *testing.T, pool *x509.CertPool, serverName string, certs ...tls.Certificate) (*http.Client, *http3.Transport) {
	t.Helper()
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, Certificates: certs},
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: 2 * time.Second},
	}
	t.Cleanup(func() { _ = tr.Close() })
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

// bigOrigin serves /big?n=BYTES with a body of that many bytes (a fixed
// pattern), and echoes other requests as the trailer origin does.
func bigOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	echo := trailerOrigin(t).Config.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cut" {
			// Promise 1 MiB, send 10 bytes, hang up.
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n0123456789")
			_ = rw.Flush()
			_ = c.Close()
			return
		}
		if r.URL.Path != "/big" {
			echo.ServeHTTP(w, r)
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(bigBody(n))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func bigBody(n int) []byte {
	return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
}

func h3Config(origin, cert, key, extra string) string {
	return fmt.Sprintf(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    timeouts: {header: 1s}
    max_header_bytes: 16KiB
    tls: {certificates: [{cert: %q, key: %q}]}
%s    reverse:
      routes:
        - {name: hello, match: {path: /hello}, respond: {status: 200, body: "hello\n"}}
        - {name: app, match: {path_prefix: /}, upstream: app}
upstreams:
  app: {targets: [%q]}
`, cert, key, extra, origin)
}

// TestHTTP3RoundTrip: quic-go's client reaches an origin through a TLS
// listener over HTTP/3: GET, POST with a streamed body, a 6 MiB response,
// trailers, a fixed response, a response the origin cuts (reset for the
// client), a head over max_header_bytes (431); the access log says h3;
// nothing leaks once the client closes.
func TestHTTP3RoundTrip(t *testing.T) {
	janustest.CheckGoroutines(t)
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	origin := bigOrigin(t)
	j := janustest.Start(t, h3Config(strings.TrimPrefix(origin.URL, "http://"), cert, key, ""), nil)
	client, _ := h3Client(t, ca.Pool, "site.test")
	base := "https://" + j.Addr(t, "tls")

	t.Run("GET", func(t *testing.T) {
		resp, err := client.Get(base + "/get?x=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/3.0" || string(body) != "method=GET path=/get?x=1 body=" {
			t.Errorf("%s %q", resp.Proto, body)
		}
		if resp.Header.Get("X-Saw-Proto") != "https" {
			t.Errorf("origin saw X-Forwarded-Proto %q", resp.Header.Get("X-Saw-Proto"))
		}
		if resp.Trailer.Get("X-Checksum") != "ok-0" {
			t.Errorf("trailer %v", resp.Trailer)
		}
		if resp.Header.Get("Alt-Svc") != "" {
			t.Errorf("HTTP/3 response advertises Alt-Svc %q", resp.Header.Get("Alt-Svc"))
		}
	})
	t.Run("POST with a streamed body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < 64; i++ {
				_, _ = io.WriteString(pw, strings.Repeat("s", 1024))
			}
			pw.Close()
		}()
		resp, err := client.Post(base+"/upload", "text/plain", pr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "method=POST path=/upload body=" + strings.Repeat("s", 64<<10); string(body) != want {
			t.Errorf("body %.80q... (%d bytes)", body, len(body))
		}
		if resp.Trailer.Get("X-Checksum") != "ok-65536" {
			t.Errorf("trailer %v", resp.Trailer)
		}
	})
	t.Run("6 MiB response", func(t *testing.T) {
		const n = 6 << 20
		resp, err := client.Get(base + "/big?n=" + strconv.Itoa(n))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(body) != n || sha256.Sum256(body) != sha256.Sum256(bigBody(n)) {
			t.Errorf("got %d bytes (err %v), want %d intact", len(body), err, n)
		}
	})
	t.Run("fixed response", func(t *testing.T) {
		resp, err := client.Get(base + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello\n" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("response cut by the origin is cut for the client", func(t *testing.T) {
		// The stream is reset: before the head reaches the client, or
		// while it reads the body.
		resp, err := client.Get(base + "/cut")
		if err == nil {
			var body []byte
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("a cut response read as complete (%d bytes)", len(body))
			}
		}
	})
	t.Run("header section over max_header_bytes", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/big-head", nil)
		req.Header.Set("X-Big", strings.Repeat("h", 20<<10))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
		for _, l := range j.Log.Lines() {
			if l["target"] == "/big-head" {
				t.Errorf("the request with the oversized head was served: %v", l)
			}
		}
	})
	line := j.WaitLog(t, func(l map[string]any) bool { return l["proto"] == "h3" && l["target"] == "/upload" })
	if line["status"] != float64(200) || line["rule"] != "app" || line["bytes_up"] != float64(64<<10) {
		t.Errorf("access-log line %v", line)
	}
}

// TestHTTP3SNIChoosesCertificate: two certificates on one listener; the
// name the QUIC client asks for picks the certificate, as over TCP.
func TestHTTP3SNIChoosesCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	aCert, aKey, _ := ca.Issue(t, "a", false, "a.test")
	bCert, bKey, _ := ca.Issue(t, "b", false, "*.b.test")
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}, {cert: %q, key: %q}]}
    reverse:
      routes: [{name: hi, match: {path_prefix: /}, respond: {status: 200, body: "hi\n"}}]
`, aCert, aKey, bCert, bKey), nil)
	for _, tc := range []struct{ desc, name, want string }{
		{desc: "exact name", name: "a.test", want: "a.test"},
		{desc: "wildcard name", name: "www.b.test", want: "*.b.test"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			client, _ := h3Client(t, ca.Pool, tc.name)
			resp, err := client.Get("https://" + j.Addr(t, "tls") + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.TLS.PeerCertificates[0].DNSNames[0]; got != tc.want || resp.TLS.Version != tls.VersionTLS13 {
				t.Errorf("certificate for %s over TLS %#x, want %s over TLS 1.3", got, resp.TLS.Version, tc.want)
			}
		})
	}
}

// TestHTTP3MutualTLS: a listener that requires client certificates refuses
// a QUIC client without one and serves one with a certificate of its CA.
func TestHTTP3MutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	_, _, clientPair := ca.Issue(t, "alice", true, "alice")
	other := janustest.NewCA(t, t.TempDir())
	_, _, strangerPair := other.Issue(t, "mallory", true, "mallory")
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}], client_ca: %q, client_auth: require}
    reverse:
      routes: [{name: hi, match: {path_prefix: /}, respond: {status: 200, body: "hi\n"}}]
`, cert, key, ca.PEMPath), nil)
	url := "https://" + j.Addr(t, "tls") + "/"
	for _, tc := range []struct {
		desc  string
		certs []tls.Certificate
		ok    bool
	}{
		{desc: "no client certificate", ok: false},
		{desc: "certificate from another CA", certs: []tls.Certificate{strangerPair}, ok: false},
		{desc: "certificate from the client CA", certs: []tls.Certificate{clientPair}, ok: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			client, _ := h3Client(t, ca.Pool, "site.test", tc.certs...)
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
			}
			if ok := err == nil && resp.StatusCode == 200; ok != tc.ok {
				t.Errorf("served %v (err %v), want %v", ok, err, tc.ok)
			}
		})
	}
}
