package test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/janustest"
	"github.com/janus-proxy/janus/internal/server"
)

// reloadConfig is one of two configs a reload alternates between: the same
// listeners (a reverse one and a forward one with CONNECT and SOCKS5), a
// route answering with the generation's name, and a different upstream
// target.
func reloadConfig(gen, target string, ws ...string) string {
	wsTarget := "127.0.0.1:1"
	if len(ws) > 0 {
		wsTarget = ws[0]
	}
	return fmt.Sprintf(`
log: {access: {format: json}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - name: app
          match: {path_prefix: /}
          upstream: app
          response_headers: {set: {X-Generation: %s}}
        - {name: ws, match: {path_prefix: /ws/}, upstream: ws}
  - name: fwd
    listen: 127.0.0.1:0
    forward: {policy: local, connect_ports: ["1-65535"]}
upstreams:
  app: {targets: [%q]}
  ws: {targets: [%q]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, gen, target, wsTarget)
}

// echoServer echoes every line it reads, on loopback.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			})
		}
	})
	return ln.Addr().String()
}

// TestReloadUnderLoadDropsNothing: 20 reloads between two configs while
// clients send requests through the reverse face (keep-alive and new
// connections) and keep WebSockets open through it, and CONNECT tunnels and
// SOCKS5 sessions through the forward face: no request fails, no tunnel or
// WebSocket breaks, the listeners keep their sockets, and the new config
// takes effect.
func TestReloadUnderLoadDropsNothing(t *testing.T) {
	checkLeaks(t)
	a := startNamedOrigin(t, "a")
	b := startNamedOrigin(t, "b")
	echo := echoServer(t)
	ws := startWSOrigin(t)
	configs := []string{reloadConfig("one", a.addr(), ws.addr()), reloadConfig("two", b.addr(), ws.addr())}
	j := janustest.Start(t, configs[0], nil)
	web, fwd := j.Addr(t, "web"), j.Addr(t, "fwd")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int32
	var seen sync.Map // X-Generation values
	fail := func(format string, args ...any) {
		failures.Add(1)
		t.Errorf(format, args...)
	}
	// Reverse face: keep-alive clients and clients with a new connection
	// per request.
	for i := range 4 {
		tr := &http.Transport{DisableKeepAlives: i%2 == 1}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		wg.Go(func() {
			for n := 0; n < 100000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + web + "/x")
				if err != nil {
					fail("reverse request: %v", err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					fail("reverse request: status %d: %s", resp.StatusCode, body)
					return
				}
				seen.Store(resp.Header.Get("X-Generation")+"/"+resp.Header.Get("X-Origin"), true)
				requests.Add(1)
			}
		})
	}
	// Forward face: long-lived CONNECT tunnels and SOCKS5 sessions, each
	// echoing a line every few milliseconds.
	tunnels := func(name string, dial func() (net.Conn, error)) {
		for range 3 {
			c, err := dial()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					line := fmt.Sprintf("%s %d\n", name, n)
					if _, err := io.WriteString(c, line); err != nil {
						fail("%s broke after %d echoes: %v", name, n, err)
						return
					}
					got, err := br.ReadString('\n')
					if err != nil || got != line {
						fail("%s broke after %d echoes: %q %v", name, n, got, err)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
	}
	tunnels("CONNECT", func() (net.Conn, error) {
		c, err := net.Dial("tcp", fwd)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", echo, echo)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
		if err != nil || resp.StatusCode != 200 || br.Buffered() != 0 {
			c.Close()
			return nil, fmt.Errorf("CONNECT: %v %v", resp, err)
		}
		return c, nil
	})
	tunnels("SOCKS5", func() (net.Conn, error) {
		d, err := proxy.SOCKS5("tcp", fwd, nil, proxy.Direct)
		if err != nil {
			return nil, err
		}
		return d.Dial("tcp", echo)
	})

	// WebSockets through the reverse face, echoing all along.
	for range 2 {
		w := dialWS(t, web)
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = w.c.SetDeadline(time.Now().Add(5 * time.Second))
				msg := []byte(fmt.Sprintf("message %d", n))
				if err := writeWSFrame(w.c, wsText, msg, true); err != nil {
					fail("WebSocket broke after %d echoes: %v", n, err)
					return
				}
				op, got, _, err := readWSFrame(w.br)
				if err != nil || op != wsText || string(got) != string(msg) {
					fail("WebSocket broke after %d echoes: %q %v", n, got, err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}

	for i := range 20 {
		time.Sleep(50 * time.Millisecond)
		if err := j.Reload(t, configs[(i+1)%2]); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if got := j.Addr(t, "web"); got != web {
			t.Fatalf("reload %d moved the listener from %s to %s", i, web, got)
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	var gens []string
	seen.Range(func(k, _ any) bool { gens = append(gens, k.(string)); return true })
	t.Logf("%d reverse requests, %d failures, seen %v", requests.Load(), failures.Load(), gens)
	if failures.Load() > 0 {
		for _, l := range j.Log.Lines() {
			if s, _ := l["status"].(float64); s >= 500 {
				t.Logf("access log: %v", l)
			}
		}
	}
	for _, want := range []string{"one/a", "two/b"} {
		if _, ok := seen.Load(want); !ok {
			t.Errorf("never saw generation/origin %s: %v", want, gens)
		}
	}
	if _, ok := seen.Load("one/b"); ok {
		t.Errorf("a response mixed the two configs (one/b)")
	}
}

// TestReloadWithABadConfigChangesNothing: a config that does not load, or
// one that cannot be served (its new listener's address is taken), is
// refused with its reason, and the running config keeps serving.
func TestReloadWithABadConfigChangesNothing(t *testing.T) {
	a := startNamedOrigin(t, "a")
	good := reloadConfig("one", a.addr())
	j := janustest.Start(t, good, nil)
	web := j.Addr(t, "web")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		desc, yaml, want string
	}{
		{"unknown key", strings.Replace(good, "log: {access: {format: json}}", "log: {access: {format: json}}\ncolour: blue", 1), "janus.yaml:3: colour: unknown key"},
		{"undefined upstream", strings.Replace(good, "upstream: app", "upstream: nowhere", 1), "upstream"},
		{"address in use", "", "address already in use"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			yaml := tc.yaml
			if tc.desc == "address in use" {
				// The listener goes under listeners:, before upstreams.
				yaml = strings.Replace(good, "upstreams:", fmt.Sprintf("  - name: extra\n    listen: %s\n    forward: {policy: local}\nupstreams:", taken.Addr()), 1)
			}
			err := j.Reload(t, yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload error %v, want one saying %q", err, tc.want)
			}
			resp, _ := get(t, "http://"+web+"/x", nil)
			if resp.StatusCode != 200 || resp.Header.Get("X-Generation") != "one" {
				t.Errorf("after a refused reload: %d %q", resp.StatusCode, resp.Header.Get("X-Generation"))
			}
		})
	}
}

// TestReloadRereadsCertificates: a certificate replaced on disk is served
// after a reload, on the same socket.
func TestReloadRereadsCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	certPath, keyPath, first := ca.Issue(t, "site", false, "site.test")
	yaml := fmt.Sprintf(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}]}
    reverse: {routes: [{name: hello, respond: {status: 200, body: hi}}]}
`, certPath, keyPath)
	j := janustest.Start(t, yaml, nil)
	addr := j.Addr(t, "tls")
	serial := func() string {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, ServerName: "site.test"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got, want := serial(), first.Leaf.SerialNumber.String(); got != want {
		t.Fatalf("serial %s, want %s", got, want)
	}
	// The same files, now holding a new certificate.
	_, _, second := ca.Issue(t, "site", false, "site.test")
	if err := j.Reload(t, yaml); err != nil {
		t.Fatal(err)
	}
	if got, want := serial(), second.Leaf.SerialNumber.String(); got != want {
		t.Errorf("after the reload: serial %s, want the new certificate's %s", got, want)
	}
	if got := j.Addr(t, "tls"); got != addr {
		t.Errorf("the listener moved from %s to %s", addr, got)
	}
}

// TestReloadRereadsTheUsersFile: a user added to the users file can log in
// after a reload, and one removed no longer can.
func TestReloadRereadsTheUsersFile(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	yaml := `
users: {file: users.htpasswd}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`
	j := janustest.Start(t, yaml, map[string]string{"users.htpasswd": "alice:" + aliceHash + "\n"})
	status := func(userinfo string) int {
		resp, err := proxyClient(t, j, "p", userinfo).Get(origin.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("alice:wonderland"); s != 200 {
		t.Fatalf("alice before the reload: %d", s)
	}
	if s := status("bob:builder"); s != 407 {
		t.Fatalf("bob before the reload: %d, want 407", s)
	}
	if err := os.WriteFile(filepath.Join(j.Dir, "users.htpasswd"), []byte("bob:"+bobHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.Reload(t, yaml); err != nil {
		t.Fatal(err)
	}
	if s := status("bob:builder"); s != 200 {
		t.Errorf("bob after the reload: %d, want 200", s)
	}
	if s := status("alice:wonderland"); s != 407 {
		t.Errorf("alice after the reload: %d, want 407", s)
	}
}

// TestReloadChangesLogLevel: a reload applies log.level (a live server
// can be turned to debug and back); a changed log.format is reported as
// waiting for a restart.
func TestReloadChangesLogLevel(t *testing.T) {
	yaml := func(level, format string) *config.Config {
		cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
log: {level: %s, format: %s, access: {output: "off"}}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {}
`, level, format)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	var buf janustest.LogBuffer
	cfg := yaml("warn", "json")
	logger, level := server.NewLogger(cfg.Log, &buf)
	srv, err := server.New(cfg, server.Options{Logger: logger, LogLevel: level})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if strings.Contains(buf.String(), `"msg":"listening"`) {
		t.Fatalf("info lines at level warn:\n%s", buf.String())
	}
	if err := srv.Reload(yaml("info", "json")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"msg":"log level changed","level":"INFO"`) || !strings.Contains(buf.String(), `"msg":"config reloaded"`) {
		t.Errorf("after a reload to info:\n%s", buf.String())
	}
	if err := srv.Reload(yaml("info", "text")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "log.format changed: the new format is used after a restart") {
		t.Errorf("a format change is not reported:\n%s", buf.String())
	}
}

// TestReloadForgetsRemovedRouteMetrics: /metrics stops reporting a route
// a reload removed, and keeps the others.
func TestReloadForgetsRemovedRouteMetrics(t *testing.T) {
	cfg := func(routes string) string {
		return `
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
` + routes
	}
	both := "        - {name: old, match: {path: /old}, respond: {status: 200}}\n        - {name: kept, match: {path_prefix: /}, respond: {status: 200}}\n"
	j := janustest.Start(t, cfg(both), nil)
	for _, p := range []string{"/old", "/x"} {
		resp, err := http.Get("http://" + j.Addr(t, "web") + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	scrape := func() string {
		rec := httptest.NewRecorder()
		j.Server.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	// An exchange is counted once logged, just after its answer.
	deadline := time.Now().Add(5 * time.Second)
	for s := scrape(); !strings.Contains(s, `route="old"`) || !strings.Contains(s, `route="kept"`); s = scrape() {
		if time.Now().After(deadline) {
			t.Fatalf("before the reload:\n%s", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	next, err := config.Parse("t.yaml", []byte(cfg("        - {name: kept, match: {path_prefix: /}, respond: {status: 200}}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Server.Reload(next); err != nil {
		t.Fatal(err)
	}
	if s := scrape(); strings.Contains(s, `route="old"`) || !strings.Contains(s, `route="kept"`) {
		t.Errorf("after the reload, route old should be gone and kept stay")
	}
}
