package httpmsg

import (
	"net/http"
	"reflect"
	"testing"
)

// TestCopyTo: fields reach a net/http header under canonical names, in
// order, repeated names together; the copy allocates twice whatever the
// number of fields.
func TestCopyTo(t *testing.T) {
	var h Header
	h.AddString("content-type", "text/plain")
	h.AddString("X-Thing", "a")
	h.AddString("Set-Cookie", "a=1")
	h.AddString("set-cookie", "b=2")
	h.AddString("x-thing", "b")
	m := http.Header{"Existing": {"kept"}}
	h.CopyTo(m)
	want := http.Header{
		"Existing":     {"kept"},
		"Content-Type": {"text/plain"},
		"X-Thing":      {"a", "b"},
		"Set-Cookie":   {"a=1", "b=2"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %v, want %v", m, want)
	}
	// Appending to one field's values must not overwrite the next's.
	m["Content-Type"] = append(m["Content-Type"], "x")
	if m["X-Thing"][0] != "a" {
		t.Errorf("values share storage: %v", m)
	}

	var c Header
	for _, f := range []string{"Content-Type", "Content-Length", "Date", "Server", "Etag", "Cache-Control"} {
		c.AddString(f, "v")
	}
	allocs := testing.AllocsPerRun(100, func() {
		m := make(map[string][]string, 8)
		c.CopyTo(m)
	})
	if allocs > 3 { // the map, the string, the array
		t.Errorf("%v allocations, want at most 3", allocs)
	}
}
