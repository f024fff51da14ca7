package httpface

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
)

// echoOrigin answers with the method, the SHA-256 of the request content
// and its length, and sends back a body of the size asked in ?size=.
func echoOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Body-Sha256", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("X-Body-Len", fmt.Sprint(n))
		w.Header().Set("X-Body-TE", strings.Join(r.TransferEncoding, ","))
		if tr := r.Trailer.Get("X-Up-Trailer"); tr != "" {
			w.Header().Set("X-Got-Trailer", tr)
		}
		var size int
		fmt.Sscan(r.URL.Query().Get("size"), &size)
		if size > 0 {
			w.Header().Set("Content-Length", fmt.Sprint(size))
			w.Write(bytes.Repeat([]byte("d"), size))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestMethodsAndBodiesTravelBothWays(t *testing.T) {
	checkNoLeaks(t)
	origin := echoOrigin(t)
	p := startProxy(t, Options{})
	cl := p.client(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10) // 8 MiB
	tests := []struct {
		desc     string
		method   string
		body     []byte
		chunked  bool // send with unknown length
		download int
	}{
		{desc: "GET", method: "GET"},
		{desc: "GET with a small download", method: "GET", download: 14},
		{desc: "POST with Content-Length", method: "POST", body: []byte("name=value")},
		{desc: "PUT chunked", method: "PUT", body: []byte("chunk of content"), chunked: true},
		{desc: "DELETE", method: "DELETE"},
		{desc: "PATCH", method: "PATCH", body: []byte(`{"a":1}`)},
		{desc: "OPTIONS", method: "OPTIONS"},
		{desc: "custom method", method: "PROPFIND", body: []byte("<x/>")},
		{desc: "large upload with Content-Length", method: "POST", body: big},
		{desc: "large chunked upload", method: "POST", body: big, chunked: true},
		{desc: "large download", method: "GET", download: 8 << 20},
		{desc: "large upload and download", method: "PUT", body: big, download: 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			logged := p.access.count()
			var body io.Reader
			if tt.body != nil {
				body = bytes.NewReader(tt.body)
				if tt.chunked {
					body = io.MultiReader(body) // hides the length
				}
			}
			req, _ := http.NewRequest(tt.method, fmt.Sprintf("%s/echo?size=%d", origin.URL, tt.download), body)
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("X-Method") != tt.method {
				t.Fatalf("status %d, method seen %q", resp.StatusCode, resp.Header.Get("X-Method"))
			}
			if resp.Header.Get("X-Body-Sha256") != sha(tt.body) || resp.Header.Get("X-Body-Len") != fmt.Sprint(len(tt.body)) {
				t.Fatalf("origin saw %s bytes with another hash", resp.Header.Get("X-Body-Len"))
			}
			if tt.chunked && resp.Header.Get("X-Body-TE") != "chunked" {
				t.Errorf("origin saw TE %q, want chunked", resp.Header.Get("X-Body-TE"))
			}
			if len(got) != tt.download {
				t.Fatalf("downloaded %d bytes, want %d", len(got), tt.download)
			}
			e := p.access.find(t, func(*observe.Entry) bool { return p.access.count() > logged })
			if e.BytesUp != int64(len(tt.body)) || e.BytesDown != int64(tt.download) || e.Method != tt.method || e.Status != 200 {
				t.Errorf("access entry: up=%d down=%d method=%s status=%d", e.BytesUp, e.BytesDown, e.Method, e.Status)
			}
		})
	}
}

func TestChunkedResponseWithTrailersReachesTheClient(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.WriteHeader(200)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "three")
	}))
	defer origin.Close()
	p := startProxy(t, Options{})
	resp, err := p.client(t).Get(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "part 0;part 1;part 2;" {
		t.Fatalf("body %q", body)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("client got TE %v", resp.TransferEncoding)
	}
	if resp.Trailer.Get("X-Sum") != "three" {
		t.Errorf("trailer %v", resp.Trailer)
	}
}

func TestRequestTrailersReachTheOrigin(t *testing.T) {
	origin := echoOrigin(t)
	p := startProxy(t, Options{})
	req, _ := http.NewRequest("POST", origin.URL, io.MultiReader(strings.NewReader("content")))
	req.Trailer = http.Header{"X-Up-Trailer": nil}
	req.Trailer.Set("X-Up-Trailer", "sent-last")
	resp, err := p.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Got-Trailer"); got != "sent-last" {
		t.Fatalf("origin saw trailer %q", got)
	}
}

// rawOrigin serves each connection with handle on a loopback listener.
func rawOrigin(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// readHead reads one request head from br.
func readHead(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

func TestCloseDelimitedResponseIsChunkedFor11AndCloseDelimitedFor10(t *testing.T) {
	addr := rawOrigin(t, func(c net.Conn) {
		readHead(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the origin closes")
	})
	p := startProxy(t, Options{})
	t.Run("HTTP/1.1 client gets chunked and keeps the connection", func(t *testing.T) {
		raw := p.rawRequest(t, "GET http://"+addr+"/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if !strings.Contains(raw, "Transfer-Encoding: chunked\r\n") || !strings.Contains(raw, "17\r\nuntil the origin closes\r\n0\r\n\r\n") {
			t.Fatalf("response:\n%s", raw)
		}
	})
	t.Run("HTTP/1.0 client gets the content until close", func(t *testing.T) {
		raw := p.rawRequest(t, "GET http://"+addr+"/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if strings.Contains(raw, "chunked") || !strings.HasSuffix(raw, "\r\n\r\nuntil the origin closes") || !strings.Contains(raw, "Connection: close\r\n") {
			t.Fatalf("response:\n%s", raw)
		}
	})
}

func TestKeepAliveReusesClientAndOriginConnections(t *testing.T) {
	var originConns, proxyConns atomic.Int32
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	origin.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			originConns.Add(1)
		}
	}
	origin.Start()
	defer origin.Close()
	p := startProxy(t, Options{})
	tr := &http.Transport{Proxy: http.ProxyURL(mustURL("http://" + p.addr)), DialContext: (&countingDialer{n: &proxyConns}).DialContext}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for i := 0; i < 20; i++ {
		resp, err := cl.Get(origin.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if originConns.Load() != 1 || proxyConns.Load() != 1 {
		t.Fatalf("20 requests used %d client and %d origin connections, want 1 and 1", proxyConns.Load(), originConns.Load())
	}
}

func TestHTTP10ClientKeepsAliveOnlyWhenAsked(t *testing.T) {
	origin := echoOrigin(t)
	p := startProxy(t, Options{})
	target := origin.URL + "/?size=2"
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", target)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	if resp.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("Connection %q, want keep-alive", resp.Header.Get("Connection"))
	}
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\n\r\n", target)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	if !resp.Close {
		t.Fatal("a plain HTTP/1.0 request did not close")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open: %v", err)
	}
}

func TestHEADResponseKeepsContentLengthAndHasNoBody(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
	}))
	defer origin.Close()
	p := startProxy(t, Options{})
	cl := p.client(t)
	for i := 0; i < 2; i++ { // the second on the same connections
		resp, err := cl.Head(origin.URL)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ContentLength != 1234 {
			t.Fatalf("Content-Length %d", resp.ContentLength)
		}
		resp.Body.Close()
	}
}

func (f *flagReader) Read(p []byte) (int, error) {
	f.read.Store(true)
	return f.r.Read(p)
}
