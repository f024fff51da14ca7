package httpface

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/h2server"
	"github.com/janus-proxy/janus/internal/http1"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/sniff"
)

// The h2c Upgrade (RFC 7540 §3.2): on a plain listener with h2c, an
// HTTP/1.1 request may ask to continue the connection in HTTP/2. Janus
// answers 101 and serves the connection with the HTTP/2 front, the request
// itself becoming stream 1; every later request is a stream that goes
// through the route table like any other. (Passing such an upgrade on to an
// upstream instead would turn the connection into a tunnel that escapes the
// routes: buildReverseOutbound never does.) RFC 9113 §3.1 deprecates the
// upgrade, and a server may ignore Upgrade (RFC 9110 §7.8): requests with
// content, and every request on listeners without h2c, are served in
// HTTP/1.1.

// upgradeH2C serves the connection in HTTP/2 if the request asks for the
// h2c upgrade and may have it; it reports whether it did (the connection
// has then ended), or false to serve the request in HTTP/1.1.
func (c *conn) upgradeH2C(f http1.Framing) bool {
	s := c.s
	in := &c.m.req
	if !s.o.H2C || s.scheme != "http" || s.o.Routes == nil || in.Form != httpmsg.OriginForm ||
		!in.Version.AtLeast(1, 1) || in.Version.Major != 1 || !f.Empty() {
		return false
	}
	settings, ok := h2cSettings(&in.Header)
	if !ok {
		return false
	}
	req, ok := c.h2cRequest()
	if !ok {
		return false
	}
	c.extendWrite()
	c.w.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	if err := c.w.Flush(); err != nil {
		return true // the client is gone: nothing to serve
	}
	// Bytes read past the request (the client's preface, if it did not
	// wait for the 101) are replayed to the HTTP/2 server first.
	pending := takeBuffered(&c.r)
	c.w.Release()
	c.dropMessages() // the HTTP/2 server keeps its own state from here
	_ = c.raw.SetDeadline(time.Time{})
	var src net.Conn = c.sc
	if c.tcp != nil {
		src = c.tcp // the reader read the socket itself
	}
	s.serveH2Conn(&sniff.Conn{Conn: src, Raw: c.raw, Peeked: pending}, func() {}, &h2server.Upgrade{Request: req, Settings: settings})
	return true
}

// h2cSettings checks the fields of an h2c upgrade (RFC 7540 §3.2, §3.2.1):
// Upgrade offers h2c, Connection names Upgrade and HTTP2-Settings, and
// exactly one HTTP2-Settings holds valid settings in base64url. It returns
// them decoded.
func h2cSettings(h *httpmsg.Header) ([]byte, bool) {
	if !h.HasToken("Upgrade", "h2c") || !h.HasToken("Connection", "upgrade") ||
		!h.HasToken("Connection", "http2-settings") || h.Count("HTTP2-Settings") != 1 {
		return nil, false
	}
	v := httpmsg.TrimOWS(h.Get("HTTP2-Settings"))
	for len(v) > 0 && v[len(v)-1] == '=' {
		v = v[:len(v)-1] // padding is to be omitted, but tolerated
	}
	p := make([]byte, base64.RawURLEncoding.DecodedLen(len(v)))
	n, err := base64.RawURLEncoding.Decode(p, v)
	if err != nil || n%6 != 0 {
		return nil, false
	}
	p = p[:n]
	for i := 0; i < n; i += 6 {
		st := http2.Setting{
			ID:  http2.SettingID(uint16(p[i])<<8 | uint16(p[i+1])),
			Val: uint32(p[i+2])<<24 | uint32(p[i+3])<<16 | uint32(p[i+4])<<8 | uint32(p[i+5]),
		}
		if st.Valid() != nil {
			return nil, false
		}
	}
	return p, true
}

// h2cRequest converts the upgrading request for the HTTP/2 server, without
// the fields of the upgrade (they are about this connection) and without
// content (the upgrade is refused to requests with some).
func (c *conn) h2cRequest() (*http.Request, bool) {
	in := &c.m.req
	path := string(in.Path)
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, false
	}
	req := &http.Request{
		Method:     string(in.Method),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, in.Header.Len()),
		Body:       http.NoBody,
		RequestURI: path,
		RemoteAddr: c.client.String(),
	}
	for i := 0; i < in.Header.Len(); i++ {
		name, value := in.Header.Field(i)
		switch {
		case httpmsg.EqualFold(name, "Host"):
			req.Host = string(value)
		case httpmsg.RequestHopByHop.Contains(name) || httpmsg.EqualFold(name, "HTTP2-Settings") ||
			httpmsg.EqualFold(name, "Content-Length"):
		default:
			key := http.CanonicalHeaderKey(string(name))
			req.Header[key] = append(req.Header[key], string(value))
		}
	}
	return req, true
}
