package proxyproto

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unicode/utf8"
)

// TLVType is the type byte of a version 2 TLV (spec §2.2).
type TLVType uint8

// Registered TLV types (spec §2.2) and SSL subtypes (§2.2.6).
const (
	TypeALPN      TLVType = 0x01 // §2.2.1: the negotiated ALPN protocol, bytes
	TypeAuthority TLVType = 0x02 // §2.2.2: the host name the client asked for (SNI), UTF-8
	TypeCRC32C    TLVType = 0x03 // §2.2.3: CRC32c of the whole header, 4 bytes
	TypeNoop      TLVType = 0x04 // §2.2.4: padding, ignored
	TypeUniqueID  TLVType = 0x05 // §2.2.5: an opaque connection ID of at most 128 bytes
	TypeSSL       TLVType = 0x20 // §2.2.6: TLS facts about the client connection
	TypeNetNS     TLVType = 0x30 // §2.2.7: the network namespace's name

	SubtypeSSLVersion TLVType = 0x21 // within TypeSSL: "TLSv1.3"
	SubtypeSSLCN      TLVType = 0x22 // within TypeSSL: the client certificate's Common Name
	SubtypeSSLCipher  TLVType = 0x23 // within TypeSSL: "ECDHE-RSA-AES128-GCM-SHA256"
	SubtypeSSLSigAlg  TLVType = 0x24 // within TypeSSL: the certificate's signature algorithm
	SubtypeSSLKeyAlg  TLVType = 0x25 // within TypeSSL: the certificate's key algorithm

	// TypeMinCustom to TypeMaxCustom are left to applications (§2.2.8);
	// cloud load balancers put their endpoint IDs there.
	TypeMinCustom TLVType = 0xE0
	TypeMaxCustom TLVType = 0xEF
)

// maxUniqueID is the longest PP2_TYPE_UNIQUE_ID value (spec §2.2.5).
const maxUniqueID = 128

func (t TLVType) String() string {
	switch t {
	case TypeALPN:
		return "ALPN"
	case TypeAuthority:
		return "AUTHORITY"
	case TypeCRC32C:
		return "CRC32C"
	case TypeNoop:
		return "NOOP"
	case TypeUniqueID:
		return "UNIQUE_ID"
	case TypeSSL:
		return "SSL"
	case TypeNetNS:
		return "NETNS"
	case SubtypeSSLVersion:
		return "SSL_VERSION"
	case SubtypeSSLCN:
		return "SSL_CN"
	case SubtypeSSLCipher:
		return "SSL_CIPHER"
	case SubtypeSSLSigAlg:
		return "SSL_SIG_ALG"
	case SubtypeSSLKeyAlg:
		return "SSL_KEY_ALG"
	}
	return fmt.Sprintf("TLV(%#02x)", uint8(t))
}

// TLV is one type-length-value extension of a version 2 header.
type TLV struct {
	Type  TLVType
	Value []byte
}

// TLV returns the value of the first TLV of type t.
func (h Header) TLV(t TLVType) ([]byte, bool) {
	for _, v := range h.TLVs {
		if v.Type == t {
			return v.Value, true
		}
	}
	return nil, false
}

// ALPN returns the ALPN protocol the client negotiated with the sender
// ("h2", "http/1.1"), or nil.
func (h Header) ALPN() []byte {
	v, _ := h.TLV(TypeALPN)
	return v
}

// Authority returns the host name the client asked the sender for (its
// SNI), or "".
func (h Header) Authority() string {
	v, _ := h.TLV(TypeAuthority)
	return string(v)
}

// UniqueID returns the sender's ID for the connection, or nil.
func (h Header) UniqueID() []byte {
	v, _ := h.TLV(TypeUniqueID)
	return v
}

// SSL flags of the Client field (spec §2.2.6).
const (
	ClientSSL      uint8 = 0x01 // the client connected over TLS
	ClientCertConn uint8 = 0x02 // it sent a certificate on this connection
	ClientCertSess uint8 = 0x04 // it sent one at least once in this TLS session
)

// SSL is the content of a PP2_TYPE_SSL TLV (spec §2.2.6): what the sender
// learnt from terminating the client's TLS.
type SSL struct {
	Client uint8  // ClientSSL, ClientCertConn, ClientCertSess
	Verify uint32 // zero: the client's certificate was presented and verified
	// Sub-TLV strings, "" when absent; unknown subtypes are skipped.
	Version string
	CN      string
	Cipher  string
	SigAlg  string
	KeyAlg  string
}

// Verified reports whether the client presented a certificate that the
// sender verified.
func (s SSL) Verified() bool {
	return s.Client&(ClientCertConn|ClientCertSess) != 0 && s.Verify == 0
}

// SSL returns the header's SSL TLV, decoded.
func (h Header) SSL() (SSL, bool) {
	v, ok := h.TLV(TypeSSL)
	if !ok {
		return SSL{}, false
	}
	s, err := parseSSL(v)
	return s, err == nil
}

// sslFixedLen is the client byte and the 4-byte verify field.
const sslFixedLen = 5

