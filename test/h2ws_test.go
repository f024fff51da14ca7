package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/janustest"
)

// WebSocket over HTTP/2 (RFC 8441) through the reverse face: a real
// golang.org/x/net/http2 client opens extended CONNECT streams over TLS
// (ALPN h2) and h2c, and Janus speaks the RFC 6455 upgrade to the
// hand-written origin of hardening_websocket_test.go.

// h2wsConfig has a TLS listener and an h2c one with the same routes: /admin
// answered 403 by Janus, /ws to the WebSocket origin, /refuse to an origin
// that refuses upgrades, the rest to an origin that ignores them. A second
// plain listener, "h1", has no h2c. tunnel_idle is 1s, and so is the
// pools' response timeout: a WebSocket outlives it.
func h2wsConfig(cert, key, wsTarget, refuseTarget, recTarget string) string {
	routes := `
      routes:
        - {name: admin, match: {path_prefix: /admin}, respond: {status: 403, body: "admin is not served here\n"}}
        - {name: ws, match: {path_prefix: /ws}, upstream: ws}
        - {name: refuse, match: {path_prefix: /refuse}, upstream: refuse}
        - {name: app, match: {path_prefix: /}, upstream: rec}`
	timeouts := "{header: 2s, idle: 5s, tunnel_idle: 1s, response: 1s}"
	pool := func(name, target string) string {
		return fmt.Sprintf("\n  %s:\n    targets: ['%s']\n    eject: {consecutive: -1}\n    retries: {attempts: 1}\n    timeouts: {response: 1s}", name, target)
	}
	return fmt.Sprintf(`
log: {access: {format: json}}
listeners:
  - name: tls
    listen: 127.0.0.1:0
    tls: {certificates: [{cert: %q, key: %q}]}
    timeouts: %s
    reverse:%s
  - name: h2c
    listen: 127.0.0.1:0
    h2c: true
    timeouts: %s
    reverse:%s
  - name: h1
    listen: 127.0.0.1:0
    timeouts: %s
    reverse:%s
upstreams:%s%s%s
`, cert, key, timeouts, routes, timeouts, routes, timeouts, routes,
		pool("ws", wsTarget), pool("refuse", refuseTarget), pool("rec", recTarget))
}

// refuseAnswer is an origin that refuses every request with 403.
func refuseAnswer(_ *recorded, w *bufio.Writer) bool {
	w.WriteString("HTTP/1.1 403 Forbidden\r\nContent-Length: 18\r\nX-Refused: yes\r\n\r\nno websocket here\n")
	return false
}

// h2wsSetup is Janus with the three origins and an HTTP/2 client per
// front: "tls" (ALPN h2) and "h2c" (prior knowledge).
type h2wsSetup struct {
	j       *janustest.Janus
	ws      *wsOrigin
	rec     *recordingOrigin
	clients map[string]h2wsFront
}

type h2wsFront struct {
	base string // scheme://addr
	tr   *http2.Transport
}

func startH2WS(t *testing.T) *h2wsSetup {
	t.Helper()
	dir := t.TempDir()
	ca := janustest.NewCA(t, dir)
	cert, key, _ := ca.Issue(t, "site", false, "site.test")
	s := &h2wsSetup{ws: startWSOrigin(t), rec: startRecordingOrigin(t, nil)}
	refuse := startRecordingOrigin(t, refuseAnswer)
	s.j = janustest.Start(t, h2wsConfig(cert, key, s.ws.addr(), refuse.addr(), s.rec.addr()), nil)
	tlsTr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "site.test"}}
	h2cTr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tlsTr.CloseIdleConnections)
	t.Cleanup(h2cTr.CloseIdleConnections)
	s.clients = map[string]h2wsFront{
		"tls": {"https://" + s.j.Addr(t, "tls"), tlsTr},
		"h2c": {"http://" + s.j.Addr(t, "h2c"), h2cTr},
	}
	return s
}

