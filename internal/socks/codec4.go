package socks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// Request4 is a SOCKS4 or SOCKS4a request. For SOCKS4a (DSTIP 0.0.0.x with
// x != 0) Addr.Name holds the name that follows the USERID and Addr.IP is
// left invalid.
type Request4 struct {
	Cmd    Command
	Addr   Addr
	UserID string
}

// ReadRequest4 reads VN (4), CD, DSTPORT, DSTIP, USERID, NUL and, for
// SOCKS4a, the host name and NUL. The SOCKS4 document sets no limit on
// USERID; Janus accepts 255 bytes so that a client cannot make it buffer
// without end.
func ReadRequest4(r io.Reader) (Request4, error) {
	var buf scratch
	return readRequest4(r, &buf)
}

func readRequest4(r io.Reader, sb *scratch) (Request4, error) {
	buf := sb[:maxNameLen+1] // a NUL must come within 256 bytes
	if _, err := io.ReadFull(r, buf[:socks4RequestHead]); err != nil {
		return Request4{}, fmt.Errorf("socks4 request: %w", err)
	}
	if v := Version(buf[0]); v != Version4 {
		return Request4{}, fmt.Errorf("socks4 request: %w 0x%02x", ErrVersion, uint8(v))
	}
	req := Request4{Cmd: Command(buf[1])}
	req.Addr.Port = binary.BigEndian.Uint16(buf[2:4])
	ip := [4]byte(buf[4:8])
	userID, err := readCString(r, buf)
	if err == errNoNUL {
		return Request4{}, fmt.Errorf("socks4 request: %w: no NUL within %d bytes", ErrUserID, len(buf))
	}
	if err != nil {
		return Request4{}, fmt.Errorf("socks4 request: userid: %w", err)
	}
	req.UserID = string(userID)
	// SOCKS 4A: "0.0.0.x" with x nonzero means a name follows the USERID.
	if ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0 {
		name, err := readCString(r, buf)
		if err == errNoNUL {
			return Request4{}, fmt.Errorf("socks4a request: %w: no NUL within %d bytes", ErrName, len(buf))
		}
		if err != nil {
			return Request4{}, fmt.Errorf("socks4a request: host name: %w", err)
		}
		if err := checkName(name); err != nil {
			return Request4{}, fmt.Errorf("socks4a request: %w", err)
		}
		req.Addr.Name = string(name)
		return req, nil
	}
	req.Addr.IP = netip.AddrFrom4(ip)
	return req, nil
}

// readCString reads bytes up to a NUL into buf and returns them without
// the NUL. It fails once len(buf) bytes have come without a NUL.
func readCString(r io.Reader, buf []byte) ([]byte, error) {
	br, _ := r.(io.ByteReader)
	for n := 0; n < len(buf); n++ {
		var c byte
		if br != nil {
			var err error
			if c, err = br.ReadByte(); err != nil {
				return nil, noEOF(err)
			}
		} else {
			if _, err := io.ReadFull(r, buf[n:n+1]); err != nil {
				return nil, noEOF(err)
			}
			c = buf[n]
		}
		if c == 0 {
			return buf[:n], nil
		}
		buf[n] = c
	}
	return nil, errNoNUL
}

var errNoNUL = errors.New("no NUL")

// AppendRequest4 appends a client's SOCKS4 request, or a SOCKS4a request
// when Addr.Name is set. The USERID must hold no NUL.
func AppendRequest4(b []byte, req Request4) ([]byte, error) {
	if len(req.UserID) > maxNameLen {
		return b, fmt.Errorf("socks4 request: %w", ErrUserID)
	}
	for i := 0; i < len(req.UserID); i++ {
		if req.UserID[i] == 0 {
			return b, fmt.Errorf("socks4 request: userid holds NUL at offset %d", i)
		}
	}
	b = append(b, byte(Version4), byte(req.Cmd))
	b = binary.BigEndian.AppendUint16(b, req.Addr.Port)
	if req.Addr.Name != "" {
		if err := checkName([]byte(req.Addr.Name)); err != nil {
			return b, fmt.Errorf("socks4a request: %w", err)
		}
		b = append(b, 0, 0, 0, 1)
		b = append(b, req.UserID...)
		b = append(b, 0)
		b = append(b, req.Addr.Name...)
		return append(b, 0), nil
	}
	if !req.Addr.IP.Is4() && !req.Addr.IP.Is4In6() {
		return b, fmt.Errorf("socks4 request: %w: %s is not ipv4", ErrAddrType, req.Addr.IP)
	}
	ip4 := req.Addr.IP.Unmap().As4()
	b = append(b, ip4[:]...)
	b = append(b, req.UserID...)
	return append(b, 0), nil
}

// AppendReply4 appends a SOCKS4 reply: VN 0, CD, DSTPORT, DSTIP. Clients
// ignore the address for CONNECT; an address that is not IPv4 is sent as
// zeros.
func AppendReply4(b []byte, rep Reply4, bnd netip.AddrPort) []byte {
	b = append(b, 0, byte(rep))
	ip := bnd.Addr().Unmap()
	if !ip.Is4() {
		return append(b, 0, 0, 0, 0, 0, 0)
	}
	b = binary.BigEndian.AppendUint16(b, bnd.Port())
	ip4 := ip.As4()
	return append(b, ip4[:]...)
}

// ReadReply4 reads an 8-byte SOCKS4 reply as a client does.
func ReadReply4(r io.Reader) (Reply4, netip.AddrPort, error) {
	var buf [socks4ReplyLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return 0, netip.AddrPort{}, fmt.Errorf("socks4 reply: %w", err)
	}
	if buf[0] != 0 {
		return 0, netip.AddrPort{}, fmt.Errorf("socks4 reply: %w 0x%02x, want 0x00", ErrVersion, buf[0])
	}
	return Reply4(buf[1]), netip.AddrPortFrom(netip.AddrFrom4([4]byte(buf[4:8])), binary.BigEndian.Uint16(buf[2:4])), nil
}
