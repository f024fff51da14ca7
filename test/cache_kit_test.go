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

// scriptOrigin is an origin whose answers the test scripts per path: each
// request runs the path's handler with the number of requests that path
// has seen (1 for the first). It counts requests per path and remembers
// the last request's header.
type scriptOrigin struct {
	*httptest.Server
	mu      sync.Mutex
	scripts map[string]func(w http.ResponseWriter, r *http.Request, n int)
	counts  map[string]int
	last    map[string]http.Header
	total   atomic.Int64
}

func newScriptOrigin(t *testing.T) *scriptOrigin {
	t.Helper()
	return newScriptOriginWith(t, (*httptest.Server).Start)
}

// newScriptOriginWith is newScriptOrigin with the server started by start
// (StartTLS, or Start after wrapping its handler).
func newScriptOriginWith(t *testing.T, start func(*httptest.Server)) *scriptOrigin {
	t.Helper()
	o := &scriptOrigin{scripts: map[string]func(http.ResponseWriter, *http.Request, int){},
		counts: map[string]int{}, last: map[string]http.Header{}}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.total.Add(1)
		o.mu.Lock()
		o.counts[r.URL.Path]++
		n := o.counts[r.URL.Path]
		o.last[r.URL.Path] = r.Header.Clone()
		fn := o.scripts[r.URL.Path]
		o.mu.Unlock()
		if fn == nil {
			http.NotFound(w, r)
			return
		}
		fn(w, r, n)
	}))
	start(o.Server)
	t.Cleanup(o.Close)
	return o
}

// handle scripts path.
func (o *scriptOrigin) handle(path string, fn func(w http.ResponseWriter, r *http.Request, n int)) {
	o.mu.Lock()
	o.scripts[path] = fn
	o.mu.Unlock()
}

// static scripts path to answer the same each time: a body that names the
// request number, and the given fields.
func (o *scriptOrigin) static(path string, status int, fields ...string) {
	o.handle(path, func(w http.ResponseWriter, r *http.Request, n int) {
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Add(fields[i], fields[i+1])
		}
		if w.Header().Get("Date") == "" {
			w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead && status != 304 && status != 204 {
			fmt.Fprintf(w, "body %d of %s", n, path)
		}
	})
}

func (o *scriptOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

func (o *scriptOrigin) lastHeader(path string) http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[path]
}

func (o *scriptOrigin) hostPort() string {
	return strings.TrimPrefix(strings.TrimPrefix(o.URL, "http://"), "https://")
}

// cacheConfig serves origin o through a caching reverse route on "web"
// and a caching forward face on "fwd"; extra goes into the cache section.
func cacheConfig(o *scriptOrigin, extra string) string {
	return fmt.Sprintf(`
log: {level: debug, access: {format: json}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse:
      routes:
        - {name: nocache, match: {path_prefix: /nocache/}, upstream: origin}
        - {name: cached, match: {path_prefix: /}, upstream: origin, cache: on}
  - name: fwd
    listen: 127.0.0.1:0
    forward: {policy: local, cache: on}
  - name: fwdplain
    listen: 127.0.0.1:0
    forward: {policy: local}
policies:
  local:
    - allow: {to: [127.0.0.1]}
upstreams:
  origin: {targets: ["%s"]}
cache:
  memory: 16MiB
  purge: {allow: [loopback]}
%s
`, o.hostPort(), extra)
}

// cacheEnv is Janus in front of a script origin.
type cacheEnv struct {
	t      *testing.T
	o      *scriptOrigin
	j      *janustest.Janus
	web    string // base URL of the reverse face
	client *http.Client
}

func startCache(t *testing.T, extra string) *cacheEnv {
	t.Helper()
	o := newScriptOrigin(t)
	j := janustest.Start(t, cacheConfig(o, extra), nil)
	return &cacheEnv{t: t, o: o, j: j, web: "http://" + j.Addr(t, "web"), client: janusClient(t)}
}

// janusClient is a plain client that does not follow redirects.
func janusClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request to the reverse face with header fields as name,
// value pairs and returns the response with its body read.
func (e *cacheEnv) do(method, path string, fields ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.web+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		req.Header.Add(fields[i], fields[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

// rawStatus sends a raw request to a listener and returns the status code.
func rawStatus(t *testing.T, addr, request string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	var code int
	if _, err := fmt.Fscanf(c, "HTTP/1.1 %d", &code); err != nil {
		t.Fatalf("reading status: %v", err)
	}
	return code
}
