package cache

import (
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		desc        string
		v           string
		size        int64
		first, last int64
		kind        rangeKind
	}{
		{desc: "RFC9110_14.1.2_first_last", v: "bytes=0-9", size: 100, first: 0, last: 9, kind: rangeOne},
		{desc: "RFC9110_14.1.2_open_ended", v: "bytes=90-", size: 100, first: 90, last: 99, kind: rangeOne},
		{desc: "RFC9110_14.1.2_suffix", v: "bytes=-10", size: 100, first: 90, last: 99, kind: rangeOne},
		{desc: "RFC9110_14.1.2_suffix_longer_than_content", v: "bytes=-500", size: 100, first: 0, last: 99, kind: rangeOne},
		{desc: "RFC9110_14.1.2_last_clamped", v: "bytes=50-500", size: 100, first: 50, last: 99, kind: rangeOne},
		{desc: "RFC9110_15.5.17_first_past_end_unsatisfiable", v: "bytes=100-", size: 100, kind: rangeUnsatisfiable},
		{desc: "RFC9110_15.5.17_zero_suffix_unsatisfiable", v: "bytes=-0", size: 100, kind: rangeUnsatisfiable},
		{desc: "RFC9110_14.2_several_ranges_ignored", v: "bytes=0-1,5-6", size: 100, kind: rangeNone},
		{desc: "RFC9110_14.2_other_unit_ignored", v: "items=0-1", size: 100, kind: rangeNone},
		{desc: "RFC9110_14.2_last_before_first_ignored", v: "bytes=9-1", size: 100, kind: rangeNone},
		{desc: "RFC9110_14.2_garbage_ignored", v: "bytes=a-b", size: 100, kind: rangeNone},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f, l, k := ParseRange([]byte(tt.v), tt.size)
			if k != tt.kind || k == rangeOne && (f != tt.first || l != tt.last) {
				t.Errorf("got %d-%d kind %d", f, l, k)
			}
		})
	}
}

func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=0-1,2-3", "bytes=99999999999999999999-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		first, last, kind := ParseRange([]byte(v), size)
		if kind == rangeOne && (first < 0 || last < first || last >= size) {
			t.Fatalf("%q size %d: bad range %d-%d", v, size, first, last)
		}
	})
}

func TestClientConditional(t *testing.T) {
	m := newMeta(newResp(200, "Date: "+date(0), "Last-Modified: "+date(-100), `ETag: "v1"`, "Cache-Control: max-age=60"),
		ResponseTimes{at(0), at(0)}, Heuristic{}, 3)
	tests := []struct {
		desc string
		req  []string
		want bool
	}{
		{desc: "RFC9110_13.1.2_if-none-match_matches", req: []string{`If-None-Match: "x", "v1"`}, want: true},
		{desc: "RFC9110_13.1.2_if-none-match_weak_comparison", req: []string{`If-None-Match: W/"v1"`}, want: true},
		{desc: "RFC9110_13.1.2_if-none-match_star", req: []string{`If-None-Match: *`}, want: true},
		{desc: "RFC9110_13.1.2_if-none-match_differs", req: []string{`If-None-Match: "v2"`}, want: false},
		{desc: "RFC9110_13.2.2_if-none-match_takes_precedence_over_ims", req: []string{`If-None-Match: "v2"`, "If-Modified-Since: " + date(0)}, want: false},
		{desc: "RFC9110_13.1.3_if-modified-since_not_modified", req: []string{"If-Modified-Since: " + date(-100)}, want: true},
		{desc: "RFC9110_13.1.3_if-modified-since_modified", req: []string{"If-Modified-Since: " + date(-101)}, want: false},
		{desc: "RFC9110_13.1.3_if-modified-since_invalid_ignored", req: []string{"If-Modified-Since: soon"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			req := newReq("GET", "http://example.com/", tt.req...)
			if got := notModified(&req.Header, m); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestIfRange(t *testing.T) {
	m := newMeta(newResp(200, "Last-Modified: "+date(-100), `ETag: "v1"`), ResponseTimes{at(0), at(0)}, Heuristic{}, 3)
	tests := []struct {
		desc, v string
		want    bool
	}{
		{desc: "RFC9110_13.1.5_strong_etag_matches", v: `"v1"`, want: true},
		{desc: "RFC9110_13.1.5_weak_etag_never_matches", v: `W/"v1"`, want: false},
		{desc: "RFC9110_13.1.5_exact_date_matches", v: date(-100), want: true},
		{desc: "RFC9110_13.1.5_other_date", v: date(-99), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			req := newReq("GET", "http://example.com/", "If-Range: "+tt.v)
			if got := ifRangeHolds(&req.Header, m); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
	_ = time.Second
}
