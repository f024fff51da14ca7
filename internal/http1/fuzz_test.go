package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// The fuzzers check three things: no input panics; what the parser accepts
// serializes back to something it reads the same way; and where net/http
// also accepts a message, both agree on where its body ends (a disagreement
// between two parsers is what request smuggling exploits).

func FuzzReadRequest(f *testing.F) {
	for _, tt := range badRequests {
		f.Add([]byte(tt.in))
	}
	for _, s := range []string{
		"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n",
		"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h httpmsg.RequestHead
		r := newBytesReader(data)
		fr, err := ReadRequest(r, &h, Limits{})
		if err != nil {
			if _, ok := err.(*Error); !ok && err != io.EOF {
				t.Fatalf("error %v (%T) is neither *Error nor io.EOF", err, err)
			}
			return
		}
		// Round trip.
		wire := AppendRequestHead(nil, &h)
		var h2 httpmsg.RequestHead
		fr2, err := ReadRequest(newBytesReader(wire), &h2, Limits{MaxLine: 1 << 20, MaxHead: 1 << 20})
		if err != nil {
			t.Fatalf("re-reading %q: %v", wire, err)
		}
		if fr2 != fr || h2.Form != h.Form || !bytes.Equal(h2.Method, h.Method) || !bytes.Equal(h2.Host, h.Host) ||
			h2.Port != h.Port || !bytes.Equal(h2.Path, h.Path) || h2.Header.Len() != h.Header.Len() {
			t.Fatalf("round trip of %q changed the head", wire)
		}
		// Our body.
		var b Body
		b.Reset(r, fr, 400, 0)
		ours, ourErr := io.ReadAll(&b)

		// net/http, where it agrees to read the message at all.
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		switch fr.Kind {
		case ChunkedBody:
			if len(req.TransferEncoding) != 1 || req.TransferEncoding[0] != "chunked" {
				t.Fatalf("framing: ours chunked, net/http TE=%v CL=%d", req.TransferEncoding, req.ContentLength)
			}
		case LengthBody:
			if req.ContentLength != fr.Length || len(req.TransferEncoding) != 0 {
				t.Fatalf("framing: ours length %d, net/http TE=%v CL=%d", fr.Length, req.TransferEncoding, req.ContentLength)
			}
		case NoBody:
			if req.ContentLength > 0 || len(req.TransferEncoding) != 0 {
				t.Fatalf("framing: ours none, net/http TE=%v CL=%d", req.TransferEncoding, req.ContentLength)
			}
		}
		theirs, theirErr := io.ReadAll(req.Body)
		if ourErr == nil && theirErr == nil && !bytes.Equal(ours, theirs) {
			t.Fatalf("bodies differ: ours %q, net/http %q", ours, theirs)
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.0 200\r\n\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		var h httpmsg.ResponseHead
		r := newBytesReader(data)
		fr, err := ReadResponse(r, &h, []byte(method), Limits{})
		if err != nil {
			if e, ok := err.(*Error); ok && e.Status != 502 {
				t.Fatalf("response error with status %d: %v", e.Status, err)
			}
			return
		}
		wire := AppendResponseHead(nil, &h)
		var h2 httpmsg.ResponseHead
		fr2, err := ReadResponse(newBytesReader(wire), &h2, []byte(method), Limits{MaxLine: 1 << 20, MaxHead: 1 << 20})
		if err != nil {
			t.Fatalf("re-reading %q: %v", wire, err)
		}
		if fr2 != fr || h2.Status != h.Status || h2.Header.Len() != h.Header.Len() {
			t.Fatalf("round trip of %q changed the head", wire)
		}
		var b Body
		b.Reset(r, fr, 502, 0)
		ours, ourErr := io.ReadAll(&b)

		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})
		if err != nil || h.Status < 200 {
			return
		}
		theirs, theirErr := io.ReadAll(resp.Body)
		if ourErr == nil && theirErr == nil && !bytes.Equal(ours, theirs) {
			t.Fatalf("bodies differ: ours %q, net/http %q", ours, theirs)
		}
	})
}

func FuzzChunkedBody(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;a=b\r\nhello\r\n0\r\nX-T: v\r\n\r\n",
		"fffffffffffffffffff\r\n",
		"0x5\r\nhello\r\n0\r\n\r\n",
		"5\nhello\n0\n\n",
		"5 \r\nhello\r\n0\r\n\r\n",
		"3\r\nhello\r\n0\r\n\r\n",
		"-1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Body
		b.Reset(newBytesReader(data), Framing{Kind: ChunkedBody}, 400, 0)
		ours, err := io.ReadAll(&b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			return
		}
		// Re-encode and decode again.
		var wire bytes.Buffer
		var w Writer
		w.Reset(&wire)
		cw := ChunkedWriter{W: &w}
		if _, err := cw.Write(ours); err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(&b.Trailer); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var b2 Body
		b2.Reset(newBytesReader(wire.Bytes()), Framing{Kind: ChunkedBody}, 400, 0)
		again, err := io.ReadAll(&b2)
		if err != nil || !bytes.Equal(again, ours) || b2.Trailer.Len() != b.Trailer.Len() {
			t.Fatalf("re-encoding changed the body: %v", err)
		}
		theirs, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data)))
		if err == nil && !bytes.Equal(ours, theirs) {
			t.Fatalf("bodies differ: ours %q, net/http %q", ours, theirs)
		}
	})
}

func newBytesReader(b []byte) *Reader {
	var r Reader
	r.Reset(bytes.NewReader(b))
	return &r
}
