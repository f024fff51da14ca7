package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/janustest"
)

func rateLimitConfig(origin string) string {
	return fmt.Sprintf(`
limits:
  per-ip: {rate: 50/s, burst: 10}
  tunnels: {rate: 20/s, burst: 5, key: client_ip}
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse:
      routes:
        - {name: app, match: {path_prefix: /}, upstream: app, limits: [per-ip]}
  - name: fwd
    listen: 127.0.0.1:0
    forward: {policy: local, connect_ports: ["1-65535"], limits: [tunnels]}
upstreams:
  app: {targets: [%q]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, origin)
}

// TestRateLimitReverseRoute: a client sending as fast as it can through a
// route limited to 50 requests/s (burst 10) gets about burst + 50/s of
// them through over two seconds (within 10%), and 429 with Retry-After and
// the RateLimit fields for the rest, over HTTP/1.1 and HTTP/2 alike.
func TestRateLimitReverseRoute(t *testing.T) {
	a := startRetryOrigin(t, "a", 200, 0, nil, false)
	for front, client := range retryClients(t) {
		t.Run(front, func(t *testing.T) {
			j := janustest.Start(t, rateLimitConfig(a.addr()), nil)
			url := "http://" + j.Addr(t, "web") + "/x"
			const window = 2 * time.Second
			start := time.Now()
			ok, limited := 0, 0
			var sample *http.Response
			for time.Since(start) < window {
				resp, err := client.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok++
				case 429:
					limited++
					sample = resp
				default:
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			elapsed := time.Since(start).Seconds()
			want := 10 + 50*elapsed
			t.Logf("%s: %d allowed, %d refused in %.2fs (want about %.0f)", front, ok, limited, elapsed, want)
			if float64(ok) < want*0.9 || float64(ok) > want*1.1 {
				t.Errorf("%d requests allowed, want %.0f within 10%%", ok, want)
			}
			if sample == nil {
				t.Fatal("no request was refused")
			}
			if ra := sample.Header.Get("Retry-After"); ra != "1" {
				t.Errorf("Retry-After %q, want 1", ra)
			}
			if p := sample.Header.Get("RateLimit-Policy"); !strings.Contains(p, `"per-ip"`) || !strings.Contains(p, "q=") {
				t.Errorf("RateLimit-Policy %q", p)
			}
			if rl := sample.Header.Get("RateLimit"); !strings.Contains(rl, `"per-ip"`) || !strings.Contains(rl, "r=0") {
				t.Errorf("RateLimit %q", rl)
			}
		})
	}
}

// TestRateLimitForwardTunnels: new CONNECT tunnels and SOCKS5 sessions
// count against the forward listener's limit; past it CONNECT gets 429 and
// SOCKS5 the reply "not allowed" (0x02).
func TestRateLimitForwardTunnels(t *testing.T) {
	a := startRetryOrigin(t, "a", 200, 0, nil, false)
	j := janustest.Start(t, rateLimitConfig(a.addr()), nil)
	fwd := j.Addr(t, "fwd")
	statuses := map[string]int{}
	for range 12 {
		status, resp := rawExchange(t, fwd, fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", a.addr(), a.addr()))
		statuses[status]++
		if status == "429" && resp.Header.Get("Retry-After") == "" {
			t.Errorf("429 to CONNECT without Retry-After")
		}
	}
	if statuses["200"] < 5 || statuses["429"] == 0 {
		t.Errorf("CONNECT statuses %v: want the burst of 5 allowed, then 429", statuses)
	}
	d, err := proxy.SOCKS5("tcp", fwd, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for range 10 {
		c, err := d.Dial("tcp", a.addr())
		if err != nil {
			if !strings.Contains(err.Error(), "not allowed") {
				t.Errorf("SOCKS5 refusal: %v", err)
			}
			refused++
			continue
		}
		c.Close()
	}
	if refused == 0 {
		t.Errorf("no SOCKS5 session was refused past the limit")
	}
	j.WaitLog(t, func(l map[string]any) bool { return l["rule"] == "tunnels" && l["proto"] == "socks5" })
}

// TestMaxConnectionsPerClient: a listener bounding each client address to
// 2 connections refuses a third from the same address (HTTP 429, SOCKS5 no
// acceptable method), serves another address meanwhile, and takes the
// client again once one of its connections closed.
func TestMaxConnectionsPerClient(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	j := janustest.Start(t, `
listeners:
  - name: p
    listen: 127.0.0.1:0
    max_connections_per_client: 2
    forward: {policy: local}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, nil)
	addr := j.Addr(t, "p")
	open := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn) int {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET %s/ HTTP/1.1\r\nHost: %s\r\n\r\n", origin.URL, strings.TrimPrefix(origin.URL, "http://"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	first, second := open("127.0.0.1"), open("127.0.0.1")
	if get(first) != 200 || get(second) != 200 {
		t.Fatal("the first two connections were not served")
	}
	if s := get(open("127.0.0.1")); s != 429 {
		t.Errorf("a third connection from the same client: %d, want 429", s)
	}
	socks := open("127.0.0.1")
	_, _ = socks.Write([]byte{5, 1, 0})
	var reply [2]byte
	_ = socks.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(socks, reply[:]); err != nil || reply != [2]byte{5, 0xff} {
		t.Errorf("a third SOCKS5 connection: % x %v, want 05 ff", reply, err)
	}
	// Each refusal is in the access log, as a limit's.
	for _, proto := range []string{"http", "socks5"} {
		j.WaitLog(t, func(l map[string]any) bool {
			return l["rule"] == "max_connections_per_client" && l["proto"] == proto && l["limited"] == true
		})
	}
	if s := get(open("127.0.0.2")); s != 200 {
		t.Errorf("another client address: %d, want 200", s)
	}
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s := get(open("127.0.0.1")); s == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client was not taken again after one of its connections closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLimitMetrics: /metrics counts each limit's decisions and shows each
// quota's use.
func TestLimitMetrics(t *testing.T) {
	a := startRetryOrigin(t, "a", 200, 0, nil, false)
	j := janustest.Start(t, rateLimitConfig(a.addr()), nil)
	for range 15 {
		resp, err := http.Get("http://" + j.Addr(t, "web") + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	rec := httptest.NewRecorder()
	j.Server.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{`janus_limit_decisions_total{limit="per-ip",result="allowed"} 1`, `janus_limit_decisions_total{limit="per-ip",result="limited"}`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRateLimitKeyedByHeader: a route's limit kept per X-Api-Key value:
// each key gets its own burst, and requests without one count by address.
func TestRateLimitKeyedByHeader(t *testing.T) {
	a := startRetryOrigin(t, "a", 200, 0, nil, false)
	j := janustest.Start(t, fmt.Sprintf(`
limits:
  per-key: {rate: 1/m, burst: 2, key: "header:X-Api-Key"}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: api, match: {path_prefix: /}, upstream: app, limits: [per-key]}
upstreams:
  app: {targets: [%q]}
`, a.addr()), nil)
	u := "http://" + j.Addr(t, "web") + "/"
	status := func(key string) int {
		req, _ := http.NewRequest("GET", u, nil)
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		key  string
		want []int
	}{
		{"k1", []int{200, 200, 429}},
		{"k2", []int{200, 200, 429}},
		{"", []int{200, 200, 429}},
	} {
		for i, want := range tc.want {
			if got := status(tc.key); got != want {
				t.Errorf("key %q, request %d: %d, want %d", tc.key, i+1, got, want)
			}
		}
	}
}
