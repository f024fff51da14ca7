package test

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/janus-proxy/janus/internal/janustest"
)

// HTTP/2 requests are sent upstream as HTTP/1.1: whatever HTTP/2 lets
// through that HTTP/1.1 cannot say (a space in the target, a CRLF in a
// value, a body longer than its Content-Length) would be a smuggling vector
// on the way down. These tests write raw frames, so that nothing a polite
// client library would refuse to send is left out.

// h2Raw is an HTTP/2 client connection driven frame by frame.
type h2Raw struct {
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
	wmu sync.Mutex // writes: outcome acknowledges SETTINGS and PING from another goroutine
}

func dialH2Raw(t *testing.T, addr string) *h2Raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	h := &h2Raw{c: c, fr: http2.NewFramer(c, c)}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.hb)
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return h
}

// send writes one request on stream 1: fields in order (pseudo-fields
// first), then data, if any, in one DATA frame ending the stream.
func (h *h2Raw) send(t *testing.T, fields [][2]string, data string) {
	t.Helper()
	h.hb.Reset()
	for _, f := range fields {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.hb.Bytes(), EndHeaders: true, EndStream: data == ""})
	if err == nil && data != "" {
		err = h.fr.WriteData(1, true, []byte(data))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// outcome reads frames until stream 1 is answered (its :status), reset, or
// the connection ends. status is 0 when no response head came.
func (h *h2Raw) outcome() (status int, how string) {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return status, "connection ended: " + err.Error()
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.wmu.Lock()
				_ = h.fr.WriteSettingsAck()
				h.wmu.Unlock()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				h.wmu.Lock()
				_ = h.fr.WritePing(true, f.Data)
				h.wmu.Unlock()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && status == 0 {
				status, _ = strconv.Atoi(f.PseudoValue("status"))
			}
			if f.StreamID == 1 && f.StreamEnded() {
				return status, "ended"
			}
		case *http2.DataFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return status, "ended"
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return status, "reset: " + f.ErrCode.String()
			}
		case *http2.GoAwayFrame:
			return status, "goaway: " + f.ErrCode.String()
		}
	}
}

// get2 is a GET's pseudo-fields for path on authority h.
func get2(path string) [][2]string {
	return [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "h"}, {":path", path}}
}

func post2(extra ...[2]string) [][2]string {
	return append([][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "h"}, {":path", "/a"}}, extra...)
}

// TestHTTP2DowngradeCannotSmuggle sends HTTP/2 requests that HTTP/1.1
// could not express, and checks that none reaches the origin in a form
// other than the one Janus would accept over HTTP/1.1.
func TestHTTP2DowngradeCannotSmuggle(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	addr := j.Addr(t, "h2c")
	for _, tc := range []struct {
		desc   string
		fields [][2]string
		data   string
		status int      // the response status; 0: refused, by a stream reset or a 400
		origin []string // what the origin parsed (recordedString)
		// The origin may see the request without the content the client
		// should not have sent: HTTP/2 ends such a stream only when the
		// content arrives, after the head may have been forwarded.
		mayReach bool
	}{
		{desc: "a plain request passes", fields: get2("/ok"), status: 200, origin: []string{"GET /ok"}},
		{desc: "a body with its Content-Length passes", fields: post2([2]string{"content-length", "5"}), data: "hello", status: 200, origin: []string{"POST /a [hello]"}},
		{desc: "a body without Content-Length passes chunked", fields: post2(), data: "hello", status: 200, origin: []string{"POST /a [hello]"}},

		// The target on the HTTP/1.1 request line.
		{desc: "a space in the path", fields: get2("/a /smuggled"), status: 0},
		{desc: "a space and a version in the path", fields: get2("/a HTTP/1.1"), status: 0},
		{desc: "a tab in the path", fields: get2("/a\t/smuggled"), status: 0},
		{desc: "a space in the query", fields: get2("/a?q=1 /smuggled"), status: 0},
		{desc: "a fragment in the path", fields: get2("/a#/smuggled"), status: 0},
		{desc: "non-ASCII in the path", fields: get2("/caf\xc3\xa9/smuggled"), status: 0},
		{desc: "CRLF in the path", fields: get2("/a HTTP/1.1\r\nHost: h\r\n\r\nGET /smuggled"), status: 0},
		{desc: "a space in the method", fields: [][2]string{{":method", "GET /smuggled HTTP/1.1\r\nX:"}, {":scheme", "http"}, {":authority", "h"}, {":path", "/a"}}, status: 0},
		{desc: "a method with a space only", fields: [][2]string{{":method", "GET /smuggled"}, {":scheme", "http"}, {":authority", "h"}, {":path", "/a"}}, status: 0},

		// Field values and names.
		{desc: "CRLF in a value", fields: append(get2("/a"), [2]string{"x-a", "b\r\n\r\nGET /smuggled HTTP/1.1"}), status: 0},
		{desc: "bare LF in a value", fields: append(get2("/a"), [2]string{"x-a", "b\nGET /smuggled HTTP/1.1"}), status: 0},
		{desc: "NUL in a value", fields: append(get2("/a"), [2]string{"x-a", "b\x00/smuggled"}), status: 0},
		{desc: "a colon in a name", fields: append(get2("/a"), [2]string{"x-a:b", "/smuggled"}), status: 0},
		{desc: "a space in a name", fields: append(get2("/a"), [2]string{"x a", "/smuggled"}), status: 0},
		{desc: "an upper-case name", fields: append(get2("/a"), [2]string{"X-A", "/smuggled"}), status: 0},
		{desc: "Transfer-Encoding", fields: post2([2]string{"transfer-encoding", "chunked"}), data: "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n", status: 0},
		{desc: "Connection", fields: append(get2("/a"), [2]string{"connection", "x-smuggled"}), status: 0},
		{desc: "Upgrade to h2c", fields: append(get2("/a"), [2]string{"upgrade", "h2c"}), status: 0},
		{desc: "TE other than trailers", fields: append(get2("/a"), [2]string{"te", "chunked"}), status: 0},
		{desc: "Host other than :authority", fields: append(get2("/a"), [2]string{"host", "internal.example"}), status: 0},

		// Content-Length against the DATA actually sent (RFC 9113 §8.1.1).
		{desc: "more data than Content-Length", fields: post2([2]string{"content-length", "5"}), data: "hello" + smuggled, status: 0},
		{desc: "less data than Content-Length", fields: post2([2]string{"content-length", "100"}), data: "hello", status: 0},
		{desc: "data with Content-Length zero", fields: post2([2]string{"content-length", "0"}), data: smuggled, status: 0, mayReach: true},
		{desc: "two differing Content-Length", fields: post2([2]string{"content-length", "5"}, [2]string{"content-length", "50"}), data: "hello" + smuggled, status: 0},
		{desc: "a signed Content-Length", fields: post2([2]string{"content-length", "+5"}), data: "hello" + smuggled, status: 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o.reset()
			h := dialH2Raw(t, addr)
			h.send(t, tc.fields, tc.data)
			status, how := h.outcome()
			refused := status == 0 || status == 400
			if tc.status != 0 && status != tc.status || tc.status == 0 && !refused {
				want := "a reset or 400"
				if tc.status != 0 {
					want = strconv.Itoa(tc.status)
				}
				t.Errorf("status %d (%s), want %s", status, how, want)
			}
			var got []string
			for _, r := range o.requests() {
				got = append(got, recordedString(r))
			}
			if tc.mayReach && strings.Join(got, "|") == "POST /a" {
				got = nil
			}
			if strings.Join(got, "|") != strings.Join(tc.origin, "|") {
				t.Errorf("origin parsed %q, want %q", got, tc.origin)
			}
			if rec := o.recording(); strings.Contains(rec, "smuggled") {
				t.Errorf("the smuggled part reached the origin:\n%q", rec)
			}
		})
	}
}

