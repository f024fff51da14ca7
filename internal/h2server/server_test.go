package h2server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// serve runs a Server with h on a loopback listener (h2c, prior
// knowledge) until the test ends.
func serve(t *testing.T, o Options, h http.Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.ServeConn(ctx, c, h, nil)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cancel()
		wg.Wait()
	})
	return s, ln.Addr().String()
}

// client is x/net's HTTP/2 client over h2c.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func TestRequestAndResponseHeads(t *testing.T) {
	_, addr := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != "/a/b" || r.URL.RawQuery != "q=1" || r.Host != addr(r) ||
			r.Header.Get("X-One") != "1" || r.Header.Get("Cookie") != "a=1; b=2" || r.ProtoMajor != 2 {
			w.WriteHeader(400)
			io.WriteString(w, "bad request view: "+r.Method+" "+r.RequestURI+" "+r.Host+" "+r.Header.Get("Cookie"))
			return
		}
		w.Header().Set("X-Answer", "42")
		w.Header().Set("Connection", "close") // connection-specific: never sent
		w.WriteHeader(201)
		io.WriteString(w, "made")
	}))
	c := client(t)
	req, _ := http.NewRequest("GET", "http://"+addr+"/a/b?q=1", nil)
	req.Header.Set("X-One", "1")
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != "made" || resp.Header.Get("X-Answer") != "42" ||
		resp.Header.Get("Content-Length") != "4" || resp.Header.Get("Date") == "" || resp.Header.Get("Connection") != "" {
		t.Errorf("got %d %q %v", resp.StatusCode, b, resp.Header)
	}
}

func addr(r *http.Request) string {
	return r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
}

// Content both ways, much larger than every window: flow control works
// in both directions and nothing is lost or reordered.
func TestLargeContentBothWays(t *testing.T) {
	_, a := serve(t, Options{StreamWindow: 64 << 10, ConnWindow: 64 << 10}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(500)
			return
		}
		for i := 0; i < 3; i++ {
			w.Write(b)
		}
	}))
	c := client(t)
	up := make([]byte, 3<<20)
	rand.Read(up)
	resp, err := c.Post("http://"+a+"/", "application/octet-stream", bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(got) != 3*len(up) || !bytes.Equal(got[:len(up)], up) || !bytes.Equal(got[2*len(up):], up) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
}

// Trailers: declared in Trailer or named with http.TrailerPrefix, sent
// after the content; request trailers reach the handler.
func TestTrailers(t *testing.T) {
	_, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "Grpc-Status")
		w.Header().Set("Content-Type", "application/grpc")
		w.Write([]byte("payload"))
		w.(http.Flusher).Flush()
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		w.Header().Set("X-Req-Trailer", r.Trailer.Get("X-Sum")) // too late for the head: ignored
	}))
	c := client(t)
	req, _ := http.NewRequest("POST", "http://"+a+"/", io.NopCloser(strings.NewReader("body")))
	req.Trailer = http.Header{"X-Sum": {"abc"}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "payload" || resp.Trailer.Get("Grpc-Status") != "0" || resp.Trailer.Get("X-Late") != "yes" {
		t.Errorf("body %q trailer %v", b, resp.Trailer)
	}
}

func TestRequestTrailersReachTheHandler(t *testing.T) {
	got := make(chan string, 1)
	_, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.Trailer.Get("X-Sum")
	}))
	c := client(t)
	req, _ := http.NewRequest("POST", "http://"+a+"/", io.NopCloser(strings.NewReader("body")))
	req.Trailer = http.Header{"X-Sum": {"abc"}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := <-got; v != "abc" {
		t.Errorf("request trailer X-Sum = %q", v)
	}
}

// A client that cancels its request resets the stream: the handler's
// context ends and its writes fail.
func TestClientResetCancelsTheHandler(t *testing.T) {
	started, done := make(chan struct{}), make(chan error, 1)
	_, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
		done <- r.Context().Err()
	}))
	c := client(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+a+"/", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	resp.Body.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context did not end after the reset")
	}
}

// Many requests at once: every one is answered, and no connection runs
// more handlers than the stream limit (x/net's client opens more
// connections past it).
func TestManyConcurrentStreams(t *testing.T) {
	var mu sync.Mutex
	running, peak := map[string]int{}, 0
	_, a := serve(t, Options{MaxConcurrentStreams: 50}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		running[r.RemoteAddr]++
		peak = max(peak, running[r.RemoteAddr])
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		running[r.RemoteAddr]--
		mu.Unlock()
		io.WriteString(w, r.URL.Path)
	}))
	c := client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get("http://" + a + "/x")
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "/x" {
				errs <- errors.New("wrong body " + string(b))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if peak > 50 {
		t.Errorf("%d handlers ran at once on one connection, limit 50", peak)
	}
}

