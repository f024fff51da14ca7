package test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/janus-proxy/janus/internal/janustest"
)

// The h2c Upgrade (RFC 7540 §3.2) on the reverse face, with curl and with a
// raw client; the listeners and origins are those of h2ws_test.go.

// TestH2CUpgradeWithCurl: curl --http2 on a plain URL offers the upgrade;
// on an h2c listener the answer comes in HTTP/2 (through the route table:
// a filtered path is still filtered), a request with content and a
// listener without h2c stay in HTTP/1.1.
func TestH2CUpgradeWithCurl(t *testing.T) {
	curl := janustest.RequireExternal(t, "curl")
	checkLeaks(t)
	s := startH2WS(t)
	h2c, h1 := s.j.Addr(t, "h2c"), s.j.Addr(t, "h1")
	for _, tc := range []struct {
		desc string
		args []string
		want string // -w "%{http_version} %{http_code}"
	}{
		{"upgraded", []string{"http://" + h2c + "/curl"}, "2 200"},
		{"upgraded and filtered", []string{"http://" + h2c + "/admin/x"}, "2 403"},
		{"with content: HTTP/1.1", []string{"-d", "hello", "http://" + h2c + "/curl-post"}, "1.1 200"},
		{"listener without h2c: HTTP/1.1", []string{"http://" + h1 + "/curl-h1"}, "1.1 200"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			args := append([]string{"-sS", "--http2", "--max-time", "10", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_version} %{http_code}"}, tc.args...)
			out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
			if err != nil || string(out) != tc.want {
				t.Errorf("curl %v: %q %v, want %q", args, out, err, tc.want)
			}
		})
	}
	for _, r := range s.rec.requests() {
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" {
			t.Errorf("origin saw the upgrade fields on %s: %v", r, r.Header)
		}
	}
}

// upgradeRequest is an h2c upgrade as RFC 7540 §3.2 writes it; its
// settings are SETTINGS_MAX_CONCURRENT_STREAMS = 100 and
// SETTINGS_INITIAL_WINDOW_SIZE = 1 GiB, as curl sends them.
const upgradeRequest = "GET /first HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
	"HTTP2-Settings: AAMAAABkAARAAAAA\r\n\r\n"

// TestH2CUpgradeRawClient: a raw client gets 101, then the upgrading
// request's answer on stream 1 in HTTP/2, then answers to further streams
// on the same connection, each through the route table; the origin sees
// plain requests without the upgrade's fields.
func TestH2CUpgradeRawClient(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	c, err := net.DialTimeout("tcp", s.j.Addr(t, "h2c"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, upgradeRequest); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "h2c" {
		t.Fatalf("answer to the upgrade: %v %v", resp, err)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &h2RawClient{fr: http2.NewFramer(c, br)}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.buf)
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if status, body := h.response(t, 1); status != "200" || body != "ok\n" {
		t.Errorf("stream 1 (the upgrading request): %s %q", status, body)
	}
	for _, tc := range []struct {
		desc         string
		stream       uint32
		path, status string
	}{
		{"later request", 3, "/second", "200"},
		{"later request to a filtered path", 5, "/admin/x", "403"},
		{"filtered path in disguise", 7, "//admin/x", "403"},
	} {
		h.get(t, tc.stream, tc.path)
		if status, _ := h.response(t, tc.stream); status != tc.status {
			t.Errorf("%s: stream %d %s answered %s, want %s", tc.desc, tc.stream, tc.path, status, tc.status)
		}
	}
	var got []string
	for _, r := range s.rec.requests() {
		got = append(got, r.String())
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" || r.Header.Get("Connection") != "" {
			t.Errorf("origin saw connection fields on %s: %v", r, r.Header)
		}
	}
	if strings.Join(got, ",") != "GET /first,GET /second" {
		t.Errorf("origin saw %v", got)
	}
	line := s.j.WaitLog(t, func(l map[string]any) bool { return l["target"] == "/first" })
	if line["proto"] != "h2" || line["status"] != float64(200) {
		t.Errorf("access log of the upgrading request: %v", line)
	}
}

