package httpface

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/http1"
)

// A request that leads a cache fill (issue 4: "a slow client does not slow
// the store") does not copy the upstream's content to its client itself:
// once the response is to be stored, a fillCopy goroutine copies the
// upstream into the Fill at the upstream's pace, and the leader reads the
// object back at its client's pace, as every collapsed follower does. The
// content is never held whole: the object spills to a disk file past the
// memory object limit. If the upstream dies mid-body the fill is aborted
// and every reader, the leader too, is cut after what did arrive. If the
// leader's client goes away the copy goes on for the store and the
// followers. If storing fails (the object outgrew the tiers, a disk
// error) while the upstream is fine, the copy hands the upstream back to
// the leader, which relays the rest itself as without a cache; with the
// leader gone too, nobody wants the content and the upstream is dropped.

// fillSource is upstream content a fillCopy reads: the http1 engine's body
// on a pooled connection, or a net/http response body.
type fillSource interface {
	// next returns content bytes, reading when none are pending; they
	// stay pending until consume. At the clean end it returns io.EOF.
	next() ([]byte, error)
	consume(n int)
	// release lets the upstream go: pooled again when whole is set and
	// the connection allows it, closed otherwise.
	release(whole bool)
}

// fillCopy is the goroutine that copies one upstream response into the
// cache while its leader serves the object to its own client.
type fillCopy struct {
	src  fillSource
	fill *cache.Fill
	end  chan struct{} // closed when run no longer touches src

	mu         sync.Mutex
	leaderGone bool // the leader's client went away: nobody to hand back to
	handedBack bool // storing failed: src is the leader's to relay
}

// run copies src into the fill: Commit at the clean end, Abort when the
// upstream fails. Storing that fails with the upstream fine hands src
// back to the leader (or drops it, the leader being gone).
func (fc *fillCopy) run() {
	defer close(fc.end)
	f := fc.fill
	for {
		chunk, err := fc.src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Abort(err)
			fc.src.release(false)
			return
		}
		_, _ = f.Write(chunk)
		if f.Failed() != nil {
			// The chunk stays pending: the leader relays it.
			fc.handBack()
			return
		}
		fc.src.consume(len(chunk))
	}
	if f.Commit() != nil {
		fc.handBack() // whole, but not stored: the leader ends the relay
		return
	}
	fc.src.release(true)
}

// handBack gives src to the leader, or drops it when the leader is gone.
func (fc *fillCopy) handBack() {
	fc.mu.Lock()
	gone := fc.leaderGone
	fc.handedBack = !gone
	fc.mu.Unlock()
	if gone {
		fc.src.release(false)
	}
}

// lead sends the object to the leader's client through w while run fills
// it. It reports back when the leader must relay the rest of src itself
// (storing failed; everything stored so far was sent). err is the
// client's write error, or one wrapping cache.ErrAborted when the
// upstream was cut: the response must then be cut too. When lead returns
// without error run is done with src.
func (fc *fillCopy) lead(res *cache.Result, w io.Writer) (n int64, back bool, err error) {
	n, err = res.WriteBody(w)
	res.Close()
	if err == nil || errors.Is(err, cache.ErrAborted) {
		<-fc.end
		fc.mu.Lock()
		back = fc.handedBack
		fc.mu.Unlock()
		if back {
			return n, true, nil
		}
		return n, false, err
	}
	// The client is gone; the copy goes on for the store and the
	// followers, unless it already handed src back.
	fc.mu.Lock()
	fc.leaderGone = true
	back = fc.handedBack
	fc.mu.Unlock()
	if back {
		fc.src.release(false)
	}
	return n, false, err
}

// startFill hands the copy of src into f to a goroutine, and makes res
// read the object f stores.
func startFill(f *cache.Fill, src fillSource, res *cache.Result) *fillCopy {
	fc := &fillCopy{src: src, fill: f, end: make(chan struct{})}
	f.Follow(res)
	go fc.run()
	return fc
}

