package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// smuggled is the request the vectors try to hide; its path must never
// reach the origin.
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"

// chunkedSmuggled is smuggled as the content of one chunk, then the last
// chunk: what a TE-reading back end takes as a body and a CL-reading one
// as a second request.
var chunkedSmuggled = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)

// post starts a POST head to /a; the caller adds fields, the empty line and
// content.
const post = "POST /a HTTP/1.1\r\nHost: h\r\n"

// hello is a well-formed chunked body whose content is "hello".
const hello = "5\r\nhello\r\n0\r\n\r\n"

// smugglingVector is one request sent as raw bytes on a fresh connection.
type smugglingVector struct {
	desc     string
	req      string
	statuses []int    // the responses, in order
	closed   bool     // Janus closes the connection after them
	origin   []string // what the origin parsed completely, in order (recordedString)
	check    func(t *testing.T, rec string, reqs []recorded)
}

// refused is the outcome of a malformed request: 400, closed, nothing
// reaches the origin.
func refused(desc, req string) smugglingVector {
	return smugglingVector{desc: desc, req: req, statuses: []int{400}, closed: true}
}

// passes is the outcome of a well-formed POST /a with content "hello".
func passes(desc, req string) smugglingVector {
	return smugglingVector{desc: desc, req: req, statuses: []int{200}, origin: []string{"POST /a [hello]"}}
}

// recordedString is "METHOD target [body]" (no brackets without a body).
func recordedString(r recorded) string {
	if r.Body == "" {
		return r.String()
	}
	return r.String() + " [" + r.Body + "]"
}

