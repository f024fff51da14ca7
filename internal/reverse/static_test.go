package reverse

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

var staticMtime = time.Date(2024, 1, 2, 3, 4, 5, 500_000_000, time.UTC)

// staticTree builds a site under a temp dir and returns the root, which
// has a sibling file outside it.
func staticTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "site")
	write := func(name, content string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, staticMtime, staticMtime); err != nil {
			t.Fatal(err)
		}
	}
	write("index.html", "<h1>home</h1>")
	write("a.txt", "0123456789abcdefghij") // 20 bytes
	write("empty.txt", "")
	write("dir/index.html", "<h1>dir</h1>")
	write("dir/default.htm", "default")
	write("my file.txt", "spaced")
	write("caf\u00e9.txt", "accent")
	write(".git/config", "secret")
	write(".env", "secret")
	write("dir/.hidden", "secret")
	write(".well-known/acme-challenge/tok", "token")
	write("data.bin", "\x00\x01")
	if err := os.Mkdir(filepath.Join(root, "noindex"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "outside.txt"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"link-in":       "a.txt",
		"link-dir":      "dir",
		"link-out":      "../outside.txt",
		"link-abs":      filepath.Join(base, "outside.txt"),
		"dir/link-up":   "../../outside.txt",
		"dir/link-loop": "link-loop",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestStaticPlans(t *testing.T) {
	root := staticTree(t)
	tb := mustTable(t, []RouteSpec{
		{Name: "site", Match: MatchSpec{PathPrefix: "/"}, Action: ActionSpec{Static: &StaticSpec{Root: root}}},
		{Name: "assets", Match: MatchSpec{PathPrefix: "/assets/"}, StripPrefix: "/assets",
			Action: ActionSpec{Static: &StaticSpec{Root: root, Index: []string{"default.htm", "index.html"}}}},
	})
	fi, err := os.Stat(filepath.Join(root, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	etag := `"` + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + `-14"`
	lastMod := "Tue, 02 Jan 2024 03:04:05 GMT"

	tests := []struct {
		desc   string
		method string
		target string
		fields []string
		status int
		body   string // expected bytes sent; also checked when empty for 200/206
		ctype  string
		head   []string // "Name: value" lines the head must hold
	}{
		{desc: "file", target: "/a.txt", status: 200, body: "0123456789abcdefghij", ctype: "text/plain; charset=utf-8",
			head: []string{"ETag: " + etag, "Last-Modified: " + lastMod, "Accept-Ranges: bytes", "Content-Length: 20"}},
		{desc: "HEAD has the length but no file", method: "HEAD", target: "/a.txt", status: 200, head: []string{"Content-Length: 20"}},
		{desc: "root index", target: "/", status: 200, body: "<h1>home</h1>", ctype: "text/html; charset=utf-8"},
		{desc: "directory index", target: "/dir/", status: 200, body: "<h1>dir</h1>"},
		{desc: "directory without slash redirects", target: "/dir?x=1", status: 301, head: []string{"Location: /dir/?x=1"}},
		{desc: "directory redirect uses the normalised path", target: "//dir/../dir", status: 301, head: []string{"Location: /dir/"}},
		{desc: "directory without index", target: "/noindex/", status: 404},
		{desc: "index order and strip prefix", target: "/assets/dir/", status: 200, body: "default"},
		{desc: "strip prefix file", target: "/assets/a.txt", status: 200, body: "0123456789abcdefghij"},
		{desc: "directory redirect keeps the route prefix", target: "/assets/dir", status: 301, head: []string{"Location: /assets/dir/"}},
		{desc: "empty file", target: "/empty.txt", status: 200, head: []string{"Content-Length: 0"}},
		{desc: "encoded space", target: "/my%20file.txt", status: 200, body: "spaced"},
		{desc: "encoded UTF-8", target: "/caf%C3%A9.txt", status: 200, body: "accent"},
		{desc: "unknown extension", target: "/data.bin", status: 200, body: "\x00\x01", ctype: "application/octet-stream"},
		{desc: "missing", target: "/nope.txt", status: 404},
		{desc: "file as a directory", target: "/a.txt/x", status: 404},
		{desc: "dot directory", target: "/.git/config", status: 404},
		{desc: "dot file", target: "/.env", status: 404},
		{desc: "dot file below", target: "/dir/.hidden", status: 404},
		{desc: "encoded dot file", target: "/%2eenv", status: 404},
		{desc: "well-known is served", target: "/.well-known/acme-challenge/tok", status: 200, body: "token"},
		{desc: "symlink inside the root", target: "/link-in", status: 200, body: "0123456789abcdefghij"},
		{desc: "symlinked directory inside the root", target: "/link-dir/", status: 200, body: "<h1>dir</h1>"},
		{desc: "symlink escaping the root", target: "/link-out", status: 404},
		{desc: "absolute symlink", target: "/link-abs", status: 404},
		{desc: "symlink escaping from below", target: "/dir/link-up", status: 404},
		{desc: "symlink loop", target: "/dir/link-loop", status: 404},
		{desc: "FIFO is not served and does not block", target: "/fifo", status: 404},
		{desc: "POST", method: "POST", target: "/a.txt", status: 405, head: []string{"Allow: GET, HEAD"}},
		{desc: "If-None-Match hit", target: "/a.txt", fields: []string{"If-None-Match: \"x\", " + etag}, status: 304,
			head: []string{"ETag: " + etag, "Last-Modified: " + lastMod}},
		{desc: "If-None-Match weak hit", target: "/a.txt", fields: []string{"If-None-Match: W/" + etag}, status: 304},
		{desc: "If-None-Match star", target: "/a.txt", fields: []string{"If-None-Match: *"}, status: 304},
		{desc: "If-None-Match miss", target: "/a.txt", fields: []string{`If-None-Match: "a,b", "c"`}, status: 200, body: "0123456789abcdefghij"},
		{desc: "If-None-Match beats If-Modified-Since", target: "/a.txt",
			fields: []string{`If-None-Match: "x"`, "If-Modified-Since: " + lastMod}, status: 200, body: "0123456789abcdefghij"},
		{desc: "If-Modified-Since equal", target: "/a.txt", fields: []string{"If-Modified-Since: " + lastMod}, status: 304},
		{desc: "If-Modified-Since later", target: "/a.txt", fields: []string{"If-Modified-Since: Wed, 03 Jan 2024 00:00:00 GMT"}, status: 304},
		{desc: "If-Modified-Since earlier", target: "/a.txt", fields: []string{"If-Modified-Since: Tue, 02 Jan 2024 03:04:04 GMT"}, status: 200, body: "0123456789abcdefghij"},
		{desc: "If-Modified-Since RFC 850", target: "/a.txt", fields: []string{"If-Modified-Since: Tuesday, 02-Jan-24 03:04:05 GMT"}, status: 304},
		{desc: "If-Modified-Since asctime", target: "/a.txt", fields: []string{"If-Modified-Since: Tue Jan  2 03:04:05 2024"}, status: 304},
		{desc: "If-Modified-Since garbage is ignored", target: "/a.txt", fields: []string{"If-Modified-Since: yesterday"}, status: 200, body: "0123456789abcdefghij"},
		{desc: "If-Match miss", target: "/a.txt", fields: []string{`If-Match: "x"`}, status: 412},
		{desc: "If-Match weak never matches", target: "/a.txt", fields: []string{"If-Match: W/" + etag}, status: 412},
		{desc: "If-Match hit", target: "/a.txt", fields: []string{"If-Match: " + etag}, status: 200, body: "0123456789abcdefghij"},
		{desc: "If-Unmodified-Since earlier", target: "/a.txt", fields: []string{"If-Unmodified-Since: Mon, 01 Jan 2024 00:00:00 GMT"}, status: 412},
		{desc: "range", target: "/a.txt", fields: []string{"Range: bytes=2-5"}, status: 206, body: "2345",
			head: []string{"Content-Range: bytes 2-5/20", "Content-Length: 4", "ETag: " + etag}},
		{desc: "range open end", target: "/a.txt", fields: []string{"Range: bytes=15-"}, status: 206, body: "fghij",
			head: []string{"Content-Range: bytes 15-19/20"}},
		{desc: "range last beyond end", target: "/a.txt", fields: []string{"Range: bytes=18-100"}, status: 206, body: "ij"},
		{desc: "suffix range", target: "/a.txt", fields: []string{"Range: bytes=-3"}, status: 206, body: "hij"},
		{desc: "suffix longer than file", target: "/a.txt", fields: []string{"Range: bytes=-50"}, status: 206, body: "0123456789abcdefghij",
			head: []string{"Content-Range: bytes 0-19/20"}},
		{desc: "range unit is case-insensitive", target: "/a.txt", fields: []string{"Range: Bytes=0-0"}, status: 206, body: "0"},
		{desc: "unsatisfiable range", target: "/a.txt", fields: []string{"Range: bytes=20-"}, status: 416,
			head: []string{"Content-Range: bytes */20", "Content-Length: 0"}},
		{desc: "zero suffix", target: "/a.txt", fields: []string{"Range: bytes=-0"}, status: 416},
		{desc: "several ranges are ignored", target: "/a.txt", fields: []string{"Range: bytes=0-1,5-6"}, status: 200, body: "0123456789abcdefghij"},
		{desc: "reversed range is ignored", target: "/a.txt", fields: []string{"Range: bytes=5-2"}, status: 200, body: "0123456789abcdefghij"},
		{desc: "other unit is ignored", target: "/a.txt", fields: []string{"Range: items=0-1"}, status: 200, body: "0123456789abcdefghij"},
		{desc: "garbage range is ignored", target: "/a.txt", fields: []string{"Range: bytes=x-1"}, status: 200, body: "0123456789abcdefghij"},
		{desc: "range on HEAD is ignored", method: "HEAD", target: "/a.txt", fields: []string{"Range: bytes=0-1"}, status: 200, head: []string{"Content-Length: 20"}},
		{desc: "range on an empty file sends it whole", target: "/empty.txt", fields: []string{"Range: bytes=0-"}, status: 200},
		{desc: "If-Range with current ETag", target: "/a.txt", fields: []string{"Range: bytes=0-1", "If-Range: " + etag}, status: 206, body: "01"},
		{desc: "If-Range with old ETag", target: "/a.txt", fields: []string{"Range: bytes=0-1", `If-Range: "old"`}, status: 200, body: "0123456789abcdefghij"},
		{desc: "If-Range with current date", target: "/a.txt", fields: []string{"Range: bytes=0-1", "If-Range: " + lastMod}, status: 206, body: "01"},
		{desc: "If-Range with other date", target: "/a.txt", fields: []string{"Range: bytes=0-1", "If-Range: Mon, 01 Jan 2024 00:00:00 GMT"}, status: 200, body: "0123456789abcdefghij"},
		{desc: "not modified wins over range", target: "/a.txt", fields: []string{"Range: bytes=0-1", "If-None-Match: " + etag}, status: 304},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req := get(t, method, tt.target, "h", tt.fields...)
			r, p, err := tb.Match(req, netip.Addr{})
			if r == nil || err != nil {
				t.Fatalf("Match = %v, %v", r, err)
			}
			sp, err := r.PlanStatic(req, &p)
			if err != nil {
				t.Fatalf("PlanStatic: %v", err)
			}
			defer sp.Close()
			if sp.Status != tt.status {
				t.Fatalf("status %d, want %d (plan %+v)", sp.Status, tt.status, sp)
			}
			var h httpmsg.ResponseHead
			sp.Head(&h)
			for _, line := range tt.head {
				name, want, _ := strings.Cut(line, ": ")
				if got := string(h.Header.Get(name)); got != want {
					t.Errorf("%s = %q, want %q (head %q)", name, got, want, fields(&h.Header))
				}
			}
			if tt.ctype != "" && string(h.Header.Get("Content-Type")) != tt.ctype {
				t.Errorf("Content-Type %q, want %q", h.Header.Get("Content-Type"), tt.ctype)
			}
			if tt.status == 304 && (h.Header.Has("Content-Length") || h.Header.Has("Content-Type")) {
				t.Errorf("304 carries content fields: %q", fields(&h.Header))
			}
			sendsBody := method == "GET" && (tt.status == 200 || tt.status == 206)
			if !sendsBody || sp.Length == 0 {
				if sp.File != nil {
					t.Fatalf("plan holds a file with nothing to send")
				}
				if tt.body != "" {
					t.Fatalf("no body, want %q", tt.body)
				}
				return
			}
			if sp.File == nil {
				t.Fatalf("no file to send")
			}
			got, err := io.ReadAll(io.NewSectionReader(sp.File, sp.Offset, sp.Length))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.body {
				t.Fatalf("body %q, want %q", got, tt.body)
			}
		})
	}
}

// TestStaticPlansCloseWhatTheyOpen counts descriptors across every kind of
// plan, including refusals, and across many runs.
func TestStaticPlansCloseWhatTheyOpen(t *testing.T) {
	root := staticTree(t)
	tb := mustTable(t, []RouteSpec{{Match: MatchSpec{PathPrefix: "/"}, Action: ActionSpec{Static: &StaticSpec{Root: root}}}})
	targets := []string{"/a.txt", "/", "/dir", "/noindex/", "/nope", "/link-out", "/fifo", "/.env", "/empty.txt"}
	before := openFDs(t)
	for range 50 {
		for _, target := range targets {
			req := get(t, "GET", target, "h", "Range: bytes=0-1")
			r, p, _ := tb.Match(req, netip.Addr{})
			sp, err := r.PlanStatic(req, &p)
			if err != nil {
				t.Fatalf("%s: %v", target, err)
			}
			sp.Close()
			sp.Close() // twice is harmless
		}
	}
	if after := openFDs(t); after > before {
		t.Fatalf("open descriptors went from %d to %d", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestStaticPlanFailsWhenTheRootGoesAway(t *testing.T) {
	root := staticTree(t)
	tb := mustTable(t, []RouteSpec{{Match: MatchSpec{PathPrefix: "/"}, Action: ActionSpec{Static: &StaticSpec{Root: root}}}})
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	req := get(t, "GET", "/a.txt", "h")
	r, p, _ := tb.Match(req, netip.Addr{})
	if sp, err := r.PlanStatic(req, &p); err == nil || sp.Status != 0 || sp.File != nil {
		t.Fatalf("PlanStatic = %+v, %v; want an error", sp, err)
	}
	if _, err := tb.Routes()[0].PlanStatic(req, &p); err == nil {
		t.Fatal("no error")
	}
	proxy := mustTable(t, []RouteSpec{{Action: to("a")}}).Routes()[0]
	if _, err := proxy.PlanStatic(req, &p); err == nil {
		t.Fatal("PlanStatic on a proxy route did not fail")
	}
}
