package live

import (
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
)

// Record is a JSON-ready copy of one access-log Entry. bytes_in are the
// bytes from the client (Entry.BytesUp), bytes_out those to it
// (Entry.BytesDown).
type Record struct {
	Time       time.Time      `json:"time"` // when the exchange started
	Listener   string         `json:"listener"`
	Face       string         `json:"face"` // "forward" or "reverse"
	Route      string         `json:"route,omitempty"`
	Upstream   string         `json:"upstream,omitempty"`
	Client     netip.AddrPort `json:"client"`
	User       string         `json:"user,omitempty"`
	Protocol   string         `json:"protocol"`
	Method     string         `json:"method,omitempty"`
	Target     string         `json:"target"`
	Status     int            `json:"status"`
	Class      string         `json:"class"` // Class.String
	BytesIn    int64          `json:"bytes_in"`
	BytesOut   int64          `json:"bytes_out"`
	DurationMS float64        `json:"duration_ms"`
	Rule       string         `json:"rule,omitempty"`
	Denied     bool           `json:"denied,omitempty"`
	Limited    bool           `json:"limited,omitempty"` // a rate, concurrency or quota limit refused it
	Error      string         `json:"error,omitempty"`
	UserAgent  string         `json:"user_agent,omitempty"`
	Referer    string         `json:"referer,omitempty"`
}

// record copies e. Strings are shared, not copied: they are immutable, and
// the faces build them as ordinary strings (never over reused buffers).
func record(e *observe.Entry, c Class) Record {
	return Record{
		Time: e.Time, Listener: e.Listener, Face: faceNames[faceOf(e)], Route: e.Route, Upstream: e.Upstream,
		Client: e.Client, User: e.User, Protocol: e.Protocol, Method: e.Method, Target: e.Target,
		Status: e.Status, Class: c.String(), BytesIn: e.BytesUp, BytesOut: e.BytesDown,
		DurationMS: ms(e.Duration), Rule: e.Rule, Denied: e.Denied, Limited: e.Limited, Error: e.Error,
		UserAgent: e.UserAgent, Referer: e.Referer,
	}
}

// recordRing keeps the last len(buf) records.
type recordRing struct {
	buf  []Record
	next int  // where the next record goes
	full bool // buf has wrapped
}

func newRecordRing(n int) recordRing { return recordRing{buf: make([]Record, n)} }

func (r *recordRing) add(rec *Record) {
	if len(r.buf) == 0 {
		return
	}
	r.buf[r.next] = *rec
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// list returns the records newest first.
func (r *recordRing) list() []Record {
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]Record, 0, n)
	for i := range n {
		out = append(out, r.buf[(r.next-1-i+len(r.buf))%len(r.buf)])
	}
	return out
}
