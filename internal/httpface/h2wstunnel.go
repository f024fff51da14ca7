package httpface

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Errors that end a WebSocket over HTTP/2: the client is gone already (the
// stream needs no reset), or nothing moved for the idle time (reset).
var (
	errWSClientGone = errors.New("client went away")
	errWSIdle       = errors.New("no traffic for the tunnel idle time")
)

// wsBufferSize is each direction's copy buffer.
const wsBufferSize = 32 << 10

var wsBufferPool = sync.Pool{New: func() any { return new([wsBufferSize]byte) }}

// wsTunnel joins an HTTP/2 stream (the request body one way, the response
// the other) and an origin connection. Unlike tunnel.Join between two
// sockets it cannot splice, and it cannot set deadlines on a stream that
// leave it usable; so a watchdog timer ends it when no byte has moved
// either way for idle (the tunnel_idle of HTTP/1.1 upgrades and CONNECT).
type wsTunnel struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	body   io.ReadCloser
	origin *net.TCPConn
	idle   time.Duration

	last        atomic.Int64 // when a byte last moved, Unix nanoseconds
	writing     atomic.Bool  // a write to the stream is under way (it may wait for the client's window)
	idled       atomic.Bool  // the watchdog ended the tunnel
	clientEnded atomic.Bool  // the client's side failed (stream reset, connection gone)

	mu    sync.Mutex // orders the watchdog against the handler's return
	done  bool       // the handler is returning: w must not be touched
	timer *time.Timer

	up, down int64
}

// wsUpResult is what the client-to-origin copy did.
type wsUpResult struct {
	n   int64
	err error
}

func newWSTunnel(w http.ResponseWriter, body io.ReadCloser, origin *net.TCPConn, idle time.Duration) *wsTunnel {
	return &wsTunnel{w: w, rc: http.NewResponseController(w), body: body, origin: origin, idle: idle}
}

// run copies both ways until the origin's side ends (nil for its end of
// stream), the client's side fails (errWSClientGone) or the tunnel idles
// (errWSIdle). Both directions have stopped and the origin connection is
// closed when it returns.
func (t *wsTunnel) run(early []byte) error {
	t.touch()
	t.mu.Lock() // the watchdog reads t.timer
	t.timer = time.AfterFunc(t.idle, t.watch)
	t.mu.Unlock()
	upDone := make(chan wsUpResult, 1)
	go t.toOrigin(upDone)
	err := t.fromOrigin(early)
	clientEnded := t.clientEnded.Load()
	// Stop the other direction: the origin's close ends a write to it, the
	// body's close a wait for the client's next bytes.
	_ = t.origin.Close()
	_ = t.body.Close()
	up := <-upDone
	t.mu.Lock()
	t.done = true
	t.timer.Stop()
	t.mu.Unlock()
	t.up = up.n
	switch {
	case t.idled.Load():
		return errWSIdle
	case err == nil || errors.Is(err, errWSClientGone):
		return err
	case clientEnded:
		// The client's stream failed first and the origin was closed for it.
		return fmt.Errorf("%w: %w", errWSClientGone, up.err)
	}
	return fmt.Errorf("origin: %w", err)
}

// touch records that a byte moved.
func (t *wsTunnel) touch() { t.last.Store(time.Now().UnixNano()) }

// watch is the idle watchdog: it rearms itself while bytes move, and
// otherwise ends both directions.
func (t *wsTunnel) watch() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	if since := time.Duration(time.Now().UnixNano() - t.last.Load()); since < t.idle {
		t.timer.Reset(t.idle - since)
		return
	}
	t.idled.Store(true)
	_ = t.origin.Close()
	_ = t.body.Close()
	if t.writing.Load() {
		// A write waiting for a client that stopped reading: a deadline in
		// the past resets the stream and so ends the write.
		_ = t.rc.SetWriteDeadline(aLongTimeAgo)
	}
}

// fromOrigin copies the origin's bytes to the stream, early ones first,
// flushing each read so that messages are not held back.
func (t *wsTunnel) fromOrigin(early []byte) error {
	if len(early) > 0 {
		if err := t.send(early); err != nil {
			return err
		}
	}
	buf := wsBufferPool.Get().(*[wsBufferSize]byte)
	defer wsBufferPool.Put(buf)
	for {
		n, err := t.origin.Read(buf[:])
		if n > 0 {
			t.touch()
			if werr := t.send(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// send writes p to the stream and flushes it.
func (t *wsTunnel) send(p []byte) error {
	// The flag goes up before idled is read, and the watchdog sets idled
	// before it reads the flag: one of them sees the other.
	t.writing.Store(true)
	defer t.writing.Store(false)
	if t.idled.Load() {
		return errWSIdle
	}
	_, err := t.w.Write(p)
	if err == nil {
		err = t.rc.Flush()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errWSClientGone, err)
	}
	t.down += int64(len(p))
	t.touch()
	return nil
}

// toOrigin copies the client's bytes to the origin (one goroutine per
// WebSocket). The client's end of stream half-closes the origin connection
// (RFC 8441 §5: END_STREAM is a TCP FIN); a failure on either side closes
// it, which ends fromOrigin too.
func (t *wsTunnel) toOrigin(done chan<- wsUpResult) {
	buf := wsBufferPool.Get().(*[wsBufferSize]byte)
	defer wsBufferPool.Put(buf)
	var sent int64
	for {
		n, err := t.body.Read(buf[:])
		if n > 0 {
			t.touch()
			if _, werr := t.origin.Write(buf[:n]); werr != nil {
				_ = t.origin.Close()
				done <- wsUpResult{sent, werr}
				return
			}
			sent += int64(n)
			t.touch()
		}
		if err == io.EOF {
			_ = t.origin.CloseWrite()
			done <- wsUpResult{sent, nil}
			return
		}
		if err != nil {
			t.clientEnded.Store(true)
			_ = t.origin.Close()
			done <- wsUpResult{sent, err}
			return
		}
	}
}
