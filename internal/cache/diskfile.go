package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// A disk object is one file: the content first (so a spill file being
// filled is read at the same offsets it will have once stored), then the
// encoded entry, then a fixed trailer:
//
//	content | meta | metaLen u32 | metaCRC u32 | contentLen u64 | magic [8]
//
// A file whose size is not exactly contentLen+metaLen+trailerLen, whose
// magic or CRC is wrong, or that does not decode is torn or foreign and is
// deleted at start. Files only get their final name after an fsync, so a
// crash leaves at most a temporary file behind, never a torn object.
const (
	diskMagic  = "JNSCACH1"
	trailerLen = 4 + 4 + 8 + 8
	maxMetaLen = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadObject is wrapped by decoding errors.
var errBadObject = errors.New("bad cache object")

// appendTrailer appends meta and trailer for a content of n bytes.
func appendTrailer(dst []byte, key string, vary []varyField, m *meta, n int64) []byte {
	start := len(dst)
	dst = append(dst, 1) // encoding version
	dst = appendStr(dst, key)
	dst = binary.AppendUvarint(dst, uint64(len(vary)))
	for _, f := range vary {
		dst = appendStr(dst, f.name)
		dst = appendStr(dst, f.value)
		if f.present {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	}
	dst = binary.AppendVarint(dst, m.reqTime.UnixNano())
	dst = binary.AppendVarint(dst, m.respTime.UnixNano())
	dst = binary.AppendUvarint(dst, uint64(m.head.Status))
	dst = appendStr(dst, string(m.head.Reason))
	h := &m.head.Header
	dst = binary.AppendUvarint(dst, uint64(h.Len()))
	for i := 0; i < h.Len(); i++ {
		name, value := h.Field(i)
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = binary.AppendUvarint(dst, uint64(len(value)))
		dst = append(dst, value...)
	}
	metaLen := len(dst) - start
	dst = binary.LittleEndian.AppendUint32(dst, uint32(metaLen))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:start+metaLen], castagnoli))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(n))
	return append(dst, diskMagic...)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// trailer is the fixed end of a disk object.
type trailer struct {
	metaLen, crc uint32
	contentLen   int64
}

// parseTrailer checks the trailer against the file's size.
func parseTrailer(b []byte, fileSize int64) (trailer, error) {
	if len(b) != trailerLen || string(b[16:]) != diskMagic {
		return trailer{}, fmt.Errorf("%w: no trailer", errBadObject)
	}
	t := trailer{
		metaLen:    binary.LittleEndian.Uint32(b[0:]),
		crc:        binary.LittleEndian.Uint32(b[4:]),
		contentLen: int64(binary.LittleEndian.Uint64(b[8:])),
	}
	if t.metaLen > maxMetaLen || t.contentLen < 0 || t.contentLen > fileSize ||
		t.contentLen+int64(t.metaLen)+trailerLen != fileSize {
		return trailer{}, fmt.Errorf("%w: size %d does not match content %d and meta %d", errBadObject, fileSize, t.contentLen, t.metaLen)
	}
	return t, nil
}

// decoded is an entry read back from disk.
type decoded struct {
	key  string
	vary []varyField
	resp httpmsg.ResponseHead
	t    ResponseTimes
}

// decodeMeta reads what appendTrailer wrote (without the trailer).
func decodeMeta(b []byte, crc uint32) (*decoded, error) {
	if crc32.Checksum(b, castagnoli) != crc {
		return nil, fmt.Errorf("%w: checksum", errBadObject)
	}
	r := reader{b: b}
	if v := r.byte(); v != 1 {
		return nil, fmt.Errorf("%w: version %d", errBadObject, v)
	}
	d := &decoded{key: string(r.bytes())}
	nv := r.uvarint()
	if nv > 64 {
		return nil, fmt.Errorf("%w: %d vary fields", errBadObject, nv)
	}
	for range nv {
		f := varyField{name: string(r.bytes()), value: string(r.bytes()), present: r.byte() == 1}
		d.vary = append(d.vary, f)
	}
	d.t.Request = time.Unix(0, r.varint())
	d.t.Response = time.Unix(0, r.varint())
	d.resp.Status = int(r.uvarint())
	d.resp.SetReason(r.bytes())
	nf := r.uvarint()
	if nf > 10000 {
		return nil, fmt.Errorf("%w: %d fields", errBadObject, nf)
	}
	for range nf {
		name := r.bytes()
		d.resp.Header.Add(name, r.bytes())
	}
	if r.bad || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: malformed meta", errBadObject)
	}
	if d.resp.Status < 200 || d.resp.Status > 999 || d.key == "" {
		return nil, fmt.Errorf("%w: status %d key %q", errBadObject, d.resp.Status, d.key)
	}
	return d, nil
}

// reader consumes varint-framed values; bad sticks on the first error.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
