package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
)

// DefaultTimeout is the wait for the header when Options.Timeout is zero.
// The spec (§2) asks receivers to wait at least 3 seconds, to cover a TCP
// retransmission.
const DefaultTimeout = 5 * time.Second

// Options is a listener's PROXY protocol policy.
type Options struct {
	// Trusted is the set of peers (load balancers) whose header is
	// believed. Any other peer that starts with a header is refused with
	// ErrUntrusted: it could claim any address (spec §5). The zero Set
	// trusts nobody; "0.0.0.0/0" and "::/0" trust everyone.
	Trusted addrset.Set
	// Required refuses every connection that does not start with a header
	// from a trusted peer: a trusted peer's without one (ErrNoHeader), and
	// any untrusted peer's, before reading (ErrUntrusted). This is the
	// spec's model (§2: the receiver must not guess whether a header is
	// there). When false, a trusted peer may send a header or not, and an
	// untrusted peer's connection is served with its real address as long
	// as it does not start with a header.
	Required bool
	// Timeout bounds the wait for the header, or for the first bytes that
	// show there is none. Zero means DefaultTimeout.
	Timeout time.Duration
}

// Conn is an accepted connection that may start with a PROXY header. The
// header is read on first use (Read, Header, Buffered, or the address
// methods for a trusted peer) or eagerly by Accept, within Options.Timeout
// and under Options' policy; a refusal is returned by every later Read.
//
// Once the header is read, RemoteAddr and LocalAddr report its endpoints
// (as *net.TCPAddr) when it carries them (Header.Proxied), and the real
// ones otherwise. Reads return the bytes that arrived after the header
// first, then read the socket.
//
// Methods may be called concurrently as on any net.Conn. The first use
// blocks until the header is decided, so an accept loop must hand the
// Conn to the connection's own goroutine before asking its RemoteAddr.
type Conn struct {
	raw      net.Conn
	peer     netip.Addr
	trusted  bool
	required bool
	timeout  time.Duration

	once   sync.Once
	err    error // the refusal, for every Read
	hdr    Header
	remote net.Addr // from the header; nil when it has no endpoints
	local  net.Addr
	buf    []byte // bytes read past the header and not yet returned

	// The handshake sets its own read deadline; mu and the fields below
	// keep the caller's deadline and put it back. settled skips them once
	// the handshake is over.
	settled  atomic.Bool
	mu       sync.Mutex
	readDL   time.Time // the caller's read deadline
	hsDL     time.Time // the handshake's, while it runs
	inHandsh bool
}

// NewConn wraps c under o's policy without reading from it yet.
func NewConn(c net.Conn, o Options) *Conn {
	peer := peerAddr(c)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Conn{
		raw:      c,
		peer:     peer,
		trusted:  o.Trusted.Contains(peer),
		required: o.Required,
		timeout:  timeout,
	}
}

// Accept wraps c and reads its header now, within o.Timeout. On error c is
// left open for the caller to close.
func Accept(c net.Conn, o Options) (*Conn, error) {
	pc := NewConn(c, o)
	if err := pc.ready(); err != nil {
		return nil, err
	}
	return pc, nil
}

// peerAddr is the IP address of c's peer, an IPv4 peer of a dual-stack
// listener unmapped; invalid (never trusted) for a connection that is not
// over IP.
func peerAddr(c net.Conn) netip.Addr {
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	default:
		ap, _ := netip.ParseAddrPort(a.String())
		return ap.Addr().Unmap()
	}
}

// ready runs the handshake once and returns its verdict.
func (c *Conn) ready() error {
	c.once.Do(c.handshake)
	return c.err
}

// readerPool holds the buffers that headers are read through; a Conn keeps
// only the bytes that arrived past its header.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func (c *Conn) handshake() {
	defer c.settled.Store(true)
	if !c.trusted && c.required {
		c.err = fmt.Errorf("%w: %s may not connect to a listener that requires a PROXY header", ErrUntrusted, c.peer)
		return
	}
	c.beginDeadline()
	defer c.endDeadline()
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(c.raw)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	if c.trusted {
		c.err = c.readHeader(br)
	} else {
		c.err = c.refuseHeader(br)
	}
	if c.err == nil && br.Buffered() > 0 {
		b, _ := br.Peek(br.Buffered())
		c.buf = append([]byte(nil), b...)
	}
}

// readHeader reads a trusted peer's header.
func (c *Conn) readHeader(br *bufio.Reader) error {
	h, err := Read(br)
	switch {
	case errors.Is(err, ErrNoHeader):
		if c.required {
			b, _ := br.Peek(min(br.Buffered(), 16))
			return fmt.Errorf("%w from trusted peer %s on a listener that requires one: it starts %q", ErrNoHeader, c.peer, b)
		}
		return nil
	case err != nil:
		return fmt.Errorf("%w (from %s)", err, c.peer)
	}
	c.hdr = h
	if h.Proxied() {
		c.remote = net.TCPAddrFromAddrPort(h.Source)
		c.local = net.TCPAddrFromAddrPort(h.Destination)
	}
	return nil
}

