package limit

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by a limited Read or Write whose wait was cut
// short because the connection (or the done channel) closed.
var ErrClosed = errors.New("limit: closed while waiting for bandwidth")

// A Meter is charged with the bytes a wrapped connection moves, both
// ways (a traffic quota's account). A non-nil error from Charge ends the
// Read or Write that moved the bytes with that error; the bytes already
// moved are still counted.
type Meter interface {
	Charge(n int64) error
}

// waiter sleeps on one reused timer, or until done closes.
type waiter struct {
	timer *time.Timer
	done  <-chan struct{}
}

func (w *waiter) wait(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d) // Go ≥1.23: no stale tick survives Reset
	}
	select {
	case <-w.timer.C:
		return nil
	case <-w.done:
		w.timer.Stop()
		return ErrClosed
	}
}

// Reader limits reads from R to the chain's rate and charges them to a
// meter. Each Read reads at most one chunk, then waits for it.
type Reader struct {
	R     io.Reader
	chain Chain
	m     Meter
	w     waiter
}

// NewReader returns r limited by c and charged to m (may be nil), or r
// itself when neither applies. done (may be nil) cuts a wait short: close
// it when the body's request is abandoned.
func NewReader(r io.Reader, c Chain, m Meter, done <-chan struct{}) io.Reader {
	if c.Unlimited() && m == nil {
		return r
	}
	return &Reader{R: r, chain: c, m: m, w: waiter{done: done}}
}

func (r *Reader) Read(p []byte) (int, error) {
	if !r.chain.Unlimited() {
		if k := r.chain.chunk(); len(p) > k {
			p = p[:k]
		}
	}
	n, err := r.R.Read(p)
	if n > 0 {
		if r.m != nil {
			if merr := r.m.Charge(int64(n)); merr != nil {
				return n, merr
			}
		}
		if !r.chain.Unlimited() {
			if werr := r.w.wait(r.chain.reserve(n)); werr != nil {
				return n, werr
			}
		}
	}
	return n, err
}

// Writer limits writes to W to the chain's rate, chunk by chunk, and
// charges them to a meter.
type Writer struct {
	W     io.Writer
	chain Chain
	m     Meter
	w     waiter
}

// NewWriter returns w limited by c and charged to m (may be nil), or w
// itself when neither applies.
func NewWriter(w io.Writer, c Chain, m Meter, done <-chan struct{}) io.Writer {
	if c.Unlimited() && m == nil {
		return w
	}
	return &Writer{W: w, chain: c, m: m, w: waiter{done: done}}
}

func (w *Writer) Write(p []byte) (int, error) {
	return limitedWrite(w.W, p, w.chain, &w.w, w.m)
}

func limitedWrite(dst io.Writer, p []byte, c Chain, w *waiter, m Meter) (int, error) {
	k := len(p)
	if !c.Unlimited() {
		k = c.chunk()
	}
	written := 0
	for len(p) > 0 {
		q := p[:min(k, len(p))]
		if !c.Unlimited() {
			if err := w.wait(c.reserve(len(q))); err != nil {
				return written, err
			}
		}
		n, err := dst.Write(q)
		written += n
		p = p[n:]
		if m != nil && n > 0 {
			if merr := m.Charge(int64(n)); merr != nil && err == nil {
				err = merr
			}
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// ConnOptions say what applies to a wrapped connection.
type ConnOptions struct {
	Read  Chain // limits bytes read from the connection (from the client: upload)
	Write Chain // limits bytes written to it (to the client: download)
	Meter Meter // nil: no quota; else charged with every byte both ways
}

// Passthrough reports whether nothing applies, so that the caller keeps
// the raw connection (and the kernel's splice between TCP sockets).
func (o ConnOptions) Passthrough() bool {
	return o.Read.Unlimited() && o.Write.Unlimited() && o.Meter == nil
}

// Conn is a net.Conn whose reads and writes are limited and metered.
// Give it to tunnel.Join in place of the client connection: the tunnel's
// copy loop then runs through it (no splice), half-close and idle timeout
// still work, and Close cuts any bandwidth wait short.
type Conn struct {
	net.Conn
	o         ConnOptions
	rw, ww    waiter
	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// WrapConn wraps c with o, or returns c itself when o.Passthrough().
func WrapConn(c net.Conn, o ConnOptions) net.Conn {
	if o.Passthrough() {
		return c
	}
	lc := &Conn{Conn: c, o: o, closed: make(chan struct{})}
	lc.rw.done, lc.ww.done = lc.closed, lc.closed
	return lc
}

func (c *Conn) Read(p []byte) (int, error) {
	if !c.o.Read.Unlimited() {
		if k := c.o.Read.chunk(); len(p) > k {
			p = p[:k]
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if c.o.Meter != nil {
			if merr := c.o.Meter.Charge(int64(n)); merr != nil {
				return n, merr
			}
		}
		if !c.o.Read.Unlimited() {
			if werr := c.rw.wait(c.o.Read.reserve(n)); werr != nil {
				return n, werr
			}
		}
	}
	return n, err
}

func (c *Conn) Write(p []byte) (int, error) {
	return limitedWrite(c.Conn, p, c.o.Write, &c.ww, c.o.Meter)
}

// Close closes the connection and ends any wait in Read or Write.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// CloseWrite half-closes the connection when it can (TCP), so a tunnel
// through a limited connection keeps RFC 9293 §3.6 half-close.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// CloseRead shuts the reading half when it can.
func (c *Conn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return nil
}

// Unwrap returns the wrapped connection.
func (c *Conn) Unwrap() net.Conn { return c.Conn }
