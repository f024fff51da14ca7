package httpface

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestGatewayErrors(t *testing.T) {
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	silent := rawOrigin(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	garbage := rawOrigin(t, func(c net.Conn) {
		readHead(bufio.NewReader(c))
		io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n")
	})
	hangup := rawOrigin(t, func(c net.Conn) { readHead(bufio.NewReader(c)) })
	smuggler := rawOrigin(t, func(c net.Conn) {
		readHead(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	})
	p := startProxy(t, Options{ResponseTimeout: 300 * time.Millisecond})
	tests := []struct {
		desc   string
		target string
		status string
		body   string
	}{
		{"connection refused", closedPort, "502", "cannot connect to origin"},
		{"origin never answers", silent, "504", "origin did not answer in time"},
		{"origin speaks another protocol", garbage, "502", "bad response from origin"},
		{"origin closes without answering", hangup, "502", "without a response"},
		{"origin sends CL and TE", smuggler, "502", "bad response from origin"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			raw := p.rawRequest(t, "GET http://"+tt.target+"/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if statusOf(raw) != tt.status || !strings.Contains(raw, tt.body) || !strings.Contains(raw, "Content-Type: text/plain") {
				t.Fatalf("response:\n%s", raw)
			}
			e := p.access.last(t)
			if e.Error == "" || e.Status == 200 {
				t.Errorf("access entry %+v", e)
			}
		})
	}
}

// malformed are requests the face must refuse, then close the connection.
var malformed = []struct {
	desc   string
	in     string
	status string
}{
	{"origin-form on a forward proxy", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "400"},
	{"asterisk-form on a forward proxy", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "400"},
	{"https absolute-form", "GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "400"},
	{"ftp absolute-form", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "400"},
	{"CL.TE", "POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
	{"TE with space before colon", "POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "400"},
	{"xchunked", "POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", "400"},
	{"unknown transfer coding", "POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "501"},
	{"duplicate Content-Length", "POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
	{"obs-fold", "GET http://a/ HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", "400"},
	{"bare LF", "GET http://a/ HTTP/1.1\nHost: a\n\n", "400"},
	{"NUL in a value", "GET http://a/ HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n", "400"},
	{"no Host", "GET http://a/ HTTP/1.1\r\n\r\n", "400"},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505"},
	{"binary garbage", "\x7f\x00\x01\xfc\x03\x03\r\n\r\n", "400"},
	{"request line too long", "GET http://a/" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"},
	{"head too large", "GET http://a/ HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 70) + "\r\n", "431"},
}

func TestMalformedRequestsAreRefusedAndTheConnectionClosed(t *testing.T) {
	checkNoLeaks(t)
	fds := countFDs(t)
	p := startProxy(t, Options{})
	for _, tt := range malformed {
		t.Run(tt.desc, func(t *testing.T) {
			raw := p.rawRequest(t, tt.in) // returns when the proxy closes
			if got := statusOf(raw); got != tt.status {
				t.Fatalf("status %s, want %s:\n%.300s", got, tt.status, raw)
			}
		})
	}
	p.srv.Close()
	if after := countFDs(t); after > fds+2 {
		t.Errorf("descriptors: %d before, %d after", fds, after)
	}
}

func TestHeadTimeout(t *testing.T) {
	p := startProxy(t, Options{HeaderTimeout: 200 * time.Millisecond})
	t.Run("silence after the first byte closes with 408", func(t *testing.T) {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET http://a/ HTTP/1.1\r\nHost")
		c.SetDeadline(time.Now().Add(3 * time.Second))
		raw, _ := io.ReadAll(c)
		if statusOf(string(raw)) != "408" {
			t.Fatalf("got %q", raw)
		}
	})
	t.Run("an idle keep-alive connection closes quietly", func(t *testing.T) {
		origin := echoOrigin(t)
		q := startProxy(t, Options{IdleTimeout: 200 * time.Millisecond})
		c, err := net.Dial("tcp", q.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET "+origin.URL+"/?size=1 HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetDeadline(time.Now().Add(3 * time.Second))
		start := time.Now()
		raw, _ := io.ReadAll(c)
		if strings.Count(string(raw), "HTTP/1.1") != 1 || time.Since(start) > 2*time.Second {
			t.Fatalf("after %v: %q", time.Since(start), raw)
		}
	})
}

func TestMalformedRequestContentEndsTheExchange(t *testing.T) {
	checkNoLeaks(t)
	origin := echoOrigin(t)
	p := startProxy(t, Options{})
	start := time.Now()
	raw := p.rawRequest(t, "POST "+origin.URL+"/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n")
	if statusOf(raw) != "400" || time.Since(start) > 3*time.Second {
		t.Fatalf("after %v:\n%s", time.Since(start), raw)
	}
}
