package test

import "testing"

func TestCacheSmokeHitAfterMiss(t *testing.T) {
	e := startCache(t, "")
	e.o.static("/a", 200, "Cache-Control", "max-age=60")
	r1, b1 := e.do("GET", "/a")
	r2, b2 := e.do("GET", "/a")
	t.Logf("%v %q %v", r1.Header, b1, r1.StatusCode)
	t.Logf("%v %q %v", r2.Header, b2, r2.StatusCode)
	if e.o.count("/a") != 1 || b1 != b2 {
		t.Fatalf("origin saw %d", e.o.count("/a"))
	}
}
