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
