package socks

import "strconv"

// Version is the first byte of every SOCKS request.
type Version uint8

// Protocol versions.
const (
	Version4 Version = 0x04 // SOCKS4 and 4a
	Version5 Version = 0x05 // RFC 1928 §3
)

// Method is a SOCKS5 authentication method (RFC 1928 §3).
type Method uint8

// Authentication methods Janus knows by name.
const (
	MethodNoAuth       Method = 0x00 // NO AUTHENTICATION REQUIRED
	MethodGSSAPI       Method = 0x01 // GSSAPI (RFC 1961); never chosen
	MethodUserPass     Method = 0x02 // USERNAME/PASSWORD (RFC 1929)
	MethodNoAcceptable Method = 0xFF // NO ACCEPTABLE METHODS: the client must close
)

func (m Method) String() string {
	switch m {
	case MethodNoAuth:
		return "no-auth"
	case MethodGSSAPI:
		return "gssapi"
	case MethodUserPass:
		return "user-pass"
	case MethodNoAcceptable:
		return "no-acceptable"
	}
	return "method-0x" + strconv.FormatUint(uint64(m), 16)
}

// MethodSet is the set of methods a client offered in its greeting. It is a
// bitmap so that parsing a greeting allocates nothing.
type MethodSet [4]uint64

// Add puts m in the set.
func (s *MethodSet) Add(m Method) { s[m>>6] |= 1 << (m & 63) }

// Has reports whether m is in the set.
func (s *MethodSet) Has(m Method) bool { return s[m>>6]&(1<<(m&63)) != 0 }

// Len returns the number of methods in the set.
func (s *MethodSet) Len() int {
	n := 0
	for _, w := range s {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

// Command is what a client asks for (RFC 1928 §4; SOCKS4 uses the same
// values for CONNECT and BIND).
type Command uint8

// Commands.
const (
	CmdConnect      Command = 0x01
	CmdBind         Command = 0x02
	CmdUDPAssociate Command = 0x03 // SOCKS5 only
)

func (c Command) String() string {
	switch c {
	case CmdConnect:
		return "CONNECT"
	case CmdBind:
		return "BIND"
	case CmdUDPAssociate:
		return "UDP_ASSOCIATE"
	}
	return "CMD_0x" + strconv.FormatUint(uint64(c), 16)
}

// AddrType says how a SOCKS5 address is encoded (RFC 1928 §5).
type AddrType uint8

// Address types.
const (
	AddrIPv4   AddrType = 0x01 // 4 octets
	AddrDomain AddrType = 0x03 // one length octet, then the name, no NUL
	AddrIPv6   AddrType = 0x04 // 16 octets
)

func (t AddrType) String() string {
	switch t {
	case AddrIPv4:
		return "ipv4"
	case AddrDomain:
		return "domain"
	case AddrIPv6:
		return "ipv6"
	}
	return "atyp-0x" + strconv.FormatUint(uint64(t), 16)
}

// Reply is a SOCKS5 reply code (RFC 1928 §6).
type Reply uint8

// SOCKS5 replies.
const (
	ReplySucceeded           Reply = 0x00
	ReplyGeneralFailure      Reply = 0x01 // general SOCKS server failure
	ReplyNotAllowed          Reply = 0x02 // connection not allowed by ruleset
	ReplyNetUnreachable      Reply = 0x03
	ReplyHostUnreachable     Reply = 0x04
	ReplyConnRefused         Reply = 0x05
	ReplyTTLExpired          Reply = 0x06
	ReplyCmdNotSupported     Reply = 0x07
	ReplyAddrTypeUnsupported Reply = 0x08
)

var replyNames = [...]string{
	"succeeded", "general-failure", "not-allowed", "network-unreachable", "host-unreachable",
	"connection-refused", "ttl-expired", "command-not-supported", "address-type-not-supported",
}

func (r Reply) String() string {
	if int(r) < len(replyNames) {
		return replyNames[r]
	}
	return "reply-0x" + strconv.FormatUint(uint64(r), 16)
}

// Reply4 is a SOCKS4 reply code (the CD field of a SOCKS4 reply).
type Reply4 uint8

// SOCKS4 replies.
const (
	Reply4Granted       Reply4 = 0x5A // request granted
	Reply4Rejected      Reply4 = 0x5B // request rejected or failed
	Reply4NoIdentd      Reply4 = 0x5C // client's identd unreachable; Janus never sends it
	Reply4IdentMismatch Reply4 = 0x5D // identd and USERID differ; Janus never sends it
)

func (r Reply4) String() string {
	switch r {
	case Reply4Granted:
		return "granted"
	case Reply4Rejected:
		return "rejected"
	case Reply4NoIdentd:
		return "no-identd"
	case Reply4IdentMismatch:
		return "ident-mismatch"
	}
	return "reply4-0x" + strconv.FormatUint(uint64(r), 16)
}

// RFC 1929 §2: the sub-negotiation has its own version, and status 0x00 is
// success; any other status means failure and the server closes.
const (
	userPassVersion   = 0x01
	userPassOK        = 0x00
	userPassFailure   = 0x01
	maxNameLen        = 255 // one length octet (RFC 1928 §5, RFC 1929 §2)
	maxUDPHeaderLen   = 4 + 1 + maxNameLen + 2
	ipv6UDPHeaderLen  = 4 + 16 + 2
	ipv4UDPHeaderLen  = 4 + 4 + 2
	socks4ReplyLen    = 8
	socks4RequestHead = 8 // VN CD DSTPORT DSTIP
)