// parseSSL decodes a PP2_TYPE_SSL value and its sub-TLVs, which must fill
// it exactly.
func parseSSL(v []byte) (SSL, error) {
	if len(v) < sslFixedLen {
		return SSL{}, fmt.Errorf("%w: v2: SSL TLV of %d bytes is shorter than its %d fixed bytes", ErrInvalid, len(v), sslFixedLen)
	}
	s := SSL{Client: v[0], Verify: binary.BigEndian.Uint32(v[1:5])}
	for p := sslFixedLen; p < len(v); {
		t, val, next, err := nextTLV(v, p)
		if err != nil {
			return SSL{}, fmt.Errorf("in the SSL TLV: %w", err)
		}
		switch t {
		case SubtypeSSLVersion:
			s.Version = string(val)
		case SubtypeSSLCN:
			s.CN = string(val)
		case SubtypeSSLCipher:
			s.Cipher = string(val)
		case SubtypeSSLSigAlg:
			s.SigAlg = string(val)
		case SubtypeSSLKeyAlg:
			s.KeyAlg = string(val)
		}
		p = next
	}
	return s, nil
}

// TLV encodes s as a PP2_TYPE_SSL TLV, with a sub-TLV for each non-empty
// string.
func (s SSL) TLV() TLV {
	v := make([]byte, sslFixedLen, 64)
	v[0] = s.Client
	binary.BigEndian.PutUint32(v[1:], s.Verify)
	for _, sub := range [...]struct {
		t TLVType
		s string
	}{
		{SubtypeSSLVersion, s.Version},
		{SubtypeSSLCN, s.CN},
		{SubtypeSSLCipher, s.Cipher},
		{SubtypeSSLSigAlg, s.SigAlg},
		{SubtypeSSLKeyAlg, s.KeyAlg},
	} {
		if sub.s != "" {
			v = append(v, byte(sub.t), byte(len(sub.s)>>8), byte(len(sub.s)))
			v = append(v, sub.s...)
		}
	}
	return TLV{Type: TypeSSL, Value: v}
}

// nextTLV reads the TLV at b[p:], which must fit in b.
func nextTLV(b []byte, p int) (t TLVType, val []byte, next int, err error) {
	if len(b)-p < 3 {
		return 0, nil, 0, fmt.Errorf("%w: v2: %d stray bytes where a TLV's 3-byte type and length should be", ErrInvalid, len(b)-p)
	}
	t = TLVType(b[p])
	l := int(binary.BigEndian.Uint16(b[p+1 : p+3]))
	if p+3+l > len(b) {
		return 0, nil, 0, fmt.Errorf("%w: v2: %s TLV of %d bytes overruns its container by %d bytes", ErrInvalid, t, l, p+3+l-len(b))
	}
	return t, b[p+3 : p+3+l], p + 3 + l, nil
}

// checkTLV applies what the spec says of each registered type's value.
// The CRC is checked by the caller, which knows where the header is.
func checkTLV(t TLVType, v []byte) error {
	switch t {
	case TypeAuthority:
		if !utf8.Valid(v) {
			return fmt.Errorf("%w: v2: AUTHORITY TLV %q is not UTF-8", ErrInvalid, v)
		}
	case TypeCRC32C:
		if len(v) != 4 {
			return fmt.Errorf("%w: v2: CRC32C TLV of %d bytes, want 4", ErrInvalid, len(v))
		}
	case TypeUniqueID:
		if len(v) > maxUniqueID {
			return fmt.Errorf("%w: v2: UNIQUE_ID TLV of %d bytes, at most %d allowed", ErrInvalid, len(v), maxUniqueID)
		}
	case TypeSSL:
		if _, err := parseSSL(v); err != nil {
			return err
		}
	}
	return nil
}

// castagnoli is the CRC32c table of RFC 4960 Appendix B that §2.2.3 names.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC32c of hdr with the 4 bytes at off read as zeros.
func checksum(hdr []byte, off int) uint32 {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, hdr[:off])
	c = crc32.Update(c, castagnoli, zero[:])
	return crc32.Update(c, castagnoli, hdr[off+4:])
}

// parseTLVs checks and returns the TLVs of the version 2 header hdr,
// starting at off. Values alias hdr. No TLV means a nil slice and no
// allocation.
func parseTLVs(hdr []byte, off int) ([]TLV, error) {
	count := 0
	for p := off; p < len(hdr); {
		t, val, next, err := nextTLV(hdr, p)
		if err != nil {
			return nil, err
		}
		if err := checkTLV(t, val); err != nil {
			return nil, err
		}
		if t == TypeCRC32C {
			// §2.2.3: a receiver that supports the checksum must refuse a
			// header whose checksum does not match.
			want := binary.BigEndian.Uint32(val)
			if got := checksum(hdr, p+3); got != want {
				return nil, fmt.Errorf("%w: v2: CRC32C is %#08x, the header sums to %#08x", ErrInvalid, want, got)
			}
		}
		count++
		p = next
	}
	if count == 0 {
		return nil, nil
	}
	tlvs := make([]TLV, 0, count)
	for p := off; p < len(hdr); {
		t, val, next, _ := nextTLV(hdr, p)
		tlvs = append(tlvs, TLV{Type: t, Value: val})
		p = next
	}
	return tlvs, nil
}

// detachTLVs copies the values of tlvs into one new allocation, in place,
// so that they no longer alias a reader's buffer.
func detachTLVs(tlvs []TLV) {
	size := 0
	for _, t := range tlvs {
		size += len(t.Value)
	}
	if size == 0 {
		return
	}
	buf := make([]byte, 0, size)
	for i, t := range tlvs {
		start := len(buf)
		buf = append(buf, t.Value...)
		tlvs[i].Value = buf[start:len(buf):len(buf)]
	}
}
