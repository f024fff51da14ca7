package test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

func TestHTTPProxyThroughNetHTTP(t *testing.T) {
	janustest.CheckGoroutines(t)
	origin := janustest.EchoOrigin(t)
	j := startBase(t)
	client := proxyClient(t, j, "open", "")

	resp, err := client.Post(origin.URL+"/upload?x=1", "text/plain", strings.NewReader("hello origin"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	seen := janustest.DecodeSeen(t, resp.Body)
	if seen.Method != "POST" || seen.Path != "/upload?x=1" || seen.Body != "hello origin" {
		t.Errorf("origin saw %+v", seen)
	}
	if got := seen.Header.Get("Via"); !strings.Contains(got, "janus") {
		t.Errorf("anonymous level must add Via, origin saw Via %q", got)
	}
	if got := seen.Header.Get("X-Forwarded-For"); got != "" {
		t.Errorf("anonymous level must not add X-Forwarded-For, origin saw %q", got)
	}
	if !strings.Contains(resp.Header.Get("Via"), "janus") {
		t.Errorf("response Via = %q", resp.Header.Get("Via"))
	}
}

func TestConnectToHTTPSOrigin(t *testing.T) {
	janustest.CheckGoroutines(t)
	origin := httptest.NewTLSServer(janustest.EchoHandler())
	defer origin.Close()
	j := startBase(t)

	pool := x509.NewCertPool()
	pool.AddCert(origin.Certificate())
	proxyURL := &url.URL{Scheme: "http", Host: j.Addr(t, "open")}
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < 3; i++ { // the tunnel is reused
		resp, err := client.Get(origin.URL + "/secure")
		if err != nil {
			t.Fatal(err)
		}
		seen := janustest.DecodeSeen(t, resp.Body)
		resp.Body.Close()
		if seen.Path != "/secure" {
			t.Fatalf("origin saw %+v", seen)
		}
		if seen.Header.Get("Via") != "" {
			t.Error("a CONNECT tunnel must not touch the bytes it carries")
		}
	}
	tr.CloseIdleConnections()
	line := j.WaitLog(t, func(l map[string]any) bool { return l["proto"] == "connect" })
	if line["method"] != "CONNECT" || line["status"] != float64(200) || line["target"] != strings.TrimPrefix(origin.URL, "https://") {
		t.Errorf("log line %v", line)
	}
	if line["bytes_up"].(float64) == 0 || line["bytes_down"].(float64) == 0 {
		t.Errorf("tunnel bytes not counted: %v", line)
	}
}

func TestProxyAuthentication(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	j := startBase(t)
	for _, tc := range []struct {
		desc     string
		userinfo string
		want     int
	}{
		{"no credentials", "", http.StatusProxyAuthRequired},
		{"wrong password", "alice:looking-glass", http.StatusProxyAuthRequired},
		{"unknown user", "mallory:x", http.StatusProxyAuthRequired},
		{"alice", "alice:wonderland", http.StatusOK},
		{"bob", "bob:builder", http.StatusOK},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			resp, err := proxyClient(t, j, "auth", tc.userinfo).Get(origin.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusProxyAuthRequired && !strings.HasPrefix(resp.Header.Get("Proxy-Authenticate"), "Basic") {
				t.Errorf("407 without Proxy-Authenticate: Basic: %v", resp.Header)
			}
			if tc.want == http.StatusOK {
				seen := janustest.DecodeSeen(t, resp.Body)
				if seen.Header.Get("Proxy-Authorization") != "" {
					t.Error("Proxy-Authorization was forwarded to the origin")
				}
			}
		})
	}
	if strings.Contains(j.Log.String()+j.App.String(), "looking-glass") {
		t.Error("a password reached the logs")
	}
	line := j.WaitLog(t, func(l map[string]any) bool { return l["user"] == "alice" && l["status"] == float64(200) })
	if line["rule"] != "local-origin" {
		t.Errorf("alice's log line %v", line)
	}
}

// TestDestinationRulesOnResolvedAddress: a name that resolves to a forbidden
// loopback alias is refused, on every protocol, and nothing is dialed.
func TestDestinationRulesOnResolvedAddress(t *testing.T) {
	forbidden, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	defer forbidden.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := forbidden.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(forbidden.Addr().String())
	j := startBase(t)
	client := proxyClient(t, j, "open", "")
	for _, target := range []string{"http://forbidden.test:" + port + "/", "http://127.0.0.2:" + port + "/", "http://[::ffff:127.0.0.2]:" + port + "/"} {
		resp, err := client.Get(target)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "special") {
			t.Errorf("%s: status %d body %q, want 403 naming rule special", target, resp.StatusCode, body)
		}
	}
	status, _ := rawExchange(t, j.Addr(t, "open"), "CONNECT forbidden.test:"+port+" HTTP/1.1\r\nHost: forbidden.test:"+port+"\r\n\r\n")
	if status != "403" {
		t.Errorf("CONNECT to forbidden.test: status %q, want 403", status)
	}
	select {
	case <-accepted:
		t.Error("Janus connected to the forbidden address")
	case <-time.After(100 * time.Millisecond):
	}
	line := j.WaitLog(t, func(l map[string]any) bool {
		return l["status"] == float64(403) && strings.Contains(fmt.Sprint(l["target"]), "forbidden.test")
	})
	if line["rule"] != "special" {
		t.Errorf("denial names rule %v, want special", line["rule"])
	}
}

