package cache

import (
	"fmt"
	"strings"
	"testing"
)

func TestMemoryTierBound(t *testing.T) {
	c := newCache(t, Options{MemoryBytes: 100 << 10})
	body := strings.Repeat("m", 3000)
	for i := range 200 {
		store(t, c, newReq("GET", fmt.Sprintf("http://example.com/%d", i)), newResp(200, "Cache-Control: max-age=60"), body, 0)
		if s := c.Stats(); s.MemoryBytes > 100<<10 {
			t.Fatalf("memory tier over its bound: %+v", s)
		}
	}
	if s := c.Stats(); s.MemoryObjects < 20 || s.MemoryObjects > 34 {
		t.Errorf("objects kept: %+v", s)
	}
}

// TestScanResistance: a working set that is hit survives a scan of
// one-hit objects several times the cache's size (S3-FIFO).
func TestScanResistance(t *testing.T) {
	c := newCache(t, Options{MemoryBytes: 200 << 10})
	body := strings.Repeat("h", 1000)
	hot := func(i int) string { return fmt.Sprintf("http://example.com/hot/%d", i) }
	for i := range 50 {
		store(t, c, newReq("GET", hot(i)), newResp(200, "Cache-Control: max-age=600"), body, 0)
	}
	for round := range 3 {
		for i := range 50 {
			if res := lookup(c, newReq("GET", hot(i)), 1); res.Action != Answer {
				t.Fatalf("round %d: hot %d missing before the scan", round, i)
			}
		}
	}
	for i := range 2000 {
		store(t, c, newReq("GET", fmt.Sprintf("http://example.com/scan/%d", i)), newResp(200, "Cache-Control: max-age=600"), body, 0)
		if i%100 == 0 { // the working set stays in use during the scan
			for j := range 50 {
				if res := lookup(c, newReq("GET", hot(j)), 1); res.Action != Answer && res.Fill != nil {
					res.Fill.Abort(nil)
				}
			}
		}
	}
	kept := 0
	for i := range 50 {
		res := lookup(c, newReq("GET", hot(i)), 2)
		if res.Action == Answer {
			kept++
		} else if res.Fill != nil {
			res.Fill.Abort(nil)
		}
	}
	if kept < 45 {
		t.Errorf("hot objects kept through a scan: %d of 50", kept)
	}
}
