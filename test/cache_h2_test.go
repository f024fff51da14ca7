package test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"github.com/janus-proxy/janus/internal/janustest"
)

// h2Env is Janus caching every route of two listeners in front of one
// script origin: "web" takes HTTP/1.1 and HTTP/2 with prior knowledge
// (h2c), "tls" takes HTTP/1.1, HTTP/2 and HTTP/3 over TLS for site.test.
type h2Env struct {
	t   *testing.T
	o   *scriptOrigin
	j   *janustest.Janus
	ca  *janustest.CA
	web string // http://web
	tls string // https://tls
	h2c *http.Client
	h1  *http.Client
	h2  *http.Client // over TLS
	// down stops the origin and closes every connection it accepted.
	down func()
}

// connTracker is a listener that remembers the connections it accepted:
// an h2c origin's hijacked connections are not closed by its server's
// Close.
type connTracker struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *connTracker) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *connTracker) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

// startH2Cache starts the origin speaking upstream ("http1", "h2c" or
// "h2" over TLS) and Janus in front of it; extra goes into the cache
// section.
func startH2Cache(t *testing.T, upstream, extra string) *h2Env {
	t.Helper()
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	_, _, originPair := ca.Issue(t, "origin", false, "127.0.0.1")
	e := &h2Env{t: t, ca: ca}
	pool := ""
	var tracker *connTracker
	switch upstream {
	case "h2c":
		e.o = newScriptOriginWith(t, func(s *httptest.Server) {
			s.Config.Handler = h2c.NewHandler(s.Config.Handler, &http2.Server{})
			tracker = &connTracker{Listener: s.Listener}
			s.Listener = tracker
			s.Start()
		})
		pool = ", protocol: h2c"
	case "h2":
		e.o = newScriptOriginWith(t, func(s *httptest.Server) {
			s.EnableHTTP2 = true
			s.TLS = &tls.Config{Certificates: []tls.Certificate{originPair}}
			s.StartTLS()
		})
		pool = fmt.Sprintf(", protocol: h2, tls: {ca: %q}", ca.PEMPath)
	default:
		e.o = newScriptOrigin(t)
	}
	e.j = janustest.Start(t, fmt.Sprintf(`
log: {level: debug, access: {format: json}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse: {routes: [{name: cached, match: {path_prefix: /}, upstream: origin, cache: on}]}
  - name: tls
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}]}
    reverse: {routes: [{name: cached, match: {path_prefix: /}, upstream: origin, cache: on}]}
upstreams:
  origin: {targets: [%q]%s}
cache:
  memory: 64MiB
%s`, cert, key, e.o.hostPort(), pool, extra), nil)
	e.down = func() {
		e.o.Close()
		if tracker != nil {
			tracker.closeAll()
		}
	}
	e.web = "http://" + e.j.Addr(t, "web")
	e.tls = "https://" + e.j.Addr(t, "tls")
	h2cTr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	h2Tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "site.test"}}
	t.Cleanup(h2cTr.CloseIdleConnections)
	t.Cleanup(h2Tr.CloseIdleConnections)
	e.h2c = &http.Client{Transport: h2cTr, Timeout: 10 * time.Second}
	e.h2 = &http.Client{Transport: h2Tr, Timeout: 10 * time.Second}
	e.h1 = janusClient(t)
	return e
}

