package live

import (
	"math"
	"testing"
	"time"
)

func TestSeriesCountsEachCompleteSecond(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	// Second 0: two forward 200s, one reverse 502 error; second 3: one
	// forward 404; second 5 (current, incomplete): one forward 200.
	l.Log(fwd("http://a/", 200, 10, 100, time.Millisecond))
	l.Log(fwd("http://a/", 200, 20, 200, time.Millisecond))
	e := rev(502, 7, time.Millisecond)
	e.Error = "upstream refused"
	l.Log(e)
	c.Add(3 * time.Second)
	l.Log(fwd("http://b/", 404, 1, 2, time.Millisecond))
	c.Add(2 * time.Second)
	l.Log(fwd("http://c/", 200, 1, 1, time.Millisecond))

	s := l.Snapshot()
	f := s.Faces["forward"].Series
	if f.Len != 600 || len(f.Requests) != 600 || f.Start != t0.Unix()+5-600 || f.Step != 1 {
		t.Fatalf("series shape: start %d len %d/%d", f.Start, f.Len, len(f.Requests))
	}
	last := func(col []int64, back int) int64 { return col[len(col)-back] }
	for _, tc := range []struct {
		desc string
		got  int64
		want int64
	}{
		{"forward requests at second 0", last(f.Requests, 5), 2},
		{"forward bytes in at second 0", last(f.BytesIn, 5), 30},
		{"forward bytes out at second 0", last(f.BytesOut, 5), 300},
		{"forward 2xx at second 0", last(f.Classes["2xx"], 5), 2},
		{"forward 404 at second 3", last(f.Classes["4xx"], 2), 1},
		{"nothing at second 4", last(f.Requests, 1), 0},
		{"reverse request at second 0", last(s.Faces["reverse"].Series.Requests, 5), 1},
		{"reverse error at second 0", last(s.Faces["reverse"].Series.Errors, 5), 1},
		{"reverse 5xx at second 0", last(s.Faces["reverse"].Series.Classes["5xx"], 5), 1},
		{"current second not in the series", sum(f.Requests), 3},
		{"forward last minute", s.Faces["forward"].Last1m.Requests, 3},
		{"forward last minute bytes in", s.Faces["forward"].Last1m.BytesIn, 31},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.desc, tc.got, tc.want)
		}
	}
	if n := len(f.Classes); n != int(numClasses) {
		t.Errorf("%d class columns, want all %d", n, numClasses)
	}
}

func sum(xs []int64) (n int64) {
	for _, x := range xs {
		n += x
	}
	return n
}

func TestWindowsAndRates(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	// 10 requests a second for 300 seconds, then 2 a second for 120.
	for range 300 {
		for range 10 {
			l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond))
		}
		c.Add(time.Second)
	}
	for range 120 {
		for range 2 {
			l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond))
		}
		c.Add(time.Second)
	}
	s := l.Snapshot().Faces["forward"]
	for _, tc := range []struct {
		desc string
		got  Totals
		reqs int64
		rate float64
		secs int
	}{
		{"last minute", s.Last1m, 120, 2, 60},
		{"last ten minutes", s.Last10m, 3000 + 240, 3240.0 / 600, 600},
	} {
		if tc.got.Requests != tc.reqs || math.Abs(tc.got.Rate-tc.rate) > 1e-9 || tc.got.Seconds != tc.secs {
			t.Errorf("%s: %d requests at %v/s over %ds, want %d at %v over %d",
				tc.desc, tc.got.Requests, tc.got.Rate, tc.got.Seconds, tc.reqs, tc.rate, tc.secs)
		}
		if tc.got.Classes["2xx"] != tc.reqs {
			t.Errorf("%s: classes %v", tc.desc, tc.got.Classes)
		}
	}
}

