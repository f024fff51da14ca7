package httpface

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// HTTP/3 on the front (RFC 9114) is served by github.com/quic-go/quic-go,
// the implementation Caddy and Traefik use. Each request stream becomes a
// net/http request and goes through serveH2, as HTTP/2 streams do: the
// same route table, header rules and upstream pools. The server package
// owns the UDP socket and the QUIC listener; ServeH3 serves one accepted
// connection. Streams are accepted here rather than by http3.Server so
// that each request head has a deadline (the header timeout) and a drain
// can refuse new requests while the ones in flight finish.

// h3MaxStreams bounds the concurrent request streams of one connection, as
// MaxConcurrentStreams does for HTTP/2.
const h3MaxStreams = 250

// String returns the protocol's name as the access log shows it.
func (p streamProto) String() string {
	if p == protoH3 {
		return "h3"
	}
	return "h2"
}

// QUICConfig returns the QUIC settings of the listener's HTTP/3 side: the
// handshake within the header timeout, no 0-RTT (replayable requests,
// RFC 9001 §9.2), at most 250 concurrent request streams a connection, and
// the idle timeout with keep-alives from our side so that a connection
// waiting on a slow upstream is not taken for a dead one.
func (s *Server) QUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: s.o.HeaderTimeout,
		MaxIdleTimeout:       s.o.IdleTimeout,
		KeepAlivePeriod:      s.o.IdleTimeout / 2,
		MaxIncomingStreams:   h3MaxStreams,
		// A client needs three: control, QPACK encoder and decoder
		// (RFC 9114 §6.2, RFC 9204 §4.2); room for a few it may add.
		MaxIncomingUniStreams: 16,
		Allow0RTT:             false,
	}
}

// H3TLSConfig returns the TLS config for the listener's QUIC side: the
// same certificates (SNI), client authentication and session tickets as
// base, with ALPN "h3" only. QUIC itself requires TLS 1.3.
func H3TLSConfig(base *tls.Config) *tls.Config {
	return http3.ConfigureTLSConfig(base)
}

// AdvertiseHTTP3 makes the reverse face's responses over TCP (HTTP/1.1
// and HTTP/2) carry Alt-Svc: h3=":port" (RFC 7838 §3), so that browsers
// try HTTP/3 on the same port. Call it before serving; port 0 turns it off.
func (s *Server) AdvertiseHTTP3(port uint16) {
	if port == 0 {
		s.altSvc = ""
		return
	}
	s.altSvc = `h3=":` + strconv.Itoa(int(port)) + `"; ma=86400`
}

// advertise adds Alt-Svc to an HTTP/2 response when HTTP/3 is served.
func (x *h2exchange) advertise(h http.Header) {
	if x.proto == protoH2 && x.s.altSvc != "" {
		h["Alt-Svc"] = append(h["Alt-Svc"], x.s.altSvc)
	}
}

func (s *Server) initH3() {
	s.h3 = &http3.Server{
		Handler:        http.HandlerFunc(s.serveH3),
		MaxHeaderBytes: s.o.MaxHeaderBytes,
		// Closes a connection with no request in flight for this long;
		// QUIC's own idle timeout (QUICConfig) ends silent ones.
		IdleTimeout: s.o.IdleTimeout,
		Logger:      s.log,
	}
}

// ServeH3 serves an HTTP/3 connection until it ends, then calls done. A
// drain (Shutdown) refuses new requests with H3_REQUEST_REJECTED, which a
// client may retry (RFC 9114 §4.1.1), lets those in flight finish, then
// closes the connection with H3_NO_ERROR.
func (s *Server) ServeH3(qc *quic.Conn, done func()) {
	defer done()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving HTTP/3 client", "client", qc.RemoteAddr().String(), "panic", p, "stack", stack())
			_ = qc.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeInternalError), "")
		}
	}()
	s.h3once.Do(s.initH3)
	raw, err := s.h3.NewRawServerConn(qc)
	if err != nil {
		s.log.Debug("HTTP/3 connection failed", "client", qc.RemoteAddr().String(), "err", err)
		_ = qc.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeInternalError), "")
		return
	}
	c := &h3conn{s: s, qc: qc, raw: raw}
	c.aux.Go(c.uniStreams)
	c.requestStreams()
	c.requests.Wait()
	c.aux.Wait()
}

// h3conn is one HTTP/3 connection being served.
type h3conn struct {
	s        *Server
	qc       *quic.Conn
	raw      *http3.RawServerConn
	requests sync.WaitGroup // request streams being handled
	aux      sync.WaitGroup // the unidirectional-stream loop and the drain closer
}

// uniStreams hands the client's control and QPACK streams to quic-go
// until the connection ends.
func (c *h3conn) uniStreams() {
	var streams sync.WaitGroup
	defer streams.Wait()
	for {
		str, err := c.qc.AcceptUniStream(context.Background())
		if err != nil {
			return
		}
		streams.Go(func() { c.raw.HandleUnidirectionalStream(str) })
	}
}

// requestStreams accepts request streams until the connection ends.
func (c *h3conn) requestStreams() {
	ctx := c.s.drainCtx
	draining := false
	for {
		str, err := c.qc.AcceptStream(ctx)
		if err != nil {
			if c.qc.Context().Err() != nil || draining {
				return
			}
			// The drain began: stop taking requests, close once the
			// ones in flight are answered.
			draining = true
			ctx = context.Background()
			c.aux.Go(c.closeWhenIdle)
			continue
		}
		if draining {
			str.CancelRead(quic.StreamErrorCode(http3.ErrCodeRequestRejected))
			str.CancelWrite(quic.StreamErrorCode(http3.ErrCodeRequestRejected))
			continue
		}
		// The request head must arrive within the header timeout, as on
		// HTTP/1.1; serveH3 lifts the deadline once it has.
		_ = str.SetReadDeadline(time.Now().Add(c.s.o.HeaderTimeout))
		c.requests.Go(func() { c.raw.HandleRequestStream(str) })
	}
}

// closeWhenIdle closes a draining connection once its requests are done
// and their responses delivered.
func (c *h3conn) closeWhenIdle() {
	c.requests.Wait()
	// A handler returns when quic-go has taken the last bytes, which may
	// still wait in its send buffers; closing the connection would discard
	// them (QUIC has no kernel buffer that delivers after a close, as TCP
	// has). So wait until the connection has been quiet, nothing sent and
	// nothing received, for about two probe timeouts (RFC 9002 §6.2.1):
	// then all we sent was acknowledged, or a retransmission would have
	// broken the silence. The drain's deadline bounds the wait.
	for {
		before := c.qc.ConnectionStats()
		pto := before.SmoothedRTT + 4*before.MeanDeviation + 25*time.Millisecond
		t := time.NewTimer(max(2*pto, 100*time.Millisecond))
		select {
		case <-c.qc.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
		after := c.qc.ConnectionStats()
		if after.PacketsSent == before.PacketsSent && after.PacketsReceived == before.PacketsReceived {
			break
		}
	}
	_ = c.raw.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "shutting down")
}

// serveH3 is the handler quic-go calls for each request.
func (s *Server) serveH3(w http.ResponseWriter, r *http.Request) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	var client netip.AddrPort
	if ua, ok := r.Context().Value(http3.RemoteAddrContextKey).(*net.UDPAddr); ok {
		client = ua.AddrPort()
		client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	}
	s.serveH2(w, r, client, protoH3)
}
