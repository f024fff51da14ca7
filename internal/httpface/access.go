package httpface

import (
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/observe"
)

// stringCache turns byte slices into strings, reusing the previous string
// when the bytes repeat: a keep-alive client usually sends the same host,
// user agent and referer again and again, and the gate and the access log
// want strings.
type stringCache struct {
	h, m, ua, ref, tgt string
}

func reuse(prev string, b []byte) string {
	if string(b) == prev {
		return prev
	}
	return string(b)
}

func (sc *stringCache) host(b []byte) string {
	sc.h = reuse(sc.h, b)
	return sc.h
}

// method returns common methods as constants and caches the others.
func (sc *stringCache) method(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "CONNECT":
		return "CONNECT"
	case "OPTIONS":
		return "OPTIONS"
	case "PATCH":
		return "PATCH"
	}
	sc.m = reuse(sc.m, b)
	return sc.m
}

// logAccess writes the access-log entry of the current exchange.
func (c *conn) logAccess() {
	a := c.s.o.Access
	if a == nil {
		return
	}
	proto := "http"
	if c.m.req.Form == httpmsg.AuthorityForm {
		proto = "connect"
	}
	e := &c.m.entry
	*e = observe.Entry{
		Time:      c.x.start,
		Listener:  c.s.o.Listener,
		Client:    c.client,
		User:      c.x.user,
		Protocol:  proto,
		Method:    c.strs.method(c.m.req.Method),
		Target:    c.target(),
		Status:    c.x.status,
		BytesUp:   c.x.up,
		BytesDown: c.x.down,
		Duration:  time.Since(c.x.start),
		Rule:      c.x.rule,
		Error:     c.x.err,
		Face:      "forward",
		Denied:    c.x.denied,
		Limited:   c.x.limited,
		Metered:   c.x.metered,
	}
	if c.m.req.Form == httpmsg.OriginForm && c.s.o.Routes != nil {
		e.Face = "reverse"
		if c.x.route != nil {
			e.Route = c.x.route.Name
		}
		if c.x.upstream != nil && c.x.upstream.Pool != nil {
			e.Upstream = c.x.upstream.Pool.Name()
		}
	}
	if v := c.m.req.Header.Get("User-Agent"); v != nil {
		c.strs.ua = reuse(c.strs.ua, v)
		e.UserAgent = c.strs.ua
	}
	if v := c.m.req.Header.Get("Referer"); v != nil {
		c.strs.ref = reuse(c.strs.ref, v)
		e.Referer = c.strs.ref
	}
	a.Log(e)
}

// target is the request's target as logged: the absolute URL, or
// host:port for CONNECT.
func (c *conn) target() string {
	b := c.m.tgtBuf[:0]
	switch c.m.req.Form {
	case httpmsg.AbsoluteForm:
		b = append(b, c.m.req.Scheme...)
		b = append(b, "://"...)
		b = append(b, c.m.req.Authority...)
		b = append(b, c.m.req.Path...)
	case httpmsg.AuthorityForm:
		b = append(b, c.m.req.Authority...)
	default:
		b = append(b, c.m.req.Path...)
	}
	c.m.tgtBuf = b
	c.strs.tgt = reuse(c.strs.tgt, b)
	return c.strs.tgt
}

// logError records why the exchange failed and logs it.
func (c *conn) logError(msg string) {
	c.x.err = msg
	c.logAccess()
}
