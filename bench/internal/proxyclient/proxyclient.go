// Package proxyclient opens TCP tunnels for the benchmark tools: through an
// HTTP forward proxy with CONNECT (RFC 9110 §9.3.6), through a SOCKS5 proxy
// with the CONNECT command (RFC 1928, no authentication), or straight to the
// target, so that one load loop measures all three paths the same way.
//
// It is deliberately small and strict: a proxy that answers anything but
// success is an error that carries the proxy's reply, because a benchmark
// that silently counts refusals as tunnels would flatter the proxy.
package proxyclient

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Mode says how a tunnel reaches its target.
type Mode string

// The modes the tools accept on their command lines.
const (
	Direct  Mode = "direct"  // dial the target itself
	Connect Mode = "connect" // HTTP CONNECT through the proxy
	SOCKS5  Mode = "socks5"  // SOCKS5 CONNECT through the proxy
)

// ParseMode checks a -mode flag value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Direct, Connect, SOCKS5:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want direct, connect or socks5)", s)
}

// Dialer opens tunnels. The zero Timeout means 5 s.
type Dialer struct {
	Mode    Mode
	Proxy   string         // host:port of the proxy; unused in Direct mode
	Target  netip.AddrPort // where the tunnel leads
	Timeout time.Duration  // bounds the dial and the handshake together
}

// Dial opens one tunnel and returns it ready for the target's bytes. The
// handshake runs under a deadline that is cleared before Dial returns.
func (d Dialer) Dial() (net.Conn, error) {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	addr := d.Proxy
	if d.Mode == Direct {
		addr = d.Target.String()
	}
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if d.Mode == Direct {
		return c, nil
	}
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		c.Close()
		return nil, err
	}
	var tc net.Conn
	switch d.Mode {
	case Connect:
		tc, err = handshakeConnect(c, d.Target)
	case SOCKS5:
		err = handshakeSOCKS5(c, d.Target)
		tc = c
	default:
		err = fmt.Errorf("unknown mode %q", d.Mode)
	}
	if err == nil {
		err = c.SetDeadline(time.Time{})
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s via %s to %s: %w", d.Mode, d.Proxy, d.Target, err)
	}
	return tc, nil
}

// bufferedConn hands out bytes the handshake reader took past the reply
// before reading the socket again.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

func handshakeConnect(c net.Conn, target netip.AddrPort) (net.Conn, error) {
	// RFC 9110 §9.3.6: the request target is the authority form; Host
	// repeats it, as clients such as curl send it.
	req := "CONNECT " + target.String() + " HTTP/1.1\r\nHost: " + target.String() + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, fmt.Errorf("write connect request: %w", err)
	}
	r := bufio.NewReaderSize(c, 1024)
	if err := ReadConnectReply(r); err != nil {
		return nil, err
	}
	if r.Buffered() == 0 {
		return c, nil
	}
	return &bufferedConn{Conn: c, r: r}, nil
}

// maxReplyHeader bounds a CONNECT reply's head; real proxies send a few
// hundred bytes.
const maxReplyHeader = 16 << 10

// ErrReplyTooLong is returned for a CONNECT reply head over 16 KiB.
var ErrReplyTooLong = errors.New("connect reply head longer than 16 KiB")

// ReadConnectReply reads a CONNECT reply head up to and including the empty
// line and fails unless the status is 2xx (RFC 9110 §9.3.6: any 2xx means
// the tunnel is open). It leaves whatever follows the head in r.
func ReadConnectReply(r *bufio.Reader) error {
	var status []byte
	total := 0
	for first := true; ; first = false {
		line, err := r.ReadSlice('\n')
		total += len(line)
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return ErrReplyTooLong
			}
			return fmt.Errorf("read connect reply: %w", err)
		}
		if total > maxReplyHeader {
			return ErrReplyTooLong
		}
		if first {
			status = bytes.TrimRight(line, "\r\n")
			if err := checkStatusLine(status); err != nil {
				return err
			}
			continue
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

func checkStatusLine(line []byte) error {
	// HTTP/1.x SP 3DIGIT [SP reason] (RFC 9112 §4).
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return fmt.Errorf("bad connect status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("bad connect status line %q", line)
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("proxy refused connect: %q", line)
	}
	return nil
}
