package h2server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// preface is what a client sends first (RFC 9113 §3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// initialWindow is every window's size before SETTINGS say otherwise.
const initialWindow = 65535

// maxRefused is how many streams a connection may have refused for running
// too many handlers before it is ended with ENHANCE_YOUR_CALM: a client that
// follows the stream limit is never refused, one resetting streams as fast
// as it opens them (CVE-2023-44487) soon is.
const maxRefused = 1000

// goAwayGrace is how long a connection lives after its GOAWAY once its
// last stream has ended, so that the client reads the GOAWAY before the
// close.
const goAwayGrace = 200 * time.Millisecond

func newConn(s *Server, c net.Conn, h http.Handler) *conn {
	sc := &conn{o: &s.o, c: c, h: h, streams: map[uint32]*stream{},
		sendWindow: initialWindow, peerWindow: initialWindow, peerFrame: 16384,
		recvWindow: initialWindow, remote: c.RemoteAddr().String()}
	sc.wcond.L = &sc.wmu
	sc.tlsConn = tlsStateOf(c)
	return sc
}

func (sc *conn) serve(ctx context.Context, up *Upgrade) {
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, sc.c.LocalAddr())
	sc.ctx, sc.cancel = context.WithCancel(ctx)
	defer sc.c.Close()
	stop := context.AfterFunc(sc.ctx, func() { _ = sc.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	defer sc.end()

	br := bufio.NewReaderSize(sc.c, 16<<10)
	sc.fr = http2.NewFramer(sc.c, br)
	sc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	sc.fr.MaxHeaderListSize = uint32(sc.o.MaxHeaderBytes)
	sc.fr.SetMaxReadFrameSize(sc.o.MaxReadFrameSize)
	sc.enc = hpack.NewEncoder(&sc.encBuf)

	sc.wmu.Lock()
	settings := []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: sc.o.MaxConcurrentStreams},
		{ID: http2.SettingMaxFrameSize, Val: sc.o.MaxReadFrameSize},
		{ID: http2.SettingInitialWindowSize, Val: uint32(sc.o.StreamWindow)},
		{ID: http2.SettingMaxHeaderListSize, Val: uint32(sc.o.MaxHeaderBytes)},
	}
	if sc.o.ConnectProtocol {
		settings = append(settings, http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	}
	err := sc.fr.WriteSettings(settings...)
	if err == nil && sc.o.ConnWindow > initialWindow {
		err = sc.fr.WriteWindowUpdate(0, uint32(sc.o.ConnWindow-initialWindow))
	}
	sc.wmu.Unlock()
	if err != nil {
		return
	}
	sc.recvWindow = sc.o.ConnWindow

	if up != nil {
		if err := sc.applySettings(up.Settings); err != nil {
			return
		}
	}
	// The preface: after the 101 of an upgrade too (RFC 9113 §3.4).
	_ = sc.c.SetReadDeadline(time.Now().Add(max(sc.o.IdleTimeout, 10*time.Second)))
	var p [len(preface)]byte
	if _, err := io.ReadFull(br, p[:]); err != nil || string(p[:]) != preface {
		return
	}
	_ = sc.c.SetReadDeadline(time.Time{})
	if up != nil {
		sc.startUpgraded(up)
	}
	sc.readLoop()
}

// end stops every stream and waits for the handlers.
func (sc *conn) end() {
	sc.cancel()
	sc.mu.Lock()
	busy := sc.handlers > 0
	sc.mu.Unlock()
	if busy {
		// A handler may be stuck writing (holding the write lock) to a
		// client that reads nothing: the connection is over, so its
		// writes fail now.
		_ = sc.c.SetWriteDeadline(time.Unix(1, 0))
	}
	sc.wmu.Lock()
	sc.wdead = true
	sc.wcond.Broadcast()
	sc.wmu.Unlock()
	sc.mu.Lock()
	for _, st := range sc.streams {
		st.reset(errConnDone)
	}
	if sc.closeTimer != nil {
		sc.closeTimer.Stop()
	}
	sc.mu.Unlock()
	sc.wg.Wait()
}

func (sc *conn) readLoop() {
	for {
		sc.idleDeadline()
		f, err := sc.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			switch {
			case errors.As(err, &se):
				sc.mu.Lock()
				if se.StreamID%2 == 1 && se.StreamID > sc.lastID {
					sc.lastID = se.StreamID
				}
				sc.mu.Unlock()
				sc.o.Log.Debug("http2: stream refused", "client", sc.remote, "err", err)
				sc.streamError(se.StreamID, se.Code)
				continue
			case errors.Is(err, http2.ErrFrameTooLarge):
				sc.goAway(http2.ErrCodeFrameSize, err)
			default:
				var ce http2.ConnectionError
				if errors.As(err, &ce) {
					sc.goAway(http2.ErrCode(ce), err)
				} else if errors.Is(err, os.ErrDeadlineExceeded) && sc.ctx.Err() == nil {
					sc.goAway(http2.ErrCodeNo, nil)
				}
			}
			return
		}
		if err := sc.process(f); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				sc.goAway(http2.ErrCode(ce), err)
			}
			return
		}
	}
}

