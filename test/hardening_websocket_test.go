package test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// A hand-written WebSocket (RFC 6455) origin and client: the opening
// handshake and enough framing to echo messages both ways.

// WebSocket opcodes (RFC 6455 §5.2).
const (
	wsText   byte = 0x1
	wsBinary byte = 0x2
	wsClose  byte = 0x8
)

// wsGUID is the handshake's fixed key suffix (RFC 6455 §1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeWSFrame writes one final frame; clients mask (RFC 6455 §5.3).
func writeWSFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | op, 0}
	var mbit byte
	if mask {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr[1] = mbit | byte(n)
	case n <= 0xffff:
		hdr[1] = mbit | 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = mbit | 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := payload
	if mask {
		var key [4]byte
		_, _ = rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		body = make([]byte, len(payload))
		for i, b := range payload {
			body[i] = b ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

// readWSFrame reads one frame and unmasks it.
func readWSFrame(r io.Reader) (op byte, payload []byte, masked bool, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, false, err
	}
	if hdr[0]&0x80 == 0 {
		return 0, nil, false, errors.New("fragmented frame")
	}
	op, masked = hdr[0]&0x0f, hdr[1]&0x80 != 0
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, false, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, false, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return 0, nil, false, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, false, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, false, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return op, payload, masked, nil
}

// wsOrigin is a WebSocket echo origin. Right after its 101 (in the same
// write) it sends the text "hello from origin"; it echoes text and binary
// messages, answers "stream N" with N messages 300ms apart, and answers a
// close with a close. ended receives once per connection, when it ends.
type wsOrigin struct {
	ln    net.Listener
	ended chan error

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	handshake http.Header
	wg        sync.WaitGroup
}

func startWSOrigin(t *testing.T) *wsOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &wsOrigin{ln: ln, ended: make(chan error, 16), conns: map[net.Conn]struct{}{}}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.mu.Lock()
			o.conns[c] = struct{}{}
			o.mu.Unlock()
			o.wg.Add(1)
			go func() {
				defer o.wg.Done()
				err := o.serve(c)
				o.mu.Lock()
				delete(o.conns, c)
				o.mu.Unlock()
				c.Close()
				select {
				case o.ended <- err:
				default:
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		o.mu.Lock()
		for c := range o.conns {
			c.Close()
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o
}

func (o *wsOrigin) addr() string { return o.ln.Addr().String() }

func (o *wsOrigin) serve(c net.Conn) error {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.handshake = req.Header.Clone()
	o.mu.Unlock()
	key := req.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") || key == "" {
		_, err := io.WriteString(c, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
		return err
	}
	var hello bytes.Buffer
	fmt.Fprintf(&hello, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", wsAccept(key))
	if sub := req.Header.Get("Sec-WebSocket-Protocol"); sub != "" {
		// The first subprotocol offered is chosen (RFC 6455 §4.2.2).
		fmt.Fprintf(&hello, "Sec-WebSocket-Protocol: %s\r\n", strings.TrimSpace(strings.Split(sub, ",")[0]))
	}
	hello.WriteString("\r\n")
	_ = writeWSFrame(&hello, wsText, []byte("hello from origin"), false)
	if _, err := c.Write(hello.Bytes()); err != nil {
		return err
	}
	for {
		op, payload, masked, err := readWSFrame(br)
		if err != nil {
			return err
		}
		if !masked {
			return errors.New("unmasked client frame")
		}
		switch {
		case op == wsClose:
			_ = writeWSFrame(c, wsClose, payload, false)
			return nil
		case op == wsText && strings.HasPrefix(string(payload), "stream "):
			n, _ := strconv.Atoi(strings.TrimPrefix(string(payload), "stream "))
			for i := 0; i < n && i < 20; i++ {
				time.Sleep(300 * time.Millisecond)
				if err := writeWSFrame(c, wsText, []byte("tick "+strconv.Itoa(i)), false); err != nil {
					return err
				}
			}
		default:
			if err := writeWSFrame(c, op, payload, false); err != nil {
				return err
			}
		}
	}
}

// wsClient is a client connection through Janus after a completed
// handshake, with the origin's greeting already read.
type wsClient struct {
	c  net.Conn
	br *bufio.Reader
}

func dialWS(t *testing.T, addr string) *wsClient {
	t.Helper()
	return dialWSWith(t, addr, "")
}

// dialWSWith is dialWS with extra header lines (each ending in CRLF) in the
// upgrade request.
func dialWSWith(t *testing.T, addr, extra string) *wsClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	fmt.Fprintf(c, "GET /ws/chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n%s\r\n", key, extra)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != 101 || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("handshake answered %d %v", resp.StatusCode, resp.Header)
	}
	op, payload, _, err := readWSFrame(br)
	if err != nil || op != wsText || string(payload) != "hello from origin" {
		t.Fatalf("origin's greeting: op %d %q %v", op, payload, err)
	}
	return &wsClient{c: c, br: br}
}

// echo sends a message and checks that it comes back unchanged.
func (w *wsClient) echo(t *testing.T, op byte, payload []byte) {
	t.Helper()
	_ = w.c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeWSFrame(w.c, op, payload, true); err != nil {
		t.Fatalf("send: %v", err)
	}
	gop, got, masked, err := readWSFrame(w.br)
	if err != nil || gop != op || masked || !bytes.Equal(got, payload) {
		t.Fatalf("echo of %d bytes: op %d, %d bytes, masked %v, equal %v, err %v", len(payload), gop, len(got), masked, bytes.Equal(got, payload), err)
	}
}

// TestWebSocketThroughTheReverseFace: the handshake reaches the origin with
// its fields, the origin's first frame (sent with its 101) arrives, messages
// of every length form echo both ways, a message stream from the origin
// alone keeps the tunnel alive past the idle timeout, a close handshake
// ends both sides, and a normal request on another connection is served
// meanwhile.
func TestWebSocketThroughTheReverseFace(t *testing.T) {
	checkLeaks(t)
	rec := startRecordingOrigin(t, nil)
	ws := startWSOrigin(t)
	j := janustest.Start(t, hardeningConfigWS(rec.addr(), ws.addr()), nil)
	addr := j.Addr(t, "web")

	w := dialWS(t, addr)
	ws.mu.Lock()
	hs := ws.handshake
	ws.mu.Unlock()
	if hs.Get("Sec-WebSocket-Version") != "13" || hs.Get("Sec-WebSocket-Key") == "" || hs.Get("X-Forwarded-For") == "" {
		t.Errorf("origin's handshake fields: %v", hs)
	}
	big := make([]byte, 300<<10)
	_, _ = rand.Read(big)
	w.echo(t, wsText, []byte("short"))
	w.echo(t, wsBinary, big[:200])     // 16-bit length
	w.echo(t, wsBinary, big[:70000])   // 64-bit length
	w.echo(t, wsBinary, big)           // several reads and writes
	w.echo(t, wsText, []byte("again")) // framing intact after the large ones

	// A normal request on another connection is unaffected.
	resp, body := get(t, "http://"+addr+"/normal", nil)
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("normal request beside the WebSocket: %d %q", resp.StatusCode, body)
	}

	// Traffic one way keeps the tunnel: 5 messages over 1.5s, with the
	// idle timeout at 1s.
	if err := writeWSFrame(w.c, wsText, []byte("stream 5"), true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		op, payload, _, err := readWSFrame(w.br)
		if err != nil || op != wsText || string(payload) != "tick "+strconv.Itoa(i) {
			t.Fatalf("stream message %d: %d %q %v", i, op, payload, err)
		}
	}

	// The close handshake (RFC 6455 §5.5.1).
	if err := writeWSFrame(w.c, wsClose, []byte{0x03, 0xe8}, true); err != nil {
		t.Fatal(err)
	}
	op, payload, _, err := readWSFrame(w.br)
	if err != nil || op != wsClose || !bytes.Equal(payload, []byte{0x03, 0xe8}) {
		t.Fatalf("close: op %d %q %v", op, payload, err)
	}
	if n, err := w.br.Read(make([]byte, 1)); n != 0 || isTimeoutErr(err) {
		t.Errorf("after the close: read %d, %v; want the end", n, err)
	}
	select {
	case err := <-ws.ended:
		if err != nil {
			t.Errorf("origin connection ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("origin connection still open after the close handshake")
	}
	line := j.WaitLog(t, func(l map[string]any) bool { return l["rule"] == "ws" })
	if line["status"] != float64(101) {
		t.Errorf("access log for the WebSocket: %v", line)
	}
}

// TestIdleWebSocketIsClosedAfterTheTunnelIdleTimeout: with no traffic
// either way for tunnel_idle (1s), Janus closes both the client's and the
// origin's connection.
func TestIdleWebSocketIsClosedAfterTheTunnelIdleTimeout(t *testing.T) {
	checkLeaks(t)
	rec := startRecordingOrigin(t, nil)
	ws := startWSOrigin(t)
	j := janustest.Start(t, hardeningConfigWS(rec.addr(), ws.addr()), nil)
	w := dialWS(t, j.Addr(t, "web"))
	w.echo(t, wsText, []byte("one message, then silence"))
	start := time.Now()
	_ = w.c.SetReadDeadline(start.Add(5 * time.Second))
	n, err := w.br.Read(make([]byte, 1))
	took := time.Since(start)
	if n != 0 || isTimeoutErr(err) {
		t.Fatalf("idle WebSocket: read %d, %v after %v; want the end", n, err, took)
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("idle WebSocket closed after %v, want about tunnel_idle (1s)", took)
	}
	select {
	case <-ws.ended:
	case <-time.After(5 * time.Second):
		t.Error("the origin's side of the idle WebSocket is still open")
	}
}
