package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

// TestShutdownDrainsInFlightRequests: SIGTERM's drain lets a slow response
// and an open tunnel finish, while new connections are refused.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	defer slow.Close()
	j := janustest.Start(t, `
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: all}
policies:
  all: [{allow: {}}]
`, nil)
	addr := j.Addr(t, "p")
	client := proxyClient(t, j, "p", "")

	got := make(chan string, 1)
	go func() {
		resp, err := client.Get(slow.URL + "/")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	time.Sleep(200 * time.Millisecond) // the request is in flight

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- j.Server.Shutdown(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted during the drain")
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned (%v) before the in-flight request ended", err)
	default:
	}
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("in-flight request got %q", body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not return after the last request ended")
	}
}

// TestShutdownCutsWhatOutlivesTheDrain: the drain timeout is a bound.
func TestShutdownCutsWhatOutlivesTheDrain(t *testing.T) {
	origin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	go func() {
		for {
			c, err := origin.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	j := janustest.Start(t, `
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: all, connect_ports: ["1-65535"]}
policies:
  all: [{allow: {}}]
`, nil)
	c, err := net.Dial("tcp", j.Addr(t, "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "CONNECT "+origin.Addr().String()+" HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 128)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "200") {
		t.Fatalf("CONNECT: %q %v", buf[:n], err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := j.Server.Shutdown(ctx); err == nil {
		t.Error("shutdown reported a clean drain with a tunnel still open")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if _, err := c.Read(buf); err == nil {
		t.Error("the tunnel is still open after the drain timeout")
	}
}

func TestListenerProtocolRestriction(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	j := janustest.Start(t, `
listeners:
  - name: socks-only
    listen: 127.0.0.1:0
    protocols: [socks5]
    forward: {policy: all}
policies:
  all: [{allow: {}}]
`, nil)
	addr := j.Addr(t, "socks-only")
	if status, _ := rawExchange(t, addr, "GET "+origin.URL+"/ HTTP/1.1\r\nHost: x\r\n\r\n"); status != "400" {
		t.Errorf("HTTP on a SOCKS5-only listener: status %q, want 400", status)
	}
	_, code := socks4Connect(t, addr, [4]byte{127, 0, 0, 1}, 80, "")
	if code == 0x5a {
		t.Error("SOCKS4 granted on a SOCKS5-only listener")
	}
}

// TestMaxConnectionsQueuesTheRest: past max_connections new clients wait in
// the backlog and are served when a slot frees.
func TestMaxConnectionsQueuesTheRest(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	j := janustest.Start(t, `
listeners:
  - name: p
    listen: 127.0.0.1:0
    max_connections: 1
    forward: {policy: all}
policies:
  all: [{allow: {}}]
`, nil)
	addr := j.Addr(t, "p")
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(first, "GET "+origin.URL+"/a HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.Read(buf); err != nil {
		t.Fatal(err)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_, _ = io.WriteString(second, "GET "+origin.URL+"/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	_ = second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := second.Read(buf); err == nil {
		t.Fatalf("second client served while the first holds the only slot: %q", buf[:n])
	}
	first.Close()
	_ = second.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(second)
	if !strings.Contains(string(b), `"/b"`) {
		t.Errorf("second client after the slot freed: %q", b)
	}
}

// TestShutdownDrainsHTTP2Connections: HTTP/2 connections (h2c and over
// TLS) are drained like HTTP/1.1 ones: the request in flight finishes, the
// client is told GOAWAY, and Shutdown returns once it has ended, well
// before the drain timeout.
func TestShutdownDrainsHTTP2Connections(t *testing.T) {
	for _, tc := range []struct {
		desc string
		tls  bool
	}{{"h2c", false}, {"h2 over TLS", true}} {
		t.Run(tc.desc, func(t *testing.T) {
			release := make(chan struct{})
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-release
				_, _ = io.WriteString(w, "finished")
			}))
			defer slow.Close()
			listener := "    h2c: true"
			var roots *x509.CertPool
			if tc.tls {
				ca := janustest.NewCA(t, t.TempDir())
				cert, key, _ := ca.Issue(t, "server", false, "localhost", "127.0.0.1")
				listener = fmt.Sprintf("    tls: {certificates: [{cert: %q, key: %q}]}", cert, key)
				roots = ca.Pool
			}
			j := janustest.Start(t, fmt.Sprintf(`
shutdown: {drain: 20s}
listeners:
  - name: web
    listen: 127.0.0.1:0
%s
    reverse:
      routes: [{name: app, match: {path_prefix: /}, upstream: app}]
upstreams:
  app: {targets: [%q]}
`, listener, strings.TrimPrefix(slow.URL, "http://")), nil)
			tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}
			scheme := "https"
			if !tc.tls {
				scheme = "http"
				tr.AllowHTTP = true
				tr.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				}
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
			got := make(chan string, 1)
			go func() {
				resp, err := client.Get(scheme + "://" + j.Addr(t, "web") + "/")
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- string(b)
			}()
			time.Sleep(200 * time.Millisecond)
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				done <- j.Server.Shutdown(ctx)
			}()
			time.Sleep(200 * time.Millisecond)
			close(release)
			if body := <-got; body != "finished" {
				t.Errorf("in-flight request got %q", body)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("shutdown: %v", err)
				}
				t.Logf("shutdown took %v", time.Since(start).Round(time.Millisecond))
			case <-time.After(5 * time.Second):
				t.Fatal("shutdown did not return within 5 s of the last request (drain timeout 20 s)")
			}
		})
	}
}
