package test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestRouteMaxBody: a route's max_body refuses larger content with 413,
// from Content-Length before anything goes upstream, and as soon as
// streamed content (chunked, or HTTP/2 without a length) goes past it;
// content within the limit passes. HTTP/1.1 and HTTP/2 alike.
func TestRouteMaxBody(t *testing.T) {
	a := startRetryOrigin(t, "a", 200, 0, nil, false)
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse:
      routes:
        - {name: upload, match: {path_prefix: /}, upstream: app, max_body: 1KiB}
upstreams:
  app: {targets: [%q]}
`, a.addr()), nil)
	base := "http://" + j.Addr(t, "web")
	big, small := bytes.Repeat([]byte("x"), 4000), []byte("fits")
	for front, client := range retryClients(t) {
		for _, tc := range []struct {
			desc    string
			body    []byte
			chunked bool
			want    int
		}{
			{"within the limit", small, false, 200},
			{"Content-Length over the limit", big, false, 413},
			{"streamed past the limit", big, true, 413},
		} {
			t.Run(front+"/"+tc.desc, func(t *testing.T) {
				before := a.requests.Load()
				var body io.Reader = bytes.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(strings.NewReader(""), bytes.NewReader(tc.body)) // no length known
				}
				req, _ := http.NewRequest("POST", base+"/up", body)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
				}
				if tc.want == 413 && !tc.chunked && a.requests.Load() != before {
					t.Errorf("content refused by its length still reached the origin")
				}
			})
		}
	}
}

// TestRouteFilter: a route's filter refuses, on both fronts, a method it
// does not allow (405 with Allow), a denied path however it is spelled
// (403), and a denied field; the refusals reach the access log as denials
// and never the origin.
func TestRouteFilter(t *testing.T) {
	a := startRetryOrigin(t, "a", 200, 0, nil, false)
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse:
      routes:
        - name: site
          match: {path_prefix: /}
          upstream: app
          filter:
            methods: [GET, HEAD]
            deny_paths: ['^/admin(/|$)']
            deny_headers: [{name: User-Agent, regex: '(?i).*sqlmap.*'}]
upstreams:
  app: {targets: [%q]}
`, a.addr()), nil)
	base := "http://" + j.Addr(t, "web")
	for front, client := range retryClients(t) {
		for _, tc := range []struct {
			desc, method, path, ua string
			want                   int
		}{
			{"allowed", "GET", "/page", "", 200},
			{"method", "DELETE", "/page", "", 405},
			{"denied path", "GET", "/admin/x", "", 403},
			{"denied path, encoded", "GET", "/%61dmin/x", "", 403},
			{"denied path, dot segments", "GET", "/x/../admin", "", 403},
			{"denied user agent", "GET", "/page", "sqlmap/1.7", 403},
		} {
			t.Run(front+"/"+tc.desc, func(t *testing.T) {
				before := a.requests.Load()
				req, _ := http.NewRequest(tc.method, base+"/", nil)
				req.URL.Opaque = tc.path // sent as written, not cleaned by the client
				if tc.ua != "" {
					req.Header.Set("User-Agent", tc.ua)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
				}
				if tc.want == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow %q", resp.Header.Get("Allow"))
				}
				if tc.want != 200 && a.requests.Load() != before {
					t.Errorf("a refused request reached the origin")
				}
			})
		}
	}
}
