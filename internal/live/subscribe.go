package live

import (
	"strings"
	"sync/atomic"
	"time"
)

// Filter selects the entries a subscriber receives; the zero Filter
// selects every entry and every tick. All set fields must match.
type Filter struct {
	Face     string // "forward" or "reverse"
	Listener string
	Class    string // a Class.String value, such as "5xx" or "socks_err"
	Contains string // a substring of the target or the user
	// NoEntries and NoTicks leave out entry events or tick events.
	NoEntries bool
	NoTicks   bool
}

func (f *Filter) match(r *Record) bool {
	if f.NoEntries {
		return false
	}
	if f.Face != "" && f.Face != r.Face {
		return false
	}
	if f.Listener != "" && f.Listener != r.Listener {
		return false
	}
	if f.Class != "" && f.Class != r.Class {
		return false
	}
	if f.Contains != "" && !strings.Contains(r.Target, f.Contains) && !strings.Contains(r.User, f.Contains) {
		return false
	}
	return true
}

// Event is what a subscriber receives: an entry as it is logged, or once a
// second a tick with the last complete second's aggregates.
type Event struct {
	Type  string `json:"type"`           // "entry" or "tick"
	Entry Record `json:"entry,omitzero"` // set when Type is "entry"
	Tick  *Tick  `json:"tick,omitempty"` // set when Type is "tick"; shared, read only
	// Dropped is how many events this subscriber lost, because its channel
	// was full, just before this one.
	Dropped uint64 `json:"dropped,omitempty"`
}

// Tick is one second's aggregates for each face.
type Tick struct {
	Time  time.Time           `json:"time"`  // the start of the second
	Faces map[string]TickFace `json:"faces"` // "forward", "reverse"
}

// TickFace is one face's counts over one second.
type TickFace struct {
	Requests int64            `json:"requests"`
	BytesIn  int64            `json:"bytes_in"`
	BytesOut int64            `json:"bytes_out"`
	Errors   int64            `json:"errors"`
	Denied   int64            `json:"denied"`
	Classes  map[string]int64 `json:"classes"` // only the classes seen
	Latency  Latency          `json:"latency"` // HTTP exchanges of that second
}

// subscriber is one Subscribe call.
type subscriber struct {
	filter  Filter
	ch      chan Event
	pending atomic.Uint64 // drops not yet reported in an Event
}

// send delivers ev without blocking; a full channel drops it and counts.
func (s *subscriber) send(ev *Event, drops *atomic.Uint64) {
	d := s.pending.Swap(0)
	ev.Dropped = d
	select {
	case s.ch <- *ev:
	default:
		s.pending.Add(d + 1)
		drops.Add(1)
	}
}

// subscribers is the immutable list Log reads; Subscribe and cancel
// replace it.
type subscribers []*subscriber

// Subscribe returns a channel of events matching f and a function that
// ends the subscription and closes the channel. The channel holds
// Options.SubscriberBuffer events; when the subscriber falls behind, new
// events are dropped (and counted) rather than slowing Log. cancel may be
// called more than once.
func (l *Live) Subscribe(f Filter) (<-chan Event, func()) {
	s := &subscriber{filter: f, ch: make(chan Event, l.o.SubscriberBuffer)}
	l.subMu.Lock()
	old := l.subs.Load()
	next := make(subscribers, 0, len(*old)+1)
	next = append(append(next, *old...), s)
	l.subs.Store(&next)
	l.subMu.Unlock()
	var once atomic.Bool
	return s.ch, func() {
		if once.Swap(true) {
			return
		}
		l.subMu.Lock()
		old := l.subs.Load()
		next := make(subscribers, 0, len(*old))
		for _, o := range *old {
			if o != s {
				next = append(next, o)
			}
		}
		l.subs.Store(&next)
		// Log senders hold sendMu for reading while they send, so once
		// it is held here no send to s.ch is in flight or can start.
		l.sendMu.Lock()
		close(s.ch)
		l.sendMu.Unlock()
		l.subMu.Unlock()
	}
}
