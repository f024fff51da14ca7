package test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/janustest"
)

// smallOrigin answers every request with 14 bytes on keep-alive
// connections, reading requests with bufio so that it costs little next to
// the proxy (PERFORMANCE.md's "/small").
func smallOrigin(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	resp := []byte("HTTP/1.1 200 OK\r\nServer: tiny\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nhello, world!\n")
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// Requests without content: read up to the blank line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// BenchmarkReverseKeepAlive measures one keep-alive request through a
// reverse route end to end (client, Janus with its access log, origin in
// this process): allocs/op shows what Janus's layers allocate per request.
func BenchmarkReverseKeepAlive(b *testing.B) {
	origin := smallOrigin(b)
	j := janustest.Start(b, fmt.Sprintf(`
log: {access: {format: json, output: %q}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app}]}
upstreams:
  app: {targets: [%q]}
`, "/dev/null", origin), nil)
	c, err := net.Dial("tcp", j.Addr(b, "web"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /small HTTP/1.1\r\nHost: site.test\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReader(c)
	do := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode, err)
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

// BenchmarkReverseH2 measures requests over HTTP/2 (h2c, many streams on
// a few connections) through a reverse route, client, Janus and origin in
// this process.
func BenchmarkReverseH2(b *testing.B) {
	origin := smallOrigin(b)
	j := janustest.Start(b, fmt.Sprintf(`
log: {access: {format: json, output: %q}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app}]}
upstreams:
  app: {targets: [%q]}
`, "/dev/null", origin), nil)
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + j.Addr(b, "web") + "/small"
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
