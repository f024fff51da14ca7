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
