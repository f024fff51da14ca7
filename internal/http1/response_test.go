package http1

import (
	"io"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func TestReadResponseFramesBodies(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		method  string
		status  int
		reason  string
		framing Framing
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", "GET", 200, "OK", Framing{Kind: LengthBody, Length: 3}},
		{"explicit zero length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", Framing{Kind: LengthBody}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, "OK", Framing{Kind: ChunkedBody}},
		{"read until close", "HTTP/1.1 200 OK\r\n\r\n", "GET", 200, "OK", Framing{Kind: CloseBody}},
		{"HTTP/1.0 read until close", "HTTP/1.0 200 OK\r\n\r\n", "GET", 200, "OK", Framing{Kind: CloseBody}},
		{"HEAD ignores Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD", 200, "OK", Framing{Kind: NoBody}},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", "GET", 204, "No Content", Framing{Kind: NoBody}},
		{"304 ignores Content-Length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", 304, "Not Modified", Framing{Kind: NoBody}},
		{"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", "POST", 100, "Continue", Framing{Kind: NoBody}},
		{"103 early hints", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", "GET", 103, "Early Hints", Framing{Kind: NoBody}},
		{"empty reason with space", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", 200, "", Framing{Kind: LengthBody}},
		{"empty reason without space", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", 200, "", Framing{Kind: LengthBody}},
		{"reason with spaces", "HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n", "GET", 404, "Not Found Here", Framing{Kind: LengthBody}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var h httpmsg.ResponseHead
			f, err := ReadResponse(newStringReader(tt.in), &h, []byte(tt.method), Limits{})
			if err != nil {
				t.Fatalf("ReadResponse: %v", err)
			}
			if h.Status != tt.status || string(h.Reason) != tt.reason || f != tt.framing {
				t.Errorf("got %d %q %+v, want %d %q %+v", h.Status, h.Reason, f, tt.status, tt.reason, tt.framing)
			}
		})
	}
}

func TestReadResponseRefusesMalformedHeadsWith502(t *testing.T) {
	tests := []struct{ desc, in string }{
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"gzip transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{"chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
		{"TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
		{"bare CR", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\n"},
		{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n"},
		{"status below 100", "HTTP/1.1 099 Odd\r\n\r\n"},
		{"letters in status", "HTTP/1.1 2x0 OK\r\n\r\n"},
		{"no space after version", "HTTP/1.1200 OK\r\n\r\n"},
		{"HTTP/2 status line", "HTTP/2.0 200 OK\r\n\r\n"},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n"},
		{"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Len"},
		{"head too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", DefaultMaxHead) + "\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var h httpmsg.ResponseHead
			_, err := ReadResponse(newStringReader(tt.in), &h, []byte("GET"), Limits{})
			if err == nil {
				t.Fatalf("accepted %q", tt.in)
			}
			if StatusOf(err) != 502 {
				t.Errorf("status = %d (%v), want 502", StatusOf(err), err)
			}
		})
	}
}

func TestReadResponseReportsEOFWhenOriginClosedIdle(t *testing.T) {
	var h httpmsg.ResponseHead
	if _, err := ReadResponse(newStringReader(""), &h, []byte("GET"), Limits{}); err != io.EOF {
		t.Fatalf("err = %v, want io.EOF", err)
	}
}

func TestWriteResponseHeadRoundTrips(t *testing.T) {
	var h httpmsg.ResponseHead
	h.Version = httpmsg.HTTP11
	h.Status = 407
	h.Header.AddString("Proxy-Authenticate", `Basic realm="janus"`)
	h.Header.AddString("Content-Length", "0")
	got := string(AppendResponseHead(nil, &h))
	want := "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"janus\"\r\nContent-Length: 0\r\n\r\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	var back httpmsg.ResponseHead
	if _, err := ReadResponse(newStringReader(got), &back, []byte("GET"), Limits{}); err != nil {
		t.Fatal(err)
	}
	if back.Status != 407 || back.Header.Len() != 2 {
		t.Fatalf("round trip: %d %d", back.Status, back.Header.Len())
	}
}

func TestWriteRequestHeadUsesTheTargetForm(t *testing.T) {
	var h httpmsg.RequestHead
	if _, err := ReadRequest(newStringReader("GET http://example.com:8080/x?y HTTP/1.0\r\nUser-Agent: t\r\n\r\n"), &h, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := string(AppendRequestHead(nil, &h)); got != "GET http://example.com:8080/x?y HTTP/1.0\r\nUser-Agent: t\r\n\r\n" {
		t.Errorf("absolute: %q", got)
	}
	h.Form = httpmsg.OriginForm
	h.Version = httpmsg.HTTP11
	if got := string(AppendRequestHead(nil, &h)); got != "GET /x?y HTTP/1.1\r\nUser-Agent: t\r\n\r\n" {
		t.Errorf("origin: %q", got)
	}
}
