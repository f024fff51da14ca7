package http1

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func newStringReader(s string) *Reader {
	var r Reader
	r.Reset(strings.NewReader(s))
	return &r
}

func TestReadRequestAcceptsWellFormedHeads(t *testing.T) {
	tests := []struct {
		desc      string
		in        string
		form      httpmsg.TargetForm
		method    string
		host      string
		port      uint16
		path      string
		framing   Framing
		version   httpmsg.Version
		fields    int
		authority string
	}{
		{
			desc:   "absolute-form GET",
			in:     "GET http://Example.COM/a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
			form:   httpmsg.AbsoluteForm,
			method: "GET", host: "example.com", port: 80, path: "/a?b=c", authority: "Example.COM",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 2,
		},
		{
			desc:   "absolute-form without path gets slash",
			in:     "GET http://example.com:8080 HTTP/1.1\r\nHost: x\r\n\r\n",
			form:   httpmsg.AbsoluteForm,
			method: "GET", host: "example.com", port: 8080, path: "/", authority: "example.com:8080",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 1,
		},
		{
			desc:   "absolute-form query without path",
			in:     "GET http://example.com?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
			form:   httpmsg.AbsoluteForm,
			method: "GET", host: "example.com", port: 80, path: "/?q=1", authority: "example.com",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 1,
		},
		{
			desc:   "https absolute-form parses (the face refuses it)",
			in:     "GET https://[::1]/ HTTP/1.1\r\nHost: x\r\n\r\n",
			form:   httpmsg.AbsoluteForm,
			method: "GET", host: "::1", port: 443, path: "/", authority: "[::1]",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 1,
		},
		{
			desc:   "CONNECT authority-form",
			in:     "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			form:   httpmsg.AuthorityForm,
			method: "CONNECT", host: "example.com", port: 443, authority: "example.com:443",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 1,
		},
		{
			desc:   "CONNECT IPv6",
			in:     "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n",
			form:   httpmsg.AuthorityForm,
			method: "CONNECT", host: "2001:db8::1", port: 8443, authority: "[2001:db8::1]:8443",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 1,
		},
		{
			desc:   "origin-form POST with Content-Length",
			in:     "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
			form:   httpmsg.OriginForm,
			method: "POST", path: "/submit",
			framing: Framing{Kind: LengthBody, Length: 5}, version: httpmsg.HTTP11, fields: 2,
		},
		{
			desc:   "equal duplicate Content-Length",
			in:     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
			form:   httpmsg.OriginForm,
			method: "POST", path: "/",
			framing: Framing{Kind: LengthBody, Length: 5}, version: httpmsg.HTTP11, fields: 3,
		},
		{
			desc:   "chunked",
			in:     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
			form:   httpmsg.OriginForm,
			method: "POST", path: "/",
			framing: Framing{Kind: ChunkedBody}, version: httpmsg.HTTP11, fields: 2,
		},
		{
			desc:   "chunked in mixed case with OWS",
			in:     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  \tChunked \r\n\r\n",
			form:   httpmsg.OriginForm,
			method: "POST", path: "/",
			framing: Framing{Kind: ChunkedBody}, version: httpmsg.HTTP11, fields: 2,
		},
		{
			desc:   "asterisk-form OPTIONS",
			in:     "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
			form:   httpmsg.AsteriskForm,
			method: "OPTIONS", path: "*",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 1,
		},
		{
			desc:   "HTTP/1.0 without Host",
			in:     "GET http://a/ HTTP/1.0\r\n\r\n",
			form:   httpmsg.AbsoluteForm,
			method: "GET", host: "a", port: 80, path: "/", authority: "a",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP10, fields: 0,
		},
		{
			desc:   "leading empty line skipped",
			in:     "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
			form:   httpmsg.OriginForm,
			method: "GET", path: "/",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 1,
		},
		{
			desc:   "empty field value and obs-text",
			in:     "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n\r\n",
			form:   httpmsg.OriginForm,
			method: "GET", path: "/",
			framing: Framing{Kind: NoBody}, version: httpmsg.HTTP11, fields: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var h httpmsg.RequestHead
			f, err := ReadRequest(newStringReader(tt.in), &h, Limits{})
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			if h.Form != tt.form || string(h.Method) != tt.method || string(h.Host) != tt.host ||
				h.Port != tt.port || string(h.Path) != tt.path || string(h.Authority) != tt.authority {
				t.Errorf("got form=%v method=%q host=%q port=%d path=%q authority=%q",
					h.Form, h.Method, h.Host, h.Port, h.Path, h.Authority)
			}
			if f != tt.framing {
				t.Errorf("framing = %+v, want %+v", f, tt.framing)
			}
			if h.Version != tt.version {
				t.Errorf("version = %v, want %v", h.Version, tt.version)
			}
			if h.Header.Len() != tt.fields {
				t.Errorf("fields = %d, want %d", h.Header.Len(), tt.fields)
			}
		})
	}
}

