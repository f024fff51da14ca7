// Package sniff learns which protocol a new connection speaks from its first
// byte (0x05 SOCKS5, 0x04 SOCKS4/4a, 0x16 TLS, otherwise HTTP) and hands the
// connection on with that byte kept for the protocol's parser.
//
// It never waits for more than one byte: a SOCKS5 greeting can be three
// bytes long, and waiting for a longer prefix would wait for bytes the
// client will never send. One read takes whatever has arrived.
package sniff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Protocol is what the first byte of a connection announced.
type Protocol uint8

// Protocols that can share one listener.
const (
	HTTP   Protocol = iota + 1 // anything else: an HTTP/1.x request line
	SOCKS4                     // 0x04, RFC-less SOCKS 4 and 4a
	SOCKS5                     // 0x05, RFC 1928
	TLS                        // 0x16, a TLS handshake record (RFC 8446 §5.1)
)

func (p Protocol) String() string {
	switch p {
	case HTTP:
		return "http"
	case SOCKS4:
		return "socks4"
	case SOCKS5:
		return "socks5"
	case TLS:
		return "tls"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// Classify maps a connection's first byte to its protocol.
func Classify(first byte) Protocol {
	switch first {
	case 0x04:
		return SOCKS4
	case 0x05:
		return SOCKS5
	case 0x16:
		return TLS
	}
	return HTTP
}

// Conn is a connection whose first bytes were read to learn its protocol.
// Reads return Peeked first, then continue on the underlying connection.
// Raw is the connection as accepted (a *net.TCPConn for TCP listeners): once
// Peeked has been consumed, tunnels copy to and from Raw directly so that the
// kernel can splice.
type Conn struct {
	net.Conn
	Raw    net.Conn
	Peeked []byte
}

// Read returns the peeked bytes before reading from the connection.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.Peeked) > 0 {
		n := copy(p, c.Peeked)
		c.Peeked = c.Peeked[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ErrTimeout is returned when a client connects and sends nothing in time.
var ErrTimeout = errors.New("sniff: client sent nothing before the header timeout")

// firstRead bounds the first read: enough for a SOCKS handshake or a typical
// request head, small enough to copy.
const firstRead = 1024

// Sniff reads what c has sent (at least one byte), waiting at most timeout
// for the first byte, and returns the protocol with a Conn that replays the
// bytes read. The read deadline is cleared again.
func Sniff(c net.Conn, timeout time.Duration) (Protocol, *Conn, error) {
	if timeout > 0 {
		if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return 0, nil, fmt.Errorf("sniff: set deadline: %w", err)
		}
	}
	// One Read returns whatever has arrived, at least one byte, without
	// waiting for more: usually the whole greeting or request head, which
	// saves the face a system call.
	var buf [firstRead]byte
	n, err := c.Read(buf[:])
	if n == 0 && err == nil {
		err = io.ErrNoProgress
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, nil, ErrTimeout
		}
		return 0, nil, fmt.Errorf("sniff: read first byte: %w", err)
	}
	if timeout > 0 {
		if err := c.SetReadDeadline(time.Time{}); err != nil {
			return 0, nil, fmt.Errorf("sniff: clear deadline: %w", err)
		}
	}
	sc := &Conn{Conn: c, Raw: c, Peeked: append([]byte(nil), buf[:n]...)}
	return Classify(sc.Peeked[0]), sc, nil
}
