package httpface

import (
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/reverse"
)

// RouteGate is a reverse route's access control: HTTP Basic credentials
// checked against the users (when Basic), then the policy's decision on
// the client, user, groups and method.
type RouteGate struct {
	Gate  *gate.Gate // Users for Basic; Policy nil allows every authenticated request
	Basic bool       // ask for Authorization: Basic (401 without)
	Realm string     // the challenge's realm; "" means "janus"
}

// routeGate returns the access control of rt, nil when it has none.
func (s *Server) routeGate(rt *reverse.Route) *RouteGate {
	if rt.Index < len(s.o.RouteGates) {
		return s.o.RouteGates[rt.Index]
	}
	return nil
}

// admit applies a route's access control. It answers 401 or 403 itself
// and reports false when the request may not go on. The Authorization
// field that carried Janus's credentials is not sent upstream.
func (c *conn) admit(g *RouteGate) bool {
	var user *gate.Identity
	if g.Basic {
		v := c.m.req.Header.Get("Authorization")
		name, password, ok := parseBasic(v)
		if !ok {
			c.unauthorized(g, "authentication required")
			return false
		}
		c.x.user = name
		id, err := g.Gate.Authenticate(name, password)
		if err != nil {
			// The error names the user, never the password.
			c.unauthorized(g, "authentication failed: "+err.Error())
			return false
		}
		user = id
		c.stripAuthorization = true
	}
	if g.Gate.Policy == nil && len(g.Gate.Limits) == 0 && len(g.Gate.Concs) == 0 && len(g.Gate.Bandwidths) == 0 && g.Gate.Quotas == nil {
		return true
	}
	gr := gate.Request{
		Client:   c.client.Addr(),
		User:     user,
		Protocol: gate.HTTP,
		Method:   c.strs.method(c.m.req.Method),
		Host:     string(c.m.params.Host),
		Route:    c.x.route.Name,
		Header:   &c.m.req.Header,
	}
	d := g.Gate.Decide(&gr)
	c.x.rule = d.Rule
	switch d.Verdict {
	case gate.Allow:
		// Requests in flight on the route, held until it is answered.
		unhold, hd := g.Gate.Hold(&gr)
		if hd.Verdict != gate.Allow {
			c.rateLimited(hd)
			return false
		}
		unshape := c.shapeBodies(g.Gate, &gr)
		c.x.unhold = func() {
			unshape()
			unhold()
		}
		return true
	case gate.Challenge:
		c.unauthorized(g, "authentication required")
	case gate.Limited:
		c.rateLimited(d)
	default:
		if d.Reason != "" {
			c.denyBecause(d)
			break
		}
		c.deny(d.Rule, nil)
	}
	return false
}

// unauthorized answers 401 with a Basic challenge (RFC 9110 §11.6.1).
func (c *conn) unauthorized(g *RouteGate, msg string) {
	realm := g.Realm
	if realm == "" {
		realm = "janus"
	}
	c.x.rule = gate.RuleAuth
	c.x.denied = true
	c.reply(401, msg, func(h *httpmsg.Header) {
		h.AddString("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
	})
	c.logError(msg)
}
