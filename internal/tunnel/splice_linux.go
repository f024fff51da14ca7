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

// tcpNotsentLowat is TCP_NOTSENT_LOWAT, from linux/tcp.h.
const tcpNotsentLowat = 25

// bulkNotsent is the most a bulk direction leaves unsent in dst's kernel
// queue (TCP_NOTSENT_LOWAT): dst reports writable, and takes a splice, only
// once less than this waits to be sent. Without it a splice parks up to a
// pipe's worth beyond the window, which the kernel then sends from the
// softirq of each arriving ACK, on whatever CPU the receiver runs: on
// loopback those segments reach the receiver through another CPU's backlog
// and arrive out of order (spurious retransmits, a receive window that
// stops growing). Measured on 1 GiB CONNECT downloads with the proxy on its
// own core: 923 retransmitted segments in 4 downloads without it, 59 with
// it, and the median from 0.94× to 1.04× the direct path. It also caps the
// kernel memory an idle-reading client can pin per tunnel.
const bulkNotsent = 128 << 10

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

// splice copies src to dst when both are *net.TCPConn. It reports
// done=false, without having moved a byte, when that cannot be done here, so
// that the caller falls back to the portable buffer copy.
//
// Every round runs inside src's RawConn.Read: the runtime resets src's
// readiness, the callback reads until src would block, and only then does
// the goroutine park, holding neither buffer nor pipe, until epoll reports
// src readable again. That is the system-call pattern of Go's own io.Copy
// (one read that would block per wake-up, no readiness probes), without
// io.Copy's pipe held while idle.
//
// A direction starts with read(2) and write(2) through a pooled buffer:
// for the few small messages of most tunnels (a TLS handshake, a request, a
// short response) that costs fewer system calls than splicing through a
// pipe. Once a read fills the buffer the flow is bulk, and the direction
// switches to splice(2): socket → pipe → socket, the payload never copied
// to user space.
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
	s := newSpliceState(d, dstRC)
	for {
		s.reset()
		if err := srcRC.Read(s.roundFn); err != nil {
			s.release()
			return true, &Error{Op: "read", Peer: d.from, Err: err}
		}
		s.release()
		switch {
		case s.rerr != nil:
			return true, &Error{Op: "read", Peer: d.from, Err: s.rerr}
		case s.werr != nil:
			return true, &Error{Op: "write", Peer: d.to, Err: s.werr}
		case s.eof:
			return true, nil
		}
		// Otherwise the small path switched to bulk: go on splicing.
	}
}

// spliceState is one direction's scratch: the current buffer or pipe and
// the results of a round. Its callbacks are made once per direction: a
// closure passed to RawConn.Read escapes, and one per round would allocate.
type spliceState struct {
	d     *direction
	dstRC syscall.RawConn
	bulk  bool    // splice from now on
	buf   *[]byte // the small path's buffer, only while data is moving
	p     *pipe   // the bulk path's pipe, only while data is moving
	eof   bool
	rerr  error // reading src failed
	werr  error // writing dst failed

	out []byte // what the small path still has to write

	roundFn func(uintptr) bool
	lowatFn func(uintptr)
	drainFn func(uintptr) bool
	writeFn func(uintptr) bool
}

func newSpliceState(d *direction, dstRC syscall.RawConn) *spliceState {
	s := &spliceState{d: d, dstRC: dstRC}
	s.roundFn, s.drainFn, s.writeFn, s.lowatFn = s.round, s.drain, s.write, s.lowat
	return s
}

func (s *spliceState) reset() { s.eof, s.rerr, s.werr = false, nil, nil }

// lowat sets dst's TCP_NOTSENT_LOWAT to bulkNotsent. A socket that refuses
// it (not TCP, an old kernel) just keeps the kernel's default.
func (s *spliceState) lowat(fd uintptr) {
	_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotsentLowat, bulkNotsent)
}

