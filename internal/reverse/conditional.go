package reverse

import (
	"io/fs"
	"mime"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// planFor evaluates the request's preconditions (RFC 9110 §13.2.2, in
// that order) and range (§14.2) against an open regular file.
func planFor(req *httpmsg.RequestHead, f *os.File, fi fs.FileInfo, name string) StaticPlan {
	sp := StaticPlan{
		Status:  200,
		File:    f,
		Size:    fi.Size(),
		Length:  fi.Size(),
		ModTime: fi.ModTime(),
		ETag:    makeETag(fi),
	}
	sp.ContentType = mime.TypeByExtension(path.Ext(name))
	if sp.ContentType == "" {
		sp.ContentType = "application/octet-stream"
	}
	h := &req.Header
	lastMod := sp.ModTime.UTC().Truncate(time.Second)

	// Step 1 and 2: If-Match, else If-Unmodified-Since.
	if h.Has("If-Match") {
		if !etagListMatches(h, "If-Match", sp.ETag, false) {
			sp.Status = 412
			return sp
		}
	} else if t, ok := headerDate(h, "If-Unmodified-Since"); ok && lastMod.After(t) {
		sp.Status = 412
		return sp
	}
	// Step 3 and 4: If-None-Match, else If-Modified-Since. Only GET and
	// HEAD reach here, so a match is 304.
	if h.Has("If-None-Match") {
		if etagListMatches(h, "If-None-Match", sp.ETag, true) {
			sp.Status = 304
			sp.Length = 0
			return sp
		}
	} else if t, ok := headerDate(h, "If-Modified-Since"); ok && !lastMod.After(t) {
		sp.Status = 304
		sp.Length = 0
		return sp
	}
	// Step 5: Range, for GET only (§14.2), when If-Range allows it.
	if string(req.Method) != "GET" || !h.Has("Range") || !ifRangeHolds(h, sp.ETag, lastMod) {
		return sp
	}
	off, n, st := parseRange(h, sp.Size)
	switch st {
	case 206:
		sp.Status, sp.Offset, sp.Length = 206, off, n
	case 416:
		sp.Status, sp.Length = 416, 0
	}
	return sp
}

// makeETag builds a strong validator from size and modification time in
// nanoseconds: a file rewritten in place within the same second still
// gets a new tag where the file system keeps sub-second times.
func makeETag(fi fs.FileInfo) string {
	b := make([]byte, 0, 36)
	b = append(b, '"')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	b = append(b, '"')
	return string(b)
}

// etagListMatches reports whether any field named name holds "*" or an
// entity-tag matching etag: by weak comparison when weak, else strong
// (RFC 9110 §8.8.3.2: a weak tag never matches strongly).
func etagListMatches(h *httpmsg.Header, name, etag string, weak bool) bool {
	for i := h.Index(name, 0); i >= 0; i = h.Index(name, i+1) {
		v := h.Value(i)
		if string(httpmsg.TrimOWS(v)) == "*" {
			return true
		}
		for len(v) > 0 {
			var tag []byte
			var isWeak bool
			tag, isWeak, v = nextETag(v)
			if tag == nil {
				break // malformed: the rest cannot be read reliably
			}
			if string(tag) == etag && (weak || !isWeak) {
				return true
			}
		}
	}
	return false
}

// nextETag reads one entity-tag (RFC 9110 §8.8.3) from a list: optional
// whitespace and commas, optional "W/", then a quoted opaque tag, which may
// itself hold commas. tag keeps its quotes; it is nil when none is left or
// the list is malformed.
func nextETag(v []byte) (tag []byte, weak bool, rest []byte) {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t' || v[0] == ',') {
		v = v[1:]
	}
	if len(v) >= 2 && v[0] == 'W' && v[1] == '/' {
		weak, v = true, v[2:]
	}
	if len(v) < 2 || v[0] != '"' {
		return nil, false, nil
	}
	for i := 1; i < len(v); i++ {
		if v[i] == '"' {
			return v[:i+1], weak, v[i+1:]
		}
	}
	return nil, false, nil
}

// ifRangeHolds evaluates If-Range (RFC 9110 §13.1.5): without it, the range
// applies; with an entity-tag, only on a strong match; with a date, only
// when it is exactly the Last-Modified sent.
func ifRangeHolds(h *httpmsg.Header, etag string, lastMod time.Time) bool {
	v := httpmsg.TrimOWS(h.Get("If-Range"))
	if v == nil {
		return !h.Has("If-Range")
	}
	if len(v) > 0 && (v[0] == '"' || v[0] == 'W') {
		return string(v) == etag
	}
	t, ok := parseHTTPDate(v)
	return ok && t.Equal(lastMod)
}

// parseRange reads a Range field against a representation of size bytes.
// It returns 206 with the one range to send, 416 when the range cannot be
// satisfied, or 200 to send everything: Range absent, invalid, in another
// unit, or asking for several ranges (which RFC 9110 §14.2 lets a server
// ignore; multipart/byteranges is not implemented).
func parseRange(h *httpmsg.Header, size int64) (off, n int64, status int) {
	if h.Count("Range") != 1 || size == 0 {
		// An empty file has no byte to range over; send it whole.
		return 0, size, 200
	}
	v := httpmsg.TrimOWS(h.Get("Range"))
	if len(v) < 6 || !httpmsg.EqualFold(v[:6], "bytes=") {
		return 0, size, 200
	}
	spec := httpmsg.TrimOWS(v[6:])
	for _, c := range spec {
		if c == ',' {
			return 0, size, 200
		}
	}
	first, last := cut(spec, '-')
	if last == nil { // no '-'
		return 0, size, 200
	}
	first, last = httpmsg.TrimOWS(first), httpmsg.TrimOWS(last)
	if len(first) == 0 {
		// Suffix range: the last N bytes.
		sfx, ok := httpmsg.ParseDigits(last)
		if !ok {
			return 0, size, 200
		}
		if sfx == 0 {
			return 0, 0, 416
		}
		sfx = min(sfx, size)
		return size - sfx, sfx, 206
	}
	a, ok := httpmsg.ParseDigits(first)
	if !ok {
		return 0, size, 200
	}
	b := size - 1
	if len(last) > 0 {
		if b, ok = httpmsg.ParseDigits(last); !ok || b < a {
			return 0, size, 200
		}
	}
	if a >= size {
		return 0, 0, 416
	}
	b = min(b, size-1)
	return a, b - a + 1, 206
}

// headerDate reads the one field named name as an HTTP-date; a missing,
// repeated or unreadable one counts as absent (RFC 9110 §13.1.3, §13.1.4).
func headerDate(h *httpmsg.Header, name string) (time.Time, bool) {
	if h.Count(name) != 1 {
		return time.Time{}, false
	}
	return parseHTTPDate(httpmsg.TrimOWS(h.Get(name)))
}

// parseHTTPDate accepts the three HTTP-date formats (RFC 9110 §5.6.7).
func parseHTTPDate(v []byte) (time.Time, bool) {
	s := string(v)
	for _, layout := range [...]string{httpDate, "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
