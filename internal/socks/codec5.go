package socks

import (
	"fmt"
	"io"
	"net/netip"
)

// ReadGreeting reads a SOCKS5 method-selection message (RFC 1928 §3):
// VER, NMETHODS (1..255), METHODS.
func ReadGreeting(r io.Reader) (MethodSet, error) {
	var buf scratch
	return readGreeting(r, &buf)
}

func readGreeting(r io.Reader, buf *scratch) (MethodSet, error) {
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return MethodSet{}, fmt.Errorf("socks5 greeting: %w", err)
	}
	if v := Version(buf[0]); v != Version5 {
		return MethodSet{}, fmt.Errorf("socks5 greeting: %w 0x%02x", ErrVersion, uint8(v))
	}
	n := int(buf[1])
	if n == 0 {
		return MethodSet{}, fmt.Errorf("socks5 greeting: %w", ErrNoMethods)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		return MethodSet{}, fmt.Errorf("socks5 greeting: read %d methods: %w", n, noEOF(err))
	}
	var s MethodSet
	for _, m := range buf[:n] {
		s.Add(Method(m))
	}
	return s, nil
}

// AppendGreeting appends a client's greeting offering methods (1..255 of
// them; the rest are dropped).
func AppendGreeting(b []byte, methods ...Method) []byte {
	if len(methods) > 255 {
		methods = methods[:255]
	}
	b = append(b, byte(Version5), byte(len(methods)))
	for _, m := range methods {
		b = append(b, byte(m))
	}
	return b
}

// AppendMethodChoice appends the server's METHOD selection message.
func AppendMethodChoice(b []byte, m Method) []byte { return append(b, byte(Version5), byte(m)) }

// ReadUserPass reads an RFC 1929 §2 username/password request: VER (0x01),
// ULEN, UNAME, PLEN, PASSWD. Empty names and passwords are passed on (they
// then fail authentication) because clients do send them.
func ReadUserPass(r io.Reader) (user, password string, err error) {
	var buf scratch
	return readUserPass(r, &buf)
}

func readUserPass(r io.Reader, buf *scratch) (user, password string, err error) {
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return "", "", fmt.Errorf("socks5 user/password: %w", err)
	}
	if buf[0] != userPassVersion {
		return "", "", fmt.Errorf("socks5 user/password: %w 0x%02x, want 0x01", ErrVersion, buf[0])
	}
	ulen := int(buf[1])
	// Read the name and PLEN together.
	if _, err := io.ReadFull(r, buf[:ulen+1]); err != nil {
		return "", "", fmt.Errorf("socks5 user/password: read name of %d bytes: %w", ulen, noEOF(err))
	}
	user = string(buf[:ulen])
	plen := int(buf[ulen])
	if _, err := io.ReadFull(r, buf[:plen]); err != nil {
		return "", "", fmt.Errorf("socks5 user/password: read password of %d bytes: %w", plen, noEOF(err))
	}
	return user, string(buf[:plen]), nil
}

// AppendUserPass appends an RFC 1929 request. Name and password must be at
// most 255 bytes.
func AppendUserPass(b []byte, user, password string) ([]byte, error) {
	if len(user) > maxNameLen || len(password) > maxNameLen {
		return b, fmt.Errorf("socks5 user/password: name of %d or password of %d bytes exceeds %d", len(user), len(password), maxNameLen)
	}
	b = append(b, userPassVersion, byte(len(user)))
	b = append(b, user...)
	b = append(b, byte(len(password)))
	return append(b, password...), nil
}

// AppendUserPassStatus appends the RFC 1929 §2 response: status 0x00 for
// success, 0x01 for failure.
func AppendUserPassStatus(b []byte, ok bool) []byte {
	if ok {
		return append(b, userPassVersion, userPassOK)
	}
	return append(b, userPassVersion, userPassFailure)
}

// Request is a SOCKS5 request (RFC 1928 §4).
type Request struct {
	Cmd  Command
	Addr Addr
}

// ReadRequest reads VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT. An unknown
// command is returned for the server to refuse with 0x07; an unknown address
// type fails with ErrAddrType (reply 0x08) because the rest cannot be
// parsed. RSV is ignored, as most servers do.
func ReadRequest(r io.Reader) (Request, error) {
	var buf scratch
	return readRequest(r, &buf)
}

func readRequest(r io.Reader, buf *scratch) (Request, error) {
	if _, err := io.ReadFull(r, buf[:3]); err != nil {
		return Request{}, fmt.Errorf("socks5 request: %w", err)
	}
	if v := Version(buf[0]); v != Version5 {
		return Request{}, fmt.Errorf("socks5 request: %w 0x%02x", ErrVersion, uint8(v))
	}
	cmd := Command(buf[1])
	a, err := readAddr(r, buf[:])
	if err != nil {
		return Request{}, fmt.Errorf("socks5 request %s: %w", cmd, err)
	}
	return Request{Cmd: cmd, Addr: a}, nil
}

// AppendRequest appends a client's request.
func AppendRequest(b []byte, req Request) ([]byte, error) {
	if req.Addr.Name == "" && !req.Addr.IP.IsValid() {
		return b, fmt.Errorf("socks5 request: %w", ErrEmptyAddress)
	}
	return appendAddr(append(b, byte(Version5), byte(req.Cmd), 0), req.Addr)
}

// AppendReply appends a reply (RFC 1928 §6) with BND.ADDR and BND.PORT set
// to bnd; an invalid bnd is sent as 0.0.0.0:0.
func AppendReply(b []byte, rep Reply, bnd netip.AddrPort) []byte {
	b, _ = appendAddr(append(b, byte(Version5), byte(rep), 0), AddrFromAddrPort(bnd))
	return b
}

// ReadReply reads a reply as a client does; it has the layout of a request
// with REP in place of CMD.
func ReadReply(r io.Reader) (Reply, Addr, error) {
	req, err := ReadRequest(r)
	if err != nil {
		return 0, Addr{}, fmt.Errorf("reply: %w", err)
	}
	return Reply(req.Cmd), req.Addr, nil
}
