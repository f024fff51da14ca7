package http1

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// ClientConn is a connection to an origin with its buffered reader and
// writer. While it sits idle in a Pool its buffers are back in the shared
// pool.
type ClientConn struct {
	Conn   *net.TCPConn
	Addr   netip.Addr // the origin's address, for re-checking policy on reuse
	R      Reader
	W      Writer
	Reused bool // it came from a Pool (it served a request before)
	// MaxIdle and IdleTimeout, when set, replace the Pool's MaxIdlePerKey
	// and IdleTimeout for this connection's key (an upstream's own
	// keep-alive settings).
	MaxIdle     int
	IdleTimeout time.Duration

	key       string
	idleSince time.Time
	rc        syscall.RawConn
	peekFn    func(fd uintptr)
	stale     bool
}

// NewClientConn wraps a fresh connection to an origin. key names the
// destination it is pooled under (host:port as the client named it).
func NewClientConn(c *net.TCPConn, key string) *ClientConn {
	cc := &ClientConn{Conn: c, key: key}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		cc.Addr = ap.Addr().Unmap()
	}
	cc.R.Reset(c)
	cc.W.Reset(c)
	if rc, err := c.SyscallConn(); err == nil {
		cc.rc = rc
	}
	return cc
}

// Key returns the destination key the connection is pooled under.
func (c *ClientConn) Key() string { return c.key }

// Close releases the buffers and closes the connection.
func (c *ClientConn) Close() error {
	c.R.drop()
	c.W.drop()
	return c.Conn.Close()
}

// Pool keeps idle keep-alive connections to origins, keyed by destination.
// The zero value is ready to use with the defaults. It is safe for
// concurrent use.
type Pool struct {
	// MaxIdlePerKey bounds the idle connections kept per destination; 0
	// means 64. When full, the longest idle one is closed.
	MaxIdlePerKey int
	// IdleTimeout closes connections idle longer than this; 0 means 90s
	// (origins commonly close after 60 to 120s; a reuse racing the origin's
	// close is caught by the staleness check and the retry).
	IdleTimeout time.Duration

	mu      sync.Mutex
	idle    map[string][]*ClientConn
	count   int
	closed  bool
	sweeper bool // a sweep goroutine runs
	wake    chan struct{}
}

func (p *Pool) maxIdle() int {
	if p.MaxIdlePerKey > 0 {
		return p.MaxIdlePerKey
	}
	return 64
}

func (p *Pool) timeout() time.Duration {
	if p.IdleTimeout > 0 {
		return p.IdleTimeout
	}
	return 90 * time.Second
}

func (c *ClientConn) maxIdle(p *Pool) int {
	if c.MaxIdle > 0 {
		return c.MaxIdle
	}
	return p.maxIdle()
}

func (c *ClientConn) timeout(p *Pool) time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return p.timeout()
}

// Get returns an idle connection to key, most recently used first, or nil.
// It closes the expired and stale ones it meets on the way.
func (p *Pool) Get(key []byte) *ClientConn {
	now := time.Now()
	for {
		p.mu.Lock()
		stack := p.idle[string(key)]
		if len(stack) == 0 {
			p.mu.Unlock()
			return nil
		}
		c := stack[len(stack)-1]
		stack[len(stack)-1] = nil
		p.idle[c.key] = stack[:len(stack)-1]
		p.count--
		p.mu.Unlock()
		if now.Sub(c.idleSince) > c.timeout(p) || c.isStale() {
			c.Close()
			continue
		}
		c.Reused = true
		return c
	}
}

// Put offers c for reuse. Connections with unread bytes (the origin said
// more than its response) or unflushed ones are closed, as are all once the
// pool is closed. It reports whether c was kept.
func (p *Pool) Put(c *ClientConn) bool {
	if c.R.Buffered() != 0 || c.W.Buffered() != 0 || c.W.Err() != nil {
		c.Close()
		return false
	}
	c.R.Release()
	c.W.Release()
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return false
	}
	if p.idle == nil {
		p.idle = make(map[string][]*ClientConn)
	}
	stack := p.idle[c.key]
	var evicted *ClientConn
	if len(stack) >= c.maxIdle(p) {
		evicted = stack[0]
		copy(stack, stack[1:])
		stack = stack[:len(stack)-1]
		p.count--
	}
	p.idle[c.key] = append(stack, c)
	p.count++
	if !p.sweeper {
		p.sweeper = true
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		go p.sweep(p.wake)
	}
	p.mu.Unlock()
	if evicted != nil {
		evicted.Close()
	}
	return true
}

// Len returns the number of idle connections.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Close closes every idle connection; later Puts close theirs.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.count = 0
	if p.wake != nil && p.sweeper {
		close(p.wake)
		p.wake = nil
	}
	p.mu.Unlock()
	for _, stack := range idle {
		for _, c := range stack {
			c.Close()
		}
	}
}

// sweep closes expired connections from time to time, so that idle
// connections do not hold descriptors long after the origin forgot them. It
// ends when the pool is empty or closed.
func (p *Pool) sweep(wake <-chan struct{}) {
	// At most 5s apart: connections may carry idle timeouts of their own,
	// shorter than the pool's.
	interval := max(min(p.timeout()/4, 5*time.Second), time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-wake:
			return
		case <-t.C:
		}
		var expired []*ClientConn
		now := time.Now()
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		for key, stack := range p.idle {
			kept := stack[:0]
			for _, c := range stack {
				if now.Sub(c.idleSince) > c.timeout(p) {
					expired = append(expired, c)
				} else {
					kept = append(kept, c)
				}
			}
			clear(stack[len(kept):])
			p.count -= len(stack) - len(kept)
			if len(kept) == 0 {
				delete(p.idle, key)
			} else {
				p.idle[key] = kept
			}
		}
		done := p.count == 0
		if done {
			p.sweeper = false
		}
		p.mu.Unlock()
		for _, c := range expired {
			c.Close()
		}
		if done {
			return
		}
	}
}
