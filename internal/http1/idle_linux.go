//go:build linux

package http1

import (
	"io"
	"syscall"
)

// SetRawConn lets FillIdle wait on rc without holding a buffer. rc must be
// the raw form of the Reader's source, and nothing may sit between them
// (no wrapper that counts or limits bytes), since FillIdle reads rc
// directly.
func (r *Reader) SetRawConn(rc syscall.RawConn) {
	r.raw = rc
	if r.rawFn == nil {
		// One method value per Reader: passing r.rawRead to rc.Read on each
		// call would allocate a closure each time.
		r.rawFn = r.rawRead
	}
}

// FillIdle is Fill for a connection that waits for its next message: with
// nothing buffered and a raw connection set, it gives the buffer back to
// the pool, waits for readability, and takes a buffer only when there is
// something to read. The read deadline of the connection applies.
func (r *Reader) FillIdle() error {
	if r.r != r.w {
		return nil
	}
	if r.raw == nil {
		return r.Fill()
	}
	r.drop()
	r.rawN, r.rawErr = 0, nil
	if err := r.raw.Read(r.rawFn); err != nil {
		r.Release()
		return err
	}
	if r.rawErr != nil {
		r.Release()
		return r.rawErr
	}
	if r.rawN == 0 {
		r.Release()
		return io.EOF
	}
	return nil
}

// rawRead runs inside RawConn.Read: it takes a buffer, reads, and gives the
// buffer back when the socket would block, so the wait holds none.
func (r *Reader) rawRead(fd uintptr) bool {
	if r.buf == nil {
		r.acquire()
	}
	for {
		n, err := syscall.Read(int(fd), r.buf[r.w:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			r.drop()
			return false
		}
		if n < 0 {
			n = 0
		}
		r.rawN, r.rawErr = n, err
		r.w += n
		r.count += int64(n)
		return true
	}
}