func smugglingVectors() []smugglingVector {
	bigName := "X-" + strings.Repeat("a", 5000)
	vs := []smugglingVector{
		// Content-Length and Transfer-Encoding together (RFC 9112 §6.1,
		// §11.2): whichever one a back end believes, the other hides a
		// request.
		refused("CL.TE: Content-Length covers the last chunk and a smuggled prefix",
			post+"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+smuggled),
		refused("TE.CL: Transfer-Encoding first, Content-Length short",
			post+"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("CL and TE that agree on the length",
			post+fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(hello), hello)),
		refused("CL and TE with Content-Length zero",
			post+"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"+chunkedSmuggled),

		// Obfuscated Transfer-Encoding: one parser sees chunked, another
		// does not.
		refused("TE xchunked with CL", post+"Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE xchunked alone", post+"Transfer-Encoding: xchunked\r\n\r\n"+chunkedSmuggled),
		refused("TE chunked, identity", post+"Transfer-Encoding: chunked, identity\r\n\r\n"+chunkedSmuggled),
		refused("TE chunked followed by identity in a second field", post+"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n"+chunkedSmuggled),
		refused("TE quoted chunked", post+"Transfer-Encoding: \"chunked\"\r\n\r\n"+chunkedSmuggled),
		refused("TE chunked with a parameter", post+"Transfer-Encoding: chunked;q=1\r\n\r\n"+chunkedSmuggled),
		refused("TE empty", post+"Transfer-Encoding: \r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE list of commas only", post+"Transfer-Encoding: ,,\r\n\r\n"+chunkedSmuggled),
		refused("TE name with a leading space (a continuation of Host)", post+" Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE name with a leading tab", post+"\tTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE as the first field with a leading space", "POST /a HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: h\r\n\r\n"+chunkedSmuggled),
		refused("TE with a space before the colon", post+"Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE with a tab before the colon", post+"Transfer-Encoding\t: chunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE value after a vertical tab", post+"Transfer-Encoding:\x0bchunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE value after a form feed", post+"Transfer-Encoding:\x0cchunked\r\n\r\n"+chunkedSmuggled),
		refused("TE value with a NUL", post+"Transfer-Encoding: chunked\x00\r\n\r\n"+chunkedSmuggled),
		refused("TE folded onto the next line", post+"Transfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n"+chunkedSmuggled),
		refused("TE in an HTTP/1.0 request", "POST /a HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"+chunkedSmuggled),
		refused("TE chunked twice in two fields", post+"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"+chunkedSmuggled),
		refused("TE chunked, chunked", post+"Transfer-Encoding: chunked, chunked\r\n\r\n"+chunkedSmuggled),
		{desc: "TE identity, chunked is an unsupported coding", req: post + "Transfer-Encoding: identity, chunked\r\n\r\n" + chunkedSmuggled,
			statuses: []int{501}, closed: true},
		{desc: "TE gzip, chunked is an unsupported coding", req: post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunkedSmuggled,
			statuses: []int{501}, closed: true},

		// Optional whitespace and case are legitimate (RFC 9110 §5.6.3,
		// §7.4 codings are case-insensitive): these pass, framed once.
		passes("TE value after a tab", post+"Transfer-Encoding:\tchunked\r\n\r\n"+hello),
		passes("TE value after several spaces", post+"Transfer-Encoding:    chunked\r\n\r\n"+hello),
		passes("TE value with trailing whitespace", post+"Transfer-Encoding: chunked \t\r\n\r\n"+hello),
		passes("TE value in capitals", post+"Transfer-Encoding: CHUNKED\r\n\r\n"+hello),
		passes("TE name in lower case", post+"transfer-encoding: chunked\r\n\r\n"+hello),

		// Content-Length (RFC 9110 §8.6): digits only, one value.
		refused("differing duplicate CL", post+"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"+smuggled),
		refused("CL list with differing values", post+"Content-Length: 5, 6\r\n\r\nhello!"+smuggled),
		refused("CL list with equal values", post+"Content-Length: 5, 5\r\n\r\nhello"+smuggled),
		refused("CL +5", post+"Content-Length: +5\r\n\r\nhello"+smuggled),
		refused("CL -5", post+"Content-Length: -5\r\n\r\nhello"+smuggled),
		refused("CL 0x5", post+"Content-Length: 0x5\r\n\r\nhello"+smuggled),
		refused("CL 5 5", post+"Content-Length: 5 5\r\n\r\nhello"+smuggled),
		refused("CL 5.0", post+"Content-Length: 5.0\r\n\r\nhello"+smuggled),
		refused("CL empty", post+"Content-Length: \r\n\r\nhello"+smuggled),
		refused("CL that overflows 64 bits", post+"Content-Length: 18446744073709551621\r\n\r\nhello"+smuggled),
		refused("CL with a space before the colon", post+"Content-Length : 5\r\n\r\nhello"+smuggled),
		refused("CL with a NUL after the digits", post+"Content-Length: 5\x00\r\n\r\nhello"+smuggled),
		{desc: "identical duplicate CL is one length", req: post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
			statuses: []int{200}, origin: []string{"POST /a [hello]"},
			check: func(t *testing.T, rec string, reqs []recorded) {
				if got := reqs[0].Header.Values("Content-Length"); len(got) != 1 || got[0] != "5" {
					t.Errorf("origin got Content-Length %q, want one 5", got)
				}
			}},
		{desc: "CL with optional whitespace", req: post + "Content-Length: \t5 \r\n\r\nhello",
			statuses: []int{200}, origin: []string{"POST /a [hello]"}},

		// Line endings (RFC 9112 §2.2).
		refused("bare LF everywhere", "GET /a HTTP/1.1\nHost: h\n\n"),
		refused("bare LF after the request line", "GET /a HTTP/1.1\nHost: h\r\n\r\n"),
		refused("bare LF inside the fields", "GET /a HTTP/1.1\r\nHost: h\nTransfer-Encoding: chunked\r\n\r\n"+chunkedSmuggled),
		refused("bare LF ending the head", "GET /a HTTP/1.1\r\nHost: h\r\n\n"+smuggled),
		refused("bare CR inside a value", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n"),
		refused("bare CR as a line end", "GET /a HTTP/1.1\r\nHost: h\rTransfer-Encoding: chunked\r\n\r\n"+chunkedSmuggled),
		refused("bare CR ending the request line", "GET /a HTTP/1.1\r\r\nHost: h\r\n\r\n"),
		refused("bare CR in a field name", "GET /a HTTP/1.1\r\nHost: h\r\nX\r: a\r\n\r\n"),
		refused("obs-fold with a space", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"),
		refused("obs-fold with a tab", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"),

		// Control bytes in values (RFC 9110 §5.5).
		refused("NUL in a value", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n"),
		refused("SOH in a value", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n"),
		refused("ESC in a value", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\x1bb\r\n\r\n"),
		refused("DEL in a value", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n"),
		refused("vertical tab in a value", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: a\x0bb\r\n\r\n"),
		refused("NUL in Host", "GET /a HTTP/1.1\r\nHost: h\x00.evil\r\n\r\n"),

		// Field names are tokens with the colon right after (RFC 9112
		// §5.1).
		refused("space before the colon", "GET /a HTTP/1.1\r\nHost : h\r\n\r\n"),
		refused("space inside a name", "GET /a HTTP/1.1\r\nHost: h\r\nX A: b\r\n\r\n"),
		refused("parenthesis in a name", "GET /a HTTP/1.1\r\nHost: h\r\nX(A): b\r\n\r\n"),
		refused("at sign in a name", "GET /a HTTP/1.1\r\nHost: h\r\nX@A: b\r\n\r\n"),
		refused("slash in a name", "GET /a HTTP/1.1\r\nHost: h\r\nX/A: b\r\n\r\n"),
		refused("brackets around a name", "GET /a HTTP/1.1\r\nHost: h\r\n[X]: b\r\n\r\n"),
		refused("quote in a name", "GET /a HTTP/1.1\r\nHost: h\r\nX\"A: b\r\n\r\n"),
		refused("non-ASCII name", "GET /a HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: b\r\n\r\n"),
		refused("NUL in a name", "GET /a HTTP/1.1\r\nHost: h\r\nX\x00A: b\r\n\r\n"),
		refused("empty name", "GET /a HTTP/1.1\r\nHost: h\r\n: b\r\n\r\n"),
		refused("line without a colon", "GET /a HTTP/1.1\r\nHost: h\r\nX-A b\r\n\r\n"),

		// The request line is method SP target SP version (RFC 9112 §3).
		refused("two spaces after the method", "GET  /a HTTP/1.1\r\nHost: h\r\n\r\n"),
		refused("two spaces before the version", "GET /a  HTTP/1.1\r\nHost: h\r\n\r\n"),
		refused("space after the version", "GET /a HTTP/1.1 \r\nHost: h\r\n\r\n"),
		refused("space before the method", " GET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
		refused("tabs as separators", "GET\t/a\tHTTP/1.1\r\nHost: h\r\n\r\n"),
		refused("space inside the target", "GET /a /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"),
		refused("lower-case version", "GET /a http/1.1\r\nHost: h\r\n\r\n"),
		refused("NUL in the target", "GET /a\x00 HTTP/1.1\r\nHost: h\r\n\r\n"),
		refused("fragment in the target", "GET /a#x HTTP/1.1\r\nHost: h\r\n\r\n"),
		refused("method with a slash", "G/ET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
		{desc: "HTTP/2.0 on an HTTP/1 connection", req: "GET /a HTTP/2.0\r\nHost: h\r\n\r\n", statuses: []int{505}, closed: true},

		// Host (RFC 9112 §3.2).
		refused("two Host fields", "GET /a HTTP/1.1\r\nHost: h\r\nHost: evil\r\n\r\n"),
		refused("HTTP/1.1 without Host", "GET /a HTTP/1.1\r\n\r\n"),
		refused("Host with a space", "GET /a HTTP/1.1\r\nHost: h evil\r\n\r\n"),
		refused("Host with userinfo", "GET /a HTTP/1.1\r\nHost: u@h\r\n\r\n"),
		refused("Host longer than a DNS name", "GET /a HTTP/1.1\r\nHost: "+strings.Repeat("a", 300)+"\r\n\r\n"),

		// Chunked content (RFC 9112 §7.1). The head may already be on its
		// way upstream when the content turns out bad; the origin must
		// then never see a complete request.
		refused("chunk size that overflows", post+"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\n"+smuggled),
		refused("chunk size of 2^64", post+"Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk size with 0x", post+"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk size with a sign", post+"Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk size after a space", post+"Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("empty chunk size", post+"Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk size line ending in bare LF", post+"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"+smuggled),
		refused("last chunk ending in bare LF", post+"Transfer-Encoding: chunked\r\n\r\n0\n\r\n"+smuggled),
		refused("chunk data longer than its size", post+"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk data without its CRLF", post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n"+smuggled),
		refused("chunk data followed by bare LF", post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"+smuggled),
		refused("chunk extension longer than a chunk line may be", post+"Transfer-Encoding: chunked\r\n\r\n5;"+strings.Repeat("a", 5000)+"\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk extension with a NUL", post+"Transfer-Encoding: chunked\r\n\r\n5;a=\x00\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk extension with a bare CR in a quoted value", post+"Transfer-Encoding: chunked\r\n\r\n5;a=\"b\rc\"\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk extension with an unterminated quote", post+"Transfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk extension without a name", post+"Transfer-Encoding: chunked\r\n\r\n5;=b\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("chunk extension that is not one", post+"Transfer-Encoding: chunked\r\n\r\n5 hello\r\nhello\r\n0\r\n\r\n"+smuggled),
		refused("trailer field with a bare LF", post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\n\r\n"+smuggled),
		refused("trailer obs-fold", post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"+smuggled),
		{desc: "chunk extensions are checked and dropped", req: post + "Transfer-Encoding: chunked\r\n\r\n2;name=value\r\nhe\r\n3 ; q=\"x;y\" ;z\r\nllo\r\n0;last\r\n\r\n",
			statuses: []int{200}, origin: []string{"POST /a [hello]"},
			check: func(t *testing.T, rec string, reqs []recorded) {
				if strings.Contains(rec, "name=value") || strings.Contains(rec, "last") {
					t.Errorf("chunk extensions reached the origin:\n%q", rec)
				}
			}},
		{desc: "many chunks with long extensions pass without them", req: post + "Transfer-Encoding: chunked\r\n\r\n" +
			strings.Repeat("1;"+bigName[:4000]+"\r\nx\r\n", 64) + "0\r\n\r\n",
			statuses: []int{200}, origin: []string{"POST /a [" + strings.Repeat("x", 64) + "]"},
			check: func(t *testing.T, rec string, reqs []recorded) {
				if strings.Contains(rec, "aaaa") {
					t.Errorf("chunk extensions reached the origin")
				}
			}},
		{desc: "framing fields in a trailer are dropped", req: post + "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\nHost: evil\r\nX-T: kept\r\n\r\n",
			statuses: []int{200}, origin: []string{"POST /a [hello]"},
			check: func(t *testing.T, rec string, reqs []recorded) {
				tr := reqs[0].Trailer
				if tr.Get("Transfer-Encoding") != "" || tr.Get("Content-Length") != "" || tr.Get("Host") != "" {
					t.Errorf("framing fields reached the origin as trailers: %v", tr)
				}
				if tr.Get("X-T") != "kept" {
					t.Errorf("trailer X-T: %v", tr)
				}
			}},
	}
	return vs
}

// TestSmugglingVectorsAreRefusedAndNeverReachTheOrigin sends each vector as
// raw bytes to a reverse listener and checks the answer, that a refused
// request's connection is closed, and that the recording origin parsed
// exactly the requests that should pass: never the smuggled one.
func TestSmugglingVectorsAreRefusedAndNeverReachTheOrigin(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	addr := j.Addr(t, "web")
	for _, v := range smugglingVectors() {
		t.Run(v.desc, func(t *testing.T) {
			o.reset()
			// A connection Janus keeps is given a moment to show it does.
			wait := 300 * time.Millisecond
			if v.closed {
				wait = 3 * time.Second
			}
			res := rawSend(t, addr, []byte(v.req), len(v.statuses), wait)
			if got := res.statuses(); !slices.Equal(got, v.statuses) {
				t.Errorf("statuses %v, want %v (err %v)", got, v.statuses, res.Err)
			}
			if res.Closed != v.closed {
				t.Errorf("connection closed: %v, want %v (extra bytes %q)", res.Closed, v.closed, res.Extra)
			}
			reqs := o.requests()
			var got []string
			for _, r := range reqs {
				got = append(got, recordedString(r))
			}
			if !slices.Equal(got, v.origin) {
				t.Errorf("origin parsed %q, want %q", got, v.origin)
			}
			rec := o.recording()
			if strings.Contains(rec, "smuggled") {
				t.Errorf("the smuggled request reached the origin:\n%q", rec)
			}
			if v.check != nil && len(reqs) == len(v.origin) {
				v.check(t, rec, reqs)
			}
		})
	}
}
