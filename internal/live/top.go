package live

import (
	"cmp"
	"slices"
	"strings"
)

// Heavy hitters use the space-saving algorithm (Metwally, Agrawal and El
// Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data
// Streams", 2005): a summary keeps a fixed number of counters; a new key
// takes over the smallest one and inherits its count as its possible
// overestimate. Any key whose true weight exceeds the smallest counter is
// in the summary, so with several times more counters than reported keys a
// skewed stream's top keys are found exactly. One summary per minute, kept
// for ten minutes, merged on read: memory is bounded and old traffic ages
// out a minute at a time.

// counter is one tracked key. rank is the weight the summary orders by
// (requests or bytes); requests and bytes count from when the key was
// last taken in, so the one that is not the rank is a lower bound. last is
// what the key's newest entry carried (the limited clients keep the rule
// and time there; the other tops keep nothing, a struct{}).
type counter[K comparable, V any] struct {
	key      K
	rank     int64
	overest  int64 // rank may exceed the true weight by at most this
	requests int64
	bytes    int64
	last     V
	at       int // index in the heap
}

// summary is a space-saving summary. Counters stay in place; a min-heap of
// their indices, ordered by rank, finds the smallest in O(log capacity)
// without touching the key map.
type summary[K comparable, V any] struct {
	minute   int64 // the Unix minute it counts
	cap      int
	counters []counter[K, V]
	heap     []int
	index    map[K]int // key → index in counters
}

func newSummary[K comparable, V any](capacity int) *summary[K, V] {
	return &summary[K, V]{
		cap: capacity, counters: make([]counter[K, V], 0, capacity), heap: make([]int, 0, capacity),
		index: make(map[K]int, capacity),
	}
}

func (s *summary[K, V]) reset(minute int64) {
	s.minute = minute
	s.counters = s.counters[:0]
	s.heap = s.heap[:0]
	clear(s.index)
}

// add counts one entry for key with rank weight w. A key not tracked and
// with no weight is not taken in, so zero-byte entries do not churn a
// by-bytes summary.
func (s *summary[K, V]) add(key K, w, bytes int64, last V) {
	if i, ok := s.index[key]; ok {
		c := &s.counters[i]
		c.rank += w
		c.requests++
		c.bytes += bytes
		c.last = last
		s.down(c.at)
		return
	}
	if w == 0 {
		return
	}
	if len(s.counters) < s.cap {
		i := len(s.counters)
		s.counters = append(s.counters, counter[K, V]{key: key, rank: w, requests: 1, bytes: bytes, last: last, at: len(s.heap)})
		s.heap = append(s.heap, i)
		s.index[key] = i
		s.up(len(s.heap) - 1)
		return
	}
	i := s.heap[0]
	c := &s.counters[i]
	delete(s.index, c.key)
	*c = counter[K, V]{key: key, rank: c.rank + w, overest: c.rank, requests: 1, bytes: bytes, last: last, at: 0}
	s.index[key] = i
	s.down(0)
}

func (s *summary[K, V]) less(a, b int) bool {
	return s.counters[s.heap[a]].rank < s.counters[s.heap[b]].rank
}

func (s *summary[K, V]) swap(a, b int) {
	s.heap[a], s.heap[b] = s.heap[b], s.heap[a]
	s.counters[s.heap[a]].at = a
	s.counters[s.heap[b]].at = b
}

func (s *summary[K, V]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			return
		}
		s.swap(i, p)
		i = p
	}
}

func (s *summary[K, V]) down(i int) {
	n := len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			return
		}
		s.swap(i, m)
		i = m
	}
}

// Top is one heavy hitter over the window.
type Top struct {
	Key      string `json:"key"`
	Requests int64  `json:"requests"`
	Bytes    int64  `json:"bytes"` // in + out
	// Requests and Bytes are lower bounds: they count from when the key
	// was taken into each minute's summary. Error bounds how much of the
	// ranked figure (requests for a by-requests list, bytes for a
	// by-bytes list) was missed: before the key was taken in, and in
	// minutes whose summary evicted it. The true figure lies in
	// [figure, figure+Error]; 0 means exact.
	Error int64 `json:"error"`
}

