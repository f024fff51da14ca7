package test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestAltSvcAdvertisesHTTP3OverTCP: HTTP/1.1 and HTTP/2 responses of a TLS
// listener serving HTTP/3 carry Alt-Svc with its port; a listener with
// http3: false and a plain one advertise nothing, and the first has no
// UDP side at all.
func TestAltSvcAdvertisesHTTP3OverTCP(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	const routes = `
    reverse:
      routes: [{name: hi, match: {path_prefix: /}, respond: {status: 200, body: "hi\n"}}]`
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: h3
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %[1]q, key: %[2]q}]}%[3]s
  - name: off
    listen: 127.0.0.1:0
    http3: false
    tls: {certificates: [{cert: %[1]q, key: %[2]q}]}%[3]s
  - name: plain
    listen: 127.0.0.1:0%[3]s
`, cert, key, routes), nil)
	port := j.AddrPort(t, "h3").Port()
	h1 := tlsClient(ca.Pool, "site.test")
	defer h1.Transport.(*http.Transport).CloseIdleConnections()
	h2tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "site.test"}, ForceAttemptHTTP2: true}
	defer h2tr.CloseIdleConnections()
	h2 := &http.Client{Transport: h2tr, Timeout: 10 * time.Second}
	for _, tc := range []struct {
		desc, url, proto, want string
		client                 *http.Client
	}{
		{desc: "HTTP/1.1 over TLS", client: h1, url: "https://" + j.Addr(t, "h3") + "/", proto: "HTTP/1.1", want: fmt.Sprintf(`h3=":%d"; ma=86400`, port)},
		{desc: "HTTP/2", client: h2, url: "https://" + j.Addr(t, "h3") + "/", proto: "HTTP/2.0", want: fmt.Sprintf(`h3=":%d"; ma=86400`, port)},
		{desc: "HTTP/1.1 with http3 false", client: h1, url: "https://" + j.Addr(t, "off") + "/", proto: "HTTP/1.1"},
		{desc: "HTTP/2 with http3 false", client: h2, url: "https://" + j.Addr(t, "off") + "/", proto: "HTTP/2.0"},
		{desc: "plain HTTP/1.1", client: http.DefaultClient, url: "http://" + j.Addr(t, "plain") + "/", proto: "HTTP/1.1"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			resp, err := tc.client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.Proto != tc.proto || resp.Header.Get("Alt-Svc") != tc.want || len(resp.Header.Values("Alt-Svc")) > 1 {
				t.Errorf("%s with Alt-Svc %q, want %s with %q", resp.Proto, resp.Header.Values("Alt-Svc"), tc.proto, tc.want)
			}
		})
	}
	t.Run("no HTTP/3 with http3 false", func(t *testing.T) {
		client, tr := h3Client(t, ca.Pool, "site.test")
		tr.QUICConfig.HandshakeIdleTimeout = 500 * time.Millisecond
		if resp, err := client.Get("https://" + j.Addr(t, "off") + "/"); err == nil {
			resp.Body.Close()
			t.Errorf("HTTP/3 served with http3: false: %s", resp.Proto)
		}
	})
}

// TestHTTP3DrainFinishesInFlight: during a drain a request in flight over
// HTTP/3 finishes, its 4 MiB response delivered whole, no new connection
// is taken, the drain ends soon after it is answered, and nothing is left
// running.
func TestHTTP3DrainFinishesInFlight(t *testing.T) {
	janustest.CheckGoroutines(t)
	release := make(chan struct{})
	const size = 4 << 20
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write(bigBody(size))
		_, _ = io.WriteString(w, "finished")
	}))
	defer slow.Close()
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	j := janustest.Start(t, h3Config(strings.TrimPrefix(slow.URL, "http://"), cert, key, ""), nil)
	url := "https://" + j.Addr(t, "tls") + "/slow"
	client, _ := h3Client(t, ca.Pool, "site.test")

	got := make(chan string, 1)
	go func() {
		resp, err := client.Get(url)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != size+len("finished") {
			got <- fmt.Sprintf("%d bytes, %v", len(b), err)
			return
		}
		got <- resp.Proto + " " + string(b[size:])
	}()
	time.Sleep(200 * time.Millisecond) // the request is in flight
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- j.Server.Shutdown(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	late, lateTr := h3Client(t, ca.Pool, "site.test")
	lateTr.QUICConfig.HandshakeIdleTimeout = 500 * time.Millisecond
	if resp, err := late.Get(url); err == nil {
		resp.Body.Close()
		t.Error("a new HTTP/3 connection was served during the drain")
	}
	select {
	case err := <-done:
		t.Fatalf("drain ended (%v) with a request in flight", err)
	default:
	}
	close(release)
	if s := <-got; s != "HTTP/3.0 finished" {
		t.Errorf("in-flight request: %q", s)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("drain: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("drain did not end once the request was answered")
	}
}

// TestHTTP3DrainTimeoutCutsConnections: a request that outlives the drain
// is cut, and Shutdown says so.
func TestHTTP3DrainTimeoutCutsConnections(t *testing.T) {
	janustest.CheckGoroutines(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	j := janustest.Start(t, h3Config(strings.TrimPrefix(slow.URL, "http://"), cert, key, ""), nil)
	client, _ := h3Client(t, ca.Pool, "site.test")
	failed := make(chan error, 1)
	go func() {
		resp, err := client.Get("https://" + j.Addr(t, "tls") + "/stuck")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		failed <- err
	}()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := j.Server.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline", err)
	}
	select {
	case err := <-failed:
		if err == nil {
			t.Error("the cut request succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client never learned its connection was closed")
	}
}

// dialQUIC opens a raw QUIC connection speaking h3, for tests that send
// what a well-behaved client would not.
func dialQUIC(t *testing.T, addr string, ca *janustest.CA) *quic.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	qc, err := quic.DialAddr(ctx, addr, &tls.Config{RootCAs: ca.Pool, ServerName: "site.test", NextProtos: []string{http3.NextProtoH3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = qc.CloseWithError(0, "") })
	return qc
}

// TestHTTP3RequestHeadTimeout: a request stream whose HEADERS frame stalls
// is reset after the header timeout (1s here), as a slow HTTP/1.1 head is.
func TestHTTP3RequestHeadTimeout(t *testing.T) {
	janustest.CheckGoroutines(t)
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	j := janustest.Start(t, h3Config("127.0.0.1:9", cert, key, ""), nil)
	qc := dialQUIC(t, j.Addr(t, "tls"), ca)
	str, err := qc.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	// A HEADERS frame (type 1) announcing 100 bytes, with 2 of them sent.
	if _, err := str.Write([]byte{0x01, 0x40, 100, 0, 0}); err != nil {
		t.Fatal(err)
	}
	_ = str.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = str.Read(make([]byte, 1))
	var se *quic.StreamError
	if !errors.As(err, &se) || se.ErrorCode != quic.StreamErrorCode(http3.ErrCodeRequestIncomplete) {
		t.Fatalf("read: %v, want the stream reset with H3_REQUEST_INCOMPLETE", err)
	}
	if took := time.Since(start); took < 800*time.Millisecond || took > 3*time.Second {
		t.Errorf("reset after %v, want about 1s", took)
	}
}

// TestHTTP3StreamLimitPerConnection: a connection may have at most 250
// request streams open at once, as on HTTP/2.
func TestHTTP3StreamLimitPerConnection(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	j := janustest.Start(t, h3Config("127.0.0.1:9", cert, key, ""), nil)
	qc := dialQUIC(t, j.Addr(t, "tls"), ca)
	opened := 0
	for ; opened < 1000; opened++ {
		if _, err := qc.OpenStream(); err != nil {
			var limit *quic.StreamLimitReachedError
			if !errors.As(err, &limit) {
				t.Fatalf("stream %d: %v (%T)", opened, err, err)
			}
			break
		}
	}
	if opened != 250 {
		t.Errorf("opened %d concurrent streams, want 250", opened)
	}
}
