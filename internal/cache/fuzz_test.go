package cache

import (
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// validObject returns the trailer part of a well-formed disk object.
func validObject() []byte {
	m := newMeta(newResp(200, "Cache-Control: max-age=60", `ETag: "x"`), ResponseTimes{at(0), at(1)}, Heuristic{}, 5)
	return appendTrailer([]byte("hello"), "GET http://example.com:80/", []varyField{{name: "accept", value: "a", present: true}}, m, 5)
}

// FuzzDiskObject feeds arbitrary files to the disk tier's reader: it must
// reject them or decode them, never panic or accept a size that does not
// add up.
func FuzzDiskObject(f *testing.F) {
	v := validObject()
	f.Add(v)
	f.Add(v[:len(v)-1])
	f.Add(append([]byte{0}, v...))
	f.Add([]byte(diskMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < trailerLen {
			return
		}
		tr, err := parseTrailer(b[len(b)-trailerLen:], int64(len(b)))
		if err != nil {
			return
		}
		if tr.contentLen+int64(tr.metaLen)+trailerLen != int64(len(b)) {
			t.Fatalf("accepted sizes that do not add up: %+v for %d bytes", tr, len(b))
		}
		d, err := decodeMeta(b[tr.contentLen:tr.contentLen+int64(tr.metaLen)], tr.crc)
		if err != nil {
			return
		}
		if d.key == "" || d.resp.Status < 200 {
			t.Fatalf("decoded an unusable entry: %+v", d)
		}
	})
}

// FuzzVaryNormalize: a request always matches the secondary key recorded
// from itself, and normalising is idempotent.
func FuzzVaryNormalize(f *testing.F) {
	f.Add("gzip, br", "br", "accept-encoding")
	f.Add(" a ,, b", "", "x-y")
	f.Add(",", "A", "accept")
	f.Fuzz(func(t *testing.T, v1, v2, name string) {
		if len(name) == 0 {
			return
		}
		var h httpmsg.Header
		h.AddString(name, v1)
		h.AddString(name, v2)
		lname := string(lowerASCII([]byte(name)))
		key := secondaryKey(&h, []string{lname})
		var scratch []byte
		if !varyMatches(&h, key, &scratch) {
			t.Fatalf("a request does not match its own key: %+v", key)
		}
		var h2 httpmsg.Header
		h2.AddString(name, key[0].value)
		if !varyMatches(&h2, key, &scratch) {
			t.Fatalf("normalising %q is not idempotent", key[0].value)
		}
	})
}

func lowerASCII(b []byte) []byte {
	for i, c := range b {
		b[i] = lowerByte(c)
	}
	return b
}
