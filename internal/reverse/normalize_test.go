package reverse

import (
	"bytes"
	"errors"
	"testing"
)

func TestAppendNormalizedResolvesRFC3986Forms(t *testing.T) {
	tests := []struct {
		desc string
		in   string
		want string // "" means refused
	}{
		{desc: "root", in: "/", want: "/"},
		{desc: "plain path is unchanged", in: "/a/b/c.html", want: "/a/b/c.html"},
		{desc: "trailing slash is kept", in: "/a/b/", want: "/a/b/"},
		{desc: "encoded unreserved letter is decoded", in: "/%61dmin", want: "/admin"},
		{desc: "encoded unreserved in lower hex is decoded", in: "/%7e%5fx%2D%2e", want: "/~_x-."},
		{desc: "reserved encoding stays encoded with upper hex", in: "/a%3bb%3Fc", want: "/a%3Bb%3Fc"},
		{desc: "non-ASCII encoding stays encoded", in: "/caf%c3%a9", want: "/caf%C3%A9"},
		{desc: "encoded space stays encoded", in: "/a%20b", want: "/a%20b"},
		{desc: "single dot segment", in: "/./admin", want: "/admin"},
		{desc: "dot segments in the middle", in: "/a/./b/./c", want: "/a/b/c"},
		{desc: "double dot segment", in: "/x/../admin", want: "/admin"},
		{desc: "double dot pops one segment", in: "/a/b/../c", want: "/a/c"},
		{desc: "trailing single dot leaves a slash", in: "/a/.", want: "/a/"},
		{desc: "trailing double dot leaves a slash", in: "/a/b/..", want: "/a/"},
		{desc: "double dot back to the root", in: "/a/..", want: "/"},
		{desc: "encoded dots are dot segments", in: "/x/%2e%2E/admin", want: "/admin"},
		{desc: "half-encoded dots are dot segments", in: "/x/.%2e/admin", want: "/admin"},
		{desc: "encoded single dot", in: "/%2e/admin", want: "/admin"},
		{desc: "duplicate slashes merge", in: "//admin", want: "/admin"},
		{desc: "many slashes merge", in: "/a////b//", want: "/a/b/"},
		{desc: "dots next to merged slashes", in: "//.//..//admin", want: ""},
		{desc: "dots that stay in bounds with merged slashes", in: "/x//.//..//admin", want: "/admin"},
		{desc: "three dots is a name", in: "/.../a", want: "/.../a"},
		{desc: "dot file is a name", in: "/.well-known/x", want: "/.well-known/x"},
		{desc: "dots inside a name", in: "/a..b/c.", want: "/a..b/c."},
		{desc: "path parameters are kept", in: "/admin;x=1/", want: "/admin;x=1/"},
		{desc: "case is kept", in: "/ADMIN", want: "/ADMIN"},
		{desc: "empty path", in: "", want: ""},
		{desc: "relative path", in: "admin", want: ""},
		{desc: "asterisk", in: "*", want: ""},
		{desc: "climbing above the root", in: "/..", want: ""},
		{desc: "climbing above the root later", in: "/a/../../etc/passwd", want: ""},
		{desc: "encoded climbing", in: "/%2e%2e/etc/passwd", want: ""},
		{desc: "encoded slash", in: "/admin%2fx", want: ""},
		{desc: "encoded slash upper", in: "/a%2F..%2Fadmin", want: ""},
		{desc: "backslash", in: "/a\\admin", want: ""},
		{desc: "encoded backslash", in: "/a%5cadmin", want: ""},
		{desc: "encoded NUL", in: "/admin%00.html", want: ""},
		{desc: "raw NUL", in: "/admin\x00", want: ""},
		{desc: "raw space", in: "/a b", want: ""},
		{desc: "raw DEL", in: "/a\x7f", want: ""},
		{desc: "raw high byte", in: "/caf\xc3\xa9", want: ""},
		{desc: "query mark in a path", in: "/a?b", want: ""},
		{desc: "fragment mark", in: "/a#b", want: ""},
		{desc: "truncated encoding", in: "/a%2", want: ""},
		{desc: "percent at end", in: "/a%", want: ""},
		{desc: "bad hex", in: "/a%zz", want: ""},
		{desc: "double encoding stays encoded", in: "/%252e%252e/admin", want: "/%252e%252e/admin"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			prefix := []byte("keep")
			got, err := AppendNormalized(prefix, []byte(tt.in))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("AppendNormalized(%q) = %q, want an error", tt.in, got[4:])
				}
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("error %v does not wrap ErrBadRequest", err)
				}
				var pe *RequestError
				if !errors.As(err, &pe) || pe.Status() != 400 {
					t.Fatalf("error %v is not a *RequestError with status 400", err)
				}
				if string(got) != "keep" {
					t.Fatalf("dst changed on error: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("AppendNormalized(%q): %v", tt.in, err)
			}
			if string(got) != "keep"+tt.want {
				t.Fatalf("AppendNormalized(%q) = %q, want %q", tt.in, got[4:], tt.want)
			}
			if !IsNormal(got[4:]) {
				t.Fatalf("IsNormal(%q) = false for a normalised path", got[4:])
			}
			if IsNormal([]byte(tt.in)) != (tt.in == tt.want) {
				t.Fatalf("IsNormal(%q) = %v, but normalising gives %q", tt.in, !(tt.in == tt.want), tt.want)
			}
		})
	}
}

func TestSplitTargetSplitsAtTheFirstQuestionMark(t *testing.T) {
	tests := []struct {
		desc, in, path, query string
		hasQuery              bool
	}{
		{desc: "no query", in: "/a/b", path: "/a/b"},
		{desc: "empty query", in: "/a?", path: "/a", hasQuery: true},
		{desc: "query", in: "/a?x=1&y=2", path: "/a", query: "x=1&y=2", hasQuery: true},
		{desc: "second mark belongs to the query", in: "/a?x=?", path: "/a", query: "x=?", hasQuery: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p, q := SplitTarget([]byte(tt.in))
			if string(p) != tt.path || string(q) != tt.query || (q != nil) != tt.hasQuery {
				t.Fatalf("SplitTarget(%q) = %q, %q (nil %v)", tt.in, p, q, q == nil)
			}
		})
	}
}

func TestAppendNormalizedDoesNotAllocateIntoRoom(t *testing.T) {
	in := []byte("/a/./b//c/../%7Ed%20e")
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		out, err := AppendNormalized(buf[:0], in)
		if err != nil || !bytes.Equal(out, []byte("/a/b/~d%20e")) {
			t.Fatalf("got %q, %v", out, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendNormalized allocates %v times per run", allocs)
	}
}
