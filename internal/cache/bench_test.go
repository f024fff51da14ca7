package cache

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func BenchmarkParseCacheControl(b *testing.B) {
	var h httpmsg.Header
	fields(&h, []string{`Cache-Control: public, max-age=3600, s-maxage=600, stale-while-revalidate=30, no-cache="Set-Cookie"`})
	var d Directives
	b.ReportAllocs()
	for b.Loop() {
		ParseResponse(&h, &d)
	}
}

// BenchmarkLookupHit1KiB is a fresh 1 KiB memory hit: lookup, head with
// Age and Cache-Status, and the content written out.
func BenchmarkLookupHit1KiB(b *testing.B) {
	c := newCache(b, Options{CacheStatus: true})
	req := newReq("GET", "http://example.com/1k", "User-Agent: wrk", "Accept: */*")
	store(b, c, req, newResp(200, "Date: "+date(0), "Cache-Control: max-age=3600", "Content-Type: text/plain",
		"Content-Length: 1024", `ETag: "abc"`, "Last-Modified: "+date(-100)), strings.Repeat("x", 1024), 0)
	r := &Request{Head: req, Now: at(1)}
	var res Result
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(1024)
	for b.Loop() {
		c.Lookup(ctx, r, &res)
		if res.Action != Answer {
			b.Fatal("miss")
		}
		if _, err := res.WriteBody(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupHit1KiBParallel is the same hit from every core, with
// 10,000 objects stored.
func BenchmarkLookupHit1KiBParallel(b *testing.B) {
	c := newCache(b, Options{MemoryBytes: 256 << 20})
	body := strings.Repeat("x", 1024)
	for i := range 10000 {
		store(b, c, newReq("GET", fmt.Sprintf("http://example.com/%d", i)), newResp(200, "Cache-Control: max-age=3600"), body, 0)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := newReq("GET", "http://example.com/77")
		r := &Request{Head: req, Now: at(1)}
		var res Result
		for pb.Next() {
			c.Lookup(context.Background(), r, &res)
			_, _ = res.WriteBody(io.Discard)
		}
	})
}

// BenchmarkFill1KiB is a miss that stores 1 KiB in memory: lookup, fill,
// commit (a new key each time, so the memory tier evicts at steady state).
func BenchmarkFill1KiB(b *testing.B) {
	c := newCache(b, Options{MemoryBytes: 16 << 20})
	body := []byte(strings.Repeat("x", 1024))
	resp := newResp(200, "Cache-Control: max-age=3600", "Content-Length: 1024")
	reqs := make([]*httpmsg.RequestHead, 4096)
	for i := range reqs {
		reqs[i] = newReq("GET", fmt.Sprintf("http://example.com/%d", i))
	}
	var res Result
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := reqs[i%len(reqs)]
		i++
		c.purgeRequest(req)
		c.Lookup(context.Background(), &Request{Head: req, Now: at(0)}, &res)
		if res.Fill == nil {
			b.Fatal("no fill")
		}
		res.Fill.Response(resp, ResponseTimes{at(0), at(0)}, &res)
		_, _ = res.Fill.Write(body)
		if err := res.Fill.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// purgeRequest drops what is stored for req, so a benchmark can fill it again.
func (c *Cache) purgeRequest(req *httpmsg.RequestHead) {
	k, _ := appendURI(nil, req, false)
	c.purgeURIs([]string{string(k)})
}