// release gives back what a round may still hold after an error.
func (s *spliceState) release() {
	if s.buf != nil {
		bufPool.Put(s.buf)
		s.buf = nil
	}
	if s.p != nil {
		putPipe(s.p)
		s.p = nil
	}
}

// round moves what src holds to dst. It returns false, holding nothing, when
// src would block (the runtime then waits for readability and calls it
// again), and true when the round is over: EOF, an error, or the switch
// from the small path to splicing.
func (s *spliceState) round(fd uintptr) bool {
	if s.bulk {
		return s.spliceRound(int(fd))
	}
	for {
		if s.buf == nil {
			s.buf = bufPool.Get().(*[]byte)
		}
		n, err := syscall.Read(int(fd), *s.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			bufPool.Put(s.buf)
			s.buf = nil
			return false
		case err != nil:
			s.rerr = err
			return true
		case n == 0:
			s.eof = true
			return true
		}
		s.d.t.touch()
		s.out = (*s.buf)[:n]
		if err := s.dstRC.Write(s.writeFn); err != nil && s.werr == nil {
			s.werr = err
		}
		if s.werr != nil {
			return true
		}
		if n == len(*s.buf) {
			// A full buffer: bulk data; splice from the next round on.
			s.bulk = true
			s.dstRC.Control(s.lowatFn)
			bufPool.Put(s.buf)
			s.buf = nil
			return true
		}
	}
}

// write writes s.out to dst with write(2) on dst's raw descriptor (a
// shallower stack than net.Conn.Write: an idle tunnel's goroutines keep
// the stack they grew); false on EAGAIN waits until dst is writable.
func (s *spliceState) write(fd uintptr) bool {
	for len(s.out) > 0 {
		n, err := syscall.Write(int(fd), s.out)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			s.werr = err
			return true
		}
		s.out = s.out[n:]
		s.d.n += int64(n)
		s.d.t.touch()
	}
	return true
}

// spliceRound splices src → pipe → dst until src would block (false, the
// pipe returned to the pool) or ends.
func (s *spliceState) spliceRound(fd int) bool {
	for {
		if s.p == nil {
			p, err := getPipe()
			if err != nil {
				// Out of descriptors for a pipe: back to the buffer path.
				s.bulk = false
				return s.round(uintptr(fd))
			}
			s.p = p
		}
		n, err := syscall.Splice(fd, nil, s.p.w, nil, s.p.size, spliceMove|spliceNonblock)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			putPipe(s.p)
			s.p = nil
			return false
		case err != nil:
			s.rerr = err
			return true
		case n == 0:
			s.eof = true
			return true
		}
		s.p.data += int(n)
		s.d.t.touch()
		if err := s.dstRC.Write(s.drainFn); err != nil && s.werr == nil {
			s.werr = err
		}
		if s.werr != nil {
			return true
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
			s.werr = e
			return true
		case n == 0:
			s.werr = io.ErrNoProgress
			return true
		}
		p.data -= int(n)
		s.d.n += n
		s.d.t.touch()
	}
	return true
}

// readWaiter returns a function that waits until src is readable without
// holding a buffer, or nil when src is not a plain socket (a TLS connection
// may hold decrypted bytes the kernel does not know about). The callback
// peeks one byte with MSG_PEEK|MSG_DONTWAIT inside RawConn.Read, after the
// runtime has reset the socket's readiness, and returns false on EAGAIN so
// the goroutine parks until epoll reports the socket readable. An EOF is
// left for the following Read to report.
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
	// The error a peek reports is the socket's pending error, which the
	// kernel hands out once: it must be returned here, or the next Read
	// would see a plain EOF instead of the reset.
	var perr error
	peek := func(fd uintptr) bool {
		for {
			_, _, e := syscall.Recvfrom(int(fd), d.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			case nil:
			default:
				perr = e
			}
			return true
		}
	}
	return func() error {
		perr = nil
		if err := rc.Read(peek); err != nil {
			return err
		}
		return perr
	}
}