// get sends GET path with c to base and returns the response, its body
// read, and the read error.
func (e *h2Env) get(c *http.Client, base, path string, fields ...string) (*http.Response, string, error) {
	e.t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		req.Header.Add(fields[i], fields[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestCacheH2UpstreamConformance runs cache rules against routes whose
// upstream speaks h2c or h2 over TLS (through the standard transport),
// from an HTTP/1.1 client and an HTTP/2 one.
func TestCacheH2UpstreamConformance(t *testing.T) {
	cases := []struct {
		desc string
		run  func(t *testing.T, e *h2Env, c *http.Client)
	}{
		{"RFC9111-3-fresh-response-is-stored-and-reused", func(t *testing.T, e *h2Env, c *http.Client) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			_, b1, _ := e.get(c, e.web, "/p")
			r, b2, _ := e.get(c, e.web, "/p")
			if e.o.count("/p") != 1 || b1 != b2 || !strings.HasPrefix(r.Header.Get("Cache-Status"), "janus; hit") {
				t.Errorf("origin saw %d; bodies %q %q; Cache-Status %q", e.o.count("/p"), b1, b2, r.Header.Get("Cache-Status"))
			}
		}},
		{"RFC9111-4.3.4-304-refreshes-the-stored-response", func(t *testing.T, e *h2Env, c *http.Client) {
			e.o.handle("/v", func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Cache-Control", "max-age=0")
				w.Header().Set("ETag", `"v1"`)
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(304)
					return
				}
				fmt.Fprintf(w, "body %d", n)
			})
			e.get(c, e.web, "/v")
			r, b, _ := e.get(c, e.web, "/v")
			if b != "body 1" || !strings.Contains(r.Header.Get("Cache-Status"), "fwd-status=304") {
				t.Errorf("revalidated answer %q, Cache-Status %q", b, r.Header.Get("Cache-Status"))
			}
		}},
		{"RFC5861-4-stale-if-error-serves-stale-on-5xx", func(t *testing.T, e *h2Env, c *http.Client) {
			e.o.handle("/e", func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Cache-Control", "max-age=0, stale-if-error=60")
				if n > 1 {
					w.WriteHeader(503)
				}
				fmt.Fprintf(w, "body %d", n)
			})
			e.get(c, e.web, "/e")
			r, b, _ := e.get(c, e.web, "/e")
			if r.StatusCode != 200 || b != "body 1" || !strings.Contains(r.Header.Get("Cache-Status"), "stale-if-error") {
				t.Errorf("%d %q, Cache-Status %q", r.StatusCode, b, r.Header.Get("Cache-Status"))
			}
		}},
		{"RFC5861-4-stale-if-error-serves-stale-when-the-upstream-is-down", func(t *testing.T, e *h2Env, c *http.Client) {
			e.o.static("/d", 200, "Cache-Control", "max-age=0, stale-if-error=60")
			e.get(c, e.web, "/d")
			e.down()
			r, b, _ := e.get(c, e.web, "/d")
			if r.StatusCode != 200 || b != "body 1 of /d" || !strings.Contains(r.Header.Get("Cache-Status"), "stale-if-error") {
				t.Errorf("upstream down: %d %q, Cache-Status %q", r.StatusCode, b, r.Header.Get("Cache-Status"))
			}
		}},
		{"RFC5861-3-stale-while-revalidate-refreshes-in-the-background", func(t *testing.T, e *h2Env, c *http.Client) {
			e.o.static("/s", 200, "Cache-Control", "max-age=0, stale-while-revalidate=60")
			e.get(c, e.web, "/s")
			if _, b, _ := e.get(c, e.web, "/s"); b != "body 1 of /s" {
				t.Errorf("within the window: %q, want the stale body 1", b)
			}
			waitFor(t, func() bool { return e.o.count("/s") == 2 })
			waitFor(t, func() bool { _, b, _ := e.get(c, e.web, "/s"); return b == "body 2 of /s" })
		}},
		{"issue4-collapsing-makes-one-upstream-request", func(t *testing.T, e *h2Env, c *http.Client) {
			e.o.handle("/c", func(w http.ResponseWriter, r *http.Request, n int) {
				time.Sleep(200 * time.Millisecond)
				w.Header().Set("Cache-Control", "max-age=60")
				w.Write(bytes.Repeat([]byte("c"), 256<<10))
			})
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, b, err := e.get(c, e.web, "/c"); err != nil || len(b) != 256<<10 {
						t.Errorf("collapsed request: %d bytes, %v", len(b), err)
					}
				}()
			}
			wg.Wait()
			if n := e.o.count("/c"); n != 1 {
				t.Errorf("origin saw %d requests, want 1", n)
			}
		}},
		{"issue4-large-object-streams-into-the-store", func(t *testing.T, e *h2Env, c *http.Client) {
			const size = 6 << 20
			e.o.handle("/big", serveStream(size, 0, false))
			for i := range 2 {
				if _, b, err := e.get(c, e.web, "/big"); err != nil || !bytes.Equal([]byte(b), streamPattern(0, size)) {
					t.Fatalf("request %d: %d bytes, %v", i+1, len(b), err)
				}
			}
			if n := e.o.count("/big"); n != 1 {
				t.Errorf("origin saw %d requests, want 1", n)
			}
		}},
		{"issue4-upstream-cut-mid-body-stores-nothing", func(t *testing.T, e *h2Env, c *http.Client) {
			e.o.handle("/cut", serveStream(4<<20, 1<<20, false))
			if _, b, err := e.get(c, e.web, "/cut"); err == nil {
				t.Errorf("a cut response reached the client whole (%d bytes)", len(b))
			}
			e.get(c, e.web, "/cut")
			if n := e.o.count("/cut"); n != 2 {
				t.Errorf("origin saw %d requests, want 2 (nothing stored)", n)
			}
		}},
	}
	for _, up := range []string{"h2c", "h2"} {
		for _, front := range []string{"http1", "h2c"} {
			for _, tc := range cases {
				t.Run(up+"-upstream/"+front+"-client/"+tc.desc, func(t *testing.T) {
					e := startH2Cache(t, up, "  memory_max_object: 8MiB\n")
					c := e.h1
					if front == "h2c" {
						c = e.h2c
					}
					tc.run(t, e, c)
				})
			}
		}
	}
}