// idleDeadline arms the read deadline while no stream is open (so a
// connection idle that long, or one trickling an endless header block, is
// closed) and clears it while some are.
func (sc *conn) idleDeadline() {
	if sc.o.IdleTimeout <= 0 {
		return
	}
	sc.mu.Lock()
	idle := len(sc.streams) == 0
	sc.mu.Unlock()
	switch {
	case idle && !sc.idleSet:
		sc.idleSet = true
		_ = sc.c.SetReadDeadline(time.Now().Add(sc.o.IdleTimeout))
	case !idle && sc.idleSet:
		sc.idleSet = false
		_ = sc.c.SetReadDeadline(time.Time{})
		if sc.ctx.Err() != nil {
			// Ended meanwhile: keep the deadline that stops the reader.
			_ = sc.c.SetReadDeadline(time.Unix(1, 0))
		}
	}
}

// process handles one frame; an error ends the connection.
func (sc *conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		return sc.onHeaders(f)
	case *http2.DataFrame:
		return sc.onData(f)
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		if err := f.ForeachSetting(func(s http2.Setting) error { return sc.applySetting(s) }); err != nil {
			return err
		}
		return sc.write(func() error { return sc.fr.WriteSettingsAck() })
	case *http2.WindowUpdateFrame:
		return sc.onWindowUpdate(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		if f.StreamID != 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return sc.write(func() error { return sc.fr.WritePing(true, f.Data) })
	case *http2.RSTStreamFrame:
		if f.StreamID == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		sc.mu.Lock()
		st := sc.streams[f.StreamID]
		if st == nil && f.StreamID > sc.lastID {
			sc.mu.Unlock()
			return http2.ConnectionError(http2.ErrCodeProtocol) // an idle stream
		}
		if st != nil {
			st.reset(errStreamReset)
			sc.forget(st)
		}
		sc.mu.Unlock()
		sc.closeIfDone()
		return nil
	case *http2.GoAwayFrame:
		sc.goAway(http2.ErrCodeNo, nil)
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // clients do not push
	case *http2.PriorityFrame:
		if f.StreamID == f.StreamDep {
			sc.streamError(f.StreamID, http2.ErrCodeProtocol)
		}
		return nil
	}
	return nil // unknown frame types are ignored (RFC 9113 §4.1)
}

// write runs fn under the write lock.
func (sc *conn) write(fn func() error) error {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if sc.wdead {
		return errConnDone
	}
	return fn()
}

// streamError resets a stream for a fault of the client's.
func (sc *conn) streamError(id uint32, code http2.ErrCode) {
	sc.mu.Lock()
	if st := sc.streams[id]; st != nil {
		st.reset(errStreamReset)
		sc.forget(st)
	}
	sc.mu.Unlock()
	_ = sc.write(func() error { return sc.fr.WriteRSTStream(id, code) })
	sc.closeIfDone()
}

// closeIfDone closes a connection that sent its GOAWAY once no stream is
// left.
func (sc *conn) closeIfDone() {
	sc.mu.Lock()
	done := sc.goingAway && len(sc.streams) == 0
	sc.mu.Unlock()
	if done {
		sc.closeSoon(goAwayGrace)
	}
}

// goAway tells the client that no stream after the last one it opened will
// be served and closes the connection once the open ones are done; an
// error code other than NO_ERROR closes it at once.
func (sc *conn) goAway(code http2.ErrCode, cause error) {
	if cause != nil {
		sc.o.Log.Debug("http2: connection error", "client", sc.remote, "code", code, "err", cause)
	}
	sc.mu.Lock()
	last := sc.lastID
	sc.goingAway = true
	idle := len(sc.streams) == 0
	sc.mu.Unlock()
	sc.wmu.Lock()
	if !sc.sentGoAway && !sc.wdead {
		sc.sentGoAway = true
		_ = sc.fr.WriteGoAway(last, code, nil)
	}
	sc.wmu.Unlock()
	if code != http2.ErrCodeNo {
		sc.closeSoon(0)
		return
	}
	if idle {
		sc.closeSoon(goAwayGrace)
	}
}

// closeSoon ends the connection after d.
func (sc *conn) closeSoon(d time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closeTimer != nil {
		return
	}
	sc.closeTimer = time.AfterFunc(d, sc.cancel)
}

