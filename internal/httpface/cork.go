package httpface

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"time"
)

// corkConn batches an HTTP/2 connection's writes. internal/h2server writes
// every frame as it is made, which with many streams finishing one after
// the other would be a write system call (and a TLS record) per frame:
// most of the CPU time of a busy HTTP/2 front. corkConn takes those writes
// into a buffer and writes it
// from a goroutine that first lets every other runnable goroutine run, so
// that the responses finished meanwhile leave in one write, as an event
// loop server writes all ready streams at once. A writer waits only when
// maxCork bytes are already waiting; a write error is returned by the next
// Write.
type corkConn struct {
	net.Conn
	mu       sync.Mutex
	drained  sync.Cond // signalled when a flush ends
	buf      []byte    // waiting to be written
	spare    []byte    // the buffer being written, reused next
	flushing bool      // a flush goroutine runs
	err      error     // the first write error
}

// maxCork bounds what waits in a corkConn before writers block; keepCork
// is the most a connection with nothing to write keeps of its buffers.
const (
	maxCork  = 256 << 10
	keepCork = 16 << 10
)

// corkTLSConn is a corkConn over TLS: http2 reads the connection state
// through it.
type corkTLSConn struct {
	*corkConn
	tc connectionStater
}

type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

func (c corkTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// cork wraps c for an HTTP/2 server.
func cork(c net.Conn) net.Conn {
	cc := &corkConn{Conn: c}
	cc.drained.L = &cc.mu
	if tc, ok := c.(connectionStater); ok {
		return corkTLSConn{corkConn: cc, tc: tc}
	}
	return cc
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && len(c.buf) >= maxCork {
		c.drained.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

// flush writes what waits until nothing does.
func (c *corkConn) flush() {
	for {
		// Let the goroutines that are about to write (handlers finishing,
		// the serve loop) do so first.
		runtime.Gosched()
		c.mu.Lock()
		if len(c.buf) == 0 || c.err != nil {
			c.flushing = false
			c.buf = c.buf[:0]
			// An idle connection keeps small buffers only: one that once
			// sent a large response must not hold it until it closes.
			if cap(c.buf) > keepCork {
				c.buf = nil
			}
			if cap(c.spare) > keepCork {
				c.spare = nil
			}
			c.drained.Broadcast()
			c.mu.Unlock()
			return
		}
		b := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(b)
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		c.spare = b[:0]
		c.drained.Broadcast()
		c.mu.Unlock()
	}
}

// Close writes what waits (for at most a second), then closes.
func (c *corkConn) Close() error {
	c.mu.Lock()
	if c.flushing {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		for c.flushing {
			c.drained.Wait()
		}
	}
	c.mu.Unlock()
	return c.Conn.Close()
}
