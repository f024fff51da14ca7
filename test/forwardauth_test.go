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

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestForwardAuth: a route's auth service decides each request. Allowed,
// the request goes upstream with the field the service named copied (and
// the client's own of that name replaced); refused, the client gets the
// service's answer (401 with WWW-Authenticate, its body) and the origin
// nothing; with the service down, 500. HTTP/1.1 and HTTP/2 alike.
func TestForwardAuth(t *testing.T) {
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-Uri") == "" || r.Header.Get("X-Forwarded-Method") == "" {
			w.WriteHeader(500)
			return
		}
		if r.Header.Get("X-Token") != "good" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
			w.WriteHeader(401)
			io.WriteString(w, "no entry\n")
			return
		}
		w.Header().Set("X-Auth-User", "alice")
		w.WriteHeader(200)
	}))
	defer auth.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	var seenUser []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenUser = append(seenUser, r.Header.Get("X-Auth-User"))
		io.WriteString(w, "origin")
	}))
	defer origin.Close()
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse:
      routes:
        - name: app
          match: {path_prefix: /}
          upstream: app
          forward_auth: {url: "%s/check", copy_headers: [X-Auth-User]}
        - name: broken
          match: {path_prefix: /broken}
          upstream: app
          forward_auth: {url: "http://%s/check"}
upstreams:
  app: {targets: [%q]}
`, auth.URL, deadAddr, strings.TrimPrefix(origin.URL, "http://")), nil)
	base := "http://" + j.Addr(t, "web")
	for front, client := range retryClients(t) {
		t.Run(front, func(t *testing.T) {
			seenUser = nil
			do := func(path, token string) (*http.Response, string) {
				req, _ := http.NewRequest("GET", base+path, nil)
				if token != "" {
					req.Header.Set("X-Token", token)
				}
				req.Header.Set("X-Auth-User", "mallory") // forged: replaced
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp, string(b)
			}
			if resp, body := do("/x", "good"); resp.StatusCode != 200 || body != "origin" {
				t.Errorf("allowed: %d %q", resp.StatusCode, body)
			}
			if len(seenUser) != 1 || seenUser[0] != "alice" {
				t.Errorf("the origin saw X-Auth-User %q, want the auth service's alice", seenUser)
			}
			resp, body := do("/x", "bad")
			if resp.StatusCode != 401 || body != "no entry\n" || resp.Header.Get("WWW-Authenticate") != `Bearer realm="test"` {
				t.Errorf("refused: %d %q %v", resp.StatusCode, body, resp.Header)
			}
			if len(seenUser) != 1 {
				t.Errorf("a refused request reached the origin")
			}
			if resp, _ := do("/broken", "good"); resp.StatusCode != 500 {
				t.Errorf("auth service down: %d, want 500", resp.StatusCode)
			}
		})
	}
}

// TestForwardAuthOnWebSockets: a WebSocket route behind forward_auth sends
// the origin the auth service's copied field, not the client's forged one,
// whether the WebSocket comes as an HTTP/1.1 upgrade or an RFC 8441
// extended CONNECT over HTTP/2.
func TestForwardAuthOnWebSockets(t *testing.T) {
	checkLeaks(t)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Auth-User", "alice")
		w.WriteHeader(200)
	}))
	defer auth.Close()
	ws := startWSOrigin(t)
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse:
      routes:
        - name: ws
          match: {path_prefix: /ws}
          upstream: ws
          forward_auth: {url: "%s/check", copy_headers: [X-Auth-User]}
upstreams:
  ws: {targets: [%q]}
`, auth.URL, ws.addr()), nil)
	addr := j.Addr(t, "web")
	seen := func() string {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		return ws.handshake.Get("X-Auth-User") + "/" + strings.Join(ws.handshake.Values("X-Auth-User"), ",")
	}

	t.Run("http1", func(t *testing.T) {
		c := dialWSWith(t, addr, "X-Auth-User: mallory\r\n")
		c.echo(t, wsText, []byte("hi"))
		if got := seen(); got != "alice/alice" {
			t.Errorf("origin saw X-Auth-User %q, want only the auth service's alice", got)
		}
	})
	t.Run("h2c", func(t *testing.T) {
		tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		}}
		defer tr.CloseIdleConnections()
		hdr := wsHeader.Clone()
		hdr.Set("X-Auth-User", "mallory")
		w := openH2WS(t, h2wsFront{"http://" + addr, tr}, "/ws/chat", "websocket", hdr)
		if w.resp.StatusCode != 200 {
			t.Fatalf("extended CONNECT answered %d", w.resp.StatusCode)
		}
		if op, payload, _, err := readWSFrame(w.br); err != nil || op != wsText || string(payload) != "hello from origin" {
			t.Fatalf("origin's greeting: op %d %q %v", op, payload, err)
		}
		w.echo(t, wsText, []byte("hi"))
		if got := seen(); got != "alice/alice" {
			t.Errorf("origin saw X-Auth-User %q, want only the auth service's alice", got)
		}
	})
}