func (sc *conn) applySettings(p []byte) error {
	for i := 0; i+6 <= len(p); i += 6 {
		s := http2.Setting{
			ID:  http2.SettingID(uint16(p[i])<<8 | uint16(p[i+1])),
			Val: uint32(p[i+2])<<24 | uint32(p[i+3])<<16 | uint32(p[i+4])<<8 | uint32(p[i+5]),
		}
		if err := sc.applySetting(s); err != nil {
			return err
		}
	}
	return nil
}

func (sc *conn) applySetting(s http2.Setting) error {
	if err := s.Valid(); err != nil {
		return err
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	switch s.ID {
	case http2.SettingHeaderTableSize:
		sc.enc.SetMaxDynamicTableSize(s.Val)
	case http2.SettingInitialWindowSize:
		delta := int32(s.Val) - sc.peerWindow
		sc.peerWindow = int32(s.Val)
		sc.mu.Lock()
		for _, st := range sc.streams {
			w := int64(st.sendWindow) + int64(delta)
			if w > 1<<31-1 {
				sc.mu.Unlock()
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
			st.sendWindow = int32(w)
		}
		sc.mu.Unlock()
		sc.wcond.Broadcast()
	case http2.SettingMaxFrameSize:
		sc.peerFrame = int(s.Val)
	}
	return nil
}

func (sc *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	if f.StreamID == 0 {
		if f.Increment == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		sc.wmu.Lock()
		defer sc.wmu.Unlock()
		w := int64(sc.sendWindow) + int64(f.Increment)
		if w > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		sc.sendWindow = int32(w)
		sc.wcond.Broadcast()
		return nil
	}
	st, idle := sc.lookup(f.StreamID)
	switch {
	case idle:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	case st == nil:
		return nil // a closed stream: allowed for a while (RFC 9113 §6.9)
	case f.Increment == 0:
		sc.streamError(f.StreamID, http2.ErrCodeProtocol)
		return nil
	}
	sc.wmu.Lock()
	w := int64(st.sendWindow) + int64(f.Increment)
	ok := w <= 1<<31-1
	if ok {
		st.sendWindow = int32(w)
		sc.wcond.Broadcast()
	}
	sc.wmu.Unlock()
	if !ok {
		sc.streamError(f.StreamID, http2.ErrCodeFlowControl)
	}
	return nil
}

// lookup finds stream id; idle reports an id above every stream the
// client has opened (RFC 9113 §5.1: frames for idle streams are a
// connection error).
func (sc *conn) lookup(id uint32) (st *stream, idle bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	st = sc.streams[id]
	return st, st == nil && id > sc.lastID
}

func (sc *conn) onData(f *http2.DataFrame) error {
	n := int32(f.Length)
	sc.wmu.Lock()
	if n > sc.recvWindow {
		sc.wmu.Unlock()
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	sc.recvWindow -= n
	sc.wmu.Unlock()
	st, idle := sc.lookup(f.StreamID)
	if idle {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if st == nil || st.body == nil || st.remoteClosed {
		// A closed stream's data still counted against the connection.
		// Data after the client's END_STREAM is its error (RFC 9113
		// §5.1); data for a stream that ended meanwhile is not.
		sc.refund(0, int(n))
		if st != nil {
			sc.streamError(f.StreamID, http2.ErrCodeStreamClosed)
		}
		return nil
	}
	sc.wmu.Lock()
	over := n > st.recvWindow
	if !over {
		st.recvWindow -= n
	}
	sc.wmu.Unlock()
	if over {
		sc.refund(0, int(n))
		sc.streamError(f.StreamID, http2.ErrCodeFlowControl)
		return nil
	}
	data := f.Data()
	if pad := int(n) - len(data); pad > 0 {
		sc.refund(f.StreamID, pad)
	}
	if err := st.body.put(data, f.StreamEnded()); err != nil {
		sc.streamError(f.StreamID, http2.ErrCodeProtocol) // more or less than Content-Length
		return nil
	}
	if f.StreamEnded() {
		sc.remoteEnded(st)
		sc.startDeferred(st)
	}
	return nil
}

// refund gives back receive window for n bytes read (or thrown away) on
// stream id (0: the connection only).
func (sc *conn) refund(id uint32, n int) {
	if n <= 0 {
		return
	}
	_ = sc.write(func() error {
		sc.recvWindow += int32(n)
		if err := sc.fr.WriteWindowUpdate(0, uint32(n)); err != nil || id == 0 {
			return err
		}
		sc.mu.Lock()
		if st := sc.streams[id]; st != nil {
			st.recvWindow += int32(n)
		}
		sc.mu.Unlock()
		return sc.fr.WriteWindowUpdate(id, uint32(n))
	})
}