// badRequests are heads a strict parser must refuse, with the status to
// answer. Many are request smuggling shapes (RFC 9112 §11.2).
var badRequests = []struct {
	desc   string
	in     string
	status int
}{
	{"CL.TE: both Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400},
	{"TE.CL: Transfer-Encoding then Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
	{"space before colon in Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
	{"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
	{"xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
	{"chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
	{"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"gzip then chunked is unsupported", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
	{"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400},
	{"Transfer-Encoding with vertical tab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n", 400},
	{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"duplicate Content-Length differing", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
	{"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400},
	{"Content-Length with sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
	{"Content-Length negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
	{"Content-Length hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400},
	{"Content-Length overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
	{"Content-Length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
	{"whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
	{"bare LF ends request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
	{"bare LF ends a field", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
	{"bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
	{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400},
	{"non-token field name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", 400},
	{"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
	{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
	{"bad Host value", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400},
	{"double space in request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"trailing space in request line", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
	{"HTTP/0.9 request line", "GET /\r\n\r\n", 400},
	{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
	{"HTTP/2 on an HTTP/1 connection", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	{"version with two digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
	{"non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"non-ASCII in target", "GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CONNECT with path", "CONNECT http://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CONNECT with port 0", "CONNECT example.com:0 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CONNECT with port out of range", "CONNECT example.com:65536 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"asterisk on GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"absolute-form with userinfo", "GET http://user:pw@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"absolute-form with empty host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"absolute-form without slashes", "GET http:example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"scheme starting with digit", "GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"IPv6 zone in target", "GET http://[fe80::1%25eth0]/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"too many leading empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"truncated head", "GET / HTTP/1.1\r\nHost: a\r\n", 400},
	{"truncated request line", "GET / HT", 400},
	{"request line too long", "GET /" + strings.Repeat("a", DefaultMaxLine) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
	{"request line too long without LF", "GET /" + strings.Repeat("a", DefaultMaxLine+10), 414},
	{"head too large", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("b", 1000)+"\r\n", 70) + "\r\n", 431},
	{"one huge field", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("b", DefaultMaxHead) + "\r\n\r\n", 431},
}

func TestReadRequestRefusesMalformedHeads(t *testing.T) {
	for _, tt := range badRequests {
		t.Run(tt.desc, func(t *testing.T) {
			var h httpmsg.RequestHead
			_, err := ReadRequest(newStringReader(tt.in), &h, Limits{})
			if err == nil {
				t.Fatalf("ReadRequest accepted %q", tt.in)
			}
			var he *Error
			if !errors.As(err, &he) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if he.Status != tt.status {
				t.Errorf("status = %d (%v), want %d", he.Status, err, tt.status)
			}
		})
	}
}

func TestReadRequestReportsCleanEOFBeforeAnyByte(t *testing.T) {
	var h httpmsg.RequestHead
	if _, err := ReadRequest(newStringReader(""), &h, Limits{}); err != io.EOF {
		t.Fatalf("err = %v, want io.EOF", err)
	}
}

func TestReadRequestReadsPipelinedRequestsInOrder(t *testing.T) {
	r := newStringReader("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: a\r\n\r\n")
	var h httpmsg.RequestHead
	var b Body
	for i, want := range []string{"/1", "/2", "/3"} {
		f, err := ReadRequest(r, &h, Limits{})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(h.Path) != want {
			t.Fatalf("request %d path = %q, want %q", i, h.Path, want)
		}
		b.Reset(r, f, 400, 0)
		got, err := io.ReadAll(&b)
		if err != nil {
			t.Fatalf("request %d body: %v", i, err)
		}
		if want == "/2" && string(got) != "abc" {
			t.Fatalf("body = %q", got)
		}
	}
	if _, err := ReadRequest(r, &h, Limits{}); err != io.EOF {
		t.Fatalf("after last: %v", err)
	}
}

func TestReadRequestHonoursCustomLimits(t *testing.T) {
	var h httpmsg.RequestHead
	_, err := ReadRequest(newStringReader("GET /"+strings.Repeat("a", 100)+" HTTP/1.1\r\nHost: a\r\n\r\n"), &h, Limits{MaxLine: 64})
	if StatusOf(err) != 414 {
		t.Errorf("long line: %v, want 414", err)
	}
	_, err = ReadRequest(newStringReader("GET / HTTP/1.1\r\nHost: a\r\nX: "+strings.Repeat("a", 200)+"\r\n\r\n"), &h, Limits{MaxHead: 128})
	if StatusOf(err) != 431 {
		t.Errorf("large head: %v, want 431", err)
	}
}

func TestReadRequestKeepsFieldOrderAndCase(t *testing.T) {
	var h httpmsg.RequestHead
	_, err := ReadRequest(newStringReader("GET / HTTP/1.1\r\nhost: a\r\nX-B: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n"), &h, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < h.Header.Len(); i++ {
		n, v := h.Header.Field(i)
		got = append(got, string(n)+"="+string(v))
	}
	if strings.Join(got, ",") != "host=a,X-B=1,x-a=2,X-B=3" {
		t.Errorf("fields = %v", got)
	}
}

func TestReadRequestAcceptsFieldsLongerThanTheBuffer(t *testing.T) {
	cookie := strings.Repeat("c", 3*BufferSize)
	in := "GET http://a/ HTTP/1.1\r\nHost: a\r\nCookie: " + cookie + "\r\nX-After: 1\r\n\r\nGET http://a/2 HTTP/1.1\r\nHost: a\r\n\r\n"
	r := newStringReader(in)
	var h httpmsg.RequestHead
	if _, err := ReadRequest(r, &h, Limits{}); err != nil {
		t.Fatal(err)
	}
	if string(h.Header.Get("Cookie")) != cookie || string(h.Header.Get("X-After")) != "1" {
		t.Fatal("long field or the one after it lost")
	}
	// The grown buffer keeps serving the next request.
	if _, err := ReadRequest(r, &h, Limits{}); err != nil || string(h.Path) != "/2" {
		t.Fatalf("next request: %v %q", err, h.Path)
	}
}

func TestReaderPrimeComesBeforeTheSource(t *testing.T) {
	r := newStringReader("ET / HTTP/1.1\r\nHost: a\r\n\r\n")
	r.Prime([]byte("G"))
	var h httpmsg.RequestHead
	if _, err := ReadRequest(r, &h, Limits{}); err != nil || string(h.Method) != "GET" {
		t.Fatalf("%v %q", err, h.Method)
	}
}
