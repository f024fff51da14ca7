package test

import (
	"bufio"
	"bytes"
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
	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestBandwidthLimitPerUser: bob's tunnels (CONNECT and SOCKS5) are held
// to 1 MiB/s, within 15% (after the bucket's one-second burst), while
// alice's are not limited.
func TestBandwidthLimitPerUser(t *testing.T) {
	const size = 4 << 20
	body := bytes.Repeat([]byte("b"), size)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer origin.Close()
	target := strings.TrimPrefix(origin.URL, "http://")
	j := janustest.Start(t, fmt.Sprintf(`
users:
  inline:
    - {name: alice, hash: '%s'}
    - {name: bob, hash: '%s'}
limits:
  bob-bw: {bandwidth: 1MiB, key: user, users: [bob]}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"], limits: [bob-bw]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, aliceHash, bobHash), nil)
	addr := j.Addr(t, "p")
	// fetch downloads the body through an established tunnel c.
	fetch := func(c net.Conn) time.Duration {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != size {
			t.Fatalf("read %d bytes, want %d", n, size)
		}
		return time.Since(start)
	}
	connect := func(user string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n", target, target, b64(user))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("CONNECT as %s: %v %v", user, resp, err)
		}
		return c
	}
	socks := func(user, password string) net.Conn {
		d, err := proxy.SOCKS5("tcp", addr, &proxy.Auth{User: user, Password: password}, proxy.Direct)
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.Dial("tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// 4 MiB at 1 MiB/s after a burst of 1 MiB: about 3 s.
	want := 3 * time.Second
	for _, tc := range []struct {
		desc string
		conn func() net.Conn
	}{
		{"CONNECT", func() net.Conn { return connect("bob:builder") }},
		{"SOCKS5", func() net.Conn { return socks("bob", "builder") }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			// bob's bucket is his, whatever the connection: let its burst
			// come back from the previous case first.
			time.Sleep(1100 * time.Millisecond)
			took := fetch(tc.conn())
			t.Logf("bob's %d MiB through %s took %v (want about %v)", size>>20, tc.desc, took.Round(time.Millisecond), want)
			if took < want*85/100 || took > want*115/100 {
				t.Errorf("took %v, want %v within 15%%", took, want)
			}
		})
	}
	if took := fetch(connect("alice:wonderland")); took > time.Second {
		t.Errorf("alice, not limited, took %v", took)
	}
}

// TestBandwidthLimitHTTPBodies: bandwidth limits hold HTTP content too:
// bob's downloads through the forward proxy at 1 MiB/s, a route's
// downloads per client at 1 MiB/s, and a route's uploads (direction: up)
// at 512 KiB/s, each within 15% after the bucket's one-second burst; the
// other direction and other users stay unlimited.
func TestBandwidthLimitHTTPBodies(t *testing.T) {
	const size = 3 << 20
	body := bytes.Repeat([]byte("h"), size)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d", n)
			return
		}
		w.Write(body)
	}))
	defer origin.Close()
	target := strings.TrimPrefix(origin.URL, "http://")
	j := janustest.Start(t, fmt.Sprintf(`
users:
  inline:
    - {name: alice, hash: '%s'}
    - {name: bob, hash: '%s'}
limits:
  bob-bw: {bandwidth: 1MiB, key: user, users: [bob]}
  down: {bandwidth: 1MiB, key: client_ip, direction: down}
  up: {bandwidth: 512KiB, key: client_ip, direction: up}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, limits: [bob-bw]}
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse:
      routes:
        - {name: downloads, match: {path_prefix: /dl}, upstream: app, limits: [down]}
        - {name: uploads, match: {path_prefix: /up}, upstream: app, limits: [up]}
upstreams:
  app: {targets: [%q]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, aliceHash, bobHash, target), nil)
	web := "http://" + j.Addr(t, "web")
	plain := &http.Client{Timeout: 20 * time.Second}
	h2 := &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	// The proxy clients log in once first: bcrypt's deliberate slowness
	// (longer under the race detector) is not what is measured.
	bob, alice := proxyClient(t, j, "p", "bob:builder"), proxyClient(t, j, "p", "alice:wonderland")
	bob.Timeout, alice.Timeout = 20*time.Second, 20*time.Second
	for _, c := range []*http.Client{bob, alice} {
		resp, err := c.Head(origin.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	timed := func(c *http.Client, method, u string, content []byte) (time.Duration, int64) {
		t.Helper()
		start := time.Now()
		var rd io.Reader
		if content != nil {
			rd = bytes.NewReader(content)
		}
		req, _ := http.NewRequest(method, u, rd)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %v", method, u, resp.StatusCode, err)
		}
		return time.Since(start), n
	}
	// 3 MiB at 1 MiB/s after a burst of 1 MiB: about 2 s; 3 MiB up at
	// 512 KiB/s after 512 KiB: about 5 s.
	for _, tc := range []struct {
		desc    string
		client  *http.Client
		method  string
		url     string
		content []byte
		want    time.Duration
	}{
		{"forward proxy, bob", bob, "GET", origin.URL + "/", nil, 2 * time.Second},
		{"route, download", plain, "GET", web + "/dl", nil, 2 * time.Second},
		{"route, upload", plain, "POST", web + "/up", body, 5 * time.Second},
		{"route, download over HTTP/2", h2, "GET", web + "/dl", nil, 2 * time.Second},
		{"route, upload over HTTP/2", h2, "POST", web + "/up", body, 5 * time.Second},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			took, _ := timed(tc.client, tc.method, tc.url, tc.content)
			t.Logf("%d MiB took %v (want about %v)", size>>20, took.Round(time.Millisecond), tc.want)
			if took < tc.want*85/100 || took > tc.want*115/100 {
				t.Errorf("took %v, want %v within 15%%", took, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		desc    string
		client  *http.Client
		method  string
		url     string
		content []byte
	}{
		{"forward proxy, alice", alice, "GET", origin.URL + "/", nil},
		{"download route, upload", plain, "POST", web + "/dl", body},
		{"upload route, download", plain, "GET", web + "/up", nil},
		{"upload route, download over HTTP/2", h2, "GET", web + "/up", nil},
	} {
		if took, _ := timed(tc.client, tc.method, tc.url, tc.content); took > 700*time.Millisecond {
			t.Errorf("%s, not limited, took %v", tc.desc, took)
		}
	}
}

// TestBandwidthLimitCachedAnswers: a limited route's answers from the
// disk cache keep to the limit too (they would otherwise leave by
// sendfile): 3 MiB at 1 MiB/s take about 2 s, stored or not.
func TestBandwidthLimitCachedAnswers(t *testing.T) {
	const size = 3 << 20
	body := bytes.Repeat([]byte("d"), size)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(body)
	}))
	defer origin.Close()
	j := janustest.Start(t, fmt.Sprintf(`
limits:
  down: {bandwidth: 1MiB, key: client_ip, direction: down}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: files, match: {path_prefix: /}, upstream: app, cache: on, limits: [down]}
upstreams:
  app: {targets: [%q]}
cache:
  memory: 1MiB
  memory_max_object: 64KiB
  disk: {path: %q, size: 64MiB}
`, strings.TrimPrefix(origin.URL, "http://"), t.TempDir()), nil)
	u := "http://" + j.Addr(t, "web") + "/big"
	fetch := func(from string) (time.Duration, string) {
		tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}
		defer tr.CloseIdleConnections()
		start := time.Now()
		resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get(u)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("from %s: %d bytes, %v", from, n, err)
		}
		return time.Since(start), resp.Header.Get("Cache-Status")
	}
	for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
		took, status := fetch(from)
		t.Logf("from %s: %v (Cache-Status: %s)", from, took.Round(time.Millisecond), status)
		if want := 2 * time.Second; took < want*85/100 || took > want*115/100 {
			t.Errorf("from %s (%s): took %v, want %v within 15%%", from, status, took, want)
		}
	}
}
