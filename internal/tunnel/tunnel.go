// Package tunnel copies bytes both ways between a client and an origin for
// CONNECT, SOCKS and upgraded connections: it honours half-close, ends a
// tunnel that stays idle too long, counts bytes, and lets the kernel splice
// between TCP sockets without holding a splice pipe while the tunnel is idle.
package tunnel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options tune one tunnel.
type Options struct {
	// Idle ends the tunnel when no byte has moved either way for this long;
	// Join then returns an error that wraps ErrIdle. 0 means no idle limit.
	Idle time.Duration
	// ClientPending holds bytes the client already sent that the face read
	// ahead while parsing its request (for example sniff.Conn.Peeked); they
	// are written to the origin first and counted in Result.Up.
	ClientPending []byte
}

// Result is what moved through a tunnel: bytes written to the receiving
// side, so a byte read but never delivered is not counted.
type Result struct {
	Up   int64 // client → origin, ClientPending included
	Down int64 // origin → client
}

// ErrIdle is wrapped by the error Join returns when it ended the tunnel
// because no byte moved for Options.Idle.
var ErrIdle = errors.New("tunnel idle")

// Peer names one end of a tunnel in an *Error.
type Peer string

// The two ends of a tunnel.
const (
	Client Peer = "client"
	Origin Peer = "origin"
)