// h1Source is a response body read by the http1 engine from a pooled
// upstream connection.
type h1Source struct {
	s         *Server
	oc        *http1.ClientConn
	fr        http1.Framing
	keepAlive bool // the origin lets the connection be reused
	body      http1.Body
}

func newH1Source(s *Server, oc *http1.ClientConn, fr http1.Framing, keepAlive bool) *h1Source {
	src := &h1Source{s: s, oc: oc, fr: fr, keepAlive: keepAlive}
	src.body.Reset(&oc.R, fr, 502, s.o.MaxHeaderBytes)
	return src
}

func (h *h1Source) next() ([]byte, error) {
	if h.oc.R.Buffered() == 0 {
		// The copy is bounded by the upstream's progress, not the
		// client's: IdleTimeout without a byte ends it.
		_ = h.oc.Conn.SetReadDeadline(time.Now().Add(h.s.o.IdleTimeout))
	}
	return h.body.Next()
}

func (h *h1Source) consume(n int) { h.body.Consume(n) }

func (h *h1Source) release(whole bool) {
	if whole && h.body.Done() && h.fr.Kind != http1.CloseBody && h.keepAlive {
		h.s.pool.Put(h.oc)
		return
	}
	h.oc.Close()
}

// bodyComplete reports whether a response's content is all in oc's read
// buffer already: storing it then takes no waiting, and the relay goes on
// as without a cache.
func bodyComplete(oc *http1.ClientConn, rb *http1.Body, fr http1.Framing) bool {
	return rb.Done() || fr.Kind == http1.LengthBody && int64(oc.R.Buffered()) >= fr.Length
}

// storeBuffered stores a response whose content is all buffered (see
// bodyComplete) before the relay sends it: the next request finds it
// even while this client is still reading. The content stays in rb.
func storeBuffered(f *cache.Fill, rb *http1.Body) {
	if !rb.Done() {
		chunk, err := rb.Next()
		if err != nil {
			f.Abort(err)
			return
		}
		_, _ = f.Write(chunk)
	}
	_ = f.Commit()
}

// relayFill relays the content of a response this request leads a fill
// for on the HTTP/1.1 front (see fillCopy). It reports detached when the
// fill's goroutine took oc over and the client got the content (or as
// much as there was: err then says why it was cut); otherwise the caller
// relays c.m.rb from oc as usual, the fill being done.
func (c *conn) relayFill(oc *http1.ClientConn, fr http1.Framing, chunkedOut bool, snd *sending) (detached bool, err error) {
	f := c.x.fill
	if f == nil {
		return false, nil
	}
	if snd.pumping {
		// Request content is still on its way up on oc, and the relay
		// must wait for it: relayed (and stored) as it comes.
		return false, nil
	}
	if bodyComplete(oc, &c.m.rb, fr) {
		c.x.fill = nil
		storeBuffered(f, &c.m.rb)
		return false, nil
	}
	c.x.fill = nil
	src := newH1Source(c.s, oc, fr, snd.done && snd.err == nil && originKeepAlive(&c.m.resp))
	fc := startFill(f, src, &c.m.cres)
	fw := &c.m.fw
	*fw = flushWriter{c: c, chunked: chunkedOut}
	c.m.cw = http1.ChunkedWriter{W: &c.w}
	n, back, err := fc.lead(&c.m.cres, fw)
	c.x.down = n
	if back {
		c.m.rb = src.body // the relay goes on from where the copy stopped
		return false, nil
	}
	if err == nil && chunkedOut {
		c.m.trl.Reset()
		if fr.Kind == http1.ChunkedBody {
			copyTrailer(&c.m.trl, &src.body.Trailer)
		}
		err = c.m.cw.Close(&c.m.trl)
	}
	if ferr := c.w.Flush(); err == nil {
		err = ferr
	}
	return true, err
}
