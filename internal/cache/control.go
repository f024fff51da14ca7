package cache

import (
	"github.com/janus-proxy/janus/internal/httpmsg"
)

// Flag is a Cache-Control directive without an argument (or whose argument
// is kept elsewhere).
type Flag uint32

// Directive flags (RFC 9111 §5.2, RFC 8246 immutable).
const (
	NoStore         Flag = 1 << iota // §5.2.1.5, §5.2.2.5
	NoCache                          // unqualified no-cache (§5.2.1.4, §5.2.2.4)
	NoCacheFields                    // no-cache="field, ..." (§5.2.2.4)
	Private                          // unqualified private (§5.2.2.7)
	PrivateFields                    // private="field, ..."
	Public                           // §5.2.2.9
	MustRevalidate                   // §5.2.2.2
	ProxyRevalidate                  // §5.2.2.8
	MustUnderstand                   // §5.2.2.3
	NoTransform                      // §5.2.1.6, §5.2.2.6
	OnlyIfCached                     // §5.2.1.7
	Immutable                        // RFC 8246
	MaxStaleAny                      // max-stale without a value (§5.2.1.2)
)

// Absent is the value of a delta-seconds directive that was not given.
const Absent = -1

// maxDelta is what a delta-seconds too large to represent becomes
// (RFC 9111 §1.2.2).
const maxDelta = 1 << 31

// Directives is a parsed Cache-Control (RFC 9111 §5.2). Delta-seconds
// values are Absent when not given. Duplicate and conflicting directives
// are resolved to the most restrictive reading (§4.2.1): the smallest
// max-age/s-maxage/stale-*, an invalid max-age or s-maxage counts as 0
// (stale), a second field list of no-cache or private widens to the
// unqualified directive. The field lists alias the parsed header.
type Directives struct {
	Flags    Flag
	MaxAge   int64
	SMaxAge  int64
	MaxStale int64 // request; MaxStaleAny when given without a value
	MinFresh int64 // request
	SWR      int64 // stale-while-revalidate (RFC 5861 §3)
	SIE      int64 // stale-if-error (RFC 5861 §4)

	NoCacheList []byte // field names of a qualified no-cache
	PrivateList []byte // field names of a qualified private
}

// Has reports whether every flag in f is set.
func (d *Directives) Has(f Flag) bool { return d.Flags&f == f }

func (d *Directives) reset() {
	*d = Directives{MaxAge: Absent, SMaxAge: Absent, MaxStale: Absent, MinFresh: Absent, SWR: Absent, SIE: Absent}
}

// ParseRequest parses the Cache-Control fields of a request. Without any
// Cache-Control, Pragma: no-cache means no-cache (RFC 9111 §5.4: HTTP/1.0
// caches and clients).
func ParseRequest(h *httpmsg.Header, d *Directives) {
	d.reset()
	if !parseFields(h, d) && h.HasToken("Pragma", "no-cache") {
		d.Flags |= NoCache
	}
}

// ParseResponse parses the Cache-Control fields of a response. Pragma is
// ignored: its meaning in responses is unspecified (RFC 9111 §5.4).
func ParseResponse(h *httpmsg.Header, d *Directives) {
	d.reset()
	parseFields(h, d)
}

// parseFields merges every Cache-Control field line and reports whether
// there was any.
func parseFields(h *httpmsg.Header, d *Directives) bool {
	found := false
	for i := h.Index("Cache-Control", 0); i >= 0; i = h.Index("Cache-Control", i+1) {
		found = true
		ParseDirectives(h.Value(i), d)
	}
	return found
}