// Shutdown lets a stream in progress finish, then the connection closes.
func TestShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	s, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "finished")
	}))
	c := client(t)
	res := make(chan string, 1)
	go func() {
		resp, err := c.Get("http://" + a + "/")
		if err != nil {
			res <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- string(b)
	}()
	<-started
	s.Shutdown()
	close(release)
	if got := <-res; got != "finished" {
		t.Errorf("in-flight request: %q", got)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("connection still open 3s after its last stream")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawConn speaks frames to a server directly.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	fr *http2.Framer
	hb bytes.Buffer
	he *hpack.Encoder
}

func dialRaw(t *testing.T, a string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, preface)
	r := &rawConn{t: t, c: c, fr: http2.NewFramer(c, c)}
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.he = hpack.NewEncoder(&r.hb)
	if err := r.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rawConn) headers(id uint32, end bool, fields ...string) {
	r.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		r.he.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.hb.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		r.t.Fatal(err)
	}
}

// until reads frames until fn returns true; false if the connection ended.
func (r *rawConn) until(fn func(http2.Frame) bool) bool {
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			return false
		}
		if fn(f) {
			return true
		}
	}
}

// Malformed request heads (RFC 9113 §8.2, §8.3) reset their stream with
// PROTOCOL_ERROR and never reach the handler; the connection goes on.
func TestMalformedHeadsAreRefused(t *testing.T) {
	var reached atomic.Int32
	_, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, "ok")
	}))
	base := []string{":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/"}
	cases := map[string][]string{
		"no :path":             {":method", "GET", ":scheme", "http", ":authority", "h"},
		"no :method":           {":scheme", "http", ":authority", "h", ":path", "/"},
		"unknown pseudo":       append(append([]string{}, base...), ":nonsense", "x"),
		"duplicate :path":      append(append([]string{}, base...), ":path", "/b"),
		"connection field":     append(append([]string{}, base...), "connection", "close"),
		"transfer-encoding":    append(append([]string{}, base...), "transfer-encoding", "chunked"),
		"te not trailers":      append(append([]string{}, base...), "te", "gzip"),
		"upper-case name":      append(append([]string{}, base...), "X-Upper", "1"),
		"pseudo after regular": {":method", "GET", "x-a", "1", ":scheme", "http", ":authority", "h", ":path", "/"},
		":protocol unasked":    {":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":authority", "h", ":path", "/"},
		"bad content-length":   append(append([]string{}, base...), "content-length", "x1"),
	}
	for desc, fields := range cases {
		t.Run(desc, func(t *testing.T) {
			r := dialRaw(t, a)
			r.headers(1, true, fields...)
			var code http2.ErrCode
			if !r.until(func(f http2.Frame) bool {
				if rst, ok := f.(*http2.RSTStreamFrame); ok && rst.StreamID == 1 {
					code = rst.ErrCode
					return true
				}
				if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == 1 {
					t.Fatalf("answered %v", h.Fields)
				}
				return false
			}) {
				t.Fatal("connection ended instead of a RST_STREAM")
			}
			if code != http2.ErrCodeProtocol {
				t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", code)
			}
			// The connection still serves.
			r.headers(3, true, base...)
			if !r.until(func(f http2.Frame) bool {
				h, ok := f.(*http2.MetaHeadersFrame)
				return ok && h.StreamID == 3
			}) {
				t.Fatal("no answer on the next stream")
			}
		})
	}
	if n := reached.Load(); n != int32(len(cases)) {
		t.Errorf("%d requests reached the handler, want only the %d good ones", n, len(cases))
	}
}

func TestHeaderListOverTheLimitIs431(t *testing.T) {
	_, a := serve(t, Options{MaxHeaderBytes: 4 << 10}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("reached the handler")
	}))
	r := dialRaw(t, a)
	fields := []string{":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/"}
	for i := 0; i < 6; i++ {
		fields = append(fields, "x-f"+string(rune('a'+i)), strings.Repeat("v", 1000))
	}
	r.headers(1, true, fields...)
	var status string
	r.until(func(f http2.Frame) bool {
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == 1 {
			status = h.PseudoValue("status")
			return true
		}
		return false
	})
	if status != "431" {
		t.Errorf("status %q, want 431", status)
	}
}

