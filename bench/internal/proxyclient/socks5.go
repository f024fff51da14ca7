package proxyclient

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// SOCKS5 wire values (RFC 1928).
const (
	socksVersion   = 0x05
	methodNoAuth   = 0x00 // §3
	cmdConnect     = 0x01 // §4
	atypIPv4       = 0x01 // §5
	atypDomainName = 0x03
	atypIPv6       = 0x04
	replySucceeded = 0x00 // §6
)

func handshakeSOCKS5(rw io.ReadWriter, target netip.AddrPort) error {
	// §3: offer only "no authentication required". The greeting and the
	// request go in two writes, waiting for the method reply in between, as
	// curl does: some servers read the greeting with an exact-size read.
	if _, err := rw.Write([]byte{socksVersion, 1, methodNoAuth}); err != nil {
		return fmt.Errorf("write socks5 greeting: %w", err)
	}
	var method [2]byte
	if _, err := io.ReadFull(rw, method[:]); err != nil {
		return fmt.Errorf("read socks5 method reply: %w", err)
	}
	if method[0] != socksVersion || method[1] != methodNoAuth {
		return fmt.Errorf("socks5 server chose method %#x (version %#x), want no authentication", method[1], method[0])
	}
	if _, err := rw.Write(connectRequest(target)); err != nil {
		return fmt.Errorf("write socks5 request: %w", err)
	}
	return ReadSOCKS5Reply(rw)
}

// connectRequest encodes a §4 CONNECT request for an IP target.
func connectRequest(target netip.AddrPort) []byte {
	ip := target.Addr().Unmap()
	req := []byte{socksVersion, cmdConnect, 0x00, atypIPv4}
	if ip.Is6() {
		req[3] = atypIPv6
	}
	req = append(req, ip.AsSlice()...)
	return append(req, byte(target.Port()>>8), byte(target.Port()))
}

// ErrBadSOCKS5Reply is wrapped by ReadSOCKS5Reply for malformed replies.
var ErrBadSOCKS5Reply = errors.New("malformed socks5 reply")

// ReadSOCKS5Reply reads one §6 reply, bound address included, and fails
// unless REP is "succeeded".
func ReadSOCKS5Reply(r io.Reader) error {
	var head [5]byte // VER REP RSV ATYP and the first address byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return fmt.Errorf("read socks5 reply: %w", err)
	}
	if head[0] != socksVersion {
		return fmt.Errorf("%w: version %#x", ErrBadSOCKS5Reply, head[0])
	}
	var rest int // address bytes after the first one, plus the port
	switch head[3] {
	case atypIPv4:
		rest = 3 + 2
	case atypIPv6:
		rest = 15 + 2
	case atypDomainName:
		rest = int(head[4]) + 2 // the first byte was the name's length
	default:
		return fmt.Errorf("%w: address type %#x", ErrBadSOCKS5Reply, head[3])
	}
	var buf [257]byte
	if _, err := io.ReadFull(r, buf[:rest]); err != nil {
		return fmt.Errorf("read socks5 bound address: %w", err)
	}
	if head[1] != replySucceeded {
		return fmt.Errorf("socks5 server refused connect: reply %#x", head[1])
	}
	return nil
}
