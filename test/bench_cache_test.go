package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/janustest"
)

// BenchmarkCacheHitKeepAlive measures one keep-alive request answered from
// the cache (a 1 KiB object in memory) through the whole stack, measured
// the same way as BenchmarkReverseKeepAlive (whose client side accounts for
// most of its allocations): the difference is what a hit costs.
func BenchmarkCacheHitKeepAlive(b *testing.B) {
	body := strings.Repeat("x", 1024)
	origin := newScriptOriginTB(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, body)
	})
	c := benchCacheConn(b, origin, "64MiB")
	req := []byte("GET /1k HTTP/1.1\r\nHost: site.test\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReader(c)
	do := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 || n != 1024 {
			b.Fatal(resp.StatusCode, n, err)
		}
		resp.Body.Close()
	}
	do()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		do()
	}
}

// newScriptOriginTB is an origin answering every request with h.
func newScriptOriginTB(tb testing.TB, h http.HandlerFunc) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// benchCacheConn starts Janus caching every route of one listener in
// front of origin (access log discarded) and returns a client
// connection to it, closed with the benchmark.
func benchCacheConn(b *testing.B, origin, memory string) net.Conn {
	b.Helper()
	j := janustest.Start(b, fmt.Sprintf(`
log: {access: {format: json, output: /dev/null}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app, cache: on}]}
upstreams:
  app: {targets: [%q]}
cache: {memory: %s}
`, origin, memory), nil)
	c, err := net.Dial("tcp", j.Addr(b, "web"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
