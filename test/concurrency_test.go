package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestConcurrencyLimits: a user may hold two tunnels at once (CONNECT and
// SOCKS5 together), the third is refused (429, SOCKS 0x02) until one ends;
// a route takes one request in flight and answers 429 to a second.
func TestConcurrencyLimits(t *testing.T) {
	echo := echoServer(t)
	slow := startRetryOrigin(t, "slow", 200, 600*time.Millisecond, nil, false)
	j := janustest.Start(t, fmt.Sprintf(`
users:
  inline:
    - {name: bob, hash: '%s'}
limits:
  two-tunnels: {concurrency: 2, key: user}
  one-at-a-time: {concurrency: 1, key: global}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"], limits: [two-tunnels]}
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: app, match: {path_prefix: /}, upstream: app, limits: [one-at-a-time]}
upstreams:
  app: {targets: [%q]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, bobHash, slow.addr()), nil)
	addr := j.Addr(t, "p")
	connect := func() (net.Conn, int) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n", echo, echo, b64("bob:builder"))
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
		if err != nil {
			t.Fatal(err)
		}
		return c, resp.StatusCode
	}
	first, s1 := connect()
	d, err := proxy.SOCKS5("tcp", addr, &proxy.Auth{User: "bob", Password: "builder"}, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	second, err := d.Dial("tcp", echo)
	if s1 != 200 || err != nil {
		t.Fatalf("bob's first two tunnels: CONNECT %d, SOCKS5 %v", s1, err)
	}
	defer second.Close()
	if _, s := connect(); s != 429 {
		t.Errorf("bob's third tunnel (CONNECT): %d, want 429", s)
	}
	if c, err := d.Dial("tcp", echo); err == nil {
		c.Close()
		t.Errorf("bob's third tunnel (SOCKS5) was allowed")
	} else if !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("bob's third tunnel (SOCKS5): %v", err)
	}
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	var third net.Conn
	for {
		c, s := connect()
		if s == 200 {
			third = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a tunnel's slot did not come back when it closed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The proxy's plain HTTP requests count too: with two tunnels open,
	// bob's request is refused; with one closed, it is served.
	bob := proxyClient(t, j, "p", "bob:builder")
	status := func() int {
		resp, err := bob.Get("http://" + slow.addr() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(); s != 429 {
		t.Errorf("bob's HTTP request with two tunnels open: %d, want 429", s)
	}
	third.Close()
	deadline = time.Now().Add(5 * time.Second)
	for status() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("bob's HTTP request was not served after a tunnel closed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The route: two requests at once, one is answered, one gets 429.
	var wg sync.WaitGroup
	statuses := make(chan int, 2)
	for range 2 {
		wg.Go(func() {
			resp, err := http.Get("http://" + j.Addr(t, "web") + "/x")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[200] != 1 || got[429] != 1 {
		t.Errorf("two requests at once on a route with one in flight: %v, want one 200 and one 429", got)
	}
	if r, _ := get(t, "http://"+j.Addr(t, "web")+"/x", nil); r.StatusCode != 200 {
		t.Errorf("after both ended: %d", r.StatusCode)
	}
}
