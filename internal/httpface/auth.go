package httpface

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/outbound"
)

// challengeField asks for Basic credentials (RFC 9110 §11.7.1, RFC 7617).
func challengeField(h *httpmsg.Header) {
	h.AddString("Proxy-Authenticate", `Basic realm="janus"`)
}

// identify returns the user that Proxy-Authorization names, nil when the
// client sent none. After bad credentials it answers 407 itself and reports
// false. A connection's last verified credentials are remembered, so a
// client that sends them with every request is verified once.
func (c *conn) identify() (*gate.Identity, bool) {
	v := c.m.req.Header.Get("Proxy-Authorization")
	if v == nil || c.s.o.Gate.Users == nil {
		// Without a user database there is nothing to check credentials
		// against; like Squid without auth, the field is ignored (and it
		// is never forwarded).
		return nil, true
	}
	if c.authUser != nil && bytes.Equal(v, c.authRaw) {
		c.x.user = c.authUser.Name
		return c.authUser, true
	}
	name, password, ok := parseBasic(v)
	if !ok {
		c.x.rule = gate.RuleAuth
		c.challenge("malformed Proxy-Authorization: want Basic credentials")
		return nil, false
	}
	c.x.user = name
	id, err := c.s.o.Gate.Authenticate(name, password)
	if err != nil {
		// The error names the user, never the password.
		c.x.rule = gate.RuleAuth
		c.challenge("authentication failed: " + err.Error())
		return nil, false
	}
	c.authRaw = append(c.authRaw[:0], v...)
	c.authUser = id
	return id, true
}

// parseBasic decodes "Basic base64(user:password)" (RFC 7617 §2).
func parseBasic(v []byte) (name, password string, ok bool) {
	const prefix = "basic "
	if len(v) <= len(prefix) || !httpmsg.EqualFold(v[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(string(httpmsg.TrimOWS(v[len(prefix):])))
	if err != nil {
		return "", "", false
	}
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return "", "", false
	}
	return string(raw[:i]), string(raw[i+1:]), true
}

// challenge answers 407 with a Basic challenge.
func (c *conn) challenge(msg string) {
	c.x.denied = true
	c.reply(407, msg, challengeField)
	c.logError(msg)
}

// decide asks the gate about the request. It answers 407 or 403 itself and
// reports false when the request may not go on.
func (c *conn) decide(proto gate.Protocol) (gate.Request, bool) {
	user, ok := c.identify()
	if !ok {
		return gate.Request{}, false
	}
	gr := gate.Request{
		Client:   c.client.Addr(),
		User:     user,
		Protocol: proto,
		Method:   c.strs.method(c.m.req.Method),
		Host:     c.strs.host(c.m.req.Host),
		Port:     c.m.req.Port,
		Header:   &c.m.req.Header,
	}
	d := c.s.o.Gate.Decide(&gr)
	c.x.rule = d.Rule
	switch d.Verdict {
	case gate.Challenge:
		c.challenge("proxy authentication required")
		return gr, false
	case gate.Limited:
		c.rateLimited(d)
		return gr, false
	case gate.Deny:
		if d.Reason != "" {
			c.denyBecause(d)
			return gr, false
		}
		c.deny(d.Rule, nil)
		return gr, false
	}
	return gr, true
}

// denyBecause answers 403 with the reason the client must know (a quota
// used up, and until when), which the log says too.
func (c *conn) denyBecause(d gate.Decision) {
	c.x.rule = d.Rule
	c.x.denied = true
	c.x.limited = d.Rule == gate.RuleQuota
	c.reply(403, d.Reason, nil)
	c.logError(d.Reason)
}

// deny answers 403 naming the rule; cause, if any, goes to the log only.
func (c *conn) deny(rule string, cause error) {
	msg := "access denied by rule " + rule
	c.x.rule = rule
	c.x.denied = true
	c.reply(403, msg, nil)
	if cause != nil {
		c.logError(msg + ": " + cause.Error())
		return
	}
	c.logError(msg)
}

// dialFailed answers a failed dial: 403 naming the rule when the policy
// refused the resolved address or the target is Janus itself, 504 on a
// timeout, 502 otherwise.
func (c *conn) dialFailed(err error) {
	switch outbound.KindOf(err) {
	case outbound.KindDenied:
		rule := "denied"
		var de *gate.DeniedError
		if errors.As(err, &de) {
			rule = de.Rule
		}
		c.deny(rule, err)
		return
	case outbound.KindLoop:
		c.deny("loop", err)
		return
	}
	if c.staleOnFailure(err) {
		return
	}
	switch outbound.KindOf(err) {
	case outbound.KindTimeout:
		c.fail(504, "timeout connecting to origin", err)
		return
	}
	c.fail(502, "cannot connect to origin", err)
}

// fail answers a gateway error (502, 504) and logs the cause.
func (c *conn) fail(status int, msg string, cause error) {
	c.reply(status, msg, nil)
	text := msg
	if cause != nil {
		text = msg + ": " + cause.Error()
	}
	c.logError(text)
}

// deniedAt builds the error of a reused connection whose address the
// policy no longer allows for this request.
func deniedAt(host string, addr netip.Addr, err error) error {
	return &outbound.Error{Kind: outbound.KindDenied, Host: host, Addr: addr, Err: err}
}
