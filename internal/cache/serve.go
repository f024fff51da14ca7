package cache

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// bodySource is where an answer's content comes from, and which part.
type bodySource struct {
	mem       []byte   // complete, in memory
	path      string   // complete, on disk (content at offset 0)
	file      *os.File // path, opened by Lookup so an eviction cannot take it away
	obj       *object  // being filled
	off, n    int64    // the part to send; n < 0: to the end (object being filled)
	readerRef bool
	drain     bool // the fill's leader: read what was stored before an abort
}

var (
	reason206 = []byte("Partial Content")
	reason304 = []byte("Not Modified")
	reason416 = []byte("Range Not Satisfiable")
	reason504 = []byte("Gateway Timeout")
)

// notModifiedFields are the fields a 304 carries from the stored response
// (RFC 9110 §15.4.5).
var notModifiedFields = httpmsg.FieldNames{"Cache-Control", "Content-Location", "Date", "ETag", "Expires", "Vary"}

// answer fills res with the stored response m for request r: a 304 when
// the client's own validators match, a 206 or 416 for a Range on a
// complete object, HEAD without content, else the whole response.
func (c *Cache) answer(res *Result, r *Request, e *entry, m *meta, src bodySource, j judgement) {
	h := r.Head
	res.Action = Answer
	res.Status.Fwd = ""
	res.Status.Hit = true
	res.Status.TTL, res.Status.HasTTL = int64(j.ttl/time.Second), true
	if j.v != vFresh {
		c.stats.stale.Add(1)
	}
	c.stats.hits.Add(1)
	if src.mem == nil && src.obj == nil && src.path != "" && m.length <= c.memMax {
		src.mem = c.promote(e, src, m.length)
	}
	head := &res.Head
	head.Reset()
	head.Version = httpmsg.HTTP11
	status := m.head.Status
	length := m.length
	src.n = length
	head.Status = status
	head.SetReason(m.head.Reason)
	get := httpmsg.EqualFold(h.Method, "GET")
	res.NoBody = !get
	complete := src.obj == nil && length >= 0
	switch {
	case notModified(&h.Header, m):
		head.Status = 304
		head.SetReason(reason304)
		res.NoBody = true
	case get && status == 200 && complete && h.Header.Has("Range") && ifRangeHolds(&h.Header, m):
		first, last, kind := ParseRange(h.Header.Get("Range"), length)
		switch kind {
		case rangeOne:
			head.Status = 206
			head.SetReason(reason206)
			src.off, src.n = first, last-first+1
		case rangeUnsatisfiable:
			head.Status = 416
			head.SetReason(reason416)
			res.NoBody = true
		}
	}
	hdr := &head.Header
	sh := &m.head.Header
	for i := 0; i < sh.Len(); i++ {
		name, value := sh.Field(i)
		switch {
		case httpmsg.EqualFold(name, "Age"), httpmsg.EqualFold(name, "Content-Length"),
			head.Status == 304 && !notModifiedFields.Contains(name),
			m.cc.Has(NoCacheFields) && listHas(m.cc.NoCacheList, name):
			// no-cache="f": f is not sent without validation (§5.2.2.4).
			continue
		}
		hdr.Add(name, value)
	}
	res.scratch = appendUint(res.scratch[:0], uint64(max(j.age, 0)/time.Second))
	hdr.Add(ageName, res.scratch)
	switch head.Status {
	case 206:
		res.scratch = append(res.scratch[:0], "bytes "...)
		res.scratch = appendUint(res.scratch, uint64(src.off))
		res.scratch = append(res.scratch, '-')
		res.scratch = appendUint(res.scratch, uint64(src.off+src.n-1))
		res.scratch = append(res.scratch, '/')
		res.scratch = appendUint(res.scratch, uint64(length))
		hdr.Add(contentRangeName, res.scratch)
		res.scratch = appendUint(res.scratch[:0], uint64(src.n))
		hdr.Add(contentLengthName, res.scratch)
	case 416:
		res.scratch = append(res.scratch[:0], "bytes */"...)
		res.scratch = appendUint(res.scratch, uint64(length))
		hdr.Add(contentRangeName, res.scratch)
		hdr.Add(contentLengthName, zero)
	case 304:
	default:
		if length >= 0 {
			res.scratch = appendUint(res.scratch[:0], uint64(length))
			hdr.Add(contentLengthName, res.scratch)
		}
	}
	if src.mem != nil && src.file != nil {
		_ = src.file.Close() // promoted
		src.file, src.path = nil, ""
	}
	res.body = src
	res.body.readerRef = src.obj != nil
	if res.NoBody {
		res.Close()
	}
}

