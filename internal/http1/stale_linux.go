//go:build linux

package http1

import (
	"syscall"
	"unsafe"
)

// isStale peeks at an idle connection without blocking (MSG_PEEK |
// MSG_DONTWAIT): end of stream means the origin closed it, and any byte
// means the origin sent something nobody asked for. Either way it must not
// carry a request. One system call, no allocation.
func (c *ClientConn) isStale() bool {
	if c.rc == nil {
		return false
	}
	if c.peekFn == nil {
		c.peekFn = c.peek
	}
	c.stale = false
	if err := c.rc.Control(c.peekFn); err != nil {
		return true
	}
	return c.stale
}

func (c *ClientConn) peek(fd uintptr) {
	var b [1]byte
	for {
		n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		// EAGAIN: nothing to read, the healthy case. n == 0 without error:
		// EOF. n > 0: unexpected bytes. Other errors: a reset.
		c.stale = errno != syscall.EAGAIN
		_ = n
		return
	}
}
