package http1

import (
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// TestValidMethodAndTargetAgreeWithReadRequest: what another codec checks
// before writing a request line is exactly what ReadRequest would accept in
// one.
func TestValidMethodAndTargetAgreeWithReadRequest(t *testing.T) {
	for _, tc := range []struct{ desc, method, target string }{
		{"plain", "GET", "/a?b=c"},
		{"every token byte", "!#$%&'*+-.^_`|~09AZaz", "/"},
		{"space in the method", "GET /x", "/"},
		{"tab in the method", "GET\t", "/"},
		{"slash in the method", "G/T", "/"},
		{"empty method", "", "/"},
		{"every visible byte", "GET", "/!\"$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"},
		{"space in the path", "GET", "/a /b"},
		{"space in the query", "GET", "/a?q=1 /b"},
		{"tab", "GET", "/a\tb"},
		{"fragment", "GET", "/a#b"},
		{"non-ASCII", "GET", "/caf\xc3\xa9"},
		{"DEL", "GET", "/a\x7f"},
		{"NUL", "GET", "/a\x00"},
		{"empty target", "GET", ""},
		{"asterisk", "OPTIONS", "*"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var r Reader
			r.Reset(strings.NewReader(tc.method + " " + tc.target + " HTTP/1.1\r\nHost: h\r\n\r\n"))
			var h httpmsg.RequestHead
			_, err := ReadRequest(&r, &h, Limits{})
			if got := ValidMethod(tc.method) && ValidTarget(tc.target); got != (err == nil) {
				t.Errorf("ValidMethod && ValidTarget = %v, ReadRequest error %v", got, err)
			}
		})
	}
}

// FuzzValidRequestLine checks that ValidMethod and ValidTarget accept
// exactly the methods and targets ReadRequest accepts on a request line, so
// that a codec checking with them sends upstream only what Janus's own
// HTTP/1.1 parser would have taken from a client.
func FuzzValidRequestLine(f *testing.F) {
	for _, s := range [][2]string{
		{"GET", "/a?b=c"}, {"GET /x", "/"}, {"GET", "/a b"}, {"GET", "/a\tb"}, {"GET", "/a#b"},
		{"OPTIONS", "*"}, {"GET", "/caf\xc3\xa9"}, {"", "/"}, {"GET", ""}, {"G\x00T", "/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		if strings.ContainsAny(method+target, "\r\n") {
			return // another line: not a question about one request line
		}
		if method == "CONNECT" || len(target) > 0 && target[0] != '/' && target != "*" {
			return // authority- and absolute-form targets have rules of their own
		}
		if target == "*" && method != "OPTIONS" {
			return
		}
		var r Reader
		r.Reset(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: h\r\n\r\n"))
		var h httpmsg.RequestHead
		_, err := ReadRequest(&r, &h, Limits{MaxLine: 1 << 20})
		if got := ValidMethod(method) && ValidTarget(target); got != (err == nil) {
			t.Fatalf("method %q target %q: ValidMethod && ValidTarget = %v, ReadRequest error %v", method, target, got, err)
		}
	})
}
