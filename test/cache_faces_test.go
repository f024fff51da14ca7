package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestCacheCollapses100ConcurrentMissesIntoOneUpstreamRequest pins
// request collapsing: 100 clients ask at once for an object that takes the
// origin a while; the origin sees exactly one request and every client
// gets the whole body.
func TestCacheCollapses100ConcurrentMissesIntoOneUpstreamRequest(t *testing.T) {
	e := startCache(t, "")
	e.o.handle("/slow", func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := e.client.Get(e.web + "/slow")
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || len(b) != 64<<10 {
				errs <- fmt.Errorf("body of %d bytes: %v", len(b), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantOrigin(t, e, "/slow", 1)
}

// TestCacheUpstreamDyingMidBodyStoresNothing pins that a cut response is
// never stored: the next request goes upstream again.
func TestCacheUpstreamDyingMidBodyStoresNothing(t *testing.T) {
	e := startCache(t, "")
	e.o.handle("/cut", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		w.Write([]byte("only part"))
		w.(http.Flusher).Flush()
		if n == 1 {
			panic(http.ErrAbortHandler)
		}
	})
	resp, err := e.client.Get(e.web + "/cut")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a cut response reached the client whole")
	}
	e.client.Get(e.web + "/cut")
	wantOrigin(t, e, "/cut", 2)
}

// TestCachePurgeAllowedFromLoopbackRemovesTheURL pins PURGE from an
// allowed client, by URL, by prefix and by Surrogate-Key.
func TestCachePurgeAllowedFromLoopbackRemovesTheURL(t *testing.T) {
	e := startCache(t, "")
	e.o.static("/a", 200, "Cache-Control", "max-age=60")
	e.o.static("/dir/b", 200, "Cache-Control", "max-age=60")
	e.o.static("/t", 200, "Cache-Control", "max-age=60", "Surrogate-Key", "red blue")
	for _, p := range []string{"/a", "/dir/b", "/t"} {
		e.do("GET", p)
	}
	for _, c := range []struct {
		desc, path string
		fields     []string
		status     int
	}{
		{"url", "/a", nil, 200},
		{"url-again-is-404", "/a", nil, 404},
		{"prefix", "/dir/*", nil, 200},
		{"surrogate-key", "/anything", []string{"Surrogate-Key", "blue"}, 200},
	} {
		if r, _ := e.do("PURGE", c.path, c.fields...); r.StatusCode != c.status {
			t.Errorf("%s: PURGE %s: %d, want %d", c.desc, c.path, r.StatusCode, c.status)
		}
	}
	for _, p := range []string{"/a", "/dir/b", "/t"} {
		e.do("GET", p)
		wantOrigin(t, e, p, 2)
	}
}

func TestCachePurgeRefusedFromOtherClients(t *testing.T) {
	o := newScriptOrigin(t)
	cfg := strings.Replace(cacheConfig(o, ""), "purge: {allow: [loopback]}", "purge: {allow: [10.0.0.0/8]}", 1)
	j := janustest.Start(t, cfg, nil)
	o.static("/a", 200, "Cache-Control", "max-age=60")
	addr := j.Addr(t, "web")
	http.Get("http://" + addr + "/a")
	if code := rawStatus(t, addr, "PURGE /a HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); code != 403 {
		t.Errorf("PURGE from loopback with allow 10/8: %d, want 403", code)
	}
	http.Get("http://" + addr + "/a")
	if o.count("/a") != 1 {
		t.Errorf("origin saw %d: the refused PURGE removed the entry", o.count("/a"))
	}
}

// TestCacheForwardFace pins the forward face's cache: on for the listener
// that opted in, off for the other.
func TestCacheForwardFace(t *testing.T) {
	e := startCache(t, "")
	e.o.static("/f", 200, "Cache-Control", "max-age=60")
	get := func(listener string) *http.Response {
		u := &url.URL{Scheme: "http", Host: e.j.Addr(t, listener)}
		tr := &http.Transport{Proxy: http.ProxyURL(u)}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(e.o.URL + "/f")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	get("fwd")
	if r := get("fwd"); !strings.HasPrefix(r.Header.Get("Cache-Status"), "janus; hit") {
		t.Errorf("forward hit: Cache-Status %q", r.Header.Get("Cache-Status"))
	}
	wantOrigin(t, e, "/f", 1)
	get("fwdplain")
	get("fwdplain")
	wantOrigin(t, e, "/f", 3)
}

// TestCacheHTTP2HitAndFill pins the HTTP/2 front: an h2c stream fills the
// cache and the next stream is a hit.
func TestCacheHTTP2HitAndFill(t *testing.T) {
	o := newScriptOrigin(t)
	cfg := strings.Replace(cacheConfig(o, ""), "  - name: web\n    listen: 127.0.0.1:0\n", "  - name: web\n    listen: 127.0.0.1:0\n    h2c: true\n", 1)
	j := janustest.Start(t, cfg, nil)
	o.static("/h2", 200, "Cache-Control", "max-age=60")
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var bodies []string
	var last *http.Response
	for i := 0; i < 2; i++ {
		resp, err := c.Get("http://" + j.Addr(t, "web") + "/h2")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("spoke %s", resp.Proto)
		}
		bodies, last = append(bodies, string(b)), resp
	}
	if o.count("/h2") != 1 || bodies[0] != bodies[1] {
		t.Errorf("origin saw %d, bodies %q", o.count("/h2"), bodies)
	}
	if !strings.HasPrefix(last.Header.Get("Cache-Status"), "janus; hit") {
		t.Errorf("Cache-Status %q", last.Header.Get("Cache-Status"))
	}
}

// TestCacheMetricsCountHitsAndMisses scrapes the metrics handler.
func TestCacheMetricsCountHitsAndMisses(t *testing.T) {
	e := startCache(t, "")
	e.o.static("/m", 200, "Cache-Control", "max-age=60")
	e.do("GET", "/m")
	e.do("GET", "/m")
	e.do("GET", "/m")
	rec := httptest.NewRecorder()
	e.j.Server.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"janus_cache_hits_total 2", "janus_cache_misses_total 1", "janus_cache_stored_total 1",
		`janus_cache_objects{tier="memory"} 1`, "janus_cache_collapsed_total 0", "janus_cache_purged_total 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestCacheSurvivesReloadWithSameOptions pins that a reload keeping the
// cache section keeps what is stored.
func TestCacheSurvivesReloadWithSameOptions(t *testing.T) {
	e := startCache(t, "")
	e.o.static("/r", 200, "Cache-Control", "max-age=60")
	e.do("GET", "/r")
	before := e.j.Server.Cache()
	if err := e.j.Server.Reload(e.j.Config); err != nil {
		t.Fatal(err)
	}
	if e.j.Server.Cache() != before {
		t.Error("the reload built a new cache")
	}
	e.do("GET", "/r")
	wantOrigin(t, e, "/r", 1)
}

// diskCacheConfig is cacheConfig with a disk tier in dir.
func diskCacheConfig(o *scriptOrigin, dir string) string {
	return cacheConfig(o, fmt.Sprintf("  disk: {path: %q, size: 512MiB}\n", dir))
}

// TestCacheDiskTierSurvivesRestart stops Janus and starts it again on
// the same directory: the stored response is served without the origin.
func TestCacheDiskTierSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	o := newScriptOrigin(t)
	o.static("/d", 200, "Cache-Control", "max-age=600")
	runJanus(t, diskCacheConfig(o, dir), func(addr string) {
		httpGetBody(t, "http://"+addr+"/d")
	})
	runJanus(t, diskCacheConfig(o, dir), func(addr string) {
		if b := httpGetBody(t, "http://"+addr+"/d"); b != "body 1 of /d" {
			t.Errorf("after restart: %q", b)
		}
	})
	if o.count("/d") != 1 {
		t.Errorf("origin saw %d requests, want 1", o.count("/d"))
	}
}

// TestCacheTornDiskObjectIsNeverServed truncates a stored object between
// runs: the next run does not serve it and fetches afresh.
func TestCacheTornDiskObjectIsNeverServed(t *testing.T) {
	dir := t.TempDir()
	o := newScriptOrigin(t)
	o.static("/torn", 200, "Cache-Control", "max-age=600")
	runJanus(t, diskCacheConfig(o, dir), func(addr string) {
		httpGetBody(t, "http://"+addr+"/torn")
	})
	var files []string
	filepath.Walk(filepath.Join(dir, "objects"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("%d object files, want 1", len(files))
	}
	fi, _ := os.Stat(files[0])
	if err := os.Truncate(files[0], fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	runJanus(t, diskCacheConfig(o, dir), func(addr string) {
		if b := httpGetBody(t, "http://"+addr+"/torn"); b != "body 2 of /torn" {
			t.Errorf("after the torn write: %q", b)
		}
	})
}

// runJanus starts Janus with cfg, runs fn with the web listener's address
// and shuts Janus down (closing the cache) before returning.
func runJanus(t *testing.T, cfg string, fn func(addr string)) {
	t.Helper()
	j := janustest.Start(t, cfg, nil)
	fn(j.Addr(t, "web"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// httpGetBody gets u with Host site.test: the cache key then does not
// depend on the port Janus happened to listen on.
func httpGetBody(t *testing.T, u string) string {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "site.test"
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
