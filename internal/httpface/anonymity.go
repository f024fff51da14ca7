package httpface

import (
	"fmt"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Anonymity is what an origin learns about the client behind the proxy.
type Anonymity uint8

// Anonymity levels. The zero value is Anonymous.
const (
	// Anonymous adds Via (RFC 9110 §7.6.3) and passes the client's own
	// fields on unchanged: the origin knows a proxy is involved, not who
	// the client is.
	Anonymous Anonymity = iota
	// Transparent adds Via and appends the client's address to
	// X-Forwarded-For.
	Transparent
	// Elite adds nothing and strips the fields that identify a client or an
	// earlier proxy, so the request looks as if the client sent it directly.
	Elite
)

func (a Anonymity) String() string {
	switch a {
	case Anonymous:
		return "anonymous"
	case Transparent:
		return "transparent"
	case Elite:
		return "elite"
	}
	return fmt.Sprintf("Anonymity(%d)", uint8(a))
}

// ParseAnonymity maps a config word to a level; "" is Anonymous.
func ParseAnonymity(s string) (Anonymity, error) {
	switch s {
	case "", "anonymous":
		return Anonymous, nil
	case "transparent":
		return Transparent, nil
	case "elite":
		return Elite, nil
	}
	return 0, fmt.Errorf("unknown anonymity level %q (want anonymous, transparent or elite)", s)
}

// clientIdentifying lists the fields Elite strips: the client's or an
// earlier proxy's address, in the standard (RFC 7239 Forwarded, Via) and the
// common de facto spellings.
var clientIdentifying = httpmsg.FieldNames{
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Host",
	"X-Forwarded-Proto",
	"Via",
	"X-Real-IP",
	"Client-IP",
	"True-Client-IP",
	"X-Client-IP",
	"X-Originating-IP",
	"X-Cluster-Client-IP",
	"Forwarded-For",
}

// applyRequest adds or strips the fields of the level on an outbound
// request. via is "1.x name"; clientIP is the client's address in text.
func (a Anonymity) applyRequest(h *httpmsg.Header, via, clientIP []byte) {
	switch a {
	case Elite:
		h.DelNames(clientIdentifying)
	case Transparent:
		if i := h.Combine("X-Forwarded-For"); i >= 0 {
			h.AppendValue(i, ", ", clientIP)
		} else {
			h.Add(xForwardedFor, clientIP)
		}
		appendVia(h, via)
	default:
		appendVia(h, via)
	}
}

// applyResponse adds Via to a response, except in Elite.
func (a Anonymity) applyResponse(h *httpmsg.Header, via []byte) {
	if a != Elite {
		appendVia(h, via)
	}
}

var (
	viaName       = []byte("Via")
	xForwardedFor = []byte("X-Forwarded-For")
)

// appendVia adds this hop to Via (RFC 9110 §7.6.3: each intermediary
// appends its own entry, in order).
func appendVia(h *httpmsg.Header, via []byte) {
	if i := h.Combine("Via"); i >= 0 {
		h.AppendValue(i, ", ", via)
		return
	}
	h.Add(viaName, via)
}