// h2ws is an open WebSocket stream: messages go out through w (the request
// body) and come back through br (the response body).
type h2ws struct {
	resp   *http.Response
	w      *io.PipeWriter
	br     *bufio.Reader
	cancel context.CancelFunc
}

// openH2WS sends an extended CONNECT for path with protocol (":protocol")
// and the given fields, and returns the stream whatever the answer.
func openH2WS(t *testing.T, f h2wsFront, path, protocol string, hdr http.Header) *h2ws {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, f.base+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if protocol != "" {
		req.Header[":protocol"] = []string{protocol}
	}
	resp, err := f.tr.RoundTrip(req)
	if err != nil {
		cancel()
		t.Fatalf("extended CONNECT %s: %v", path, err)
	}
	w := &h2ws{resp: resp, w: pw, br: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(w.close)
	return w
}

func (w *h2ws) close() {
	w.w.Close()
	w.resp.Body.Close()
	w.cancel()
}

func (w *h2ws) echo(t *testing.T, op byte, payload []byte) {
	t.Helper()
	if err := writeWSFrame(w.w, op, payload, true); err != nil {
		t.Fatalf("send: %v", err)
	}
	gop, got, masked, err := readWSFrame(w.br)
	if err != nil || gop != op || masked || !bytes.Equal(got, payload) {
		t.Fatalf("echo of %d bytes: op %d, %d bytes, masked %v, equal %v, err %v", len(payload), gop, len(got), masked, bytes.Equal(got, payload), err)
	}
}

var wsHeader = http.Header{"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Protocol": {"chat, superchat"}}

// TestWebSocketOverHTTP2EchoesBothWays: over TLS h2 and h2c, an extended
// CONNECT reaches the origin as an RFC 6455 upgrade (with a key of Janus's
// own and the client's version and subprotocols), is answered 200 with the
// chosen subprotocol, and carries messages of every length form both ways;
// traffic from the origin alone keeps it open past tunnel_idle; the close
// handshake ends the stream and the origin's connection.
func TestWebSocketOverHTTP2EchoesBothWays(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	big := make([]byte, 300<<10)
	_, _ = rand.Read(big)
	for _, front := range []string{"tls", "h2c"} {
		t.Run(front, func(t *testing.T) {
			w := openH2WS(t, s.clients[front], "/ws/chat", "websocket", wsHeader)
			if w.resp.StatusCode != 200 || w.resp.Header.Get("Sec-Websocket-Protocol") != "chat" ||
				w.resp.Header.Get("Sec-Websocket-Accept") != "" || w.resp.Header.Get("Upgrade") != "" {
				t.Fatalf("answer %d %v", w.resp.StatusCode, w.resp.Header)
			}
			s.ws.mu.Lock()
			hs := s.ws.handshake
			s.ws.mu.Unlock()
			if hs.Get("Upgrade") != "websocket" || hs.Get("Sec-WebSocket-Version") != "13" || len(hs.Get("Sec-WebSocket-Key")) != 24 ||
				hs.Get("Sec-WebSocket-Protocol") != "chat, superchat" || hs.Get("X-Forwarded-For") != "127.0.0.1" {
				t.Errorf("origin's handshake fields: %v", hs)
			}
			op, payload, _, err := readWSFrame(w.br)
			if err != nil || op != wsText || string(payload) != "hello from origin" {
				t.Fatalf("origin's greeting: op %d %q %v", op, payload, err)
			}
			w.echo(t, wsText, []byte("short"))
			w.echo(t, wsBinary, big[:200])   // 16-bit length
			w.echo(t, wsBinary, big[:70000]) // 64-bit length
			w.echo(t, wsBinary, big)         // many DATA frames and flow-control windows
			w.echo(t, wsText, []byte("again"))

			// 5 messages from the origin over 1.5s, tunnel_idle 1s.
			if err := writeWSFrame(w.w, wsText, []byte("stream 5"), true); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5; i++ {
				op, payload, _, err := readWSFrame(w.br)
				if err != nil || op != wsText || string(payload) != "tick "+strconv.Itoa(i) {
					t.Fatalf("stream message %d: %d %q %v", i, op, payload, err)
				}
			}

			if err := writeWSFrame(w.w, wsClose, []byte{0x03, 0xe8}, true); err != nil {
				t.Fatal(err)
			}
			op, payload, _, err = readWSFrame(w.br)
			if err != nil || op != wsClose || !bytes.Equal(payload, []byte{0x03, 0xe8}) {
				t.Fatalf("close: op %d %q %v", op, payload, err)
			}
			if n, err := w.br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("after the close: read %d, %v; want a clean end of stream", n, err)
			}
			select {
			case err := <-s.ws.ended:
				if err != nil {
					t.Errorf("origin connection ended with %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("origin connection still open after the close handshake")
			}
			line := s.j.WaitLog(t, func(l map[string]any) bool {
				return l["rule"] == "ws" && l["listener"] == front && l["proto"] == "h2"
			})
			if line["status"] != float64(200) || line["method"] != "CONNECT" || line["bytes_up"].(float64) < 300<<10 {
				t.Errorf("access log: %v", line)
			}
		})
	}
}

// TestWebSocketOverHTTP2Refusals: what is not a WebSocket Janus can open
// gets a status, never a 2xx: the origin's refusal as it sent it, a 502
// for an origin that ignored the upgrade, Janus's own 403 for a filtered
// path (however the path is written), 501 for another :protocol and 405
// for a plain CONNECT.
func TestWebSocketOverHTTP2Refusals(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	for _, tc := range []struct {
		desc, path, protocol string
		status               int
		body                 string
	}{
		{"origin refuses", "/refuse/chat", "websocket", 403, "no websocket here\n"},
		{"origin ignores the upgrade", "/plain", "websocket", 502, ""},
		{"filtered path", "/admin/ws", "websocket", 403, "admin is not served here\n"},
		{"filtered path in disguise", "/%61dmin/ws", "websocket", 403, "admin is not served here\n"},
		{"another protocol", "/ws/chat", "connect-udp", 501, ""},
		{"plain CONNECT", "", "", 405, ""},
	} {
		for _, front := range []string{"tls", "h2c"} {
			t.Run(tc.desc+"/"+front, func(t *testing.T) {
				w := openH2WS(t, s.clients[front], tc.path, tc.protocol, wsHeader)
				body, _ := io.ReadAll(w.br)
				if w.resp.StatusCode != tc.status || tc.body != "" && string(body) != tc.body {
					t.Errorf("answer %d %q, want %d %q", w.resp.StatusCode, body, tc.status, tc.body)
				}
				if tc.desc == "origin refuses" && w.resp.Header.Get("X-Refused") != "yes" {
					t.Errorf("the origin's fields were not passed on: %v", w.resp.Header)
				}
			})
		}
	}
	for _, r := range s.rec.requests() {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Connection") != "Upgrade" {
			t.Errorf("origin saw %s without the upgrade fields: %v", r, r.Header)
		}
	}
}

// TestIdleWebSocketOverHTTP2IsClosed: with nothing moving either way for
// tunnel_idle (1s) the stream ends and the origin's connection is closed,
// while the HTTP/2 connection itself goes on serving.
func TestIdleWebSocketOverHTTP2IsClosed(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	for _, front := range []string{"tls", "h2c"} {
		t.Run(front, func(t *testing.T) {
			w := openH2WS(t, s.clients[front], "/ws/idle", "websocket", wsHeader)
			if w.resp.StatusCode != 200 {
				t.Fatalf("answer %d", w.resp.StatusCode)
			}
			if _, _, _, err := readWSFrame(w.br); err != nil {
				t.Fatal(err)
			}
			w.echo(t, wsText, []byte("one message, then silence"))
			start := time.Now()
			n, err := w.br.Read(make([]byte, 1))
			took := time.Since(start)
			if n != 0 || err == nil {
				t.Fatalf("idle WebSocket: read %d, %v", n, err)
			}
			if took < 900*time.Millisecond || took > 3*time.Second {
				t.Errorf("idle WebSocket closed after %v, want about tunnel_idle (1s)", took)
			}
			select {
			case <-s.ws.ended:
			case <-time.After(5 * time.Second):
				t.Error("the origin's side of the idle WebSocket is still open")
			}
			// The same HTTP/2 connection still serves requests.
			resp, err := (&http.Client{Transport: s.clients[front].tr, Timeout: 5 * time.Second}).Get(s.clients[front].base + "/after")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok\n" {
				t.Errorf("request after the idle WebSocket: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// TestWebSocketOverHTTP2ClientResetClosesTheOrigin: a client that cancels
// its stream mid-WebSocket has the origin's connection closed, and nothing
// is left running.
func TestWebSocketOverHTTP2ClientResetClosesTheOrigin(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	for _, front := range []string{"tls", "h2c"} {
		t.Run(front, func(t *testing.T) {
			w := openH2WS(t, s.clients[front], "/ws/reset", "websocket", wsHeader)
			if _, _, _, err := readWSFrame(w.br); err != nil {
				t.Fatal(err)
			}
			w.echo(t, wsText, []byte("before the reset"))
			start := time.Now()
			w.resp.Body.Close() // RST_STREAM(CANCEL)
			select {
			case <-s.ws.ended:
				if took := time.Since(start); took > 500*time.Millisecond {
					t.Errorf("the origin's connection closed %v after the reset (tunnel_idle is 1s)", took)
				}
			case <-time.After(3 * time.Second):
				t.Error("the origin's connection outlived the client's stream")
			}
		})
	}
}

// TestWebSocketOverHTTP2IsOfferedInSettings: both fronts send
// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3), read with a raw
// framer as a browser would see it.
func TestWebSocketOverHTTP2IsOfferedInSettings(t *testing.T) {
	s := startH2WS(t)
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.clients["h2c"].base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %T, want SETTINGS", f)
	}
	if v, ok := sf.Value(http2.SettingEnableConnectProtocol); !ok || v != 1 {
		t.Errorf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d (sent %v), want 1", v, ok)
	}
}

// TestStalledWebSocketOverHTTP2ClientIsCut: a client that sends a lot and
// reads nothing stalls both directions once the windows and buffers fill;
// after tunnel_idle with nothing moving Janus resets the stream (the write
// waiting for the client's window ends) and closes the origin.
func TestStalledWebSocketOverHTTP2ClientIsCut(t *testing.T) {
	checkLeaks(t)
	s := startH2WS(t)
	w := openH2WS(t, s.clients["h2c"], "/ws/stall", "websocket", wsHeader)
	if w.resp.StatusCode != 200 {
		t.Fatalf("answer %d", w.resp.StatusCode)
	}
	msg := make([]byte, 1<<20)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		// 32 MiB of echoes, far beyond the client's 4 MiB stream window
		// and the sockets' buffers; the writes block, then fail when the
		// stream is reset.
		for i := 0; i < 32; i++ {
			if writeWSFrame(w.w, wsBinary, msg, true) != nil {
				return
			}
		}
	}()
	start := time.Now()
	select {
	case <-s.ws.ended:
		if took := time.Since(start); took < 900*time.Millisecond {
			t.Errorf("origin closed after %v, before tunnel_idle (1s)", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled WebSocket's origin connection is still open")
	}
	// What the client was sent is there, then the reset.
	if _, err := io.Copy(io.Discard, w.br); err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
		t.Errorf("the stalled stream ended with %v, want a reset", err)
	}
	w.close() // unblocks the writer if the reset did not
	<-writerDone
}