// A client that opens and resets streams as fast as it can
// (CVE-2023-44487) never has more handlers running than the stream limit,
// and is cut off once it keeps opening streams past it.
func TestRapidResetIsBounded(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	_, a := serve(t, Options{MaxConcurrentStreams: 20}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
	}))
	defer close(release)
	r := dialRaw(t, a)
	go func() {
		for id := uint32(1); id < 2*maxRefused+100; id += 2 {
			r.headers(id, true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/")
			if err := r.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
				return
			}
		}
	}()
	var goAway http2.ErrCode = 255
	r.until(func(f http2.Frame) bool {
		if g, ok := f.(*http2.GoAwayFrame); ok {
			goAway = g.ErrCode
			return true
		}
		return false
	})
	if goAway != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", goAway)
	}
	if p := peak.Load(); p > 20 {
		t.Errorf("%d handlers ran at once, limit 20", p)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	_, a := serve(t, Options{IdleTimeout: 200 * time.Millisecond}, http.NotFoundHandler())
	r := dialRaw(t, a)
	start := time.Now()
	var code http2.ErrCode = 255
	r.until(func(f http2.Frame) bool {
		if g, ok := f.(*http2.GoAwayFrame); ok {
			code = g.ErrCode
		}
		return false
	})
	if d := time.Since(start); code != http2.ErrCodeNo || d > 3*time.Second {
		t.Errorf("GOAWAY %v, connection ended after %v", code, d)
	}
}

// A handler that aborts (http.ErrAbortHandler) resets its stream: the
// client does not take a cut response for a whole one.
func TestAbortedHandlerResetsTheStream(t *testing.T) {
	_, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	resp, err := client(t).Get("http://" + a + "/")
	if err != nil {
		return // reset before the head: also fine
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("a cut response read as complete")
	}
}

// Extended CONNECT (RFC 8441), when enabled: the handler sees :protocol,
// and the stream carries data both ways.
func TestExtendedConnect(t *testing.T) {
	_, a := serve(t, Options{ConnectProtocol: true}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		buf := make([]byte, 5)
		io.ReadFull(r.Body, buf)
		w.Write(bytes.ToUpper(buf))
		w.(http.Flusher).Flush()
	}))
	r := dialRaw(t, a)
	r.headers(1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":authority", "h", ":path", "/chat")
	if err := r.fr.WriteData(1, false, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	var status string
	var got []byte
	r.until(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			status = f.PseudoValue("status")
		case *http2.DataFrame:
			got = append(got, f.Data()...)
			return len(got) >= 5
		}
		return false
	})
	if status != "200" || string(got) != "HELLO" {
		t.Errorf("status %q, data %q", status, got)
	}
}

// Data sent against a declared Content-Length of 0 resets the stream
// before the handler answers (RFC 9113 §8.1.1): the handler starts only
// once the empty content has ended.
func TestDataAgainstContentLengthZeroIsRefused(t *testing.T) {
	var reached atomic.Int32
	_, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, "ok")
	}))
	r := dialRaw(t, a)
	post := []string{":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/", "content-length", "0"}
	r.headers(1, false, post...)
	r.fr.WriteData(1, true, []byte("GET /smuggled HTTP/1.1\r\n\r\n"))
	var code http2.ErrCode = 255
	r.until(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			code = f.ErrCode
			return true
		case *http2.MetaHeadersFrame:
			t.Fatalf("answered %v", f.Fields)
		}
		return false
	})
	if code != http2.ErrCodeProtocol {
		t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", code)
	}
	// The same with an empty end: served.
	r.headers(3, false, post...)
	r.fr.WriteData(3, true, nil)
	if !r.until(func(f http2.Frame) bool { h, ok := f.(*http2.MetaHeadersFrame); return ok && h.StreamID == 3 }) {
		t.Fatal("no answer to a POST whose empty content ended")
	}
	if n := reached.Load(); n != 1 {
		t.Errorf("%d requests reached the handler, want 1", n)
	}
}

// A connection ended (the server shutting down) while a handler is stuck
// writing to a client that reads nothing: ServeConn still returns.
func TestEndUnblocksAWriterToAClientThatDoesNotRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	writing := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(writing)
		chunk := make([]byte, 64<<10)
		for i := 0; i < 2000; i++ { // 128 MiB: far beyond the socket buffers
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		New(Options{}).ServeConn(ctx, c, h, nil)
	}()
	r := dialRaw(t, ln.Addr().String())
	// Windows as large as HTTP/2 allows, so that only the socket stops the writer.
	r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	r.fr.WriteWindowUpdate(0, 1<<31-1-65535)
	r.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/")
	<-writing
	time.Sleep(300 * time.Millisecond) // the writer fills the socket and blocks
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn did not return: the stuck writer was not released")
	}
}

// Expect: 100-continue gets its 100 when the handler reads the content.
func TestExpectContinue(t *testing.T) {
	_, a := serve(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	r := dialRaw(t, a)
	r.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "h", ":path", "/", "expect", "100-continue", "content-length", "2")
	var statuses []string
	r.until(func(f http2.Frame) bool {
		if h, ok := f.(*http2.MetaHeadersFrame); ok {
			statuses = append(statuses, h.PseudoValue("status"))
			if h.PseudoValue("status") == "100" {
				r.fr.WriteData(1, true, []byte("ok"))
			}
		}
		d, ok := f.(*http2.DataFrame)
		return ok && d.StreamEnded()
	})
	if strings.Join(statuses, ",") != "100,200" {
		t.Errorf("statuses %v, want 100 then 200", statuses)
	}
}
