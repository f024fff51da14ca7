package test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkCacheMissKeepAlive measures one keep-alive request for an
// object not stored yet, filled from the origin and stored (a distinct 1 KiB
// or 256 KiB object per request), through the whole stack: the small-miss
// path stores content that arrived with the head before relaying it; the
// larger one goes through the fill's own goroutine.
func BenchmarkCacheMissKeepAlive(b *testing.B) {
	for _, size := range []int{1 << 10, 256 << 10} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			body := strings.Repeat("x", size)
			origin := newScriptOriginTB(b, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=3600")
				w.Header().Set("Content-Length", strconv.Itoa(size))
				io.WriteString(w, body)
			})
			c := benchCacheConn(b, origin, "1GiB")
			br := bufio.NewReader(c)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				if _, err := fmt.Fprintf(c, "GET /o?%d HTTP/1.1\r\nHost: site.test\r\n\r\n", i); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 || n != int64(size) {
					b.Fatal(resp.StatusCode, n, err)
				}
				resp.Body.Close()
			}
		})
	}
}
