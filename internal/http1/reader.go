package http1

import (
	"errors"
	"io"
	"sync"
	"syscall"
)

// BufferSize is the size of the pooled read and write buffers. A head that
// does not fit grows its reader's buffer up to the head limit; such grown
// buffers are not pooled.
const BufferSize = 8 << 10

type buffer = [BufferSize]byte

var bufferPool = sync.Pool{New: func() any { return new(buffer) }}

func getBuffer() *buffer  { return bufferPool.Get().(*buffer) }
func putBuffer(b *buffer) { bufferPool.Put(b) }

// Reader is a buffered reader whose buffer goes back to a shared pool
// whenever it holds no unread bytes and the owner calls Release, so that a
// connection waiting for its next message holds no buffer. The zero value
// needs Reset before use.
type Reader struct {
	src    io.Reader
	pooled *buffer // the pooled array behind buf, nil if buf is not pooled
	buf    []byte  // nil while released
	r, w   int     // buf[r:w] is unread
	count  int64   // bytes read from src so far

	raw    syscall.RawConn // optional: lets FillIdle wait without a buffer
	rawFn  func(fd uintptr) bool
	rawN   int
	rawErr error
}

// Reset makes r read from src, dropping any buffered bytes.
func (r *Reader) Reset(src io.Reader) {
	r.drop()
	r.src = src
	r.count = 0
	r.raw = nil
}

// Prime puts b in front of what the source will deliver, as if it had been
// read from it: a server hands over the bytes it sniffed this way, then
// reads the raw connection directly.
func (r *Reader) Prime(b []byte) {
	if len(b) == 0 {
		return
	}
	if r.buf == nil {
		r.acquire()
	}
	r.compact()
	if len(b) > len(r.buf)-r.w {
		r.grow(r.w + len(b))
	}
	r.w += copy(r.buf[r.w:], b)
}

// SetSource changes where r reads from, keeping buffered bytes. A server
// uses it to read from the raw connection once a sniffing wrapper has
// replayed its bytes, so that bodies can splice.
func (r *Reader) SetSource(src io.Reader) { r.src = src }

// Source is what the reader reads from.
func (r *Reader) Source() io.Reader { return r.src }

// drop returns the buffer to the pool (if it came from there) and forgets
// any buffered bytes.
func (r *Reader) drop() {
	if r.pooled != nil {
		putBuffer(r.pooled)
	}
	r.pooled, r.buf = nil, nil
	r.r, r.w = 0, 0
}

// Release gives the buffer back to the pool if no unread bytes remain.
// It reports whether the buffer was released.
func (r *Reader) Release() bool {
	if r.r != r.w {
		return false
	}
	r.drop()
	return true
}

func (r *Reader) acquire() {
	r.pooled = getBuffer()
	r.buf = r.pooled[:]
	r.r, r.w = 0, 0
}

// Buffered returns the number of unread bytes in the buffer.
func (r *Reader) Buffered() int { return r.w - r.r }

// Bytes returns the unread bytes without consuming them. The slice is valid
// until the next read.
func (r *Reader) Bytes() []byte { return r.buf[r.r:r.w] }

// Discard consumes n buffered bytes; n must not exceed Buffered.
func (r *Reader) Discard(n int) {
	if n > r.w-r.r {
		panic("http1: Discard beyond buffered bytes")
	}
	r.r += n
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
}

// Count returns how many bytes have been read from the source since Reset.
// A client uses it to tell whether an origin answered anything at all.
func (r *Reader) Count() int64 { return r.count }

// Fill reads once from the source into free buffer space, after moving
// unread bytes to the front. It returns io.EOF at the end of the source.
func (r *Reader) Fill() error {
	if r.buf == nil {
		r.acquire()
	}
	r.compact()
	if r.w == len(r.buf) {
		return errors.New("http1: fill of a full buffer")
	}
	// A reader that keeps returning 0, nil is broken; bound the retries as
	// bufio does.
	for i := 0; i < 100; i++ {
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			return errors.New("http1: source returned a bad count")
		}
		r.w += n
		r.count += int64(n)
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// compact moves the unread bytes to the front of the buffer.
func (r *Reader) compact() {
	if r.r > 0 {
		copy(r.buf, r.buf[r.r:r.w])
		r.w -= r.r
		r.r = 0
	}
}

// grow makes room for at least max bytes of unread data, copying the unread
// bytes into a larger, unpooled buffer. It is for heads longer than
// BufferSize and is rare.
func (r *Reader) grow(max int) {
	if len(r.buf) >= max {
		return
	}
	nb := make([]byte, max)
	n := copy(nb, r.buf[r.r:r.w])
	r.drop()
	r.buf, r.w = nb, n
}

// Read reads buffered bytes, or, with none buffered, reads from the source
// directly into p when p is at least a buffer long.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.r == r.w {
		if len(p) >= BufferSize {
			n, err := r.src.Read(p)
			r.count += int64(n)
			return n, err
		}
		if err := r.Fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.r:r.w])
	r.Discard(n)
	return n, nil
}

// line returns the next line, CRLF included, without consuming it. A line
// longer than max (CRLF included) is errTooLong; a line ending in a bare LF
// is ErrBareLF. At the end of the source it returns io.EOF if nothing was
// buffered and ErrTruncated otherwise.
func (r *Reader) line(max int, errTooLong error) ([]byte, error) {
	scanned := 0
	for {
		if r.buf != nil {
			unread := r.buf[r.r:r.w]
			for i := scanned; i < len(unread); i++ {
				if unread[i] != '\n' {
					continue
				}
				if i+1 > max {
					return nil, errTooLong
				}
				if i == 0 || unread[i-1] != '\r' {
					return nil, ErrBareLF
				}
				return unread[:i+1], nil
			}
			scanned = len(unread)
			if scanned >= max {
				return nil, errTooLong
			}
			if r.r == 0 && r.w == len(r.buf) {
				r.grow(min(max+1, len(r.buf)*2))
			}
		}
		if err := r.Fill(); err != nil {
			if err == io.EOF && r.r != r.w {
				return nil, ErrTruncated
			}
			return nil, err
		}
	}
}
