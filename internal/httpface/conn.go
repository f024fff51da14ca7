package httpface

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/reverse"
	"github.com/janus-proxy/janus/internal/sniff"
)

// Connection states, for Shutdown.
const (
	stateActive int32 = iota
	stateIdle
)

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection. Its messages and buffers are reused from
// one request to the next and, through connPool, from one connection to the
// next, so that a steady stream of requests allocates nothing.
type conn struct {
	s      *Server
	sc     *sniff.Conn
	raw    net.Conn     // the accepted connection, for deadlines and tunnels
	tcp    *net.TCPConn // raw as TCP, nil if it is not
	client netip.AddrPort
	ipText []byte // the client's address in text, for X-Forwarded-For
	fd     int    // the raw socket's descriptor once direct, else -1 (for parking)
	state  atomic.Int32

	// Parking (ServeParked): done runs once the connection is closed;
	// idleUntil ends the current keep-alive wait; resumed marks a wait
	// that continues after the parker woke the connection.
	done      func()
	idleUntil time.Time
	resumed   bool
	inEpoll   bool      // registered with the parker's epoll instance
	waitStart time.Time // when the current keep-alive wait began
	busy      bool      // the last wait ended within parkAfter: a client in a hurry

	r   http1.Reader
	w   http1.Writer
	m   *messages // nil while the connection waits for a request
	wdl time.Time // the client's write deadline

	// Per-request results, for the access log and keep-alive decisions.
	x exchange

	// A tunnel (CONNECT, upgrade) runs on goroutines of its own: detached
	// marks that the serving goroutine handed the connection over, and
	// tunnelRefs counts who still uses c (that goroutine until it is done
	// with c, the tunnel until it has logged); the last one ends c.
	detached   bool
	tunnelRefs atomic.Int32

	// stripAuthorization drops the Authorization field from the request
	// sent upstream: a route's Basic auth consumed it.
	stripAuthorization bool

	// Strings that usually repeat on a connection, kept so that repeats
	// cost a comparison rather than an allocation.
	strs     stringCache
	authRaw  []byte         // the Proxy-Authorization value last verified
	authUser *gate.Identity // who it identified
}

// messages is the storage of one exchange. A connection holds it only
// while it serves a request; between requests it goes back to a pool, so
// an idle connection keeps none of it, and a busy server reuses the same
// few without allocating.
type messages struct {
	req      httpmsg.RequestHead // as the client sent it; never changed
	body     http1.Body          // the request's content
	out      httpmsg.RequestHead // the copy sent to the origin
	resp     httpmsg.ResponseHead
	rout     httpmsg.ResponseHead // the copy sent to the client
	rb       http1.Body           // the response's content
	trl      httpmsg.Header       // trailer fields on their way on
	entry    observe.Entry
	keyBuf   []byte
	tgtBuf   []byte
	params   reverse.Params // what the route table learned (reverse face)
	reply    reverse.Reply  // a redirect or fixed response of a route's
	tries    tries          // the targets of a reverse-face request
	pumpDone chan pumpResult

	// The cache's view of this exchange (only used when the request goes
	// through the cache).
	creq    cache.Request
	cres    cache.Result
	fw      flushWriter
	cw      http1.ChunkedWriter
	refresh *cache.Fill // a stale-while-revalidate refresh won by this request
}

var messagesPool = sync.Pool{New: func() any { return new(messages) }}

// takeMessages gives the connection storage for an exchange.
func (c *conn) takeMessages() {
	if c.m == nil {
		c.m = messagesPool.Get().(*messages)
	}
}

// dropMessages returns the exchange storage to the pool, keeping nothing
// that points back at this connection.
func (c *conn) dropMessages() {
	m := c.m
	if m == nil {
		return
	}
	c.m = nil
	m.body.Reset(nil, http1.Framing{}, 400, 0)
	m.rb.Reset(nil, http1.Framing{}, 502, 0)
	m.entry = observe.Entry{}
	m.tries = tries{}
	if m.req.Header.Len() > 128 || cap(m.keyBuf) > 4096 || cap(m.tgtBuf) > 16<<10 {
		return // unusually large: let it go rather than pin it
	}
	messagesPool.Put(m)
}

