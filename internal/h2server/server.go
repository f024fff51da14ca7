// Package h2server serves HTTP/2 connections (RFC 9113) to an http.Handler
// with golang.org/x/net/http2's framer and HPACK. It replaces x/net's own
// server loop, where every response's HEADERS frame is written by a
// goroutine of its own and each handler waits twice on the connection's
// serve loop: here a handler encodes and writes its frames itself under the
// connection's write lock, and one goroutine per connection reads.
package h2server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Options configure a Server; zero values take the defaults.
type Options struct {
	MaxConcurrentStreams uint32        // streams a client may have open (and handlers running); 250
	MaxHeaderBytes       int           // bound of a request's header list, 431 beyond; 1 MiB
	MaxReadFrameSize     uint32        // largest frame accepted; 1 MiB
	StreamWindow         int32         // receive window per stream; 1 MiB
	ConnWindow           int32         // receive window of a connection; 1 MiB
	IdleTimeout          time.Duration // a connection without streams this long is closed; none
	ConnectProtocol      bool          // RFC 8441 extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)
	Log                  *slog.Logger
}

// Server serves HTTP/2 connections and can drain them all.
type Server struct {
	o Options

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutting bool
}

// New returns a Server with o's settings.
func New(o Options) *Server {
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 250
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 1 << 20
	}
	if o.MaxReadFrameSize == 0 {
		o.MaxReadFrameSize = 1 << 20
	}
	if o.StreamWindow <= 0 {
		o.StreamWindow = 1 << 20
	}
	if o.ConnWindow <= 0 {
		o.ConnWindow = 1 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{o: o, conns: map[*conn]struct{}{}}
}

// Upgrade is an h2c upgrade (RFC 7540 §3.2): the HTTP/1.1 request that
// becomes stream 1 (its content, if any, already read) and the client's
// HTTP2-Settings, decoded.
type Upgrade struct {
	Request  *http.Request
	Settings []byte
}

// ServeConn serves c until it ends; ctx ending ends it too. c should batch
// its writes: every frame is one Write. up, when not nil, is the request
// that upgraded the connection, served as stream 1.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, h http.Handler, up *Upgrade) {
	sc := newConn(s, c, h)
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		return
	}
	s.conns[sc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, sc)
		s.mu.Unlock()
	}()
	sc.serve(ctx, up)
}

// Shutdown sends every connection a GOAWAY; each closes once its streams
// are done. Connections served later are closed at once.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.shutting = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAway(http2.ErrCodeNo, nil)
	}
}

// conn is one HTTP/2 connection.
type conn struct {
	o       *Options
	c       net.Conn
	h       http.Handler
	fr      *http2.Framer
	ctx     context.Context
	cancel  context.CancelFunc
	tlsConn *tls.ConnectionState
	remote  string

	// Writing: the framer's write side, the encoder and the send windows.
	wmu        sync.Mutex
	wcond      sync.Cond
	enc        *hpack.Encoder
	encBuf     bytes.Buffer // the encoder's output
	sendWindow int32        // connection's
	recvWindow int32        // what the client may still send on the connection
	peerWindow int32        // SETTINGS_INITIAL_WINDOW_SIZE of the client
	peerFrame  int          // SETTINGS_MAX_FRAME_SIZE of the client
	wdead      bool         // the connection is over: writers give up
	sentGoAway bool

	// Streams, shared by the reader and the handlers.
	mu         sync.Mutex
	streams    map[uint32]*stream
	handlers   int    // handlers running, reset streams' too
	lastID     uint32 // the highest stream a client opened
	goingAway  bool   // no new streams; close when the last one ends
	closeTimer *time.Timer

	// Reader-only.
	refused int // streams refused for the handler bound, for the flood guard
	idleSet bool
	wg      sync.WaitGroup
}

var errConnDone = errors.New("h2server: connection closed")
