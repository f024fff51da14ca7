package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// cutAnswer answers with head, then sends n bytes of content and closes.
func cutAnswer(head string, n int) originAnswer {
	return func(req *recorded, w *bufio.Writer) bool {
		w.WriteString(head)
		w.WriteString(strings.Repeat("x", n))
		return false
	}
}

// TestCutResponseIsCutForTheClient: when the origin's response ends before
// its framing says it is complete, the client sees an incomplete response
// and the end of the connection, never a complete response.
func TestCutResponseIsCutForTheClient(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		desc   string
		answer originAnswer
	}{
		{"Content-Length longer than the content", cutAnswer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 10)},
		{"Content-Length of 4 MiB cut after 1 MiB (spliced)", cutAnswer("HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n", 1<<20)},
		{"Content-Length with no content at all", cutAnswer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0)},
		{"chunked, cut inside a chunk", cutAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n", 10)},
		{"chunked, cut between chunks", cutAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nxxxxxxxxxx\r\n", 0)},
		{"chunked, cut inside the trailer", cutAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nxxxxxxxxxx\r\n0\r\nX-T: a\r\n", 0)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o := startRecordingOrigin(t, tc.answer)
			j := janustest.Start(t, hardeningConfig(o.addr()), nil)
			addr := j.Addr(t, "web")

			// net/http as the client: reading the body fails.
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr + "/cut")
			if err == nil {
				var b []byte
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					t.Errorf("net/http read a complete %d response of %d bytes", resp.StatusCode, len(b))
				}
			}

			// Raw: the head comes, then less content than it announces,
			// then the end of the connection.
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(c, "GET /cut HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
			br := bufio.NewReader(c)
			rresp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no response head: %v", err)
			}
			_, err = io.Copy(io.Discard, rresp.Body)
			rresp.Body.Close()
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the content: %v, want unexpected EOF", err)
			}
			if n, err := br.Read(make([]byte, 1)); n != 0 || isTimeoutErr(err) {
				t.Errorf("after the cut content: read %d, %v; want the end of the connection", n, err)
			}
		})
	}
}

// TestCloseDelimitedResponseIsComplete is the contrast: content that
// legitimately ends with the origin's close is relayed whole, chunked for an
// HTTP/1.1 client.
func TestCloseDelimitedResponseIsComplete(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, cutAnswer("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 5000))
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	resp, body := get(t, "http://"+j.Addr(t, "web")+"/whole", nil)
	if resp.StatusCode != 200 || body != strings.Repeat("x", 5000) {
		t.Errorf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("transfer encoding %v, want chunked", resp.TransferEncoding)
	}
}

// TestExtraResponseBytesNeverAnswerAnotherRequest: an origin that sends
// more than its response (a second, unsolicited response, at once or a
// moment later) must not have those bytes taken as the answer to the next
// request on that upstream connection (response queue poisoning).
func TestExtraResponseBytesNeverAnswerAnotherRequest(t *testing.T) {
	checkLeaks(t)
	const injected = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Origin-Target: injected\r\n\r\ninjected"
	for _, tc := range []struct {
		desc  string
		delay time.Duration
	}{
		{"in the same write", 0},
		{"a moment later", 100 * time.Millisecond},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o := startRecordingOrigin(t, func(req *recorded, w *bufio.Writer) bool {
				fixedAnswer(req, w)
				if req.Target != "/poison" {
					return true
				}
				if tc.delay > 0 {
					_ = w.Flush()
					time.Sleep(tc.delay)
				}
				w.WriteString(injected)
				return true
			})
			j := janustest.Start(t, hardeningConfig(o.addr()), nil)
			base := "http://" + j.Addr(t, "web")
			if resp, _ := get(t, base+"/poison", nil); resp.StatusCode != 200 || resp.Header.Get("X-Origin-Target") != "/poison" {
				t.Fatalf("first response: %d %v", resp.StatusCode, resp.Header)
			}
			time.Sleep(2 * tc.delay)
			for i := 0; i < 3; i++ {
				path := fmt.Sprintf("/victim%d", i)
				resp, body := get(t, base+path, nil)
				if got := resp.Header.Get("X-Origin-Target"); resp.StatusCode != 200 || got != path || body != "ok\n" {
					t.Errorf("request for %s was answered %d by %q: %q", path, resp.StatusCode, got, body)
				}
			}
		})
	}
}

// TestMalformedResponsesAreBadGateway: a response head Janus cannot read
// unambiguously is answered 502 and never passed on.
func TestMalformedResponsesAreBadGateway(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct{ desc, resp string }{
		{"Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"differing Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 3\r\n\r\nabc"},
		{"NUL in a value", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 3\r\n\r\nabc"},
		{"space before the colon", "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc"},
		{"a status line without a code", "HTTP/1.1 OK\r\nContent-Length: 3\r\n\r\nabc"},
		{"a status of four digits", "HTTP/1.1 2000 OK\r\nContent-Length: 3\r\n\r\nabc"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n"},
		{"a head cut short", "HTTP/1.1 200 OK\r\nContent-Len"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o := startRecordingOrigin(t, cutAnswer(tc.resp, 0))
			j := janustest.Start(t, hardeningConfig(o.addr()), nil)
			resp, body := get(t, "http://"+j.Addr(t, "web")+"/bad", nil)
			if resp.StatusCode != 502 || strings.Contains(body, "abc") {
				t.Errorf("status %d body %q, want 502", resp.StatusCode, body)
			}
		})
	}
}

// TestCutResponseIsAnErrorForHTTP10Clients: an HTTP/1.0 client gets
// content of unknown length delimited by the close of the connection, so a
// clean close would present a cut response as complete; Janus resets the
// connection instead, which the client reads as an error.
func TestCutResponseIsAnErrorForHTTP10Clients(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		desc   string
		answer originAnswer
	}{
		{"chunked, cut inside a chunk", cutAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n", 10)},
		{"chunked, cut between chunks", cutAnswer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nxxxxxxxxxx\r\n", 0)},
		{"Content-Length, cut", cutAnswer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 10)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o := startRecordingOrigin(t, tc.answer)
			j := janustest.Start(t, hardeningConfig(o.addr()), nil)
			c, err := net.DialTimeout("tcp", j.Addr(t, "web"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(c, "GET /cut HTTP/1.0\r\nHost: h\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				return // no head at all: an error too
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("an HTTP/1.0 client read a cut response (Content-Length %d) to a clean end", resp.ContentLength)
			}
		})
	}
}
