package reverse

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// RequestIDLen is the length of a generated request ID.
const RequestIDLen = 32

// RequestIDs generates request IDs: 32 lower-case hex digits, unique within
// the process and, with overwhelming probability, across processes and
// restarts. It is safe for concurrent use and does not allocate.
//
// An ID is a random per-generator prefix (64 bits) and a counter passed
// through a keyed bijection (64 bits), so IDs from one process never repeat
// and do not read as a sequence. They are labels for logs, not secrets:
// nothing about them resists a determined guess.
type RequestIDs struct {
	prefix [16]byte // hex of the random prefix
	key    uint64
	n      atomic.Uint64
}

// NewRequestIDs returns a generator seeded from crypto/rand.
func NewRequestIDs() *RequestIDs {
	var seed [16]byte
	rand.Read(seed[:]) // never fails (crypto/rand, Go 1.24+)
	g := &RequestIDs{key: binary.LittleEndian.Uint64(seed[8:])}
	appendHex64(g.prefix[:0], binary.LittleEndian.Uint64(seed[:8]))
	return g
}

// Append appends a fresh ID to dst.
func (g *RequestIDs) Append(dst []byte) []byte {
	dst = append(dst, g.prefix[:]...)
	return appendHex64(dst, mix64(g.n.Add(1)^g.key))
}

// mix64 is the SplitMix64 finaliser: a bijection on uint64, so distinct
// counters give distinct IDs, that spreads every input bit over the output.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func appendHex64(dst []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, hex[v>>uint(s)&15])
	}
	return dst
}