// ParseDirectives adds the directives of one Cache-Control field value to
// d. Unknown directives are ignored (§5.2.3). It does not allocate.
func ParseDirectives(v []byte, d *Directives) {
	for len(v) > 0 {
		var name, arg []byte
		var hasArg bool
		name, arg, _, hasArg, v = nextDirective(v)
		if len(name) == 0 {
			continue
		}
		switch {
		case httpmsg.EqualFold(name, "max-age"):
			d.MaxAge = restrictDelta(d.MaxAge, arg, hasArg, 0)
		case httpmsg.EqualFold(name, "s-maxage"):
			d.SMaxAge = restrictDelta(d.SMaxAge, arg, hasArg, 0)
		case httpmsg.EqualFold(name, "max-stale"):
			if !hasArg {
				d.Flags |= MaxStaleAny
			} else if n, ok := parseDelta(arg); ok {
				// Accepting less staleness is the restrictive reading.
				d.MaxStale = minDelta(d.MaxStale, n)
			}
		case httpmsg.EqualFold(name, "min-fresh"):
			if n, ok := parseDelta(arg); ok && hasArg && (d.MinFresh == Absent || n > d.MinFresh) {
				d.MinFresh = n
			}
		case httpmsg.EqualFold(name, "stale-while-revalidate"):
			// An invalid value grants nothing (RFC 5861 §3).
			if n, ok := parseDelta(arg); ok && hasArg {
				d.SWR = minDelta(d.SWR, n)
			}
		case httpmsg.EqualFold(name, "stale-if-error"):
			if n, ok := parseDelta(arg); ok && hasArg {
				d.SIE = minDelta(d.SIE, n)
			}
		case httpmsg.EqualFold(name, "no-cache"):
			d.NoCacheList = addFieldList(&d.Flags, NoCache, NoCacheFields, d.NoCacheList, arg, len(arg) > 0)
		case httpmsg.EqualFold(name, "private"):
			d.PrivateList = addFieldList(&d.Flags, Private, PrivateFields, d.PrivateList, arg, len(arg) > 0)
		case httpmsg.EqualFold(name, "no-store"):
			d.Flags |= NoStore
		case httpmsg.EqualFold(name, "public"):
			d.Flags |= Public
		case httpmsg.EqualFold(name, "must-revalidate"):
			d.Flags |= MustRevalidate
		case httpmsg.EqualFold(name, "proxy-revalidate"):
			d.Flags |= ProxyRevalidate
		case httpmsg.EqualFold(name, "must-understand"):
			d.Flags |= MustUnderstand
		case httpmsg.EqualFold(name, "no-transform"):
			d.Flags |= NoTransform
		case httpmsg.EqualFold(name, "only-if-cached"):
			d.Flags |= OnlyIfCached
		case httpmsg.EqualFold(name, "immutable"):
			d.Flags |= Immutable
		}
	}
}

// addFieldList records no-cache or private, with or without a field list.
// A second, different list cannot be merged without allocating, so it
// widens the directive to its unqualified form: the restrictive reading.
func addFieldList(flags *Flag, plain, qualified Flag, list, arg []byte, hasList bool) []byte {
	switch {
	case !hasList:
		*flags |= plain
	case *flags&qualified == 0:
		*flags |= qualified
		return arg
	case string(list) != string(arg):
		*flags |= plain
	}
	return list
}

// restrictDelta folds a max-age-like value: the smallest wins, and an
// invalid or missing argument means invalid freshness, that is stale (0).
func restrictDelta(cur int64, arg []byte, hasArg bool, invalid int64) int64 {
	n, ok := parseDelta(arg)
	if !ok || !hasArg {
		n = invalid
	}
	return minDelta(cur, n)
}

func minDelta(cur, n int64) int64 {
	if cur == Absent || n < cur {
		return n
	}
	return cur
}

// parseDelta reads delta-seconds (RFC 9111 §1.2.2): 1*DIGIT, saturating at
// 2^31.
func parseDelta(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	if n > maxDelta {
		n = maxDelta
	}
	return n, true
}

// nextDirective splits the first directive off a Cache-Control value:
// token [ "=" ( token / quoted-string ) ]. Commas inside a quoted string do
// not end the directive. A quoted argument is returned without its quotes;
// escapes (quoted-pair) are left in place, which no directive Janus reads
// needs to undo.
func nextDirective(v []byte) (name, arg []byte, quoted, hasArg bool, rest []byte) {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
		i++
	}
	start := i
	for i < len(v) && v[i] != '=' && v[i] != ',' {
		i++
	}
	name = httpmsg.TrimOWS(v[start:i])
	if i < len(v) && v[i] == '=' {
		hasArg = true
		i++
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i < len(v) && v[i] == '"' {
			quoted = true
			i++
			s := i
			for i < len(v) && v[i] != '"' {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				i++
			}
			arg = v[s:i]
			if i < len(v) {
				i++ // closing quote
			}
		} else {
			s := i
			for i < len(v) && v[i] != ',' {
				i++
			}
			arg = httpmsg.TrimOWS(v[s:i])
		}
	}
	// Skip anything up to the next comma (junk after a quoted string).
	for i < len(v) && v[i] != ',' {
		i++
	}
	return name, arg, quoted, hasArg, v[i:]
}

// listHas reports whether a field-name list (no-cache="...", Vary) holds
// name, ignoring case.
func listHas(list []byte, name []byte) bool {
	for len(list) > 0 {
		var elem []byte
		elem, list = httpmsg.NextElement(list)
		if equalFold(elem, name) {
			return true
		}
	}
	return false
}

func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
