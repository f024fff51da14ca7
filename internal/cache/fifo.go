package cache

import "sync/atomic"

// node is an entry's place in one tier's S3-FIFO queues. It is guarded by
// the cache's lock except freq, which hits bump under the read lock.
type node struct {
	prev, next *node
	e          *entry
	size       int64
	queue      uint8 // 0: not queued, qSmall, qMain
	freq       atomic.Int32
}

const (
	qSmall = 1
	qMain  = 2
	// maxFreq caps the access count, as S3-FIFO's two-bit counter.
	maxFreq = 3
)

// touch records an access.
func (n *node) touch() {
	if f := n.freq.Load(); f < maxFreq {
		n.freq.CompareAndSwap(f, f+1)
	}
}

// queue is a circular doubly linked list with a sentinel; new nodes go to
// the front, eviction takes from the back.
type queue struct {
	root  node
	bytes int64
}

func (q *queue) init() { q.root.next, q.root.prev = &q.root, &q.root }

func (q *queue) pushFront(n *node) {
	n.prev, n.next = &q.root, q.root.next
	q.root.next.prev = n
	q.root.next = n
	q.bytes += n.size
}

func (q *queue) remove(n *node) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	q.bytes -= n.size
}

func (q *queue) back() *node {
	if q.root.prev == &q.root {
		return nil
	}
	return q.root.prev
}

// fifo is one tier's S3-FIFO (Yang et al., SOSP 2023) bounded in bytes: new
// objects enter a small probation queue (10% of the bytes); those hit while
// there move to the main queue, the others leave and are remembered in a
// ghost list, so that a quick return goes straight to main. A scan of
// one-hit objects therefore only churns the small queue.
type fifo struct {
	small, main queue
	capacity    int64
	ghost       ghost
	// evicted is called, under the cache's lock, for each node evicted.
	evicted func(*node)
}

func (f *fifo) init(capacity int64, evicted func(*node)) {
	f.small.init()
	f.main.init()
	f.capacity = capacity
	f.evicted = evicted
	f.ghost.init(4096)
}

func (f *fifo) bytes() int64 { return f.small.bytes + f.main.bytes }

// add queues n (with n.size set) and evicts until the tier fits.
func (f *fifo) add(n *node, hash uint64) {
	n.freq.Store(0)
	if f.ghost.take(hash) {
		n.queue = qMain
		f.main.pushFront(n)
	} else {
		n.queue = qSmall
		f.small.pushFront(n)
	}
	for f.bytes() > f.capacity {
		if !f.evictOne() {
			break
		}
	}
}

// remove takes n out without calling evicted.
func (f *fifo) remove(n *node) {
	switch n.queue {
	case qSmall:
		f.small.remove(n)
	case qMain:
		f.main.remove(n)
	}
	n.queue = 0
}

func (f *fifo) evictOne() bool {
	if f.small.bytes > f.capacity/10 || f.main.back() == nil {
		if n := f.small.back(); n != nil {
			f.small.remove(n)
			if n.freq.Load() > 0 {
				n.freq.Store(0)
				n.queue = qMain
				f.main.pushFront(n)
				return true
			}
			n.queue = 0
			f.ghost.put(n.e.hash)
			f.evicted(n)
			return true
		}
	}
	// Main is a CLOCK: a node hit since it was last seen goes round again
	// with one access less. Bounded: each pass lowers a counter.
	for range 4 * maxFreq * 1024 {
		n := f.main.back()
		if n == nil {
			return false
		}
		f.main.remove(n)
		if fr := n.freq.Load(); fr > 0 {
			n.freq.Store(fr - 1)
			f.main.pushFront(n)
			continue
		}
		n.queue = 0
		f.evicted(n)
		return true
	}
	n := f.main.back()
	f.main.remove(n)
	n.queue = 0
	f.evicted(n)
	return true
}

// ghost remembers the hashes of recently evicted objects in a ring.
type ghost struct {
	ring []uint64
	next int
	set  map[uint64]int
}

func (g *ghost) init(n int) {
	g.ring = make([]uint64, n)
	g.set = make(map[uint64]int, n)
}

func (g *ghost) put(h uint64) {
	if old := g.ring[g.next]; old != 0 {
		if g.set[old]--; g.set[old] <= 0 {
			delete(g.set, old)
		}
	}
	g.ring[g.next] = h
	g.set[h]++
	g.next = (g.next + 1) % len(g.ring)
}

func (g *ghost) take(h uint64) bool {
	_, ok := g.set[h]
	return ok
}