// TestHTTP2HeadOverTheLimitIsRefused: max_header_bytes (16 KiB here)
// bounds an HTTP/2 header list as it bounds an HTTP/1.1 head: 431 when the
// list comes in one frame, the connection closed when more of it keeps
// coming (the CONTINUATION-flood guard of x/net's framer); nothing
// reaches the origin.
func TestHTTP2HeadOverTheLimitIsRefused(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	for _, tc := range []struct {
		desc       string
		size, frag int // header bytes, and the most in one frame
		status     int // 0: the connection is closed
	}{
		{"within the limit, in frames of 4 KiB", 12 << 10, 4 << 10, 200},
		{"over the limit in one frame", 24 << 10, 1 << 20, 431},
		{"far over the limit in one frame", 512 << 10, 1 << 20, 0},
		{"over the limit in frames of 4 KiB", 24 << 10, 4 << 10, 0},
		{"far over the limit in frames of 16 KiB", 512 << 10, 16 << 10, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o.reset()
			h := dialH2Raw(t, j.Addr(t, "h2c"))
			fields := get2("/big")
			for i := 0; i*1024 < tc.size; i++ {
				fields = append(fields, [2]string{"x-f" + strconv.Itoa(i), strings.Repeat("v", 1000)})
			}
			h.sendFragmented(t, fields, tc.frag)
			status, how := h.outcome()
			if status != tc.status || tc.status == 0 && !strings.HasPrefix(how, "goaway") && !strings.HasPrefix(how, "connection ended") {
				t.Errorf("status %d (%s), want %d", status, how, tc.status)
			}
			if n := len(o.requests()); (n == 1) != (tc.status == 200) {
				t.Errorf("origin parsed %d requests", n)
			}
		})
	}
}

// sendFragmented writes a request on stream 1 with its header block split
// into a HEADERS frame and CONTINUATION frames of at most size bytes.
func (h *h2Raw) sendFragmented(t *testing.T, fields [][2]string, size int) {
	t.Helper()
	h.hb.Reset()
	for _, f := range fields {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := h.hb.Bytes()
	first := block[:min(size, len(block))]
	block = block[len(first):]
	err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndHeaders: len(block) == 0, EndStream: true})
	for err == nil && len(block) > 0 {
		frag := block[:min(size, len(block))]
		block = block[len(frag):]
		err = h.fr.WriteContinuation(1, len(block) == 0, frag)
	}
	if err != nil {
		t.Logf("writing the header block: %v", err) // a refusal may come first
	}
}
