//go:build !linux

package http1

import "syscall"

// SetRawConn is a no-op where FillIdle cannot wait without a buffer.
func (r *Reader) SetRawConn(rc syscall.RawConn) {}

// FillIdle is Fill on this platform.
func (r *Reader) FillIdle() error {
	if r.r != r.w {
		return nil
	}
	return r.Fill()
}
