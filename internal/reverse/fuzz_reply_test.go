package reverse

import (
	"bytes"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// FuzzTemplate checks that ParseTemplate never panics and that whatever a
// template it accepts expands to, from any request, is a Location a client
// cannot be tricked by: only visible ASCII, and no leading "//" or "/\"
// unless the template itself starts so.
// Seeds: testdata/fuzz/FuzzTemplate.
func FuzzTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, tmpl, target, host, query string) {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		req := &httpmsg.RequestHead{Path: []byte(target)}
		p := &Params{Host: []byte(host), Path: []byte("/p"), Query: []byte(query)}
		out := tp.Append([]byte("x"), &TemplateInput{Scheme: "https", Req: req, Params: p})
		if !bytes.HasPrefix(out, []byte("x")) {
			t.Fatalf("Append lost dst's prefix: %q", out)
		}
		loc := out[1:]
		for _, c := range loc {
			if c < 0x21 || c >= 0x7f {
				t.Fatalf("template %q gave %q: byte %#x", tmpl, loc, c)
			}
		}
		onPurpose := strings.HasPrefix(tmpl, "//") || strings.HasPrefix(tmpl, "/\\")
		if !onPurpose && (bytes.HasPrefix(loc, []byte("//")) || bytes.HasPrefix(loc, []byte("/\\"))) {
			t.Fatalf("template %q gave %q: another host", tmpl, loc)
		}
	})
}

// FuzzRange checks parseRange and the entity-tag list reader on any field
// value: never a panic, a 206 range always inside the file, 416 only with
// nothing to send. Seeds: testdata/fuzz/FuzzRange.
func FuzzRange(f *testing.F) {
	f.Fuzz(func(t *testing.T, rng, etags string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 { // math.MinInt64
			size = 0
		}
		var h httpmsg.Header
		h.AddString("Range", rng)
		h.AddString("If-None-Match", etags)
		off, n, st := parseRange(&h, size)
		switch st {
		case 206:
			if off < 0 || n <= 0 || off+n > size || off+n < off {
				t.Fatalf("parseRange(%q, %d) = %d+%d", rng, size, off, n)
			}
		case 416:
			if n != 0 || size == 0 {
				t.Fatalf("parseRange(%q, %d) = 416 with %d bytes", rng, size, n)
			}
		case 200:
			if off != 0 || n != size {
				t.Fatalf("parseRange(%q, %d) = 200 with %d+%d", rng, size, off, n)
			}
		default:
			t.Fatalf("parseRange status %d", st)
		}
		etagListMatches(&h, "If-None-Match", `"x"`, true)
		for v := []byte(etags); len(v) > 0; {
			tag, _, rest := nextETag(v)
			if tag == nil {
				break
			}
			if len(rest) >= len(v) || len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
				t.Fatalf("nextETag(%q) = %q, rest %q", v, tag, rest)
			}
			v = rest
		}
	})
}
