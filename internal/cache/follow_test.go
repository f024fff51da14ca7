package cache

import (
	"errors"
	"strings"
	"testing"
)

// following starts a fill of http://example.com/f on c and makes its
// leader's Result follow it.
func following(t *testing.T, c *Cache) (*Result, *Fill) {
	t.Helper()
	res := lookup(c, newReq("GET", "http://example.com/f"), 0)
	t.Cleanup(res.Close)
	if res.Fill.Response(newResp(200, "Cache-Control: max-age=60"), ResponseTimes{at(0), at(0)}, res) != Store {
		t.Fatal("not stored")
	}
	f := res.Fill
	f.Follow(res)
	return res, f
}

// TestFollowReadsWhatTheFillStoresAsItArrives pins Fill.Follow: the
// leader's Result reads the object another goroutine writes, to the end.
func TestFollowReadsWhatTheFillStoresAsItArrives(t *testing.T) {
	c := newCache(t, Options{})
	res, f := following(t, c)
	go func() {
		for i := range 100 {
			_, _ = f.Write([]byte(strings.Repeat(string(rune('a'+i%26)), 1000)))
		}
		_ = f.Commit()
	}()
	var b strings.Builder
	if n, err := res.WriteBody(&b); err != nil || n != 100000 {
		t.Fatalf("leader read %d bytes, %v", n, err)
	}
	if got := content(t, lookup(c, newReq("GET", "http://example.com/f"), 1)); got != b.String() {
		t.Errorf("stored %d bytes, leader read %d", len(got), b.Len())
	}
}

// TestFollowDrainsStoredContentBeforeAnAbort pins that the leader reads
// every byte stored before the fill was abandoned, then ErrAborted, and
// that Failed says the fill stopped storing.
func TestFollowDrainsStoredContentBeforeAnAbort(t *testing.T) {
	for _, tc := range []struct {
		desc string
		end  func(f *Fill)
	}{
		{desc: "upstream-cut", end: func(f *Fill) { f.Abort(errors.New("cut")) }},
		{desc: "outgrew-memory", end: func(f *Fill) { _, _ = f.Write(make([]byte, 2000)) }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			res, f := following(t, newCache(t, Options{MemoryBytes: 16 << 10, MemoryMaxObject: 1500}))
			_, _ = f.Write([]byte("stored before"))
			tc.end(f)
			if f.Failed() == nil {
				t.Errorf("Failed() = %v", f.Failed())
			}
			f.Abort(nil)
			var b strings.Builder
			_, err := res.WriteBody(&b)
			if b.String() != "stored before" || !errors.Is(err, ErrAborted) {
				t.Errorf("leader read %q, %v; want what was stored, then ErrAborted", b.String(), err)
			}
		})
	}
}
