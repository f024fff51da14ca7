package httpface

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestInterimResponsesAreForwarded(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(103)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	defer origin.Close()
	p := startProxy(t, Options{})
	var got []int
	var link string
	ctx := httptrace.WithClientTrace(ctxTimeout(t, 5*time.Second), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, code)
			link = h.Get("Link")
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", origin.URL, nil)
	resp, err := p.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(got) != 1 || got[0] != 103 || link != "</style.css>; rel=preload" || string(body) != "final" {
		t.Fatalf("1xx %v link %q body %q", got, link, body)
	}
}

func TestExpectContinue(t *testing.T) {
	var bodies atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "no")
			return
		}
		b, _ := io.ReadAll(r.Body) // reading sends the 100
		bodies.Add(1)
		io.WriteString(w, "got "+fmt.Sprint(len(b)))
	}))
	defer origin.Close()
	p := startProxy(t, Options{})
	u := mustURL("http://" + p.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(u), ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}

	t.Run("origin asks for the content", func(t *testing.T) {
		var saw100 atomic.Bool
		ctx := httptrace.WithClientTrace(ctxTimeout(t, 5*time.Second), &httptrace.ClientTrace{
			Got100Continue: func() { saw100.Store(true) },
		})
		content := strings.Repeat("x", 100<<10)
		req, _ := http.NewRequestWithContext(ctx, "POST", origin.URL+"/accept", strings.NewReader(content))
		req.Header.Set("Expect", "100-continue")
		start := time.Now()
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "got 102400" || !saw100.Load() {
			t.Fatalf("body %q, saw 100: %v", b, saw100.Load())
		}
		if time.Since(start) > 900*time.Millisecond {
			t.Errorf("took %v: the 100 was not forwarded promptly", time.Since(start))
		}
	})
	t.Run("origin answers before the content", func(t *testing.T) {
		before := bodies.Load()
		var wrote atomic.Bool
		req, _ := http.NewRequest("POST", origin.URL+"/reject", &flagReader{r: strings.NewReader(strings.Repeat("y", 1<<20)), read: &wrote})
		req.ContentLength = 1 << 20
		req.Header.Set("Expect", "100-continue")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || string(b) != "no" || bodies.Load() != before {
			t.Fatalf("status %d body %q", resp.StatusCode, b)
		}
		if wrote.Load() {
			t.Error("the client sent its content although the origin refused it")
		}
		if !resp.Close {
			t.Error("the client connection, with its content unread, was not closed")
		}
	})
}

type flagReader struct {
	r    io.Reader
	read *atomic.Bool
}

func TestUpgradeJoinsClientAndOrigin(t *testing.T) {
	checkNoLeaks(t)
	addr := rawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, err := readHead(br)
		if err != nil || !strings.Contains(head, "Upgrade: websocket\r\n") || !strings.Contains(strings.ToLower(head), "connection: upgrade\r\n") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello from origin;")
		// Echo until the client half-closes.
		io.Copy(c, br)
	})
	p := startProxy(t, Options{})
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET http://%s/ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly bytes;", addr, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("status %d, Upgrade %q", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
	io.WriteString(c, "late bytes")
	c.(*net.TCPConn).CloseWrite()
	rest, _ := io.ReadAll(br)
	if string(rest) != "hello from origin;early bytes;late bytes" {
		t.Fatalf("through the tunnel: %q", rest)
	}
	e := p.access.last(t)
	if e.Status != 101 || e.BytesUp != int64(len("early bytes;late bytes")) || e.BytesDown != int64(len("hello from origin;early bytes;late bytes")) {
		t.Errorf("access entry %+v", e)
	}
}

func TestRetriesOnceWhenAPooledConnectionWasClosed(t *testing.T) {
	var conns atomic.Int32
	addr := rawOrigin(t, func(c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		if _, err := readHead(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// Read the next request, then close without answering: what an
		// origin does when its idle timeout races a new request.
		readHead(br)
	})
	p := startProxy(t, Options{})
	cl := p.client(t)
	for i := 0; i < 3; i++ {
		resp, err := cl.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	// Content sent from the read buffer is replayed too: it was consumed
	// only once the origin answered.
	resp, err := cl.Post("http://"+addr+"/", "text/plain", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("POST: %d %q", resp.StatusCode, b)
	}
	if conns.Load() != 4 {
		t.Errorf("origin saw %d connections, want 4 (one retry per later request)", conns.Load())
	}
}

func TestPipelinedRequestsAreAnsweredInOrder(t *testing.T) {
	origin := echoOrigin(t)
	p := startProxy(t, Options{})
	u := origin.URL
	raw := p.rawRequest(t, "GET "+u+"/?size=1 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST "+u+"/?size=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
		"GET "+u+"/?size=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if strings.Count(raw, "HTTP/1.1 200 OK") != 3 || !strings.Contains(raw, "X-Body-Len: 3") ||
		!strings.HasSuffix(raw, "ddd") {
		t.Fatalf("responses:\n%s", raw)
	}
}
