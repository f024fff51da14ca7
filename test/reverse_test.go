package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// namedOrigin is an echo origin that also says which one it is and counts
// the connections it accepted.
type namedOrigin struct {
	srv   *httptest.Server
	conns atomic.Int32
}

func startNamedOrigin(t *testing.T, name string) *namedOrigin {
	t.Helper()
	o := &namedOrigin{}
	echo := janustest.EchoHandler()
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Origin", name)
		w.Header().Set("Server", "secret-server/1.0")
		if r.URL.Path == "/slow" {
			time.Sleep(2 * time.Second)
		}
		echo.ServeHTTP(w, r)
	}))
	o.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			o.conns.Add(1)
		}
	}
	o.srv.Start()
	t.Cleanup(o.srv.Close)
	return o
}

func (o *namedOrigin) addr() string { return strings.TrimPrefix(o.srv.URL, "http://") }

func reverseConfig(targets []string, static string) string {
	return fmt.Sprintf(`
log: {access: {format: json}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - name: admin-filter
          match: {path_prefix: /admin}
          respond: {status: 403, body: "admin is not served here\n"}
        - name: old-page
          match: {path: /old}
          redirect: {status: 301, location: "http://$host/new$is_args$query"}
        - name: files
          match: {path_prefix: /static/}
          strip_prefix: /static
          static: {root: %q}
        - name: app
          match: {path_prefix: /}
          upstream: app
          hide_server: true
          request_headers: {set: {X-Janus-Route: app}}
  - name: both
    listen: 127.0.0.1:0
    forward: {policy: all}
    reverse:
      routes:
        - {name: app, match: {path_prefix: /}, upstream: app}
upstreams:
  app:
    targets: [%s]
    balance: round_robin
    eject: {consecutive: 2}
    retries: {attempts: 3}
    timeouts: {response: 1s}
policies:
  all: [{allow: {}}]
`, static, "'"+strings.Join(targets, "', '")+"'")
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestReverseRoutesBalanceAndForward(t *testing.T) {
	janustest.CheckGoroutines(t)
	a, b := startNamedOrigin(t, "a"), startNamedOrigin(t, "b")
	j := janustest.Start(t, reverseConfig([]string{a.addr(), b.addr()}, t.TempDir()), nil)
	base := "http://" + j.Addr(t, "web")
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		resp, body := get(t, base+"/app/x?i=1", map[string]string{"Connection": "X-Forwarded-For", "X-Forwarded-For": "6.6.6.6", "Host": "site.test"})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		seen[resp.Header.Get("X-Origin")]++
		if resp.Header.Get("Server") != "" {
			t.Errorf("hide_server: Server %q reached the client", resp.Header.Get("Server"))
		}
		s := janustest.DecodeSeen(t, strings.NewReader(body))
		if s.Path != "/app/x?i=1" || s.Host != "site.test" {
			t.Errorf("origin saw path %q host %q", s.Path, s.Host)
		}
		if got := s.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q: an untrusted client's value must be replaced, and Connection must not remove ours", got)
		}
		if s.Header.Get("X-Janus-Route") != "app" || s.Header.Get("X-Request-Id") == "" || s.Header.Get("X-Forwarded-Proto") != "http" {
			t.Errorf("origin header %v", s.Header)
		}
	}
	if seen["a"] != 10 || seen["b"] != 10 {
		t.Errorf("round robin over two targets: %v", seen)
	}
	// Keep-alive to the upstreams: connections are reused, not one per request.
	if n := a.conns.Load() + b.conns.Load(); n > 4 {
		t.Errorf("%d upstream connections for 20 requests", n)
	}
	line := j.WaitLog(t, func(l map[string]any) bool { return l["rule"] == "app" })
	if line["status"] != float64(200) || line["listener"] != "web" {
		t.Errorf("log line %v", line)
	}
}