// Error is an abnormal end of one direction of a tunnel: a reset by a peer
// that had not closed first, a timeout of the kernel's keep-alive, and the
// like. Normal ends (EOF, a connection closed by Join or by the caller, a
// reset by a peer that had already sent its FIN) are not errors.
type Error struct {
	Op   string // "read", "write", or "copy" for a recovered panic
	Peer Peer   // the end that Op was done on
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("tunnel: %s %s: %v", e.Op, e.Peer, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Join copies between client and origin until both directions have ended,
// then closes both connections. When one side ends its sending half (FIN),
// the other side's sending half is closed (CloseWrite) and the other
// direction keeps going until it ends too (RFC 9293 §3.6 half-close). An
// abnormal end of either direction closes both connections at once.
//
// Pass the raw connections (*net.TCPConn, not wrappers) so that on Linux the
// kernel splices between them; any other net.Conn is copied through a pooled
// buffer. Join clears any deadline left on either connection (a header
// timeout, say): Options.Idle is the tunnel's only clock. The returned error
// is nil for normal ends; otherwise it is one or two *Error joined, or wraps
// ErrIdle.
func Join(client, origin net.Conn, o Options) (Result, error) {
	t := newTunnel(client, origin, o)
	var wg sync.WaitGroup
	wg.Add(1)
	go t.down.run(&wg)
	t.up.run(nil)
	wg.Wait()
	return t.finish()
}

// Start is Join without the wait: it copies on two new goroutines and
// returns at once; done runs, on one of them, once both directions have
// ended and both connections are closed. A face that hands its connection
// to Start can let its own goroutine end: an idle tunnel then holds only
// the two small stacks of its directions, not the stack the face grew
// while parsing the request.
func Start(client, origin net.Conn, o Options, done func(Result, error)) {
	t := newTunnel(client, origin, o)
	var left atomic.Int32
	left.Store(2)
	end := func() {
		if left.Add(-1) == 0 {
			done(t.finish())
		}
	}
	go t.down.runThen(end)
	go t.up.runThen(end)
}

func newTunnel(client, origin net.Conn, o Options) *tunnel {
	_ = client.SetDeadline(time.Time{})
	_ = origin.SetDeadline(time.Time{})
	t := &tunnel{idle: o.Idle}
	t.up = direction{t: t, src: client, dst: origin, from: Client, to: Origin, pending: o.ClientPending}
	t.down = direction{t: t, src: origin, dst: client, from: Origin, to: Client}
	if o.Idle > 0 {
		t.start = time.Now()
		t.timer = time.AfterFunc(o.Idle, t.checkIdle)
	}
	return t
}

// finish runs once both directions have ended: it stops the timers, closes
// both connections and returns what Join returns.
func (t *tunnel) finish() (Result, error) {
	t.done.Store(true)
	if t.timer != nil {
		t.timer.Stop()
	}
	t.graceOnce.Do(func() {}) // no grace timer from now on
	if t.grace != nil {
		t.grace.Stop()
	}
	t.up.src.Close()
	t.up.dst.Close()
	return Result{Up: t.up.n, Down: t.down.n}, t.err()
}

// tunnel is the state the two directions share.
type tunnel struct {
	up, down direction
	idle     time.Duration
	start    time.Time    // monotonic base for last
	last     atomic.Int64 // time since start when a byte last moved
	timer    *time.Timer  // nil without an idle limit
	idled    atomic.Bool  // checkIdle ended the tunnel
	done     atomic.Bool  // Join has returned or is returning
	aborted  sync.Once

	graceOnce sync.Once
	grace     *time.Timer // set by graceAbort
}

// touch records that bytes moved. It is an atomic store and a clock read,
// cheap enough per chunk; the timer is only re-armed when it fires.
func (t *tunnel) touch() {
	if t.timer != nil {
		t.last.Store(int64(time.Since(t.start)))
	}
}

// checkIdle runs when the idle timer fires: it ends the tunnel if nothing
// moved for t.idle, or re-arms the timer for the rest of the period. One
// timer per tunnel and no deadline resets on the hot path.
func (t *tunnel) checkIdle() {
	if t.done.Load() {
		return
	}
	quiet := time.Since(t.start) - time.Duration(t.last.Load())
	if quiet < t.idle {
		t.timer.Reset(t.idle - quiet)
		return
	}
	t.idled.Store(true)
	t.abort()
}

// abortGrace is how long the other direction may go on after one direction
// failed to write to a peer that closed its socket.
const abortGrace = time.Second

// graceAbort aborts the tunnel after abortGrace unless Join ends first.
func (t *tunnel) graceAbort() {
	t.graceOnce.Do(func() { t.grace = time.AfterFunc(abortGrace, t.abort) })
}

// abort closes both connections so that both directions stop now; blocked
// reads, writes and readiness waits return net.ErrClosed.
func (t *tunnel) abort() {
	t.aborted.Do(func() {
		t.up.src.Close()
		t.up.dst.Close()
	})
}

func (t *tunnel) err() error {
	if t.idled.Load() {
		return fmt.Errorf("tunnel: no byte moved for %v: %w", t.idle, ErrIdle)
	}
	return errors.Join(t.up.failure(), t.down.failure())
}

// direction is one way of a tunnel: it reads src and writes dst.
type direction struct {
	t        *tunnel
	src, dst net.Conn
	from, to Peer
	pending  []byte
	n        int64 // bytes written to dst
	err      *Error
	fin      atomic.Bool // src sent FIN: its reads ended with EOF
	ended    atomic.Bool // run is over (after any half-close it did)
	peek     [1]byte     // MSG_PEEK target while waiting for readability
}

// runThen runs the direction, then calls end.
func (d *direction) runThen(end func()) {
	defer end()
	d.run(nil)
}

// run copies until src ends, then half-closes dst; on an error it aborts the
// whole tunnel. It runs on its own goroutine for the down direction, so the
// stack of an idle tunnel reads tunnel.(*direction).run. A panic (in a
// wrapped conn, say) ends the tunnel with an *Error carrying the stack, for
// the caller to log with the connection's identity, instead of the process.
func (d *direction) run(wg *sync.WaitGroup) {
	if wg != nil {
		defer wg.Done()
	}
	defer func() {
		if r := recover(); r != nil {
			d.err = &Error{Op: "copy", Peer: d.from, Err: fmt.Errorf("panic: %v\n%s", r, debug.Stack())}
			d.t.abort()
		}
	}()
	d.err = d.copy()
	if d.err == nil {
		d.fin.Store(true)
		// When the other direction has ended already, Join closes both
		// sockets next and close(2) sends the FIN: a shutdown(2) first
		// would be a system call (and, on loopback, a FIN processed) for
		// nothing. The other direction read its source to EOF, so nothing
		// unread turns that close into a reset.
		if !d.other().ended.Load() {
			closeWrite(d.dst)
		}
		d.ended.Store(true)
		return
	}
	d.ended.Store(true)
	if d.err.Op == "write" && (errors.Is(d.err.Err, syscall.EPIPE) || errors.Is(d.err.Err, syscall.ECONNRESET)) {
		// The receiver has closed its socket. Whether that was a normal
		// close (it sent its FIN first) or an abort, the other direction
		// learns by reading what it sent: let it, rather than cutting it
		// off now. It ends at once (the peer is gone); the grace timer
		// only bounds a direction stuck writing to an origin that does
		// not read.
		d.t.graceAbort()
		return
	}
	d.t.abort()
}

// other returns the opposite direction of the same tunnel.
func (d *direction) other() *direction {
	if d == &d.t.up {
		return &d.t.down
	}
	return &d.t.up
}

// copy moves bytes until src reports EOF (nil) or something fails.
func (d *direction) copy() *Error {
	if len(d.pending) > 0 {
		n, err := d.dst.Write(d.pending)
		d.n += int64(n)
		d.pending = nil
		if err != nil {
			return &Error{Op: "write", Peer: d.to, Err: err}
		}
		d.t.touch()
	}
	if done, err := d.splice(); done {
		return err
	}
	return d.copyBuffer()
}

// bufPool holds the copy buffers of the non-splice path. A buffer is taken
// only once src has data (where readiness can be waited for), so an idle
// tunnel holds none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBuffer is the portable copy loop, used when either side is not a
// *net.TCPConn or the platform has no splice.
func (d *direction) copyBuffer() *Error {
	wait := d.readWaiter()
	for {
		if wait != nil {
			if err := wait(); err != nil {
				return &Error{Op: "read", Peer: d.from, Err: err}
			}
		}
		if eof, err := d.bufferRound(); eof || err != nil {
			return err
		}
	}
}

// bufferRound does one Read from src and writes what came to dst through a
// pooled buffer, held only for the round.
func (d *direction) bufferRound() (eof bool, e *Error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	n, rerr := d.src.Read(*bp)
	if n > 0 {
		d.t.touch()
		w, werr := d.dst.Write((*bp)[:n])
		d.n += int64(w)
		if werr != nil {
			return false, &Error{Op: "write", Peer: d.to, Err: werr}
		}
		d.t.touch()
	}
	if rerr == io.EOF {
		return true, nil
	}
	if rerr != nil {
		return false, &Error{Op: "read", Peer: d.from, Err: rerr}
	}
	return false, nil
}

// failure returns d.err unless it is a normal end: a connection closed by
// Join's abort or by the caller, or a reset or broken pipe from a peer that
// had already sent its FIN (it closed its socket with data still arriving).
func (d *direction) failure() error {
	if d.err == nil {
		return nil
	}
	err := d.err.Err
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		if d.t.sentFIN(d.err.Peer) {
			return nil
		}
	}
	return d.err
}

// sentFIN reports whether peer ended its sending half before.
func (t *tunnel) sentFIN(p Peer) bool {
	if p == Client {
		return t.up.fin.Load()
	}
	return t.down.fin.Load()
}

// closeWrite sends FIN on c. A connection that cannot half-close is closed
// instead: the peer still learns that no more bytes come, at the price of the
// other direction.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
