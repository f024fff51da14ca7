//go:build linux

package httpface

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// parker watches idle keep-alive connections that have no goroutine
// (ServeParked) with one epoll instance of its own. A connection is
// registered one-shot for input or hang-up; when it fires, the connection
// is served again in a new goroutine. The epoll descriptor itself is polled
// by the Go runtime (it is readable when events are ready), so the parker's
// own goroutine blocks in the runtime poller, not in a system call; a read
// deadline on it wakes it every sweep interval to close connections whose
// idle time ran out.
//
// A descriptor can be registered with several epoll instances, so the
// runtime's registration of the same socket is untouched.
type parker struct {
	s *Server

	once  sync.Once
	err   error // why parking is unavailable, if it is
	f     *os.File
	rc    syscall.RawConn
	epfd  int
	ready func(fd uintptr) bool

	mu     sync.Mutex
	conns  map[int]*conn // by descriptor
	closed bool

	// Owned by the loop goroutine.
	events  [128]syscall.EpollEvent
	n       int
	waitErr error
	expired []*conn
}

// sweepEvery bounds how late an expired parked connection is closed.
const sweepEvery = time.Second

func (p *parker) enabled() bool {
	p.once.Do(p.start)
	return p.err == nil
}

func (p *parker) start() {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		p.err = err
		return
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		p.err = err
		return
	}
	// A non-blocking descriptor makes os.NewFile return a file the runtime
	// poller watches.
	p.f = os.NewFile(uintptr(epfd), "janus-parker")
	rc, err := p.f.SyscallConn()
	if err != nil {
		p.f.Close()
		p.err = err
		return
	}
	// Under the lock: a drain (closeAll) may read the map while this runs.
	p.mu.Lock()
	p.rc, p.epfd = rc, epfd
	p.conns = make(map[int]*conn)
	p.mu.Unlock()
	p.ready = p.wait
	go p.loop()
}

// park hands c, idle, to the parker. It reports false if it could not,
// and c stays with the caller. After true, the caller must not touch c.
func (p *parker) park(c *conn) bool {
	if !p.enabled() || c.fd < 0 {
		return false
	}
	// The lock is held across the registration: the loop cannot resume c,
	// nor a drain close it, before it is fully parked or refused.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.s.shutting.Load() {
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(c.fd)}
	op := syscall.EPOLL_CTL_ADD
	if c.inEpoll {
		op = syscall.EPOLL_CTL_MOD
	}
	err := syscall.EpollCtl(p.epfd, op, c.fd, &ev)
	switch {
	case err == syscall.EEXIST && op == syscall.EPOLL_CTL_ADD:
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev)
	case err == syscall.ENOENT && op == syscall.EPOLL_CTL_MOD:
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev)
	}
	if err != nil {
		p.s.log.Debug("cannot park connection", "client", c.client.String(), "err", err.Error())
		return false
	}
	c.inEpoll = true
	p.conns[c.fd] = c
	return true
}

// loop turns epoll events into resumed connections and sweeps expired ones.
func (p *parker) loop() {
	next := time.Now().Add(sweepEvery)
	for {
		_ = p.f.SetReadDeadline(next)
		err := p.rc.Read(p.ready)
		if err == nil {
			err = p.waitErr
		}
		switch {
		case err == nil:
			p.dispatch()
		case errors.Is(err, os.ErrDeadlineExceeded):
		default:
			// Closed (stop) or broken: parked connections are closed by
			// stop; later parks fail and connections wait in goroutines.
			p.mu.Lock()
			closed := p.closed
			p.closed = true
			p.mu.Unlock()
			if !closed {
				p.s.log.Error("idle connection parker stopped", "err", err.Error())
				p.closeAll()
			}
			return
		}
		if now := time.Now(); !now.Before(next) {
			p.sweep(now)
			next = now.Add(sweepEvery)
		}
	}
}

// wait runs inside RawConn.Read: it collects ready events without
// blocking, and asks the runtime to wait when there are none.
func (p *parker) wait(fd uintptr) bool {
	n, err := syscall.EpollWait(int(fd), p.events[:], 0)
	if err == syscall.EINTR || err == nil && n == 0 {
		return false
	}
	p.n, p.waitErr = n, err
	return true
}

func (p *parker) dispatch() {
	for i := 0; i < p.n; i++ {
		fd := int(p.events[i].Fd)
		p.mu.Lock()
		c := p.conns[fd]
		delete(p.conns, fd)
		p.mu.Unlock()
		if c != nil {
			go p.s.resume(c)
		}
	}
	p.n = 0
}

// sweep closes parked connections whose idle time is over.
func (p *parker) sweep(now time.Time) {
	p.mu.Lock()
	for fd, c := range p.conns {
		if !now.Before(c.idleUntil) {
			delete(p.conns, fd)
			p.expired = append(p.expired, c)
		}
	}
	p.mu.Unlock()
	for i, c := range p.expired {
		p.s.endConn(c)
		p.expired[i] = nil
	}
	p.expired = p.expired[:0]
}

// closeAll closes every parked connection (a drain).
func (p *parker) closeAll() {
	p.mu.Lock()
	var all []*conn
	for fd, c := range p.conns {
		delete(p.conns, fd)
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		p.s.endConn(c)
	}
}

// stop closes the parked connections and ends the loop.
func (p *parker) stop() {
	// A parker that never started never will: Once orders this with start.
	p.once.Do(func() { p.err = errStopped })
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if p.f == nil {
		return
	}
	p.closeAll()
	p.f.Close()
}

var errStopped = errors.New("parker stopped")

// rawFD returns the descriptor behind rc, -1 if there is none.
func rawFD(rc syscall.RawConn) int {
	fd := -1
	_ = rc.Control(func(s uintptr) { fd = int(s) })
	return fd
}
