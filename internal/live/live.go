// Package live keeps what the dashboard and the admin API show of the
// traffic, in memory and bounded: per-second series per face over the last
// ten minutes, latency percentiles, the top destinations and users, the
// clients refused by rate, concurrency or quota limits, recent denials and
// errors, a tail of the access log, and subscriptions that stream entries
// and per-second ticks. It is fed the same access-log entries as the
// access log.
package live

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
)

// Options configure a Live. The zero value is usable.
type Options struct {
	// Now is the clock; nil means time.Now. Tests pass a fake one.
	Now func() time.Time
	// TopN is how many top destinations and users a Snapshot lists; 0
	// means 20. Each minute's summary keeps 10×TopN counters.
	TopN int
	// Recent is how many denials and how many errors are kept; 0 means 100.
	Recent int
	// Tail is how many entries of any kind are kept; 0 means 1000.
	Tail int
	// SubscriberBuffer is the channel capacity of each subscriber; 0
	// means 256.
	SubscriberBuffer int
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TopN <= 0 {
		o.TopN = 20
	}
	if o.Recent <= 0 {
		o.Recent = 100
	}
	if o.Tail <= 0 {
		o.Tail = 1000
	}
	if o.SubscriberBuffer <= 0 {
		o.SubscriberBuffer = 256
	}
}

// Live aggregates entries for the live views. It is safe for concurrent
// use; Log takes three short-held locks (the entry's face, the tops, the
// recent lists) and never blocks on subscribers.
type Live struct {
	o     Options
	faces [numFaces]faceStats

	topMu       sync.Mutex
	destByReqs  *hostRing // forward face, host of the target
	destByBytes *hostRing
	usersBytes  *hostRing    // authenticated users, both faces
	limited     *limitedRing // clients refused by a limit, both faces

	recentMu sync.Mutex
	denials  recordRing
	errors   recordRing
	tail     recordRing

	subMu  sync.Mutex // serialises Subscribe and cancel
	sendMu sync.RWMutex
	subs   atomic.Pointer[subscribers]
	drops  atomic.Uint64
}

// New returns an empty Live.
func New(o Options) *Live {
	o.defaults()
	capacity := 10 * o.TopN
	l := &Live{
		o:           o,
		destByReqs:  newTopRing[string, struct{}](capacity, false),
		destByBytes: newTopRing[string, struct{}](capacity, true),
		usersBytes:  newTopRing[string, struct{}](capacity, true),
		limited:     newTopRing[limitKey, limitSeen](capacity, false),
		denials:     newRecordRing(o.Recent),
		errors:      newRecordRing(o.Recent),
		tail:        newRecordRing(o.Tail),
	}
	l.subs.Store(&subscribers{})
	return l
}

// isError reports whether e counts as an error: Janus could not complete
// it (Entry.Error is set). A refusal by the gate is a denial, not an
// error; an origin's 5xx is a status, not an error.
func isError(e *observe.Entry) bool { return e.Error != "" && !e.Denied }

// Log counts e. It copies what it keeps and does not retain e.
func (l *Live) Log(e *observe.Entry) {
	t := l.o.Now()
	now := t.Unix()
	c := ClassOf(e)
	isErr := isError(e)
	face := faceOf(e)
	l.faces[face].add(now, e, c, isErr)

	minute := now / 60
	bytes := e.BytesUp + e.BytesDown
	// One branch for the common case: nothing for the tops.
	if face == faceForward || e.User != "" || e.Limited {
		l.topMu.Lock()
		if face == faceForward {
			if host := hostOf(e.Target); host != "" {
				l.destByReqs.add(minute, host, bytes, struct{}{})
				l.destByBytes.add(minute, host, bytes, struct{}{})
			}
		}
		if e.User != "" {
			l.usersBytes.add(minute, e.User, bytes, struct{}{})
		}
		if e.Limited {
			l.limited.add(minute, limitKey{e.Client.Addr().Unmap(), e.User}, 0, limitSeen{e.Rule, e.Status, t.UnixNano()})
		}
		l.topMu.Unlock()
	}

	rec := record(e, c)
	l.recentMu.Lock()
	l.tail.add(&rec)
	if e.Denied {
		l.denials.add(&rec)
	}
	if isErr {
		l.errors.add(&rec)
	}
	l.recentMu.Unlock()

	if len(*l.subs.Load()) == 0 {
		return
	}
	ev := Event{Type: "entry", Entry: rec}
	l.sendMu.RLock()
	for _, s := range *l.subs.Load() {
		if s.filter.match(&rec) {
			s.send(&ev, &l.drops)
		}
	}
	l.sendMu.RUnlock()
}

// Run sends a tick event to subscribers at the start of every second
// until ctx ends. The server runs it once, in its own goroutine.
func (l *Live) Run(ctx context.Context) {
	for {
		now := l.o.Now()
		wait := now.Truncate(time.Second).Add(time.Second).Sub(now)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		l.tick()
	}
}

// tick sends the aggregates of the last complete second to the
// subscribers that want ticks.
func (l *Live) tick() {
	subs := *l.subs.Load()
	want := false
	for _, s := range subs {
		want = want || !s.filter.NoTicks
	}
	if !want {
		return
	}
	sec := l.o.Now().Unix() - 1
	ev := Event{Type: "tick", Tick: l.tickOf(sec)}
	l.sendMu.RLock()
	for _, s := range *l.subs.Load() {
		if !s.filter.NoTicks {
			s.send(&ev, &l.drops)
		}
	}
	l.sendMu.RUnlock()
}

// tickOf returns the aggregates of second sec.
func (l *Live) tickOf(sec int64) *Tick {
	t := &Tick{Time: time.Unix(sec, 0).UTC(), Faces: make(map[string]TickFace, numFaces)}
	for i := range l.faces {
		s, h := l.faces[i].lastSecond(sec)
		tf := TickFace{
			Requests: s.requests, BytesIn: s.bytesIn, BytesOut: s.bytesOut, Errors: s.errors,
			Denied: s.denied, Classes: map[string]int64{}, Latency: latencyOf(&h),
		}
		for c, n := range s.classes {
			if n != 0 {
				tf.Classes[Class(c).String()] = n
			}
		}
		t.Faces[faceNames[i]] = tf
	}
	return t
}