// TestProxyLoopIsRefused: a request for Janus's own address would loop.
func TestProxyLoopIsRefused(t *testing.T) {
	j := startBase(t)
	client := proxyClient(t, j, "open", "")
	resp, err := client.Get("http://" + j.Addr(t, "open") + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("request to Janus itself: status %d, want 403", resp.StatusCode)
	}
	j.WaitLog(t, func(l map[string]any) bool { return l["rule"] == "loop" })
}

func TestAnonymityLevels(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	for _, tc := range []struct {
		level   string
		wantVia bool
		wantXFF string
	}{
		{"transparent", true, "10.9.9.9, 127.0.0.1"},
		{"anonymous", true, "10.9.9.9"},
		{"elite", false, ""},
	} {
		t.Run(tc.level, func(t *testing.T) {
			j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: all, anonymity: %s}
policies:
  all: [{allow: {}}]
`, tc.level), nil)
			req, _ := http.NewRequest("GET", origin.URL+"/", nil)
			req.Header.Set("X-Forwarded-For", "10.9.9.9")
			req.Header.Set("X-Real-IP", "10.9.9.9")
			req.Header.Set("Forwarded", "for=10.9.9.9")
			resp, err := proxyClient(t, j, "p", "").Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			seen := janustest.DecodeSeen(t, resp.Body)
			if got := seen.Header.Get("Via") != ""; got != tc.wantVia {
				t.Errorf("origin saw Via %q", seen.Header.Get("Via"))
			}
			if got := strings.Join(seen.Header.Values("X-Forwarded-For"), ", "); got != tc.wantXFF {
				t.Errorf("origin saw X-Forwarded-For %q, want %q", got, tc.wantXFF)
			}
			if tc.level == "elite" {
				for _, h := range []string{"X-Real-IP", "Forwarded"} {
					if seen.Header.Get(h) != "" {
						t.Errorf("elite forwarded %s: %q", h, seen.Header.Get(h))
					}
				}
				if resp.Header.Get("Via") != "" {
					t.Errorf("elite added Via to the response")
				}
			}
		})
	}
}

func TestHopByHopHeadersAreRemoved(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	j := startBase(t)
	req, _ := http.NewRequest("GET", origin.URL+"/", nil)
	req.Header.Set("Connection", "X-Secret, keep-alive")
	req.Header.Set("X-Secret", "hop")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Te", "trailers")
	req.Header.Set("X-End-To-End", "kept")
	resp, err := proxyClient(t, j, "open", "").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	seen := janustest.DecodeSeen(t, resp.Body)
	for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Connection"} {
		if v := seen.Header.Get(h); v != "" {
			t.Errorf("origin saw hop-by-hop %s: %q", h, v)
		}
	}
	if seen.Header.Get("X-End-To-End") != "kept" {
		t.Error("an end-to-end header was dropped")
	}
}

func TestMalformedRequestsGetClearStatuses(t *testing.T) {
	janustest.CheckGoroutines(t)
	j := startBase(t)
	addr := j.Addr(t, "open")
	fdsBefore := janustest.OpenFDs(t)
	for _, tc := range []struct {
		desc, req, want string
	}{
		{"garbage", "\x00\x01\x02 nonsense\r\n\r\n", "400"},
		{"bad version", "GET http://127.0.0.1/ HTTP/9.9\r\nHost: x\r\n\r\n", "505"},
		{"origin-form on a forward proxy", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "400"},
		{"CL and TE together", "POST http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"header too large", "GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", "431"},
		{"URI too long", "GET http://127.0.0.1:1/" + strings.Repeat("a", 70<<10) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "414"},
		{"space before colon", "GET http://127.0.0.1:1/ HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n", "400"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			status, _ := rawExchange(t, addr, tc.req)
			if status != tc.want {
				t.Errorf("status %q, want %s", status, tc.want)
			}
		})
	}
	// A client that opens and sends nothing is closed after the header timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 4*time.Second {
		t.Errorf("silent client: read err %v after %v, want close after ~2s", err, time.Since(start))
	}
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for janustest.OpenFDs(t) > fdsBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := janustest.OpenFDs(t); n > fdsBefore {
		t.Errorf("file descriptors: %d before, %d after", fdsBefore, n)
	}
}
