package test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/janustest"
)

// exampleTested lists the configs in examples/ that the tests below load.
var exampleTested = map[string]bool{"local.yaml": true, "site.yaml": true, "cache.yaml": true, "limits.yaml": true}

func TestEveryExampleLoads(t *testing.T) {
	for name := range exampleTested {
		t.Run(name, func(t *testing.T) {
			if _, err := config.Load(filepath.Join("..", "examples", name)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// exampleCertPool trusts the examples' self-signed localhost certificate.
func exampleCertPool(t *testing.T) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile("../examples/certs/localhost.pem")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

// TestLocalExampleWalkThrough follows the README's walk-through with
// examples/local.yaml (on a free port instead of 8080).
func TestLocalExampleWalkThrough(t *testing.T) {
	cfg, err := config.Load("../examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listeners[0].Listen != "127.0.0.1:8080" {
		t.Fatalf("the README promises 127.0.0.1:8080, the example says %s", cfg.Listeners[0].Listen)
	}
	if cfg.Listeners[1].Listen != "127.0.0.1:8081" {
		t.Fatalf("the README promises the reverse face on 127.0.0.1:8081, the example says %s", cfg.Listeners[1].Listen)
	}
	if cfg.Admin == nil || cfg.Admin.Listen != "127.0.0.1:9901" {
		t.Fatalf("the README promises the dashboard on 127.0.0.1:9901, the example says %+v", cfg.Admin)
	}
	for i := range cfg.Listeners {
		cfg.Listeners[i].Listen = "127.0.0.1:0"
	}
	cfg.Admin.Listen = "127.0.0.1:0"
	j := janustest.StartConfig(t, cfg, "../examples")
	origin := janustest.EchoOrigin(t)
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(origin.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	addr := j.Addr(t, "local")

	for _, tc := range []struct {
		desc, user, url string
		want            int
	}{
		{"alice reaches 127.0.0.1", "alice:wonderland", origin.URL + "/", http.StatusOK},
		{"bob reaches 127.0.0.1 on any port", "bob:builder", origin.URL + "/", http.StatusOK},
		{"a password is required", "", origin.URL + "/", http.StatusProxyAuthRequired},
		{"127.0.0.2 stays denied", "alice:wonderland", "http://127.0.0.2:" + portStr + "/", http.StatusForbidden},
		{"link-local stays denied", "alice:wonderland", "http://169.254.169.254/latest/meta-data/", http.StatusForbidden},
		{"private stays denied", "alice:wonderland", "http://10.0.0.1/", http.StatusForbidden},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			resp, err := proxyClient(t, j, "local", tc.user).Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	t.Run("socks5 with alice", func(t *testing.T) {
		d, _ := proxy.SOCKS5("tcp", addr, &proxy.Auth{User: "alice", Password: "wonderland"}, &net.Dialer{})
		resp, err := socksHTTPClient(t, d).Get(origin.URL + "/s5")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	t.Run("socks4a from this machine to localhost", func(t *testing.T) {
		c, code := socks4Connect(t, addr, [4]byte{0, 0, 0, 1}, uint16(port), "localhost")
		if c != nil {
			c.Close()
		}
		if code != 0x5a {
			t.Errorf("reply %#x, want 0x5a", code)
		}
	})
	t.Run("the reverse face answers /admin itself", func(t *testing.T) {
		for _, path := range []string{"/admin", "/%61dmin", "//admin/x"} {
			if status, _ := rawExchange(t, j.Addr(t, "web"), "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); status != "403" {
				t.Errorf("%s: status %s, want 403", path, status)
			}
		}
	})
	t.Run("the TLS listener serves the same site with the example certificate", func(t *testing.T) {
		pool := exampleCertPool(t)
		resp, err := tlsClient(pool, "localhost").Get("https://" + j.Addr(t, "web-tls") + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("Strict-Transport-Security") != "max-age=300" {
			t.Errorf("status %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
	})
	t.Run("the TLS listener serves HTTP/3 and advertises it", func(t *testing.T) {
		pool := exampleCertPool(t)
		client, _ := h3Client(t, pool, "localhost")
		resp, err := client.Get("https://" + j.Addr(t, "web-tls") + "/%61dmin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Proto != "HTTP/3.0" || resp.StatusCode != 403 {
			t.Errorf("%s %d, want HTTP/3.0 403", resp.Proto, resp.StatusCode)
		}
		resp, err = tlsClient(pool, "localhost").Get("https://" + j.Addr(t, "web-tls") + "/admin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := `h3=":` + strconv.Itoa(int(j.AddrPort(t, "web-tls").Port())) + `"; ma=86400`; resp.Header.Get("Alt-Svc") != want {
			t.Errorf("Alt-Svc %q, want %q", resp.Header.Get("Alt-Svc"), want)
		}
	})
	t.Run("socks4 to 127.0.0.2 is refused", func(t *testing.T) {
		c, code := socks4Connect(t, addr, [4]byte{127, 0, 0, 2}, uint16(port), "")
		if c != nil {
			c.Close()
		}
		if code != 0x5b {
			t.Errorf("reply %#x, want 0x5b", code)
		}
	})
}

// TestSiteExampleServes: the production-shaped example redirects HTTP to
// HTTPS, filters /admin and serves its static files over HTTP/2.
func TestSiteExampleServes(t *testing.T) {
	cfg, err := config.Load("../examples/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Listeners {
		cfg.Listeners[i].Listen = "127.0.0.1:0"
	}
	j := janustest.StartConfig(t, cfg, "../examples")
	resp, _ := get(t, "http://"+j.Addr(t, "http")+"/page?x=1", map[string]string{"Host": "localhost"})
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://localhost:8543/page?x=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	pool := exampleCertPool(t)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := "https://" + j.Addr(t, "https")
	r, err := client.Get(base + "/static/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || r.Proto != "HTTP/2.0" || !strings.Contains(string(b), "Janus example site") || r.Header.Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("static over h2: %d %s %q %v", r.StatusCode, r.Proto, b, r.Header)
	}
	r, err = client.Get(base + "/%61dmin")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 403 {
		t.Errorf("admin filter over h2: %d", r.StatusCode)
	}
}
