package server

import (
	"net"
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/sniff"
)

// clientIP is a connection's client address (after a PROXY protocol
// header, the one it names), unmapped.
func clientIP(c net.Conn) netip.Addr { return sniff.AddrPort(c.RemoteAddr()).Addr() }

// overClientLimit refuses a connection past max_connections_per_client,
// as each protocol understands it (as nginx's limit_conn answers 503 and
// closes): HTTP 429, SOCKS5 "no acceptable method", SOCKS4 "rejected"; a
// TLS client is closed before its handshake. The connection is closed.
// The refusal is an access-log entry too (rule max_connections_per_client,
// marked Limited), so metrics and the dashboard's limited clients count it.
func (l *listener) overClientLimit(c net.Conn) {
	start := time.Now()
	l.log.Info("connection refused: too many from this client", "client", c.RemoteAddr().String(),
		"max_connections_per_client", l.perClient.Max())
	e := observe.Entry{Time: start, Listener: l.cfg.Name, Client: sniff.AddrPort(c.RemoteAddr()), Rule: "max_connections_per_client",
		Denied: true, Limited: true, Error: "too many connections from this client"}
	defer func() {
		e.Duration = time.Since(start)
		l.gen.accessLog().Log(&e)
	}()
	proto, sc, err := sniff.Sniff(c, time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	_ = sc.SetWriteDeadline(time.Now().Add(time.Second))
	switch proto {
	case sniff.HTTP:
		e.Protocol, e.Status, e.Face = "http", 429, "reverse"
		if l.cfg.Forward != nil {
			e.Face = "forward"
		}
		if l.tls == nil {
			const body = "Too many connections from this client.\n"
			_, _ = sc.Write([]byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 39\r\nConnection: close\r\n\r\n" + body))
		}
	case sniff.SOCKS5:
		e.Protocol, e.Status, e.Face = "socks5", 0xff, "forward"
		_, _ = sc.Write([]byte{5, 0xff})
	case sniff.SOCKS4:
		e.Protocol, e.Status, e.Face = "socks4", 0x5b, "forward"
		_, _ = sc.Write([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
	}
	_ = sc.Close()
}
