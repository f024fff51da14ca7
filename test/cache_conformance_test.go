package test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCacheConformance holds one case per rule of issue 4, named after
// the RFC section it pins, against Janus in-process with a script origin.
func TestCacheConformance(t *testing.T) {
	past := time.Now().Add(-10 * 24 * time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		desc string
		run  func(t *testing.T, e *cacheEnv)
	}{
		{"RFC9111-3-fresh-response-is-stored-and-reused", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			_, b1 := e.do("GET", "/p")
			r, b2 := e.do("GET", "/p")
			wantOrigin(t, e, "/p", 1)
			if b1 != b2 || r.Header.Get("Age") == "" {
				t.Errorf("second answer %q (Age %q), first %q", b2, r.Header.Get("Age"), b1)
			}
		}},
		{"RFC9111-5.2.2.7-private-is-not-stored-by-a-shared-cache", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "private, max-age=60")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-3.5-authorization-is-not-stored-without-explicit-permission", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			e.do("GET", "/p", "Authorization", "Bearer x")
			e.do("GET", "/p", "Authorization", "Bearer x")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-3.5-authorization-with-public-is-stored", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "public, max-age=60")
			e.do("GET", "/p", "Authorization", "Bearer x")
			e.do("GET", "/p", "Authorization", "Bearer x")
			wantOrigin(t, e, "/p", 1)
		}},
		{"RFC9111-5.2.2.5-no-store-response-is-not-stored", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "no-store, max-age=60")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-4.2.1-s-maxage-overrides-max-age", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60, s-maxage=0")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-5.3-expires-with-date-gives-freshness", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Expires", future)
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 1)
		}},
		{"RFC9111-5.3-invalid-expires-means-stale", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Expires", "0")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-4.2.2-heuristic-freshness-from-last-modified", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Last-Modified", past)
			e.do("GET", "/p")
			r, _ := e.do("GET", "/p")
			wantOrigin(t, e, "/p", 1)
			if !strings.Contains(r.Header.Get("Cache-Status"), "hit") {
				t.Errorf("Cache-Status %q", r.Header.Get("Cache-Status"))
			}
		}},
		{"RFC9111-4.2.3-age-includes-upstream-age", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=600", "Age", "100")
			e.do("GET", "/p")
			r, _ := e.do("GET", "/p")
			if age, _ := strconv.Atoi(r.Header.Get("Age")); age < 100 {
				t.Errorf("Age %q, want at least 100", r.Header.Get("Age"))
			}
		}},
		{"RFC9111-4.2.3-age-beyond-max-age-is-stale", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60", "Age", "100")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-5.2.1.4-request-no-cache-goes-upstream", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			e.do("GET", "/p")
			e.do("GET", "/p", "Cache-Control", "no-cache")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-5.4-pragma-no-cache-without-cache-control", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			e.do("GET", "/p")
			e.do("GET", "/p", "Pragma", "no-cache")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-5.2.1.1-request-max-age-0-goes-upstream", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			e.do("GET", "/p")
			e.do("GET", "/p", "Cache-Control", "max-age=0")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-5.2.1.7-only-if-cached-without-entry-is-504", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			r, _ := e.do("GET", "/p", "Cache-Control", "only-if-cached")
			if r.StatusCode != 504 {
				t.Errorf("status %d, want 504", r.StatusCode)
			}
			wantOrigin(t, e, "/p", 0)
		}},
		{"RFC9111-4.1-vary-selects-among-variants", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60", "Vary", "Accept-Language")
			_, en := e.do("GET", "/p", "Accept-Language", "en")
			_, fr := e.do("GET", "/p", "Accept-Language", "fr")
			_, en2 := e.do("GET", "/p", "Accept-Language", "en")
			wantOrigin(t, e, "/p", 2)
			if en != en2 || en == fr {
				t.Errorf("en %q, fr %q, en again %q", en, fr, en2)
			}
		}},
		{"RFC9111-4.1-vary-star-never-matches", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60", "Vary", "*")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC9111-4.3.1-stale-entry-is-validated-with-its-etag", func(t *testing.T, e *cacheEnv) {
			e.o.handle("/p", func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Cache-Control", "max-age=0")
				w.Header().Set("ETag", `"v1"`)
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(304)
					return
				}
				w.Write([]byte("version one"))
			})
			e.do("GET", "/p")
			r, b := e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
			if got := e.o.lastHeader("/p").Get("If-None-Match"); got != `"v1"` {
				t.Errorf("origin saw If-None-Match %q", got)
			}
			if r.StatusCode != 200 || b != "version one" {
				t.Errorf("after 304: %d %q", r.StatusCode, b)
			}
		}},
		{"RFC9111-4.3.4-304-updates-stored-headers", func(t *testing.T, e *cacheEnv) {
			e.o.handle("/p", func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("X-Version", strconv.Itoa(n))
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.Header().Set("Cache-Control", "max-age=60")
					w.WriteHeader(304)
					return
				}
				w.Header().Set("Cache-Control", "max-age=0")
				w.Write([]byte("version one"))
			})
			e.do("GET", "/p")
			e.do("GET", "/p")
			r, _ := e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
			if r.Header.Get("X-Version") != "2" {
				t.Errorf("X-Version %q, want the 304's 2", r.Header.Get("X-Version"))
			}
		}},
		{"RFC9111-4.3.2-client-conditional-answered-304-from-cache", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60", "ETag", `"abc"`)
			e.do("GET", "/p")
			r, b := e.do("GET", "/p", "If-None-Match", `"abc"`)
			wantOrigin(t, e, "/p", 1)
			if r.StatusCode != 304 || b != "" {
				t.Errorf("got %d %q, want 304", r.StatusCode, b)
			}
		}},
		{"RFC9111-4.4-unsafe-request-invalidates-target", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			e.do("GET", "/p")
			e.do("POST", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 3)
		}},
		{"RFC9111-4.4-unsafe-request-invalidates-location", func(t *testing.T, e *cacheEnv) {
			e.o.static("/q", 200, "Cache-Control", "max-age=60")
			e.o.static("/p", 201, "Location", "/q")
			e.do("GET", "/q")
			e.do("POST", "/p")
			e.do("GET", "/q")
			wantOrigin(t, e, "/q", 2)
		}},
		{"RFC9110-9.3.2-head-answered-from-stored-get", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			e.do("GET", "/p")
			r, b := e.do("HEAD", "/p")
			wantOrigin(t, e, "/p", 1)
			if r.StatusCode != 200 || b != "" || r.ContentLength != int64(len("body 1 of /p")) {
				t.Errorf("HEAD: %d %q length %d", r.StatusCode, b, r.ContentLength)
			}
		}},
		{"RFC9110-14.2-range-served-from-complete-entry", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			e.do("GET", "/p")
			r, b := e.do("GET", "/p", "Range", "bytes=0-3")
			if r.StatusCode != 206 || b != "body" || r.Header.Get("Content-Range") != "bytes 0-3/12" {
				t.Errorf("Range: %d %q %q", r.StatusCode, b, r.Header.Get("Content-Range"))
			}
			r, _ = e.do("GET", "/p", "Range", "bytes=100-")
			if r.StatusCode != 416 {
				t.Errorf("unsatisfiable Range: %d", r.StatusCode)
			}
			wantOrigin(t, e, "/p", 1)
		}},
		{"RFC9111-3.3-partial-response-not-stored-as-complete", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 206, "Cache-Control", "max-age=60", "Content-Range", "bytes 0-11/100")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC5861-3-stale-while-revalidate-serves-stale-and-refreshes-once", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=1, stale-while-revalidate=60")
			e.do("GET", "/p")
			time.Sleep(2100 * time.Millisecond)
			_, b := e.do("GET", "/p")
			if b != "body 1 of /p" {
				t.Errorf("stale answer %q", b)
			}
			waitFor(t, func() bool { return e.o.count("/p") == 2 })
			waitFor(t, func() bool { _, b := e.do("GET", "/p"); return b == "body 2 of /p" })
			wantOrigin(t, e, "/p", 2)
		}},
		{"RFC5861-4-stale-if-error-serves-stale-on-5xx", func(t *testing.T, e *cacheEnv) {
			e.o.handle("/p", func(w http.ResponseWriter, r *http.Request, n int) {
				if n > 1 {
					w.WriteHeader(503)
					return
				}
				w.Header().Set("Cache-Control", "max-age=1, stale-if-error=60")
				w.Write([]byte("good"))
			})
			e.do("GET", "/p")
			time.Sleep(2100 * time.Millisecond)
			r, b := e.do("GET", "/p")
			if r.StatusCode != 200 || b != "good" {
				t.Errorf("got %d %q, want the stale 200", r.StatusCode, b)
			}
		}},
		{"RFC9111-5.2.2.2-must-revalidate-forbids-stale-on-error", func(t *testing.T, e *cacheEnv) {
			e.o.handle("/p", func(w http.ResponseWriter, r *http.Request, n int) {
				if n > 1 {
					w.WriteHeader(503)
					return
				}
				w.Header().Set("Cache-Control", "max-age=1, must-revalidate, stale-if-error=60")
				w.Write([]byte("good"))
			})
			e.do("GET", "/p")
			time.Sleep(2100 * time.Millisecond)
			r, _ := e.do("GET", "/p")
			if r.StatusCode != 503 {
				t.Errorf("got %d, want the origin's 503", r.StatusCode)
			}
		}},
		{"RFC9211-2-cache-status-says-fwd-then-hit", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60")
			r1, _ := e.do("GET", "/p")
			r2, _ := e.do("GET", "/p")
			if s := r1.Header.Get("Cache-Status"); !strings.Contains(s, "fwd=uri-miss") || !strings.Contains(s, "stored") {
				t.Errorf("first Cache-Status %q", s)
			}
			if s := r2.Header.Get("Cache-Status"); !strings.HasPrefix(s, "janus; hit") {
				t.Errorf("second Cache-Status %q", s)
			}
		}},
		{"issue4-set-cookie-responses-not-stored-by-default", func(t *testing.T, e *cacheEnv) {
			e.o.static("/p", 200, "Cache-Control", "max-age=60", "Set-Cookie", "s=1")
			e.do("GET", "/p")
			e.do("GET", "/p")
			wantOrigin(t, e, "/p", 2)
		}},
		{"issue4-routes-without-cache-on-are-not-cached", func(t *testing.T, e *cacheEnv) {
			e.o.static("/nocache/p", 200, "Cache-Control", "max-age=60")
			r, _ := e.do("GET", "/nocache/p")
			e.do("GET", "/nocache/p")
			wantOrigin(t, e, "/nocache/p", 2)
			if r.Header.Get("Cache-Status") != "" {
				t.Errorf("Cache-Status %q on an uncached route", r.Header.Get("Cache-Status"))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			tc.run(t, startCache(t, ""))
		})
	}
}

func wantOrigin(t *testing.T, e *cacheEnv, path string, n int) {
	t.Helper()
	if got := e.o.count(path); got != n {
		t.Errorf("origin saw %d requests for %s, want %d", got, path, n)
	}
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}