// refuseHeader reads an untrusted peer's first bytes until they show
// whether they begin a signature, and refuses the connection if they do.
// Legitimate first bytes (a TLS record, a SOCKS version, an HTTP method)
// differ from both signatures at once, so this costs no extra wait.
func (c *Conn) refuseHeader(br *bufio.Reader) error {
	for need := 1; ; need = br.Buffered() + 1 {
		if _, err := br.Peek(need); err != nil {
			return fmt.Errorf("%w (from %s)", cutShort(br.Buffered(), err), c.peer)
		}
		b, _ := br.Peek(br.Buffered())
		v, more := signature(b)
		switch {
		case v != 0 && !more:
			return fmt.Errorf("%w: %s sent a version %d PROXY header but is not trusted", ErrUntrusted, c.peer, v)
		case !more:
			return nil
		}
	}
}

// earlier returns the earlier deadline, the zero time meaning none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func (c *Conn) beginDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inHandsh = true
	c.hsDL = time.Now().Add(c.timeout)
	_ = c.raw.SetReadDeadline(earlier(c.readDL, c.hsDL))
}

func (c *Conn) endDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inHandsh = false
	_ = c.raw.SetReadDeadline(c.readDL)
}

// Header returns the header the connection started with: the zero Header
// when it had none (an untrusted peer's, or a trusted peer's on a listener
// that does not require one). It blocks for the handshake on first use.
func (c *Conn) Header() (Header, error) {
	err := c.ready()
	return c.hdr, err
}

// Read reads the bytes after the header.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.ready(); err != nil {
		return 0, err
	}
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		if len(c.buf) == 0 {
			c.buf = nil
		}
		return n, nil
	}
	return c.raw.Read(p)
}

// Write writes to the connection; it does not wait for the header.
func (c *Conn) Write(p []byte) (int, error) { return c.raw.Write(p) }

// Close closes the connection.
func (c *Conn) Close() error { return c.raw.Close() }

// CloseWrite shuts down the sending side, when the connection can (a
// *net.TCPConn does), so tunnels can half-close through a Conn.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("proxyproto: %T cannot half-close", c.raw)
}

// RemoteAddr returns the client's address: the header's source when it
// has one, the peer's address otherwise. For a trusted peer it blocks for
// the handshake on first use.
func (c *Conn) RemoteAddr() net.Addr {
	if c.trusted && c.ready() == nil && c.remote != nil {
		return c.remote
	}
	return c.raw.RemoteAddr()
}

// LocalAddr returns the address the client connected to: the header's
// destination when it has one, the socket's own address otherwise.
func (c *Conn) LocalAddr() net.Addr {
	if c.trusted && c.ready() == nil && c.local != nil {
		return c.local
	}
	return c.raw.LocalAddr()
}

// SetDeadline sets the read and write deadlines (see SetReadDeadline).
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.raw.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline. During the handshake the
// earlier of it and the header timeout applies; the handshake then puts
// this one back.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.settled.Load() {
		return c.raw.SetReadDeadline(t)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDL = t
	if c.inHandsh {
		t = earlier(t, c.hsDL)
	}
	return c.raw.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// Raw returns the accepted connection (a *net.TCPConn from a TCP
// listener), for tunnels that splice. Its RemoteAddr is the peer's, not
// the client's. A caller that reads Raw directly must first send on the
// bytes of Buffered, and read no more from the Conn.
func (c *Conn) Raw() net.Conn { return c.raw }

// Buffered returns the bytes that arrived after the header and that Read
// has not yet returned; they alias the Conn's buffer. It blocks for the
// handshake on first use, and is nil after a refusal.
func (c *Conn) Buffered() []byte {
	if c.ready() != nil {
		return nil
	}
	return c.buf
}

// WriteTo copies the connection's bytes to w until EOF: the buffered
// bytes, then the socket's through io.Copy, so that a *net.TCPConn w
// splices from the socket (io.Copy prefers WriteTo when it exists).
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if err := c.ready(); err != nil {
		return 0, err
	}
	var n int64
	if len(c.buf) > 0 {
		m, err := w.Write(c.buf)
		n += int64(m)
		c.buf = c.buf[m:]
		if err != nil {
			return n, err
		}
		c.buf = nil
	}
	m, err := io.Copy(w, c.raw)
	return n + m, err
}

// ReadFrom copies r to the connection's socket until EOF, so that a
// *net.TCPConn r splices to it.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.raw, r)
}

// Listener wraps every connection a listener accepts in a Conn. Accept
// returns at once; each Conn reads its header on first use.
type Listener struct {
	net.Listener
	Options Options
}

// Accept accepts the next connection and wraps it without reading.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewConn(c, l.Options), nil
}

var (
	_ net.Conn      = (*Conn)(nil)
	_ io.WriterTo   = (*Conn)(nil)
	_ io.ReaderFrom = (*Conn)(nil)
	_ net.Listener  = (*Listener)(nil)
)