// topRing is ten minutes of summaries ranked one way.
type topRing[K comparable, V any] struct {
	byBytes bool
	slots   [minuteRing]*summary[K, V]
}

func newTopRing[K comparable, V any](capacity int, byBytes bool) *topRing[K, V] {
	r := &topRing[K, V]{byBytes: byBytes}
	for i := range r.slots {
		r.slots[i] = newSummary[K, V](capacity)
		r.slots[i].minute = -1
	}
	return r
}

func (r *topRing[K, V]) add(minute int64, key K, bytes int64, last V) {
	s := r.slots[minute%minuteRing]
	if s.minute != minute {
		s.reset(minute)
	}
	w := int64(1)
	if r.byBytes {
		w = bytes
	}
	s.add(key, w, bytes, last)
}

// merged is one key's figures summed over the window; see Top for what
// they bound. last is from the newest minute that tracks the key.
type merged[K comparable, V any] struct {
	key      K
	requests int64
	bytes    int64
	err      int64
	last     V
}

// merge sums the summaries of the window ending at minute, key by key, in
// no particular order.
func (r *topRing[K, V]) merge(minute int64) []merged[K, V] {
	type agg struct {
		merged[K, V]
		in uint16 // bit i: slot i tracks the key
	}
	byKey := map[K]*agg{}
	var mins [minuteRing]int64 // the most a key absent from slot i can have had there
	// Oldest minute first, so that last ends up the newest.
	for m := minute - minuteRing + 1; m <= minute; m++ {
		if m < 0 {
			continue
		}
		i := m % minuteRing
		s := r.slots[i]
		if s.minute != m {
			continue
		}
		// A summary that never filled up never evicted: a key it lacks
		// had nothing in that minute.
		if len(s.counters) == s.cap {
			mins[i] = s.counters[s.heap[0]].rank
		}
		for _, c := range s.counters {
			a := byKey[c.key]
			if a == nil {
				a = &agg{merged: merged[K, V]{key: c.key}}
				byKey[c.key] = a
			}
			a.requests += c.requests
			a.bytes += c.bytes
			a.err += c.overest
			a.last = c.last
			a.in |= 1 << i
		}
	}
	out := make([]merged[K, V], 0, len(byKey))
	for _, a := range byKey {
		for i, m := range mins {
			if a.in&(1<<i) == 0 {
				a.err += m
			}
		}
		out = append(out, a.merged)
	}
	return out
}

// hostRing is a top of strings (hosts, users) that keeps nothing else.
type hostRing = topRing[string, struct{}]

// top returns the n heaviest keys of the window ending at minute,
// heaviest first (ties by key).
func top(r *hostRing, minute int64, n int) []Top {
	ms := r.merge(minute)
	out := make([]Top, 0, len(ms))
	for _, m := range ms {
		// Keys share the entries' targets; a copy keeps the result small.
		out = append(out, Top{Key: strings.Clone(m.key), Requests: m.requests, Bytes: m.bytes, Error: m.err})
	}
	rank := func(t *Top) int64 {
		if r.byBytes {
			return t.Bytes
		}
		return t.Requests
	}
	slices.SortFunc(out, func(a, b Top) int {
		if c := cmp.Compare(rank(&b), rank(&a)); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// hostOf returns the host of a target as the faces log it: an absolute URL
// ("http://host:port/path") or an authority ("host:port"). The port and
// IPv6 brackets are dropped; the result shares target's memory.
func hostOf(target string) string {
	if i := strings.Index(target, "://"); i >= 0 {
		target = target[i+3:]
		if j := strings.IndexAny(target, "/?#"); j >= 0 {
			target = target[:j]
		}
		if j := strings.LastIndexByte(target, '@'); j >= 0 {
			target = target[j+1:]
		}
	}
	if strings.HasPrefix(target, "[") {
		if j := strings.IndexByte(target, ']'); j > 0 {
			return target[1:j]
		}
		return "" // malformed: counted under no destination
	}
	if j := strings.LastIndexByte(target, ':'); j >= 0 && strings.IndexByte(target, ':') == j {
		return target[:j]
	}
	return target // no port, or an IPv6 literal without brackets (so no port)
}
