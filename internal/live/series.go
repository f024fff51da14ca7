package live

import (
	"sync"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
)

// Window lengths. Series and the one-minute figures are made of complete
// seconds (the current second is still filling); the ten-minute latency
// percentiles and the tops are kept per minute and cover the current minute
// and the nine before it.
const (
	seriesLen  = 600 // seconds in a Series
	secondRing = seriesLen + 1
	histSecs   = 60 + 1 // per-second histograms: one minute plus the current second
	minuteRing = 10
)

// Faces: every entry counts under one. An Entry whose Face is not
// "reverse" counts as forward.
const (
	faceForward = iota
	faceReverse
	numFaces
)

var faceNames = [numFaces]string{"forward", "reverse"}

func faceOf(e *observe.Entry) int {
	if e.Face == "reverse" {
		return faceReverse
	}
	return faceForward
}

// second is one second's counts for one face.
type second struct {
	sec      int64 // Unix second this slot holds; stale slots read as zero
	requests int64
	bytesIn  int64 // from clients
	bytesOut int64 // to clients
	errors   int64
	denied   int64
	classes  [numClasses]int64
}

func (s *second) add(e *observe.Entry, c Class, isErr bool) {
	s.requests++
	s.bytesIn += e.BytesUp
	s.bytesOut += e.BytesDown
	s.classes[c]++
	if isErr {
		s.errors++
	}
	if e.Denied {
		s.denied++
	}
}

func (s *second) merge(o *second) {
	s.requests += o.requests
	s.bytesIn += o.bytesIn
	s.bytesOut += o.bytesOut
	s.errors += o.errors
	s.denied += o.denied
	for i, n := range o.classes {
		s.classes[i] += n
	}
}

// faceStats is one face's rings. Its mutex is held only for a few
// increments per entry.
type faceStats struct {
	mu      sync.Mutex
	seconds [secondRing]second
	// Latency histograms of HTTP exchanges (tunnels excluded), per second
	// for the last minute and per minute for the last ten.
	secHist  [histSecs]hist
	secHistT [histSecs]int64 // the Unix second each secHist holds
	minHist  [minuteRing]hist
	minHistT [minuteRing]int64 // the Unix minute each minHist holds
}

func (f *faceStats) add(sec int64, e *observe.Entry, c Class, isErr bool) {
	f.mu.Lock()
	s := &f.seconds[sec%secondRing]
	if s.sec != sec {
		*s = second{sec: sec}
	}
	s.add(e, c, isErr)
	if !IsTunnel(e) {
		i := sec % histSecs
		if f.secHistT[i] != sec {
			f.secHist[i] = hist{}
			f.secHistT[i] = sec
		}
		f.secHist[i].add(e.Duration)
		min := sec / 60
		j := min % minuteRing
		if f.minHistT[j] != min {
			f.minHist[j] = hist{}
			f.minHistT[j] = min
		}
		f.minHist[j].add(e.Duration)
	}
	f.mu.Unlock()
}

// Quantiles reported, in this order.
var quantiles = []float64{0.5, 0.9, 0.99}

// Latency is a set of latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
}

func latencyOf(h *hist) Latency {
	var q [3]time.Duration
	h.quantiles(quantiles, q[:])
	return Latency{P50: ms(q[0]), P90: ms(q[1]), P99: ms(q[2])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Totals sums one window.
type Totals struct {
	Seconds  int     `json:"seconds"` // the window's length
	Requests int64   `json:"requests"`
	Rate     float64 `json:"rate"` // requests per second over the window
	BytesIn  int64   `json:"bytes_in"`
	BytesOut int64   `json:"bytes_out"`
	Errors   int64   `json:"errors"`
	Denied   int64   `json:"denied"`
	// Classes counts by Class.String; classes never seen are left out.
	Classes map[string]int64 `json:"classes"`
	Latency Latency          `json:"latency"`
}

func totalsOf(s *second, secs int, h *hist) Totals {
	t := Totals{
		Seconds: secs, Requests: s.requests, BytesIn: s.bytesIn, BytesOut: s.bytesOut,
		Errors: s.errors, Denied: s.denied, Classes: map[string]int64{}, Latency: latencyOf(h),
	}
	if secs > 0 {
		t.Rate = float64(s.requests) / float64(secs)
	}
	for c, n := range s.classes {
		if n != 0 {
			t.Classes[Class(c).String()] = n
		}
	}
	return t
}

// Series is one face's per-second counts over the last ten minutes,
// column by column, oldest first: point i is the second starting at
// Start+i (Unix seconds). Every slice has Len points.
type Series struct {
	Start    int64   `json:"start"`
	Step     int     `json:"step"` // seconds per point: 1
	Len      int     `json:"len"`
	Requests []int64 `json:"requests"`
	BytesIn  []int64 `json:"bytes_in"`
	BytesOut []int64 `json:"bytes_out"`
	Errors   []int64 `json:"errors"`
	Denied   []int64 `json:"denied"`
	// Classes holds one column per Class.String ("none", "1xx".."5xx",
	// "socks_ok", "socks_err"), always all of them.
	Classes map[string][]int64 `json:"classes"`
}

// FaceSnapshot is one face's view.
type FaceSnapshot struct {
	Series  Series `json:"series"`
	Last1m  Totals `json:"last_1m"`
	Last10m Totals `json:"last_10m"`
}

// snapshot reads f at the current second now.
func (f *faceStats) snapshot(now int64) FaceSnapshot {
	start := now - seriesLen
	sr := Series{
		Start: start, Step: 1, Len: seriesLen,
		Requests: make([]int64, seriesLen), BytesIn: make([]int64, seriesLen),
		BytesOut: make([]int64, seriesLen), Errors: make([]int64, seriesLen),
		Denied: make([]int64, seriesLen), Classes: make(map[string][]int64, numClasses),
	}
	var cols [numClasses][]int64
	for c := range cols {
		cols[c] = make([]int64, seriesLen)
		sr.Classes[Class(c).String()] = cols[c]
	}
	var sum1, sum10 second
	var h1, h10 hist

	f.mu.Lock()
	for i := range seriesLen {
		sec := start + int64(i)
		s := &f.seconds[sec%secondRing]
		if s.sec != sec {
			continue
		}
		sr.Requests[i], sr.BytesIn[i], sr.BytesOut[i] = s.requests, s.bytesIn, s.bytesOut
		sr.Errors[i], sr.Denied[i] = s.errors, s.denied
		for c, n := range s.classes {
			cols[c][i] = n
		}
		sum10.merge(s)
		if sec >= now-60 {
			sum1.merge(s)
		}
	}
	for i, t := range f.secHistT {
		if t >= now-60 && t < now {
			h1.merge(&f.secHist[i])
		}
	}
	for i, t := range f.minHistT {
		if m := now / 60; t > m-minuteRing && t <= m {
			h10.merge(&f.minHist[i])
		}
	}
	f.mu.Unlock()

	return FaceSnapshot{Series: sr, Last1m: totalsOf(&sum1, 60, &h1), Last10m: totalsOf(&sum10, seriesLen, &h10)}
}

// lastSecond returns the counts and latency histogram of second sec.
func (f *faceStats) lastSecond(sec int64) (second, hist) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s second
	if b := &f.seconds[sec%secondRing]; b.sec == sec {
		s = *b
	}
	var h hist
	if i := sec % histSecs; f.secHistT[i] == sec {
		h = f.secHist[i]
	}
	return s, h
}
