package http1

import (
	"io"
)

// Writer is a buffered writer whose buffer goes back to the shared pool on
// Release once everything is flushed. The zero value needs Reset before use.
type Writer struct {
	dst    io.Writer
	pooled *buffer
	buf    []byte // nil while released; len(buf) is what is waiting
	err    error  // sticky write error
}

// Reset makes w write to dst, dropping anything unflushed.
func (w *Writer) Reset(dst io.Writer) {
	w.drop()
	w.dst = dst
	w.err = nil
}

// Dest is what w writes to.
func (w *Writer) Dest() io.Writer { return w.dst }

// SetDest makes w write to dst from now on, keeping what is buffered.
func (w *Writer) SetDest(dst io.Writer) { w.dst = dst }

func (w *Writer) drop() {
	if w.pooled != nil {
		putBuffer(w.pooled)
	}
	w.pooled, w.buf = nil, nil
}

func (w *Writer) acquire() {
	w.pooled = getBuffer()
	w.buf = w.pooled[:0]
}

// Release gives the buffer back to the pool if nothing waits to be flushed.
func (w *Writer) Release() {
	if len(w.buf) == 0 {
		w.drop()
	}
}

// Buffered returns how many bytes wait to be flushed.
func (w *Writer) Buffered() int { return len(w.buf) }

// Err returns the first write error, if any.
func (w *Writer) Err() error { return w.err }

// Write buffers p, flushing when the buffer fills; a write at least as long
// as the buffer goes straight to the destination after a flush.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.buf == nil {
		w.acquire()
	}
	if len(w.buf)+len(p) > cap(w.buf) {
		if err := w.Flush(); err != nil {
			return 0, err
		}
		if len(p) >= cap(w.buf) {
			n, err := w.dst.Write(p)
			if err != nil {
				w.err = err
			}
			return n, err
		}
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// WriteString is Write for a string.
func (w *Writer) WriteString(s string) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.buf == nil {
		w.acquire()
	}
	if len(w.buf)+len(s) > cap(w.buf) {
		if err := w.Flush(); err != nil {
			return 0, err
		}
	}
	// A string longer than the buffer grows it; such strings are the rare
	// long heads, not bodies.
	w.setBuf(append(w.buf, s...))
	return len(s), nil
}

// appendBuf returns the buffer for appending; the caller stores the result
// with setBuf. Heads are serialized this way, straight into the buffer.
func (w *Writer) appendBuf() []byte {
	if w.buf == nil {
		w.acquire()
	}
	return w.buf
}

func (w *Writer) setBuf(b []byte) {
	if cap(b) != BufferSize && w.pooled != nil && cap(w.buf) == BufferSize {
		// append grew past the pooled array: keep the new slice, return the
		// array.
		putBuffer(w.pooled)
		w.pooled = nil
	}
	w.buf = b
}

// Flush writes what is buffered.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.dst.Write(w.buf)
	if err != nil {
		w.err = err
		return err
	}
	if w.pooled == nil {
		// A grown buffer is not kept: go back to a pooled one next time.
		w.buf = nil
		return nil
	}
	w.buf = w.buf[:0]
	return nil
}

// ReadFrom flushes, then copies from r, handing the copy to the
// destination's own ReadFrom when it has one so that TCP to TCP copies
// splice (net.TCPConn.ReadFrom).
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if rf, ok := w.dst.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		if err != nil {
			w.err = err
		}
		return n, err
	}
	if w.buf == nil {
		w.acquire()
	}
	n, err := io.CopyBuffer(writerOnly{w.dst}, r, w.buf[:cap(w.buf)])
	w.buf = w.buf[:0]
	return n, err
}

// writerOnly hides a ReaderFrom so io.CopyBuffer uses the given buffer.
type writerOnly struct{ io.Writer }