// exchange is what one request did.
type exchange struct {
	start     time.Time
	status    int
	rule      string
	user      string
	err       string
	up, down  int64
	closeConn bool           // the client connection must close after this exchange
	route     *reverse.Route // the reverse face's route; nil for the forward face
	upstream  *Upstream      // the route's upstream, for a proxy route
	denied    bool           // a gate rule refused it (403) or asked for credentials (401, 407)
	limited   bool           // a rate, concurrency or quota limit refused it
	cache     *cache.Cache   // the cache this request went through; nil when none
	fill      *cache.Fill    // the cache fill this request leads; nil when none
	sent      time.Time      // when a request leading a fill went upstream (RFC 9111 §4.2.3)
	// What limits a CONNECT tunnel's bytes, and how to give it back.
	shape      limit.ConnOptions
	putBuckets func()
	metered    bool // the bytes were charged to quotas as they moved
	shaped     bool // the client's reads and writes go through limits (shapeBodies)
	// unhold gives back a route's concurrency-limit slots.
	unhold func()
	// authCopy holds the fields (name, value, ...) a forward-auth answer
	// sends upstream.
	authCopy []string
}

var connPool = sync.Pool{New: func() any { return new(conn) }}

func (s *Server) newConn(sc *sniff.Conn) *conn {
	c := connPool.Get().(*conn)
	c.s = s
	c.sc = sc
	c.raw = sc.Raw
	if c.raw == nil {
		c.raw = sc.Conn
	}
	c.tcp, _ = c.raw.(*net.TCPConn)
	if c.sc.Conn != c.raw {
		// Something wraps the socket (a limiter, a counter): always read
		// through it.
		c.tcp = nil
	}
	c.fd = -1
	c.done = nil
	c.resumed = false
	c.inEpoll = false
	c.busy = false
	c.client = sniff.AddrPort(c.raw.RemoteAddr())
	c.ipText = c.client.Addr().AppendTo(c.ipText[:0])
	c.state.Store(stateActive)
	c.r.Reset(sc)
	c.w.Reset(c.raw)
	if c.tcp != nil {
		// Take the sniffed bytes over and read the socket itself from the
		// start: one read fewer per connection, splice for bodies, and
		// idle waits without a buffer.
		c.r.Prime(sc.Peeked)
		sc.Peeked = nil
		c.goDirect()
	}
	return c
}

func (s *Server) endConn(c *conn) {
	s.untrack(c)
	c.r.Reset(nil)
	c.w.Reset(nil)
	c.raw.Close()
	if c.done != nil {
		c.done()
	}
	// Drop references that would keep the connection or identities alive,
	// then recycle the storage.
	c.s, c.sc, c.raw, c.tcp, c.done = nil, nil, nil, nil, nil
	c.detached = false
	c.authRaw, c.authUser = c.authRaw[:0], nil
	c.strs = stringCache{}
	c.dropMessages()
	c.x = exchange{}
	c.wdl = time.Time{}
	connPool.Put(c)
}

// wake interrupts an idle wait (Shutdown).
func (c *conn) wake() { _ = c.raw.SetReadDeadline(aLongTimeAgo) }

// serve reads and answers requests until the connection ends, or until
// it is parked (it reports true then, and must not touch c again: another
// goroutine may already be serving it).
func (c *conn) serve(first bool) (parked bool) {
	s := c.s
	for {
		switch c.waitRequest(first) {
		case waitClose:
			return false
		case waitPark:
			if s.parker.park(c) {
				return true
			}
			// Parking is not available: wait here for the rest of the idle
			// time.
			if !c.waitRest() {
				return false
			}
		}
		first = false
		c.takeMessages()
		c.x = exchange{start: time.Now()}
		f, err := http1.ReadRequest(&c.r, &c.m.req, s.limits)
		if err != nil {
			c.badRequest(err)
			return false
		}
		if !c.handle(f) {
			return false
		}
		if s.shutting.Load() {
			return false
		}
	}
}

// goDirect makes the reader read the raw socket.
func (c *conn) goDirect() {
	c.r.SetSource(c.tcp)
	if rc, err := c.tcp.SyscallConn(); err == nil {
		c.r.SetRawConn(rc)
		c.fd = rawFD(rc)
	}
}

// badRequest answers a head that could not be read, then the connection
// closes (where the next request would start is unknown). A connection
// that ended or timed out before a byte closes without a word.
func (c *conn) badRequest(err error) {
	var he *http1.Error
	if !errors.As(err, &he) {
		return
	}
	c.x.closeConn = true
	c.reply(he.Status, he.Msg, nil)
	c.logError(he.Msg)
}

