package live

import (
	"math/bits"
	"time"
)

// The latency histogram is log-bucketed the way HDR histograms are: values
// in microseconds, exact below 2^subBits, and above that 2^subBits buckets
// per power of two. A bucket is at most 1/16 of its lower bound wide, so
// reading its midpoint is within about 3% of any value in it (from 32 µs
// up; below that the 1-µs resolution dominates).
const (
	subBits  = 4
	subCount = 1 << subBits
	// maxBits bounds the range: 2^32 µs is about 71 minutes; longer
	// requests count in the last bucket.
	maxBits  = 32
	histSize = (maxBits - subBits + 1) * subCount
)

// hist counts latencies. The zero value is empty.
type hist [histSize]uint32

// histIndex returns the bucket of d.
func histIndex(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	v := uint64(d / time.Microsecond)
	if v < subCount {
		return int(v)
	}
	n := bits.Len64(v) // > subBits
	if n > maxBits {
		return histSize - 1
	}
	shift := n - subBits - 1
	return (shift+1)<<subBits + int(v>>shift) - subCount
}

// histValue returns the midpoint of bucket i.
func histValue(i int) time.Duration {
	if i < subCount {
		return time.Duration(i) * time.Microsecond
	}
	shift := i>>subBits - 1
	m := uint64(i&(subCount-1) + subCount)
	lo := m << shift
	hi := (m + 1) << shift
	return time.Duration((lo+hi)/2) * time.Microsecond
}

func (h *hist) add(d time.Duration) { h[histIndex(d)]++ }

func (h *hist) merge(o *hist) {
	for i, n := range o {
		h[i] += n
	}
}

// quantiles returns the value at each of qs (in (0,1], ascending) of the
// counted latencies; zeros when h is empty.
func (h *hist) quantiles(qs []float64, out []time.Duration) {
	var total uint64
	for _, n := range h {
		total += uint64(n)
	}
	if total == 0 {
		clear(out)
		return
	}
	var seen uint64
	j := 0
	for i, n := range h {
		if n == 0 {
			continue
		}
		seen += uint64(n)
		for j < len(qs) && float64(seen) >= qs[j]*float64(total) {
			out[j] = histValue(i)
			j++
		}
		if j == len(qs) {
			return
		}
	}
	for ; j < len(qs); j++ {
		out[j] = histValue(histSize - 1)
	}
}
