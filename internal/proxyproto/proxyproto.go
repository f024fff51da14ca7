// Package proxyproto reads and writes the PROXY protocol header, versions 1
// (text) and 2 (binary), as HAProxy's specification defines it
// (doc/proxy-protocol.txt; "spec §2.1" and "spec §2.2" below): a load
// balancer in front of Janus states the client's real addresses in the first
// bytes of the connection, and Janus can state them to its upstreams.
//
// A header is believed only from trusted peers: the spec (§5) warns that a
// receiver which guesses whether a header is present lets any client spoof
// its address. Conn applies that policy (Options) and then reports the
// client's address as the connection's RemoteAddr.
package proxyproto

import (
	"errors"
	"fmt"
	"net/netip"
)

// Version is the protocol version a header was read in. The zero Version
// means that the connection carried no header.
type Version uint8

// Versions of the PROXY protocol.
const (
	V1 Version = 1 // spec §2.1, one line of US-ASCII text
	V2 Version = 2 // spec §2.2, a binary block
)

// Command is the low nibble of a version 2 header's 13th byte (spec §2.2).
// Its values are the wire values, so the zero Command is Local.
type Command uint8

// Commands of version 2. A version 1 header is always Proxy.
const (
	// Local: the sender opened the connection for itself (a health check);
	// the receiver uses the real connection's endpoints.
	Local Command = 0x0
	// Proxy: the connection is relayed and the header holds the original
	// endpoints.
	Proxy Command = 0x1
)

func (c Command) String() string {
	switch c {
	case Local:
		return "LOCAL"
	case Proxy:
		return "PROXY"
	}
	return fmt.Sprintf("Command(%#x)", uint8(c))
}

// Family is the high nibble of a version 2 header's 14th byte (spec §2.2),
// with the wire values. A version 1 "TCP4" is INET, "TCP6" INET6, "UNKNOWN"
// Unspec.
type Family uint8

// Address families.
const (
	Unspec Family = 0x0 // AF_UNSPEC: no addresses (LOCAL, or an unknown protocol)
	INET   Family = 0x1 // AF_INET: 4-byte addresses and ports
	INET6  Family = 0x2 // AF_INET6: 16-byte addresses and ports
	Unix   Family = 0x3 // AF_UNIX: two 108-byte paths, not reported
)

func (f Family) String() string {
	switch f {
	case Unspec:
		return "UNSPEC"
	case INET:
		return "INET"
	case INET6:
		return "INET6"
	case Unix:
		return "UNIX"
	}
	return fmt.Sprintf("Family(%#x)", uint8(f))
}

// Transport is the low nibble of a version 2 header's 14th byte (spec
// §2.2), with the wire values. A version 1 TCP4 or TCP6 header is Stream.
type Transport uint8

// Transport protocols.
const (
	TransportUnspec Transport = 0x0 // unknown; only with the Unspec family
	Stream          Transport = 0x1 // SOCK_STREAM: TCP, or a UNIX stream
	Datagram        Transport = 0x2 // SOCK_DGRAM: UDP, or a UNIX datagram
)

func (t Transport) String() string {
	switch t {
	case TransportUnspec:
		return "UNSPEC"
	case Stream:
		return "STREAM"
	case Datagram:
		return "DGRAM"
	}
	return fmt.Sprintf("Transport(%#x)", uint8(t))
}

// Header is one PROXY protocol header. The zero Header stands for "no
// header": Version 0, Command Local.
type Header struct {
	Version   Version
	Command   Command
	Family    Family
	Transport Transport
	// Source and Destination are the original connection's client and
	// server endpoints, valid for the INET and INET6 families only. An
	// IPv4-mapped IPv6 address in a version 2 INET6 block is kept as sent.
	Source      netip.AddrPort
	Destination netip.AddrPort
	// TLVs are version 2's type-length-value extensions in wire order,
	// NOOP padding included (spec §2.2). Values returned by Parse alias
	// its input; Read and Conn copy them.
	TLVs []TLV
}

// Proxied reports whether h carries the endpoints of a relayed TCP
// connection, which a receiver must then use in place of the real ones. A
// LOCAL header, an UNKNOWN or UNSPEC one, a UNIX one and a datagram one all
// mean "use the real connection's endpoints" (spec §2.1, §2.2).
func (h Header) Proxied() bool {
	return h.Version != 0 && h.Command == Proxy && h.Transport == Stream &&
		(h.Family == INET || h.Family == INET6) && h.Source.IsValid() && h.Destination.IsValid()
}

// Errors, for errors.Is. Every error from Parse, Read, Accept and a Conn's
// handshake wraps one of them, with the values that caused it.
var (
	// ErrNoHeader: the first bytes are not a PROXY protocol signature.
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")
	// ErrIncomplete: the bytes end before the header does. Parse returns
	// it when more bytes may complete the header; Read and Conn when the
	// connection ended or timed out first (spec §2.2: a receiver must
	// reject partial headers).
	ErrIncomplete = errors.New("proxyproto: incomplete header")
	// ErrInvalid: the signature is there but what follows breaks the spec.
	ErrInvalid = errors.New("proxyproto: invalid header")
	// ErrUntrusted: the peer may not send a header here (it sent one from
	// outside Options.Trusted, or it is outside Trusted on a listener that
	// requires one).
	ErrUntrusted = errors.New("proxyproto: untrusted peer")
	// ErrTimeout: the header (or the bytes telling there is none) did not
	// arrive within Options.Timeout.
	ErrTimeout = errors.New("proxyproto: timed out waiting for the header")
)