// handle serves one request and reports whether the connection goes on.
func (c *conn) handle(f http1.Framing) bool {
	s := c.s
	c.m.body.Reset(&c.r, f, 400, s.o.MaxHeaderBytes)
	if s.o.H2C && c.upgradeH2C(f) {
		return false // the connection went on in HTTP/2 and has ended
	}
	if s.o.Cache != nil && httpmsg.EqualFold(c.m.req.Method, "PURGE") {
		return c.purge()
	}
	switch {
	case c.m.req.Form == httpmsg.AuthorityForm:
		if !s.o.AllowCONNECT {
			return c.refuse(405, "CONNECT is not enabled on this listener")
		}
		return c.connect(f)
	case c.m.req.Form != httpmsg.AbsoluteForm && s.o.Routes != nil:
		// Origin-form: the reverse face's routes decide.
		return c.route(f)
	case s.o.Routes != nil && !s.o.AllowHTTP:
		// Absolute-form where there is no forward face: a server must
		// accept it and take the host from the target, not from Host (RFC
		// 9112 §3.2.2). The routes read it so, and the origin is sent it as
		// Host, so that the two cannot name different sites.
		if !httpmsg.EqualFold(c.m.req.Scheme, "http") && !httpmsg.EqualFold(c.m.req.Scheme, "https") {
			return c.refuse(400, "unsupported URI scheme")
		}
		return c.route(f)
	case c.m.req.Form != httpmsg.AbsoluteForm:
		// Origin-form or asterisk-form: this is a proxy, not a web server.
		return c.refuse(400, "not a proxy request: the target must be an absolute http:// URI or CONNECT host:port")
	case !s.o.AllowHTTP:
		return c.refuse(405, "HTTP proxying is not enabled on this listener")
	case httpmsg.EqualFold(c.m.req.Scheme, "https"):
		return c.refuse(400, "https:// targets are not proxied; use CONNECT")
	case !httpmsg.EqualFold(c.m.req.Scheme, "http"):
		return c.refuse(400, "unsupported URI scheme")
	}
	return c.proxy(f)
}

// refuse answers a request with an error of ours and logs it. The
// connection goes on only if the request had no content to skip and was
// not a 400: a client that sends origin-form or https:// targets to a
// forward proxy is talking to the wrong port.
func (c *conn) refuse(status int, msg string) bool {
	if status == 400 {
		c.x.closeConn = true
	}
	c.x.status = status
	c.reply(status, msg, nil)
	c.logError(msg)
	return !c.x.closeConn
}

// reply writes a short text/plain response of ours. extra adds fields.
// The connection closes after it if the client does not want it kept, a
// drain began, or request content is left unread: where the next request
// would start is then unknown.
func (c *conn) reply(status int, msg string, extra func(*httpmsg.Header)) {
	s := c.s
	c.x.status = status
	if !c.clientKeepAlive() || s.shutting.Load() || !c.m.body.Done() {
		c.x.closeConn = true
	}
	h := &c.m.rout
	h.Reset()
	h.Version = httpmsg.HTTP11
	h.Status = status
	h.Header.AddString("Content-Type", "text/plain; charset=utf-8")
	var num [20]byte
	h.Header.SetBytes("Content-Length", appendInt(num[:0], int64(len(msg)+1)))
	if extra != nil {
		extra(&h.Header)
	}
	c.responseRules(&h.Header, s.via11)
	if c.x.closeConn {
		h.Header.AddString("Connection", "close")
	} else if !c.m.req.Version.AtLeast(1, 1) {
		h.Header.AddString("Connection", "keep-alive")
	}
	c.extendWrite()
	c.w.WriteResponseHead(h)
	if !httpmsg.EqualFold(c.m.req.Method, "HEAD") {
		c.w.WriteString(msg)
		c.w.WriteString("\n")
	}
	if err := c.w.Flush(); err != nil {
		c.x.closeConn = true
	}
}

// clientKeepAlive reports whether the client wants the connection kept
// (RFC 9112 §9.3): HTTP/1.1 unless it says close; HTTP/1.0 only when it
// asks for keep-alive. Proxy-Connection, which old clients send to proxies
// instead of Connection, counts the same.
func (c *conn) clientKeepAlive() bool {
	h := &c.m.req.Header
	if c.m.req.Version.AtLeast(1, 1) {
		return !h.HasToken("Connection", "close") && !h.HasToken("Proxy-Connection", "close")
	}
	return h.HasToken("Connection", "keep-alive") || h.HasToken("Proxy-Connection", "keep-alive")
}

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isClosedBeforeResponse reports whether err says an origin connection was
// closed or reset: on a reused connection that read nothing, the origin
// most likely closed it while idle.
func isClosedBeforeResponse(err error) bool {
	return err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func appendInt(b []byte, n int64) []byte {
	if n == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}

func stack() string {
	buf := make([]byte, 8<<10)
	return string(buf[:runtime.Stack(buf, false)])
}