func TestReverseFilterCannotBeBypassed(t *testing.T) {
	a := startNamedOrigin(t, "a")
	j := janustest.Start(t, reverseConfig([]string{a.addr()}, t.TempDir()), nil)
	addr := j.Addr(t, "web")
	for _, tc := range []struct{ path, want string }{
		{"/admin", "403"}, {"/admin/users", "403"}, {"/%61dmin", "403"}, {"/./admin", "403"},
		{"//admin", "403"}, {"/x/../admin", "403"}, {"/%2e/admin", "403"},
		{"/%2fadmin", "400"}, {"/..%2fadmin", "400"}, {"/admin%00", "400"}, {"/../admin", "400"}, {"/\\admin", "400"},
		{"/public", "200"},
	} {
		status, _ := rawExchange(t, addr, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if status != tc.want {
			t.Errorf("%s: status %s, want %s", tc.path, status, tc.want)
		}
	}
}

func TestReverseRedirectStaticAnd404(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, static world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startNamedOrigin(t, "a")
	j := janustest.Start(t, reverseConfig([]string{a.addr()}, dir), nil)
	base := "http://" + j.Addr(t, "web")

	resp, _ := get(t, base+"/old?x=1", map[string]string{"Host": "site.test"})
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "http://site.test/new?x=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(t, base+"/static/hello.txt", nil)
	if resp.StatusCode != 200 || body != "hello, static world\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("static: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	etag := resp.Header.Get("ETag")
	if resp, _ = get(t, base+"/static/hello.txt", map[string]string{"If-None-Match": etag}); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	if resp, body = get(t, base+"/static/hello.txt", map[string]string{"Range": "bytes=7-12"}); resp.StatusCode != 206 || body != "static" {
		t.Errorf("Range: %d %q", resp.StatusCode, body)
	}
	if resp, _ = get(t, base+"/static/../../etc/passwd", nil); resp.StatusCode != 400 && resp.StatusCode != 404 {
		t.Errorf("traversal: %d", resp.StatusCode)
	}
	if resp, _ = get(t, base+"/static/missing.txt", nil); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
}

// TestReverseFailsOverToAHealthyTarget: a target that refuses connections
// is tried, reported and skipped; no request fails.
func TestReverseFailsOverToAHealthyTarget(t *testing.T) {
	a := startNamedOrigin(t, "a")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	j := janustest.Start(t, reverseConfig([]string{deadAddr, a.addr()}, t.TempDir()), nil)
	base := "http://" + j.Addr(t, "web")
	for i := 0; i < 20; i++ {
		resp, body := get(t, base+"/x", nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Origin") != "a" {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
}

func TestReverseUpstreamErrors(t *testing.T) {
	a := startNamedOrigin(t, "a")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	t.Run("slow target gives 504", func(t *testing.T) {
		j := janustest.Start(t, reverseConfig([]string{a.addr()}, t.TempDir()), nil)
		if resp, _ := get(t, "http://"+j.Addr(t, "web")+"/slow", nil); resp.StatusCode != 504 {
			t.Errorf("status %d, want 504", resp.StatusCode)
		}
	})
	t.Run("no target answers gives 502", func(t *testing.T) {
		j := janustest.Start(t, reverseConfig([]string{deadAddr}, t.TempDir()), nil)
		if resp, _ := get(t, "http://"+j.Addr(t, "web")+"/x", nil); resp.StatusCode != 502 {
			t.Errorf("status %d, want 502", resp.StatusCode)
		}
	})
}

// TestOneListenerServesBothFaces: absolute-form requests are proxied
// forward, origin-form ones routed.
func TestOneListenerServesBothFaces(t *testing.T) {
	a := startNamedOrigin(t, "a")
	other := janustest.EchoOrigin(t)
	j := janustest.Start(t, reverseConfig([]string{a.addr()}, t.TempDir()), nil)
	resp, body := get(t, "http://"+j.Addr(t, "both")+"/routed", nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-Origin") != "a" {
		t.Errorf("origin-form: %d %s", resp.StatusCode, body)
	}
	fresp, err := proxyClient(t, j, "both", "").Get(other.URL + "/forwarded")
	if err != nil {
		t.Fatal(err)
	}
	defer fresp.Body.Close()
	if s := janustest.DecodeSeen(t, fresp.Body); s.Path != "/forwarded" || fresp.Header.Get("X-Origin") != "" {
		t.Errorf("absolute-form went to %+v", s)
	}
}