func TestRingWrapsAroundAndForgetsOldSeconds(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond))
	for _, tc := range []struct {
		desc  string
		after time.Duration
		want  int64
	}{
		{"still in the window after 600s", 600 * time.Second, 1},
		{"gone after 601s", 601 * time.Second, 0},
		// The slot second 0 used is reused 601 seconds later: the new
		// entry must not add to the stale count.
		{"a reused slot starts from zero", 601 * time.Second, 0},
	} {
		c.Set(t0.Add(tc.after))
		if got := sum(l.Snapshot().Faces["forward"].Series.Requests); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.desc, got, tc.want)
		}
	}
	l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond)) // at 601s, the slot second 0 had
	c.Set(t0.Add(602 * time.Second))
	s := l.Snapshot().Faces["forward"].Series
	if s.Requests[599] != 1 || sum(s.Requests) != 1 {
		t.Errorf("after reuse: last point %d, total %d, want 1 and 1", s.Requests[599], sum(s.Requests))
	}
}

func TestPercentilesWithinTolerance(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	// Minute 0: 1000 reverse requests of 1..1000 ms. Minute 5: 1000 of
	// 10 s each. The last minute sees only the slow ones; ten minutes
	// see both.
	for i := 1; i <= 1000; i++ {
		l.Log(rev(200, 1, time.Duration(i)*time.Millisecond))
	}
	c.Set(t0.Add(5 * time.Minute))
	for range 1000 {
		l.Log(rev(200, 1, 10*time.Second))
	}
	c.Set(t0.Add(5*time.Minute + 30*time.Second))
	s := l.Snapshot().Faces["reverse"]
	for _, tc := range []struct {
		desc      string
		got, want float64
	}{
		{"1m p50", s.Last1m.Latency.P50, 10000},
		{"1m p99", s.Last1m.Latency.P99, 10000},
		{"10m p50", s.Last10m.Latency.P50, 1000},
		{"10m p90", s.Last10m.Latency.P90, 10000},
		{"10m p25", quantileMS(l, 0.25), 500},
		{"10m p40", quantileMS(l, 0.40), 800},
	} {
		if math.Abs(tc.got-tc.want) > 0.035*tc.want {
			t.Errorf("%s: %v ms, want %v ±3.5%%", tc.desc, tc.got, tc.want)
		}
	}
	if s.Last1m.Requests != 1000 || s.Last10m.Requests != 2000 {
		t.Errorf("requests %d / %d", s.Last1m.Requests, s.Last10m.Requests)
	}
}

// quantileMS reads any quantile of the reverse face's ten-minute histogram.
func quantileMS(l *Live, q float64) float64 {
	f := &l.faces[faceReverse]
	var h hist
	for i := range f.minHist {
		h.merge(&f.minHist[i])
	}
	var out [1]time.Duration
	h.quantiles([]float64{q}, out[:])
	return ms(out[0])
}

func TestTunnelsStayOutOfLatency(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	e := fwd("a:443", 200, 1, 1, time.Hour)
	e.Protocol, e.Method = "connect", "CONNECT"
	l.Log(e)
	l.Log(fwd("http://a/", 200, 1, 1, 2*time.Millisecond))
	c.Add(time.Second)
	s := l.Snapshot().Faces["forward"].Last1m
	if s.Requests != 2 || math.Abs(s.Latency.P99-2) > 0.07 {
		t.Errorf("requests %d, p99 %v ms, want 2 and 2 ms", s.Requests, s.Latency.P99)
	}
}

func TestHistogramBucketsStayWithinThreePercent(t *testing.T) {
	prev := -1
	for v := time.Microsecond; v < time.Hour; v = v*21/20 + time.Microsecond {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("index not monotonic at %v", v)
		}
		prev = i
		got := histValue(i)
		if err := math.Abs(float64(got-v)) / float64(v); err > 0.032 && v >= 32*time.Microsecond {
			t.Errorf("%v reads as %v: %.1f%% off", v, got, 100*err)
		}
	}
	if histIndex(100*time.Hour) != histSize-1 || histIndex(-1) != 0 {
		t.Error("out-of-range values are not clamped")
	}
}
