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
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/janustest"
)

// trailerOrigin answers with a streamed body and a trailer, as gRPC-style
// servers do, and echoes what it received.
func trailerOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("X-Saw-Proto", r.Header.Get("X-Forwarded-Proto"))
		fmt.Fprintf(w, "method=%s path=%s body=%s", r.Method, r.URL.RequestURI(), body)
		w.Header().Set("X-Checksum", "ok-"+fmt.Sprint(len(body)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func h2Config(origin, cert, key string) string {
	return fmt.Sprintf(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}]}
    reverse:
      routes:
        - {name: hello, match: {path: /hello}, respond: {status: 200, body: "hello over h2\n"}}
        - {name: app, match: {path_prefix: /}, upstream: app}
  - name: h2c
    listen: 127.0.0.1:0
    h2c: true
    reverse:
      routes: [{name: app, match: {path_prefix: /}, upstream: app}]
upstreams:
  app: {targets: [%q]}
`, cert, key, origin)
}

func TestHTTP2OverTLS(t *testing.T) {
	janustest.CheckGoroutines(t)
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	origin := trailerOrigin(t)
	j := janustest.Start(t, h2Config(strings.TrimPrefix(origin.URL, "http://"), cert, key), nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "site.test"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "https://" + j.Addr(t, "tls")

	resp, err := client.Post(base+"/upload?x=1", "text/plain", strings.NewReader(strings.Repeat("a", 100000)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("negotiated %s, want HTTP/2.0", resp.Proto)
	}
	if want := "method=POST path=/upload?x=1 body=" + strings.Repeat("a", 100000); string(body) != want {
		t.Errorf("body %.80q...", body)
	}
	if resp.Trailer.Get("X-Checksum") != "ok-100000" {
		t.Errorf("trailer %v", resp.Trailer)
	}
	if resp.Header.Get("X-Saw-Proto") != "https" {
		t.Errorf("origin saw X-Forwarded-Proto %q", resp.Header.Get("X-Saw-Proto"))
	}
	// A body of unknown length goes upstream chunked.
	pr, pw := io.Pipe()
	go func() { _, _ = io.WriteString(pw, "streamed"); pw.Close() }()
	resp, err = client.Post(base+"/stream", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "method=POST path=/stream body=streamed" {
		t.Errorf("streamed upload: %q", body)
	}
	resp, err = client.Get(base + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello over h2\n" {
		t.Errorf("respond route over h2: %q", body)
	}
	line := j.WaitLog(t, func(l map[string]any) bool { return l["proto"] == "h2" && l["rule"] == "app" })
	if line["status"] != float64(200) {
		t.Errorf("log line %v", line)
	}
}

func TestH2CPriorKnowledge(t *testing.T) {
	origin := trailerOrigin(t)
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	j := janustest.Start(t, h2Config(strings.TrimPrefix(origin.URL, "http://"), cert, key), nil)
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + j.Addr(t, "h2c") + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || string(body) != "method=GET path=/plain body=" {
		t.Errorf("%s %q", resp.Proto, body)
	}
	// HTTP/1.1 still works on the same port.
	if r, _ := get(t, "http://"+j.Addr(t, "h2c")+"/h1", nil); r.StatusCode != 200 {
		t.Errorf("HTTP/1.1 on an h2c listener: %d", r.StatusCode)
	}
}
