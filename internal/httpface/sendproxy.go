package httpface

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/proxyproto"
)

// sendProxyHeader starts a new connection to a target with the PROXY
// protocol header (version 1 or 2) that names the client and the address
// it reached, as HAProxy's send-proxy does, so that the target sees the
// client as if it had connected itself. Such a connection carries that
// client's requests only (the pool keys it by client, see poolKey).
func sendProxyHeader(c net.Conn, version int, client, local netip.AddrPort, timeout time.Duration) error {
	var buf [64]byte
	var b []byte
	switch version {
	case 1:
		b = proxyproto.AppendV1(buf[:0], client, local)
	case 2:
		var err error
		b, err = proxyproto.AppendV2(buf[:0], proxyproto.Header{Command: proxyproto.Proxy, Source: client, Destination: local})
		if err != nil {
			return fmt.Errorf("PROXY protocol header: %w", err)
		}
	default:
		return nil
	}
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("sending the PROXY protocol header: %w", err)
	}
	return c.SetWriteDeadline(time.Time{})
}