// TestCacheStaleWhileRevalidateRefreshesFromHTTP2AndHTTP3 pins RFC 5861
// §3 on every front: a stale hit within the window is answered at once
// and starts one background refresh, whatever protocol the client spoke.
func TestCacheStaleWhileRevalidateRefreshesFromHTTP2AndHTTP3(t *testing.T) {
	for _, tc := range []struct{ desc, upstream string }{
		{"http1-upstream", "http1"},
		{"h2c-upstream", "h2c"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			e := startH2Cache(t, tc.upstream, "")
			h3, _ := h3Client(t, e.ca.Pool, "site.test")
			for _, fc := range []struct {
				desc  string
				c     *http.Client
				base  string
				proto int
			}{
				{"h2c", e.h2c, e.web, 2},
				{"h2-over-tls", e.h2, e.tls, 2},
				{"h3", h3, e.tls, 3},
			} {
				t.Run(fc.desc, func(t *testing.T) {
					path := "/swr-" + fc.desc
					e.o.static(path, 200, "Cache-Control", "max-age=0, stale-while-revalidate=60")
					e.get(fc.c, fc.base, path)
					r, b, _ := e.get(fc.c, fc.base, path)
					if r.ProtoMajor != fc.proto {
						t.Fatalf("spoke %s", r.Proto)
					}
					if b != "body 1 of "+path || !strings.HasPrefix(r.Header.Get("Cache-Status"), "janus; hit") {
						t.Errorf("stale hit: %q, Cache-Status %q", b, r.Header.Get("Cache-Status"))
					}
					waitFor(t, func() bool { return e.o.count(path) == 2 })
					// The refreshed body (each of these stale hits may start a
					// refresh of its own, so "body 2" may already be "body 3").
					waitFor(t, func() bool {
						_, b, _ := e.get(fc.c, fc.base, path)
						return strings.HasPrefix(b, "body ") && b != "body 1 of "+path
					})
				})
			}
		})
	}
}
