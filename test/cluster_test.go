package test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
	"github.com/janus-proxy/janus/internal/testenv"
)

// startRedis runs a real redis-server for the test (testenv.Redis).
func startRedis(t *testing.T) *testenv.Redis { return testenv.StartRedis(t) }

// TestClusterSharesRateLimits: two Janus instances with cluster.redis
// share one global limit of 20 requests/s (burst 5): over two seconds of
// requests spread over both, about 5 + 40 get through in all (within 10%),
// not twice that.
func TestClusterSharesRateLimits(t *testing.T) {
	redis := startRedis(t)
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
`, redis.Addr(), a.addr())
	j1 := janustest.Start(t, cfg, nil)
	j2 := janustest.Start(t, cfg, nil)
	urls := []string{"http://" + j1.Addr(t, "web") + "/x", "http://" + j2.Addr(t, "web") + "/x"}
	client := &http.Client{Timeout: 5 * time.Second}
	shared := func(phase string) {
		t.Helper()
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
		t.Logf("%s: %d requests allowed in %.2fs over two instances (want about %.0f)", phase, ok, elapsed, want)
		if float64(ok) < want*0.9 || float64(ok) > want*1.1 {
			t.Errorf("%s: %d allowed, want %.0f within 10%%: the instances do not share the limit", phase, ok, want)
		}
	}
	shared("first")

	// Redis gone: each instance decides alone, no request fails or waits.
	redis.Kill()
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

	// Redis back: within seconds the instances share the limit again
	// (a failing client waits a second before it tries Redis again; the
	// limit's key then starts afresh in the new Redis).
	redis.Start()
	time.Sleep(2500 * time.Millisecond)
	for i := range 4 {
		resp, err := client.Get(urls[i%2])
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	time.Sleep(time.Second)
	shared("after Redis came back")
}

// TestClusterSharesConcurrency: a route's global concurrency limit of 4
// counts the requests in flight on both instances together.
func TestClusterSharesConcurrency(t *testing.T) {
	redis := startRedis(t)
	release := make(chan struct{})
	var inFlight atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			inFlight.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(origin.Close)
	cfg := fmt.Sprintf(`
cluster:
  redis: {addr: %q, timeout: 200ms}
limits:
  backend: {concurrency: 4, key: global}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: app, match: {path_prefix: /}, upstream: app, limits: [backend]}
upstreams:
  app: {targets: [%q]}
`, redis.Addr(), origin.Listener.Addr().String())
	j1 := janustest.Start(t, cfg, nil)
	j2 := janustest.Start(t, cfg, nil)
	base := []string{"http://" + j1.Addr(t, "web"), "http://" + j2.Addr(t, "web")}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 0}}
	get := func(u string) int {
		resp, err := client.Get(u)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Three held on the first instance, one on the second: the limit is
	// full everywhere.
	var wg sync.WaitGroup
	statuses := make(chan int, 4)
	for i := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); statuses <- get(base[min(i/3, 1)] + "/hold") }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for inFlight.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := inFlight.Load(); n != 4 {
		t.Fatalf("%d requests reached the origin, want 4", n)
	}
	for i, u := range base {
		if s := get(u + "/quick"); s != 429 {
			t.Errorf("instance %d with 4 requests in flight over both: status %d, want 429", i+1, s)
		}
	}
	close(release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("a held request ended with %d", s)
		}
	}
	// The slots came back on both.
	for i, u := range base {
		if s := get(u + "/quick"); s != 200 {
			t.Errorf("instance %d after the held requests ended: status %d, want 200", i+1, s)
		}
	}
}

// TestClusterBroadcastsPurges: a PURGE on one instance empties both
// instances' caches, by URL and by tag.
func TestClusterBroadcastsPurges(t *testing.T) {
	redis := startRedis(t)
	o := newScriptOrigin(t)
	o.static("/p", 200, "Cache-Control", "max-age=600")
	o.static("/tagged", 200, "Cache-Control", "max-age=600", "Surrogate-Key", "news sport")
	extra := fmt.Sprintf("cluster:\n  redis: {addr: %q, timeout: 200ms}\n", redis.Addr())
	j := []*janustest.Janus{janustest.Start(t, cacheConfig(o, extra), nil), janustest.Start(t, cacheConfig(o, extra), nil)}
	client := janusClient(t)
	// The instances serve one site: same Host, hence same cache keys.
	do := func(i int, method, path string, fields ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+j[i].Addr(t, "web")+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "site.test"
		for k := 0; k+1 < len(fields); k += 2 {
			req.Header.Set(fields[k], fields[k+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Cache-Status")
	}
	hit := func(i int, path string) bool {
		_, cs := do(i, "GET", path)
		return strings.Contains(cs, "hit")
	}
	for _, tc := range []struct {
		desc  string
		path  string
		purge []string // method, path, fields...
	}{
		{desc: "by URL", path: "/p", purge: []string{"/p"}},
		{desc: "by tag", path: "/tagged", purge: []string{"/", "Surrogate-Key", "sport"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			for i := range j {
				do(i, "GET", tc.path) // stored
				if !hit(i, tc.path) {
					t.Fatalf("instance %d did not store %s", i+1, tc.path)
				}
			}
			if s, _ := do(0, "PURGE", tc.purge[0], tc.purge[1:]...); s != 200 {
				t.Fatalf("PURGE on the first instance: %d", s)
			}
			if hit(0, tc.path) {
				t.Errorf("the first instance still had %s", tc.path)
			}
			deadline := time.Now().Add(3 * time.Second)
			for hit(1, tc.path) {
				if time.Now().After(deadline) {
					t.Fatalf("the second instance still serves %s from its cache 3 s after the purge", tc.path)
				}
				// the GET that found it stored it again? No: a hit does
				// not store; wait for the broadcast.
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
