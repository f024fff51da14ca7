package httpmsg

// FieldNames is a list of field names, matched ignoring case. Header rules
// are kept as such lists so that each direction and each face says exactly
// what it strips.
type FieldNames []string

// RequestHopByHop lists the fields that describe one connection rather than
// the message, so an intermediary removes them from a request before
// forwarding it (RFC 9110 §7.6.1).
//
// RequestHopByHop is what a proxy strips from a request it forwards. Besides
// the fields RFC 9110 §7.6.1 names (Connection, Proxy-Connection, Keep-Alive,
// TE, Transfer-Encoding, Upgrade), it drops Trailer (the codec re-announces
// trailers it forwards) and the proxy's own authentication fields
// (Proxy-Authorization carries the client's credentials for this proxy,
// RFC 9110 §11.7.2, and must never reach the origin).
var RequestHopByHop = FieldNames{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"TE",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// ResponseHopByHop is what a proxy strips from a response it forwards. An
// origin's Proxy-Authenticate is left alone: it is addressed to whatever
// proxy the client configured.
var ResponseHopByHop = FieldNames{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authorization",
	"TE",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// Contains reports whether name is on the list, ignoring case.
func (l FieldNames) Contains(name []byte) bool {
	for _, n := range l {
		if EqualFold(name, n) {
			return true
		}
	}
	return false
}

// RemoveHopByHop removes the fields on list and every field that a
// Connection field names (RFC 9110 §7.6.1). With keepUpgrade, Upgrade is kept
// (and an "upgrade" Connection option does not remove it) because an upgrade
// is being forwarded; the caller then writes its own Connection: upgrade.
//
// Callers add their own fields (Via, X-Forwarded-For, framing) after this, so
// a client cannot name them in Connection to have them dropped.
func (h *Header) RemoveHopByHop(list FieldNames, keepUpgrade bool) {
	// One Connection field makes one list to consult; its bytes stay put in
	// the storage while the field index is compacted below.
	var options []byte
	if c := h.Combine("Connection"); c >= 0 {
		options = h.Value(c)
	}
	h.delFunc(func(n []byte) bool {
		if keepUpgrade && EqualFold(n, "Upgrade") {
			return false
		}
		return list.Contains(n) || listHasBytes(options, n)
	})
}

// listHasBytes reports whether the comma-separated list holds name.
func listHasBytes(list, name []byte) bool {
	for len(list) > 0 {
		var elem []byte
		elem, list = NextElement(list)
		if equalFoldBytes(elem, name) {
			return true
		}
	}
	return false
}

// DelNames removes every field whose name is on list and returns how many
// it removed.
func (h *Header) DelNames(list FieldNames) int {
	return h.delFunc(list.Contains)
}
