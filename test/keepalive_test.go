package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestUpstreamKeepaliveBounds: keepalive.max_idle bounds the idle
// connections Janus keeps to a target after a burst, and a connection idle
// longer than keepalive.idle_timeout is not reused.
func TestUpstreamKeepaliveBounds(t *testing.T) {
	var accepted, open atomic.Int32
	release := make(chan struct{})
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "ok")
	}))
	origin.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			accepted.Add(1)
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	origin.Start()
	defer origin.Close()
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app}]}
upstreams:
  app:
    targets: [%q]
    keepalive: {max_idle: 2, idle_timeout: 1s}
`, strings.TrimPrefix(origin.URL, "http://")), nil)
	base := "http://" + j.Addr(t, "web")
	// Eight requests at once need eight connections to the target.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := http.Get(base + "/hold")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for accepted.Load() < 8 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	for open.Load() > 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n != 2 {
		t.Errorf("%d connections to the target stay open after the burst, want max_idle 2", n)
	}
	// Reused while fresh; replaced once idle beyond idle_timeout.
	before := accepted.Load()
	get(t, base+"/x", nil)
	if n := accepted.Load() - before; n != 0 {
		t.Errorf("a fresh idle connection was not reused (%d new)", n)
	}
	time.Sleep(1500 * time.Millisecond)
	get(t, base+"/x", nil)
	if n := accepted.Load() - before; n != 1 {
		t.Errorf("after idle_timeout, %d new connections, want 1", n)
	}
}
