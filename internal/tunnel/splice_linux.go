package tunnel

import (
	"io"
	"net"
	"syscall"
)

// Splice flags, from linux/splice.h (the syscall package does not name them).
const (
	spliceMove     = 0x1 // move pages instead of copying, where possible
	spliceNonblock = 0x2 // do not block on the pipe (the sockets are non-blocking already)
)

// pipeSize is what a pool pipe asks for with F_SETPIPE_SZ: the most one
// splice call moves. 1 MiB is Linux's default pipe-max-size; the kernel
// allocates a pipe's pages only while they hold data, so an empty pooled pipe
// costs two descriptors and no buffer memory.
const pipeSize = 1 << 20

// pipePoolSize bounds the empty pipes kept for reuse. A tunnel takes a pipe
// when its source becomes readable and gives it back as soon as the source
// would block, so the pool only needs to cover the directions moving data at
// one moment; beyond it, pipes are made and closed on demand.
const pipePoolSize = 32

// pipe is a kernel pipe used as the splice buffer between two sockets.
type pipe struct {
	r, w int
	size int // capacity in bytes
	data int // bytes in the pipe, not yet spliced out
}

// pipes is the bounded free list of empty pipes.
var pipes = make(chan *pipe, pipePoolSize)

func getPipe() (*pipe, error) {
	select {
	case p := <-pipes:
		return p, nil
	default:
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, err
	}
	p := &pipe{r: fds[0], w: fds[1], size: 64 << 10}
	// A smaller pipe still works, with more system calls; the size may be
	// refused once the user's pipe-user-pages-soft is used up.
	if n, err := fcntl(p.r, syscall.F_SETPIPE_SZ, pipeSize); err == nil && n > 0 {
		p.size = n
	} else if n, err := fcntl(p.r, syscall.F_GETPIPE_SZ, 0); err == nil && n > 0 {
		p.size = n
	}
	return p, nil
}

// putPipe returns p to the pool, or closes it when it still holds bytes or
// the pool is full.
func putPipe(p *pipe) {
	if p.data == 0 {
		select {
		case pipes <- p:
			return
		default:
		}
	}
	syscall.Close(p.r)
	syscall.Close(p.w)
}