var (
	ageName           = []byte("Age")
	contentLengthName = []byte("Content-Length")
	contentRangeName  = []byte("Content-Range")
	zero              = []byte("0")
)

// stamp adds Cache-Status to an Answer's head once res.Status is final.
func (c *Cache) stamp(res *Result) {
	if c.o.CacheStatus {
		c.AddCacheStatus(&res.Head.Header, res)
	}
}

// gatewayTimeout answers an only-if-cached request that the cache cannot
// satisfy (RFC 9111 §5.2.1.7).
func (c *Cache) gatewayTimeout(res *Result, r *Request) {
	res.Action = Answer
	res.NoBody = true
	head := &res.Head
	head.Reset()
	head.Version = httpmsg.HTTP11
	head.Status = 504
	head.SetReason(reason504)
	head.Header.Add(contentLengthName, zero)
	if c.o.CacheStatus {
		c.AddCacheStatus(&head.Header, res)
	}
	_ = r
}

// promote reads a disk object into the memory tier (the memory tier is in
// front of the disk tier) and returns its content, nil on failure.
func (c *Cache) promote(e *entry, src bodySource, n int64) []byte {
	var b []byte
	var err error
	if src.file != nil {
		b = make([]byte, n)
		_, err = src.file.ReadAt(b, 0)
		if err == io.EOF && n == 0 {
			err = nil
		}
	} else {
		b, err = readContent(src.path, n)
	}
	if err != nil {
		return nil
	}
	c.mu.Lock()
	c.addMemory(e, b)
	c.mu.Unlock()
	return b
}

// ContentLength is the length of the content to send for Answer, -1 when
// not known yet (an object being filled without Content-Length).
func (r *Result) ContentLength() int64 {
	if r.NoBody {
		return 0
	}
	return r.body.n
}

// Bytes returns the whole content to send when it is in memory, so the
// face can write it without a copy; ok is false otherwise (use WriteBody).
func (r *Result) Bytes() (b []byte, ok bool) {
	if r.NoBody {
		return nil, true
	}
	if r.body.mem != nil {
		return r.body.mem[r.body.off : r.body.off+r.body.n], true
	}
	return nil, false
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// WriteBody writes the answer's content to w. For an object being filled
// it follows the writer and returns an error wrapping ErrAborted when the
// fill is abandoned: the face must then cut the response (it is
// incomplete).
func (r *Result) WriteBody(w io.Writer) (int64, error) {
	if b, ok := r.Bytes(); ok {
		n, err := w.Write(b)
		return int64(n), err
	}
	s := &r.body
	switch {
	case s.file != nil || s.path != "":
		f := s.file
		if f == nil {
			var err error
			if f, err = os.Open(s.path); err != nil {
				return 0, err
			}
			s.file = f // closed by Close
		}
		if _, err := f.Seek(s.off, io.SeekStart); err != nil {
			return 0, err
		}
		// io.CopyN on an *os.File lets a *net.TCPConn use sendfile.
		return io.CopyN(w, f, s.n)
	case s.obj != nil:
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		var total int64
		for {
			n, err := s.obj.readAt(*bp, s.off+total, s.drain)
			if n > 0 {
				if _, werr := w.Write((*bp)[:n]); werr != nil {
					return total, werr
				}
				total += int64(n)
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
		}
	}
	return 0, nil
}

// Close releases what an Answer holds (an object being filled, an open
// disk object). Lookup calls it on reuse; call it when a Result is
// dropped, or a disk answer keeps its file open.
func (r *Result) Close() {
	if r.body.readerRef && r.body.obj != nil {
		r.body.obj.release()
	}
	if r.body.file != nil {
		_ = r.body.file.Close()
	}
	r.body = bodySource{}
}
