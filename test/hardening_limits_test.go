package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestHeadLimits: a request line over the limit (8 KiB) is 414 and a head
// over max_header_bytes (16 KiB here) is 431, both closed before anything
// reaches the origin; heads just within the limits pass.
func TestHeadLimits(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	addr := j.Addr(t, "web")
	fields := func(n, size int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "X-F%02d: %s\r\n", i, strings.Repeat("v", size))
		}
		return b.String()
	}
	for _, tc := range []struct {
		desc   string
		req    string
		status int
	}{
		{"a long target within the line limit", "GET /" + strings.Repeat("a", 8000) + " HTTP/1.1\r\nHost: h\r\n\r\n", 200},
		{"a target over the line limit", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: h\r\n\r\n" + smuggled, 414},
		{"a method over the line limit", strings.Repeat("G", 9000) + " / HTTP/1.1\r\nHost: h\r\n\r\n", 414},
		{"a line over the limit with no end", "GET /" + strings.Repeat("a", 20000), 414},
		{"fields within the head limit", "GET /f HTTP/1.1\r\nHost: h\r\n" + fields(14, 1000) + "\r\n", 200},
		{"many fields over the head limit", "GET /f HTTP/1.1\r\nHost: h\r\n" + fields(20, 1000) + "\r\n" + smuggled, 431},
		{"one field over the head limit", "GET /f HTTP/1.1\r\nHost: h\r\n" + fields(1, 17000) + "\r\n" + smuggled, 431},
		{"many tiny fields over the head limit", "GET /f HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("A: b\r\n", 3000) + "\r\n", 431},
		{"a head over the limit with no end", "GET /f HTTP/1.1\r\nHost: h\r\n" + fields(40, 1000), 431},
		{"a trailer over the head limit", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + fields(20, 1000) + "\r\n" + smuggled, 400},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o.reset()
			wait := 3 * time.Second
			if tc.status == 200 {
				wait = 100 * time.Millisecond
			}
			res := rawSend(t, addr, []byte(tc.req), 1, wait)
			if got := res.statuses(); !slices.Equal(got, []int{tc.status}) {
				t.Fatalf("statuses %v, want [%d] (err %v)", got, tc.status, res.Err)
			}
			reqs := o.requests()
			if tc.status != 200 {
				if !res.Closed {
					t.Error("the connection stayed open")
				}
				if len(reqs) != 0 {
					t.Errorf("origin parsed %v", reqs)
				}
				return
			}
			if len(reqs) != 1 || res.Closed {
				t.Errorf("origin parsed %d requests, closed %v; want 1 and open", len(reqs), res.Closed)
			}
		})
	}
}

// slowloris opens a connection, sends the start of a head (after a first
// request when keepAlive) and then one byte every step, never finishing,
// for at most limit. It returns how long after the first trickled byte
// Janus closed the connection, and the status it answered (0: none).
func slowloris(addr string, keepAlive bool, step, limit time.Duration) (closedAfter time.Duration, status int, err error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(limit + 5*time.Second))
	br := bufio.NewReader(c)
	if keepAlive {
		if _, err := io.WriteString(c, "GET /first HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
			return 0, 0, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, 0, fmt.Errorf("first request: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if resp, err := http.ReadResponse(br, nil); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		// Wait for the end of the connection itself.
		_, _ = io.Copy(io.Discard, br)
	}()
	head := "GET /slow HTTP/1.1\r\nHost: h\r\nX-Slow: " + strings.Repeat("a", 1000)
	for i := 0; i < len(head) && time.Since(start) < limit; i++ {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			break
		}
		select {
		case <-closed:
			return time.Since(start), status, nil
		case <-time.After(step):
		}
	}
	select {
	case <-closed:
		return time.Since(start), status, nil
	case <-time.After(5 * time.Second):
		return 0, status, fmt.Errorf("still open %v after the first byte", time.Since(start))
	}
}

// TestSlowlorisIsClosedAfterTheHeaderTimeoutWhileOthersAreServed: clients
// trickling a head byte by byte (on a fresh connection, and after a first
// request on a kept-alive one) are answered 408 and closed once the header
// timeout (1s) has passed since the head began, and a normal client is
// served promptly all the while.
func TestSlowlorisIsClosedAfterTheHeaderTimeoutWhileOthersAreServed(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	addr := j.Addr(t, "web")
	const lorises = 40
	type result struct {
		after  time.Duration
		status int
		err    error
	}
	results := make(chan result, lorises)
	var wg sync.WaitGroup
	for i := 0; i < lorises; i++ {
		wg.Add(1)
		go func(keepAlive bool) {
			defer wg.Done()
			after, status, err := slowloris(addr, keepAlive, 50*time.Millisecond, 4*time.Second)
			results <- result{after, status, err}
		}(i%2 == 1)
	}

	// Meanwhile, a normal client on fresh connections.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var slowest time.Duration
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); {
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/normal")
		if err != nil {
			t.Fatalf("a normal request failed during the slowloris: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a normal request got %d during the slowloris", resp.StatusCode)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(50 * time.Millisecond)
	}
	if slowest > 500*time.Millisecond {
		t.Errorf("the slowest normal request took %v during the slowloris", slowest)
	}
	wg.Wait()
	close(results)
	for r := range results {
		switch {
		case r.err != nil:
			t.Errorf("slowloris: %v", r.err)
		case r.after < 900*time.Millisecond || r.after > 2500*time.Millisecond:
			t.Errorf("a slowloris was closed %v after its head began, want about the header timeout (1s)", r.after)
		case r.status != 408:
			t.Errorf("a slowloris was answered %d, want 408", r.status)
		}
	}
	for _, r := range o.requests() {
		if r.Target == "/slow" {
			t.Errorf("a trickled head reached the origin")
		}
	}
	t.Logf("normal requests: slowest %v during %d slow heads", slowest, lorises)
}

// TestSilentConnectionIsClosedAfterTheHeaderTimeout: a connection that
// sends nothing at all is closed without a word once the header timeout
// passes.
func TestSilentConnectionIsClosedAfterTheHeaderTimeout(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	c, err := net.DialTimeout("tcp", j.Addr(t, "web"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(5 * time.Second))
	n, err := c.Read(make([]byte, 64))
	took := time.Since(start)
	if n != 0 || isTimeoutErr(err) {
		t.Fatalf("read %d bytes, %v after %v; want a quiet close", n, err, took)
	}
	if took < 900*time.Millisecond || took > 2500*time.Millisecond {
		t.Errorf("closed after %v, want about the header timeout (1s)", took)
	}
}
