package httpface

import (
	"net/http"

	"github.com/janus-proxy/janus/internal/gate"
)

// admit applies a route's access control to an HTTP/2 or HTTP/3 request, as
// the HTTP/1.1 face's admit does, and removes the Authorization field it
// consumed from what goes upstream.
func (x *h2exchange) admit(g *RouteGate) bool {
	var user *gate.Identity
	if g.Basic {
		name, password, ok := x.r.BasicAuth()
		if ok {
			id, err := g.Gate.Authenticate(name, password)
			if err == nil {
				user = id
			} else {
				x.err = "authentication failed: " + err.Error()
			}
		}
		if user == nil {
			x.challenge(g)
			return false
		}
		x.q.req.Header.Del("Authorization")
	}
	if g.Gate.Policy == nil && len(g.Gate.Limits) == 0 && len(g.Gate.Concs) == 0 && len(g.Gate.Bandwidths) == 0 && g.Gate.Quotas == nil {
		return true
	}
	gr := gate.Request{Client: x.client.Addr(), User: user, Protocol: gate.HTTP, Method: x.method(), Host: string(x.q.params.Host),
		Route: x.route.Name, Header: &x.q.req.Header}
	d := g.Gate.Decide(&gr)
	switch d.Verdict {
	case gate.Allow:
		// Requests in flight on the route, held until it is answered.
		unhold, hd := g.Gate.Hold(&gr)
		if hd.Verdict != gate.Allow {
			x.rateLimited(hd)
			return false
		}
		put := x.shapeBodies(g.Gate, &gr)
		x.unhold = func() {
			put()
			unhold()
		}
		return true
	case gate.Challenge:
		x.challenge(g)
	case gate.Limited:
		x.rateLimited(d)
	default:
		x.denied = true
		if d.Reason != "" {
			x.limited = d.Rule == gate.RuleQuota
			x.plain(http.StatusForbidden, d.Reason)
			break
		}
		x.plain(http.StatusForbidden, "access denied by rule "+d.Rule)
	}
	return false
}

func (x *h2exchange) challenge(g *RouteGate) {
	x.denied = true
	realm := g.Realm
	if realm == "" {
		realm = "janus"
	}
	x.w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
	x.plain(http.StatusUnauthorized, "authentication required")
}
