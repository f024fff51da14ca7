package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// startRedis runs a real redis-server on a free loopback port, without
// persistence, for the test's life.
func startRedis(t *testing.T) (addr string, kill func()) {
	t.Helper()
	bin := janustest.RequireExternal(t, "redis-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr = "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }
	t.Cleanup(kill)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if string(buf[:n]) == "+PONG\r\n" {
				return addr, kill
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterSharesRateLimits: two Janus instances with cluster.redis
// share one global limit of 20 requests/s (burst 5): over two seconds of
// requests spread over both, about 5 + 40 get through in all (within 10%),
// not twice that.
func TestClusterSharesRateLimits(t *testing.T) {
	redis, killRedis := startRedis(t)
	a := startRetryOrigin(t, "a", 200, 0, nil, false)
	cfg := fmt.Sprintf(`
cluster:
  redis: {addr: %q, timeout: 200ms}
limits:
  shared: {rate: 20/s, burst: 5, key: global}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: app, match: {path_prefix: /}, upstream: app, limits: [shared]}
upstreams:
  app: {targets: [%q]}
`, redis, a.addr())
	j1 := janustest.Start(t, cfg, nil)
	j2 := janustest.Start(t, cfg, nil)
	urls := []string{"http://" + j1.Addr(t, "web") + "/x", "http://" + j2.Addr(t, "web") + "/x"}
	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	ok := 0
	for i := 0; time.Since(start) < 2*time.Second; i++ {
		resp, err := client.Get(urls[i%2])
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			ok++
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start).Seconds()
	want := 5 + 20*elapsed
	t.Logf("%d requests allowed in %.2fs over two instances (want about %.0f)", ok, elapsed, want)
	if float64(ok) < want*0.9 || float64(ok) > want*1.1 {
		t.Errorf("%d allowed, want %.0f within 10%%: the instances do not share the limit", ok, want)
	}

	// Redis gone: each instance decides alone, no request fails or waits.
	killRedis()
	for i := range 40 {
		began := time.Now()
		resp, err := client.Get(urls[i%2])
		if err != nil {
			t.Fatalf("with Redis down: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 429 {
			t.Errorf("with Redis down: status %d", resp.StatusCode)
		}
		if took := time.Since(began); took > time.Second {
			t.Errorf("with Redis down a request took %v", took)
		}
	}
}
