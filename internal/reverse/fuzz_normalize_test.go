package reverse

import (
	"bytes"
	"testing"
)

// FuzzNormalize checks that AppendNormalized never panics and that what it
// accepts comes out in normal form: rooted, without "//", "/./" or "/../",
// not ending in "/." or "/..", left unchanged by a second pass, and agreed
// on by IsNormal; and that IsNormal never calls a path normal that
// normalising would change. Seeds: testdata/fuzz/FuzzNormalize.
func FuzzNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := AppendNormalized(nil, in)
		if IsNormal(in) {
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("IsNormal(%q) but AppendNormalized = %q, %v", in, out, err)
			}
		}
		if err != nil {
			if len(out) != 0 {
				t.Fatalf("AppendNormalized(%q) failed but returned %q", in, out)
			}
			return
		}
		if len(out) == 0 || out[0] != '/' {
			t.Fatalf("AppendNormalized(%q) = %q: not rooted", in, out)
		}
		for _, bad := range []string{"//", "/./", "/../", "\\", "?", "#"} {
			if bytes.Contains(out, []byte(bad)) {
				t.Fatalf("AppendNormalized(%q) = %q: holds %q", in, out, bad)
			}
		}
		if bytes.HasSuffix(out, []byte("/.")) || bytes.HasSuffix(out, []byte("/..")) {
			t.Fatalf("AppendNormalized(%q) = %q: ends in a dot segment", in, out)
		}
		again, err := AppendNormalized(nil, out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		if !IsNormal(out) {
			t.Fatalf("IsNormal(%q) = false for AppendNormalized(%q)", out, in)
		}
		if len(out) > len(in)+1 {
			t.Fatalf("AppendNormalized(%q) = %q grew", in, out)
		}
	})
}
