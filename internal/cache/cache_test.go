package cache

import (
	"errors"
	"strings"
	"testing"
)

func TestHitAndMiss(t *testing.T) {
	c := newCache(t, Options{CacheStatus: true})
	req := newReq("GET", "http://example.com/a")
	res := lookup(c, req, 0)
	if res.Action != Forward || res.Status.Fwd != FwdURIMiss || res.Fill == nil {
		t.Fatalf("RFC9211_2.2_first_request_is_uri-miss: %+v", res.Status)
	}
	fill(t, res, newResp(200, "Date: "+date(0), "Cache-Control: max-age=60", "Content-Length: 5", "Connection: close"), "hello", 0)
	if got := statusOf(c, res); got != "janus; fwd=uri-miss; fwd-status=200; stored" {
		t.Errorf("RFC9211 forwarded status: %q", got)
	}
	res = lookup(c, req, 10)
	if res.Action != Answer || content(t, res) != "hello" {
		t.Fatalf("RFC9111_4_fresh_hit: action %d", res.Action)
	}
	h := &res.Head.Header
	if string(h.Get("Age")) != "10" || string(h.Get("Content-Length")) != "5" || h.Has("Connection") {
		t.Errorf("RFC9111_4.2.3_age_and_hop-by-hop: Age %q Content-Length %q Connection %v", h.Get("Age"), h.Get("Content-Length"), h.Has("Connection"))
	}
	if got := string(h.Get("Cache-Status")); got != "janus; hit; ttl=50" {
		t.Errorf("RFC9211_2.1_hit: %q", got)
	}
	if b, ok := res.Bytes(); !ok || string(b) != "hello" {
		t.Errorf("memory hit exposes its bytes: %q %v", b, ok)
	}

	res = lookup(c, newReq("HEAD", "http://example.com/a"), 10)
	if res.Action != Answer || !res.NoBody || string(res.Head.Header.Get("Content-Length")) != "5" {
		t.Errorf("RFC9111_4_HEAD_from_stored_GET: %+v nobody %v", res.Status, res.NoBody)
	}
	res = lookup(c, newReq("POST", "http://example.com/a"), 10)
	if res.Action != Forward || res.Fill != nil || res.Status.Fwd != FwdMethod {
		t.Errorf("RFC9211_2.2_POST_is_fwd=method: %+v", res.Status)
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 1 || s.Stored != 1 || s.MemoryObjects != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestHEADMissStoresNothing(t *testing.T) {
	c := newCache(t, Options{})
	res := lookup(c, newReq("HEAD", "http://example.com/a"), 0)
	if res.Action != Forward || res.Fill != nil {
		t.Errorf("a HEAD miss goes up without a fill")
	}
}

func TestVariants(t *testing.T) {
	c := newCache(t, Options{KeyFields: []string{"X-Tenant"}})
	gz := newReq("GET", "http://example.com/v", "Accept-Encoding: gzip", "X-Tenant: a")
	store(t, c, gz, newResp(200, "Cache-Control: max-age=60", "Vary: Accept-Encoding"), "gz", 0)
	br := newReq("GET", "http://example.com/v", "Accept-Encoding: br", "X-Tenant: a")
	res := lookup(c, br, 1)
	if res.Status.Fwd != FwdVaryMiss {
		t.Fatalf("RFC9211_2.2_vary-miss: %+v", res.Status)
	}
	fill(t, res, newResp(200, "Cache-Control: max-age=60", "Vary: Accept-Encoding"), "br", 1)
	for _, tc := range []struct {
		desc string
		req  []string
		want string
	}{
		{desc: "RFC9111_4.1_variant_gzip", req: []string{"Accept-Encoding: GZIP", "X-Tenant: a"}, want: "gz"},
		{desc: "RFC9111_4.1_variant_br", req: []string{"Accept-Encoding:  br", "X-Tenant: a"}, want: "br"},
		{desc: "key_addition_separates_tenants", req: []string{"Accept-Encoding: br", "X-Tenant: b"}, want: ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			res := lookup(c, newReq("GET", "http://example.com/v", tc.req...), 2)
			got := ""
			if res.Action == Answer {
				got = content(t, res)
			} else if res.Fill != nil {
				res.Fill.Abort(nil)
			}
			if got != tc.want {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestRevalidation(t *testing.T) {
	c := newCache(t, Options{CacheStatus: true})
	req := newReq("GET", "http://example.com/r")
	store(t, c, req, newResp(200, "Date: "+date(0), "Cache-Control: max-age=10", `ETag: "v1"`, "Last-Modified: "+date(-50), "X-Old: 1", "Content-Length: 3"), "abc", 0)
	res := lookup(c, newReq("GET", "http://example.com/r", `If-None-Match: "client"`), 20)
	if res.Action != Forward || res.Fill == nil || res.Status.Fwd != FwdStale {
		t.Fatalf("RFC9111_4.3_stale_entry_is_validated: %+v", res.Status)
	}
	out := newReq("GET", "http://example.com/r", `If-None-Match: "client"`)
	res.Fill.Prepare(out)
	if string(out.Header.Get("If-None-Match")) != `"v1"` || string(out.Header.Get("If-Modified-Since")) != date(-50) {
		t.Errorf("RFC9111_4.3.1_validators_from_stored_response: %q %q", out.Header.Get("If-None-Match"), out.Header.Get("If-Modified-Since"))
	}
	o := res.Fill.Response(newResp(304, "Date: "+date(20), "Cache-Control: max-age=100", `ETag: "v1"`, "X-Old: 2", "Content-Length: 0"), ResponseTimes{at(20), at(20)}, res)
	if o != Replace || res.Action != Answer {
		t.Fatalf("RFC9111_4.3.4_304_answers_from_cache: outcome %d", o)
	}
	if res.Head.Status != 200 || content(t, res) != "abc" {
		t.Errorf("client without matching validator gets the 200: %d", res.Head.Status)
	}
	res = lookup(c, req, 50)
	h := &res.Head.Header
	if res.Action != Answer || string(h.Get("X-Old")) != "2" || string(h.Get("Content-Length")) != "3" || h.Count("X-Old") != 1 {
		t.Errorf("RFC9111_4.3.4_headers_updated_except_content-length: action %d X-Old %q CL %q", res.Action, h.Get("X-Old"), h.Get("Content-Length"))
	}
	if string(h.Get("Age")) != "30" {
		t.Errorf("RFC9111_4.3.4_age_restarts_from_the_304: %q", h.Get("Age"))
	}
	if s := c.Stats(); s.Revalidations != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestStaleIfError(t *testing.T) {
	c := newCache(t, Options{CacheStatus: true})
	req := newReq("GET", "http://example.com/e")
	store(t, c, req, newResp(200, "Date: "+date(0), "Cache-Control: max-age=10, stale-if-error=100"), "old", 0)
	res := lookup(c, req, 20)
	if o := res.Fill.Response(newResp(503), ResponseTimes{at(20), at(20)}, res); o != Replace || content(t, res) != "old" {
		t.Fatalf("RFC5861_4_stale_on_5xx: outcome %d", o)
	}
	if got := string(res.Head.Header.Get("Cache-Status")); got != "janus; fwd=stale; fwd-status=503; ttl=-10; detail=stale-if-error" {
		t.Errorf("status %q", got)
	}
	res = lookup(c, req, 30)
	if !res.Fill.Fail(errors.New("connection refused"), at(30), res) || content(t, res) != "old" {
		t.Errorf("RFC5861_4_stale_on_connect_failure")
	}
	res = lookup(c, req, 500)
	if res.Fill.Fail(errors.New("connection refused"), at(500), res) {
		t.Errorf("RFC5861_4_not_past_the_window")
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	c := newCache(t, Options{})
	req := newReq("GET", "http://example.com/s")
	store(t, c, req, newResp(200, "Date: "+date(0), "Cache-Control: max-age=10, stale-while-revalidate=60"), "old", 0)
	first := lookup(c, req, 20)
	if first.Action != Answer || content(t, first) != "old" || first.Refresh == nil {
		t.Fatalf("RFC5861_3_serve_stale_and_refresh: action %d refresh %v", first.Action, first.Refresh != nil)
	}
	second := lookup(c, req, 21)
	if second.Action != Answer || second.Refresh != nil {
		t.Fatalf("RFC5861_3_one_background_refresh: refresh %v", second.Refresh != nil)
	}
	f := first.Refresh
	if string(f.Request().Path) != "/s" {
		t.Errorf("refresh request %q", f.Request().Path)
	}
	var bg Result
	if o := f.Response(newResp(200, "Date: "+date(22), "Cache-Control: max-age=10"), ResponseTimes{at(22), at(22)}, &bg); o != Store {
		t.Fatalf("outcome %d", o)
	}
	// The refresh's head is in, its content not yet: still one refresh.
	if third := lookup(c, req, 22); third.Action != Answer || third.Refresh != nil {
		t.Fatalf("RFC5861_3_one_background_refresh_until_stored: refresh %v", third.Refresh != nil)
	}
	_, _ = f.Write([]byte("new"))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if res := lookup(c, req, 23); res.Action != Answer || content(t, res) != "new" {
		t.Errorf("the refreshed response is served")
	}
}

func TestRequestDirectives(t *testing.T) {
	c := newCache(t, Options{CacheStatus: true})
	req := newReq("GET", "http://example.com/d")
	store(t, c, req, newResp(200, "Date: "+date(0), "Cache-Control: max-age=10", `ETag: "e"`, "Last-Modified: "+date(-10)), "0123456789", 0)

	res := lookup(c, newReq("GET", "http://example.com/nothing", "Cache-Control: only-if-cached"), 1)
	if res.Action != Answer || res.Head.Status != 504 {
		t.Errorf("RFC9111_5.2.1.7_only-if-cached_miss_is_504: %d", res.Head.Status)
	}
	res = lookup(c, newReq("GET", "http://example.com/d", "Cache-Control: only-if-cached"), 20)
	if res.Action != Answer || res.Head.Status != 504 {
		t.Errorf("RFC9111_5.2.1.7_only-if-cached_stale_is_504: %d", res.Head.Status)
	}
	res = lookup(c, newReq("GET", "http://example.com/d", "Cache-Control: no-cache"), 1)
	if res.Action != Forward || res.Status.Fwd != FwdRequest {
		t.Errorf("RFC9211_2.2_fwd=request_for_no-cache: %+v", res.Status)
	}
	res.Fill.Abort(nil)
	res = lookup(c, newReq("GET", "http://example.com/d", "Cache-Control: no-store"), 1)
	if res.Action != Answer {
		t.Errorf("RFC9111_5.2.1.5_no-store_request_may_be_answered_from_cache")
	}
	res = lookup(c, newReq("GET", "http://example.com/d", `If-None-Match: "e"`), 1)
	if res.Action != Answer || res.Head.Status != 304 || !res.NoBody || res.Head.Header.Has("Last-Modified") || !res.Head.Header.Has("ETag") {
		t.Errorf("RFC9111_4.3.2_client_conditional_answered_304: %d", res.Head.Status)
	}
	res = lookup(c, newReq("GET", "http://example.com/d", "Range: bytes=2-4"), 1)
	if res.Head.Status != 206 || content(t, res) != "234" || string(res.Head.Header.Get("Content-Range")) != "bytes 2-4/10" {
		t.Errorf("RFC9110_14.4_range_206: %d %q", res.Head.Status, res.Head.Header.Get("Content-Range"))
	}
	res = lookup(c, newReq("GET", "http://example.com/d", "Range: bytes=20-"), 1)
	if res.Head.Status != 416 || string(res.Head.Header.Get("Content-Range")) != "bytes */10" {
		t.Errorf("RFC9110_15.5.17_range_416: %d", res.Head.Status)
	}
	res = lookup(c, newReq("GET", "http://example.com/d", "Range: bytes=2-4", `If-Range: "other"`), 1)
	if res.Head.Status != 200 || content(t, res) != "0123456789" {
		t.Errorf("RFC9110_13.1.5_if-range_mismatch_sends_200: %d", res.Head.Status)
	}
	res = lookup(c, newReq("GET", "http://example.com/d", `If-Match: "e"`), 1)
	if res.Action != Forward || res.Fill != nil {
		t.Errorf("RFC9111_4.3.2_if-match_is_the_origins")
	}
}

func TestResponseFieldRules(t *testing.T) {
	c := newCache(t, Options{Store: StorePolicy{StoreSetCookie: true}})
	req := newReq("GET", "http://example.com/f")
	store(t, c, req, newResp(200, "Cache-Control: max-age=60, no-cache=\"X-Secret\", private=\"X-User\"", "X-Secret: s", "X-User: u", "Set-Cookie: a=b", "X-Keep: k"), "x", 0)
	res := lookup(c, req, 1)
	h := &res.Head.Header
	if res.Action != Answer || h.Has("X-Secret") || h.Has("X-User") || h.Has("Set-Cookie") || !h.Has("X-Keep") {
		t.Errorf("RFC9111_5.2.2.4_and_5.2.2.7_named_fields_not_served: %d secret %v user %v cookie %v",
			res.Action, h.Has("X-Secret"), h.Has("X-User"), h.Has("Set-Cookie"))
	}
}

func TestInvalidation(t *testing.T) {
	c := newCache(t, Options{})
	for _, p := range []string{"a", "loc", "cl", "other"} {
		store(t, c, newReq("GET", "http://example.com/"+p), newResp(200, "Cache-Control: max-age=60"), p, 0)
	}
	store(t, c, newReq("GET", "http://elsewhere.com/x"), newResp(200, "Cache-Control: max-age=60"), "x", 0)
	post := newReq("POST", "http://example.com/a")
	if n := c.Invalidate(post, false, newResp(500)); n != 0 {
		t.Errorf("RFC9111_4.4_failed_unsafe_request_invalidates_nothing: %d", n)
	}
	n := c.Invalidate(post, false, newResp(201, "Location: /loc", "Content-Location: http://example.com/cl", "Link: x"))
	if n != 3 {
		t.Errorf("RFC9111_4.4_target_location_content-location: removed %d", n)
	}
	c.Invalidate(newReq("PUT", "http://example.com/other"), false, newResp(204, "Location: http://elsewhere.com/x"))
	if res := lookup(c, newReq("GET", "http://elsewhere.com/x"), 1); res.Action != Answer {
		t.Errorf("RFC9111_4.4_other_origin_not_invalidated")
	}
	if res := lookup(c, newReq("GET", "http://example.com/other"), 1); res.Action != Forward {
		t.Errorf("RFC9111_4.4_PUT_invalidates")
	}
}

func TestPurge(t *testing.T) {
	c := newCache(t, Options{})
	store(t, c, newReq("GET", "http://example.com/img/a", "Accept: x"), newResp(200, "Cache-Control: max-age=60", "Vary: Accept", "Surrogate-Key: red blue"), "a", 0)
	store(t, c, newReq("GET", "http://example.com/img/a", "Accept: y"), newResp(200, "Cache-Control: max-age=60", "Vary: Accept"), "a", 0)
	store(t, c, newReq("GET", "http://example.com/img/b"), newResp(200, "Cache-Control: max-age=60", "Cache-Tag: green, blue"), "b", 0)
	store(t, c, newReq("GET", "http://example.com/css/c"), newResp(200, "Cache-Control: max-age=60"), "c", 0)
	store(t, c, newReq("GET", "http://example.com/d"), newResp(200, "Cache-Control: max-age=60"), "d", 0)
	if n := c.PurgeTag("blue"); n != 2 {
		t.Errorf("purge by tag (Surrogate-Key and Cache-Tag): %d", n)
	}
	store(t, c, newReq("GET", "http://example.com/img/b"), newResp(200, "Cache-Control: max-age=60"), "b", 0)
	if n, err := c.PurgePrefix("http://EXAMPLE.com/img/"); n != 2 || err != nil {
		t.Errorf("purge by prefix: %d %v", n, err)
	}
	if n, err := c.PurgeURL("http://example.com:80/css/c"); n != 1 || err != nil {
		t.Errorf("purge by URL: %d %v", n, err)
	}
	store(t, c, newReq("GET", "http://example.com:8080/d"), newResp(200, "Cache-Control: max-age=60"), "d", 0)
	if n, err := c.PurgePrefix("http://example.com"); n != 1 || err != nil {
		t.Errorf("purge a whole host: %d %v", n, err)
	}
	if _, err := c.PurgeURL("/relative"); err == nil {
		t.Error("a relative URL is refused")
	}
	if s := c.Stats(); s.Purged != 6 || s.MemoryObjects != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestChunkedFillGetsLength(t *testing.T) {
	c := newCache(t, Options{})
	req := newReq("GET", "http://example.com/chunked")
	store(t, c, req, newResp(200, "Cache-Control: max-age=60", "Transfer-Encoding: chunked"), strings.Repeat("z", 1000), 0)
	res := lookup(c, req, 1)
	if string(res.Head.Header.Get("Content-Length")) != "1000" || res.Head.Header.Has("Transfer-Encoding") || res.ContentLength() != 1000 {
		t.Errorf("a stored chunked response is served with its length: %q", res.Head.Header.Get("Content-Length"))
	}
}

func TestWrongLengthNotStored(t *testing.T) {
	c := newCache(t, Options{})
	req := newReq("GET", "http://example.com/short")
	res := lookup(c, req, 0)
	if o := res.Fill.Response(newResp(200, "Cache-Control: max-age=60", "Content-Length: 10"), ResponseTimes{at(0), at(0)}, res); o != Store {
		t.Fatal(o)
	}
	_, _ = res.Fill.Write([]byte("short"))
	if err := res.Fill.Commit(); err == nil {
		t.Error("content shorter than Content-Length is not stored")
	}
	if res := lookup(c, req, 1); res.Action != Forward {
		t.Error("nothing was stored")
	}
}

func TestHEADOnStaleEntryDoesNotFill(t *testing.T) {
	c := newCache(t, Options{})
	store(t, c, newReq("GET", "http://example.com/h"), newResp(200, "Cache-Control: max-age=1", `ETag: "h"`), "x", 0)
	res := lookup(c, newReq("HEAD", "http://example.com/h"), 10)
	if res.Action != Forward || res.Fill != nil || res.Status.Fwd != FwdStale {
		t.Errorf("RFC9111_4.3.5_a_HEAD_on_a_stale_entry_goes_up_without_a_fill: %+v fill %v", res.Status, res.Fill != nil)
	}
}
