package proxyclient

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/bench/internal/loopbacktest"
)

func TestReadConnectReplyAcceptsOnly2xx(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		wantErr string // substring; "" means success
		rest    string // bytes left in the reader after the head
	}{
		{desc: "plain 200", in: "HTTP/1.1 200 Connection established\r\n\r\n"},
		{desc: "200 without reason", in: "HTTP/1.1 200\r\n\r\n"},
		{desc: "HTTP/1.0 200 with headers", in: "HTTP/1.0 200 OK\r\nVia: x\r\nX: y\r\n\r\n"},
		{desc: "bare LF line ends", in: "HTTP/1.1 200 OK\n\n"},
		{desc: "origin bytes after the head stay unread", in: "HTTP/1.1 200 OK\r\n\r\nSSH-2.0", rest: "SSH-2.0"},
		{desc: "407 is a refusal", in: "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", wantErr: "refused"},
		{desc: "403 is a refusal", in: "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", wantErr: "refused"},
		{desc: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: "bad connect status line"},
		{desc: "status not digits", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: "bad connect status line"},
		{desc: "four-digit status", in: "HTTP/1.1 2000 OK\r\n\r\n", wantErr: "bad connect status line"},
		{desc: "eof inside the head", in: "HTTP/1.1 200 OK\r\nVia: x\r\n", wantErr: "EOF"},
		{desc: "endless header", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("a", 100)+"\r\n", 200), wantErr: "longer than 16 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tt.in), 1024)
			err := ReadConnectReply(r)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ReadConnectReply(%q) = %v, want nil", tt.in, err)
				}
				rest, _ := io.ReadAll(r)
				if string(rest) != tt.rest {
					t.Errorf("left %q in the reader, want %q", rest, tt.rest)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadConnectReply(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestReadSOCKS5ReplyConsumesBoundAddress(t *testing.T) {
	tests := []struct {
		desc    string
		in      []byte
		wantErr string
	}{
		{desc: "ipv4 success", in: []byte{5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90}},
		{desc: "ipv6 success", in: append([]byte{5, 0, 0, 4}, append(make([]byte, 16), 0, 80)...)},
		{desc: "domain success", in: []byte{5, 0, 0, 3, 4, 'h', 'o', 's', 't', 0, 80}},
		{desc: "connection refused", in: []byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}, wantErr: "reply 0x5"},
		{desc: "not allowed by ruleset", in: []byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}, wantErr: "reply 0x2"},
		{desc: "socks4 version", in: []byte{4, 0, 0, 1, 0, 0, 0, 0, 0, 0}, wantErr: "version 0x4"},
		{desc: "unknown address type", in: []byte{5, 0, 0, 9, 0, 0, 0, 0, 0, 0}, wantErr: "address type 0x9"},
		{desc: "truncated address", in: []byte{5, 0, 0, 1, 127, 0}, wantErr: "bound address"},
		{desc: "empty", in: nil, wantErr: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := bytes.NewReader(append(tt.in, 'x'))
			err := ReadSOCKS5Reply(r)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ReadSOCKS5Reply(% x) = %v, want nil", tt.in, err)
				}
				if rest, _ := io.ReadAll(r); string(rest) != "x" {
					t.Errorf("left %q, want exactly the byte after the reply", rest)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadSOCKS5Reply(% x) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestConnectRequestEncodesTarget(t *testing.T) {
	tests := []struct {
		desc   string
		target string
		want   []byte
	}{
		{desc: "ipv4", target: "127.0.0.1:8080", want: []byte{5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90}},
		{desc: "ipv4-mapped ipv6 goes as ipv4", target: "[::ffff:127.0.0.1]:80", want: []byte{5, 1, 0, 1, 127, 0, 0, 1, 0, 80}},
		{desc: "ipv6", target: "[::1]:443", want: append([]byte{5, 1, 0, 4}, append(append(make([]byte, 15), 1), 1, 0xbb)...)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := connectRequest(netip.MustParseAddrPort(tt.target))
			if !bytes.Equal(got, tt.want) {
				t.Errorf("connectRequest(%s) = % x, want % x", tt.target, got, tt.want)
			}
		})
	}
}

// TestDialReachesEchoThroughEveryMode runs each mode against a loopback echo
// origin and a minimal proxy of the right kind started by the test.
func TestDialReachesEchoThroughEveryMode(t *testing.T) {
	echo := loopbacktest.Serve(t, func(c net.Conn) { io.Copy(c, c) })
	target := echo.Addr().(*net.TCPAddr).AddrPort()
	connectProxy := loopbacktest.Serve(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		// Origin bytes right behind the head must reach the client.
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		relay(t, c, r, target)
	})
	socksProxy := loopbacktest.Serve(t, func(c net.Conn) {
		var greet [3]byte
		io.ReadFull(c, greet[:])
		c.Write([]byte{5, 0})
		var req [10]byte
		io.ReadFull(c, req[:])
		c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
		relay(t, c, c, target)
	})
	refusing := loopbacktest.Serve(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
	})
	tests := []struct {
		desc    string
		mode    Mode
		proxy   net.Listener
		wantErr string
	}{
		{desc: "direct", mode: Direct},
		{desc: "http connect", mode: Connect, proxy: connectProxy},
		{desc: "socks5", mode: SOCKS5, proxy: socksProxy},
		{desc: "connect refused by proxy", mode: Connect, proxy: refusing, wantErr: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			d := Dialer{Mode: tt.mode, Target: target, Timeout: 2 * time.Second}
			if tt.proxy != nil {
				d.Proxy = tt.proxy.Addr().String()
			}
			c, err := d.Dial()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dial() = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial(): %v", err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(c, "ping\n")
			got := make([]byte, 5)
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping\n" {
				t.Fatalf("echo through %s returned %q, %v", tt.mode, got, err)
			}
		})
	}
}

// TestDialClosesSocketOnRefusal: a refused or malformed handshake must not
// leak the proxy connection (the rate tool makes thousands per second).
func TestDialClosesSocketOnRefusal(t *testing.T) {
	replies := []string{
		"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
		"garbage\r\n\r\n",
		"", // close at once
	}
	for _, reply := range replies {
		ln := loopbacktest.Serve(t, func(c net.Conn) { io.WriteString(c, reply) })
		d := Dialer{Mode: Connect, Proxy: ln.Addr().String(), Target: netip.MustParseAddrPort("127.0.0.1:9"), Timeout: time.Second}
		before := openFDs(t)
		for range 50 {
			if c, err := d.Dial(); err == nil {
				c.Close()
				t.Fatalf("Dial succeeded against reply %q", reply)
			}
		}
		// The proxy side closes its ends on its own goroutines; wait for them.
		deadline := time.Now().Add(2 * time.Second)
		for openFDs(t) > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if after := openFDs(t); after > before {
			t.Errorf("reply %q: %d descriptors open after 50 refused dials, %d before", reply, after, before)
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

func TestParseModeRejectsUnknown(t *testing.T) {
	for _, s := range []string{"direct", "connect", "socks5"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseMode("socks4"); err == nil {
		t.Error("ParseMode(socks4) succeeded, want an error")
	}
}

// relay joins a test proxy's client to the target, both ways.
func relay(t *testing.T, client net.Conn, fromClient io.Reader, target netip.AddrPort) {
	o, err := net.Dial("tcp", target.String())
	if err != nil {
		t.Error(err)
		return
	}
	defer o.Close()
	go io.Copy(o, fromClient)
	if _, err := io.Copy(client, o); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Log(err)
	}
}