// h2RawClient speaks HTTP/2 frames on a connection that was upgraded.
type h2RawClient struct {
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func (h *h2RawClient) get(t *testing.T, stream uint32, path string) {
	t.Helper()
	h.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "site.test"}, {":path", path}} {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: h.buf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// response reads frames until stream ends, acknowledging SETTINGS, and
// returns its :status and content.
func (h *h2RawClient) response(t *testing.T, stream uint32) (status, body string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading stream %d: %v", stream, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = h.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == stream {
				status = f.PseudoValue("status")
				if f.StreamEnded() {
					return status, body
				}
			}
		case *http2.DataFrame:
			if f.StreamID == stream {
				body += string(f.Data())
				if f.StreamEnded() {
					return status, body
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == stream {
				t.Fatalf("stream %d reset: %v", stream, f.ErrCode)
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY while waiting for stream %d: %v", stream, f.ErrCode)
		}
	}
	t.Fatalf("stream %d did not end", stream)
	return "", ""
}

// TestH2CUpgradeIgnoredIsServedInHTTP1: an upgrade Janus may not or need
// not take is ignored (RFC 9110 §7.8) and the request answered in HTTP/1.1
// without the upgrade reaching the origin.
func TestH2CUpgradeIgnoredIsServedInHTTP1(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	const conn = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
	for _, tc := range []struct {
		desc, listener, request string
	}{
		{"request with content", "h2c", "POST /c HTTP/1.1\r\nHost: h\r\n" + conn + "HTTP2-Settings: AAMAAABk\r\nContent-Length: 5\r\n\r\nhello"},
		{"no HTTP2-Settings", "h2c", "GET /c HTTP/1.1\r\nHost: h\r\n" + conn + "\r\n"},
		{"two HTTP2-Settings", "h2c", "GET /c HTTP/1.1\r\nHost: h\r\n" + conn + "HTTP2-Settings: AAMAAABk\r\nHTTP2-Settings: \r\n\r\n"},
		{"HTTP2-Settings not base64url", "h2c", "GET /c HTTP/1.1\r\nHost: h\r\n" + conn + "HTTP2-Settings: !!!!\r\n\r\n"},
		{"settings cut short", "h2c", "GET /c HTTP/1.1\r\nHost: h\r\n" + conn + "HTTP2-Settings: AAMAAA\r\n\r\n"},
		{"invalid setting (ENABLE_PUSH 2)", "h2c", "GET /c HTTP/1.1\r\nHost: h\r\n" + conn + "HTTP2-Settings: AAIAAAAC\r\n\r\n"},
		{"Connection without HTTP2-Settings", "h2c", "GET /c HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n"},
		{"HTTP/1.0", "h2c", "GET /c HTTP/1.0\r\nHost: h\r\n" + conn + "HTTP2-Settings: AAMAAABk\r\n\r\n"},
		{"listener without h2c", "h1", upgradeRequest},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", s.j.Addr(t, tc.listener), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tc.request); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != 1 || string(body) != "ok\n" {
				t.Errorf("answer %s %d %q, want HTTP/1.1 200", resp.Proto, resp.StatusCode, body)
			}
		})
	}
	// HTTP2-Settings is hop-by-hop only where Connection names it
	// (RFC 7540 §3.2.1); Upgrade always is.
	for _, r := range s.rec.requests() {
		if r.Header.Get("Upgrade") != "" {
			t.Errorf("origin saw the upgrade on %s: %v", r, r.Header)
		}
	}
}

// TestHTTP1WebSocketOnAnH2CListener: an HTTP/1.1 WebSocket upgrade on a
// listener with h2c is not taken for an h2c upgrade: it reaches the origin
// and echoes as on any listener.
func TestHTTP1WebSocketOnAnH2CListener(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	w := dialWS(t, s.j.Addr(t, "h2c"))
	w.echo(t, wsText, []byte("over HTTP/1.1 on the h2c port"))
	if err := writeWSFrame(w.c, wsClose, nil, true); err != nil {
		t.Fatal(err)
	}
	if op, _, _, err := readWSFrame(w.br); err != nil || op != wsClose {
		t.Fatalf("close: op %d %v", op, err)
	}
}