func fcntl(fd, cmd, arg int) (int, error) {
	n, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// splice copies src to dst with splice(2) when both are *net.TCPConn. It
// reports done=false, without having moved a byte, when splicing cannot be
// used here, so that the caller falls back to the buffer copy.
//
// Each round waits for src to become readable without a pipe (see
// waitReadable), takes a pipe, moves data socket → pipe → socket until src
// would block, and gives the pipe back: an idle tunnel holds its two sockets
// and nothing else, where a blocked io.Copy holds a pipe per direction.
func (d *direction) splice() (done bool, err *Error) {
	src, ok1 := d.src.(*net.TCPConn)
	dst, ok2 := d.dst.(*net.TCPConn)
	if !ok1 || !ok2 {
		return false, nil
	}
	srcRC, err1 := src.SyscallConn()
	dstRC, err2 := dst.SyscallConn()
	if err1 != nil || err2 != nil {
		return false, nil
	}
	s := newSpliceState(d)
	for {
		eof, rerr := d.waitReadable(srcRC, s)
		if rerr != nil {
			return true, &Error{Op: "read", Peer: d.from, Err: rerr}
		}
		if eof {
			return true, nil
		}
		p, perr := getPipe()
		if perr != nil {
			// Out of descriptors for a pipe: this round goes through a
			// buffer instead; the data is there, so Read will not block.
			if eof, e := d.bufferRound(); eof || e != nil {
				return true, e
			}
			continue
		}
		s.p = p
		eof, e := d.pump(srcRC, dstRC, s)
		s.p = nil
		putPipe(p)
		if e != nil {
			return true, e
		}
		if eof {
			return true, nil
		}
	}
}

// waitReadable blocks until src has data or its peer's FIN (eof), without
// holding a buffer or a pipe. The runtime poller does the waiting: the
// callback peeks one byte with MSG_PEEK|MSG_DONTWAIT and returns false on
// EAGAIN, which parks the goroutine until epoll reports src readable (or the
// connection is closed by an abort).
func (d *direction) waitReadable(src syscall.RawConn, s *spliceState) (eof bool, err error) {
	s.eof, s.err = false, nil
	if err := src.Read(s.peekFn); err != nil {
		return false, err
	}
	return s.eof, s.err
}

// spliceState holds one direction's callbacks and their results. The
// callbacks are made once per direction, not per call: a closure passed to
// RawConn.Read escapes, and a fresh one per chunk would allocate.
type spliceState struct {
	d               *direction
	p               *pipe
	n               int64
	eof             bool
	err             error
	peekFn, drainFn func(uintptr) bool
	fillFn          func(uintptr)
}

func newSpliceState(d *direction) *spliceState {
	s := &spliceState{d: d}
	s.peekFn, s.fillFn, s.drainFn = s.peek, s.fill, s.drain
	return s
}

func (s *spliceState) peek(fd uintptr) bool {
	for {
		n, _, e := syscall.Recvfrom(int(fd), s.d.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false
		case e != nil:
			s.err = e
		case n == 0:
			s.eof = true
		}
		return true
	}
}

// fill splices what src holds into the pipe, without waiting.
func (s *spliceState) fill(fd uintptr) {
	for {
		s.n, s.err = syscall.Splice(int(fd), nil, s.p.w, nil, s.p.size, spliceMove|spliceNonblock)
		if s.err != syscall.EINTR {
			return
		}
	}
}

// drain splices the pipe out to dst; false (on EAGAIN) makes the runtime
// wait until dst is writable and call it again.
func (s *spliceState) drain(fd uintptr) bool {
	p := s.p
	for p.data > 0 {
		n, e := syscall.Splice(p.r, nil, int(fd), nil, p.data, spliceMove|spliceNonblock)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false
		case e != nil:
			s.err = e
			return true
		case n == 0:
			s.err = io.ErrNoProgress
			return true
		}
		p.data -= int(n)
		s.d.n += n
		s.d.t.touch()
	}
	return true
}

// pump moves bytes from src through s.p to dst until src would block (eof
// false) or reports EOF. The pipe is empty when pump returns without error.
func (d *direction) pump(src, dst syscall.RawConn, s *spliceState) (eof bool, e *Error) {
	for {
		s.err = nil
		// Control, not Read: the splice is non-blocking and EAGAIN is
		// handled by going back to waitReadable without the pipe.
		if err := src.Control(s.fillFn); err != nil {
			return false, &Error{Op: "read", Peer: d.from, Err: err}
		}
		switch {
		case s.err == syscall.EAGAIN:
			return false, nil
		case s.err != nil:
			return false, &Error{Op: "read", Peer: d.from, Err: s.err}
		case s.n == 0:
			return true, nil
		}
		s.p.data += int(s.n)
		d.t.touch()
		if err := dst.Write(s.drainFn); err != nil {
			return false, &Error{Op: "write", Peer: d.to, Err: err}
		}
		if s.err != nil {
			return false, &Error{Op: "write", Peer: d.to, Err: s.err}
		}
	}
}

// readWaiter returns a function that waits until src is readable without
// holding a buffer, or nil when src is not a plain socket (a TLS connection
// may hold decrypted bytes the kernel does not know about).
func (d *direction) readWaiter() func() error {
	var rc syscall.RawConn
	switch c := d.src.(type) {
	case *net.TCPConn:
		rc, _ = c.SyscallConn()
	case *net.UnixConn:
		rc, _ = c.SyscallConn()
	}
	if rc == nil {
		return nil
	}
	// An EOF is left for the following Read to report.
	s := newSpliceState(d)
	return func() error { _, err := d.waitReadable(rc, s); return err }
}
