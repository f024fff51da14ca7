package cache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Cache. The zero value is a memory-only cache of
// 64 MiB.
type Options struct {
	// Name is the cache's name in Cache-Status (RFC 9211 §2); "" is "janus".
	Name string
	// CacheStatus adds a Cache-Status field to the heads Lookup answers
	// with; forwarded responses get theirs from Result.AddCacheStatus.
	CacheStatus bool
	// MemoryBytes bounds the memory tier (content plus stored heads);
	// 0 means 64 MiB.
	MemoryBytes int64
	// MemoryMaxObject is the largest object kept in memory; 0 means
	// MemoryBytes/8. Larger objects go to disk, or are not stored.
	MemoryMaxObject int64
	// Dir enables the disk tier: objects live in Dir/objects and survive
	// restarts. DiskBytes bounds it (0 means 1 GiB) and DiskMaxObject
	// bounds one object (0 means DiskBytes/8).
	Dir           string
	DiskBytes     int64
	DiskMaxObject int64
	// Store is what may be stored beyond what RFC 9111 forbids. Its
	// MaxObject is set from the tiers' limits.
	Store StorePolicy
	// KeyFields are request fields added to every entry's secondary key,
	// as if every response named them in Vary.
	KeyFields []string
	// Heuristic freshness (RFC 9111 §4.2.2); zero means 10% capped at a
	// day. A negative Fraction disables it.
	Heuristic Heuristic
	// Grace serves a stale response this long past its freshness when the
	// upstream fails (5xx or no response), beyond stale-if-error, unless
	// the response forbids stale use (§4.2.4).
	Grace time.Duration
	// CollapseWait bounds how long a request waits for another's response
	// to the same key; 0 means 10s, negative disables collapsing.
	CollapseWait time.Duration
	// Logger receives disk tier events; nil discards them.
	Logger *slog.Logger
}

// Cache is a shared HTTP cache. It is safe for concurrent use.
type Cache struct {
	o       Options
	memMax  int64
	seed    maphash.Seed
	mu      sync.RWMutex
	index   map[string][]*entry
	flights map[string]*flight
	mem     fifo
	disk    *diskTier
	closed  bool
	stats   counters
}

// entry is one stored response: a primary key, the request fields that
// selected it, immutable metadata, and where its content lives.
type entry struct {
	key  string
	vary []varyField
	hash uint64 // of key and vary, for the ghost lists
	meta atomic.Pointer[meta]
	// refreshing marks a stale-while-revalidate refresh in progress, from
	// the stale hit that started it until its fill ends: one at a time
	// (RFC 5861 §3), though the refresh's flight lands at its head.
	refreshing atomic.Bool

	// Guarded by Cache.mu.
	body     []byte // memory tier copy; nil when not in memory
	file     string // disk tier path; "" when not on disk
	memNode  node
	diskNode node
	removed  bool
}

// New opens a cache, loading the disk tier's objects when Dir is set.
func New(o Options) (*Cache, error) {
	if o.Name == "" {
		o.Name = "janus"
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = 64 << 20
	}
	if o.MemoryMaxObject <= 0 {
		o.MemoryMaxObject = o.MemoryBytes / 8
	}
	if o.Heuristic == (Heuristic{}) {
		o.Heuristic = Heuristic{Fraction: 0.1, Max: 24 * time.Hour}
	}
	if o.CollapseWait == 0 {
		o.CollapseWait = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{o: o, memMax: o.MemoryMaxObject, seed: maphash.MakeSeed(),
		index: make(map[string][]*entry), flights: make(map[string]*flight)}
	c.mem.init(o.MemoryBytes, c.evictedMem)
	c.o.Store.MaxObject = o.MemoryMaxObject
	if o.Dir != "" {
		if o.DiskBytes <= 0 {
			o.DiskBytes = 1 << 30
		}
		if o.DiskMaxObject <= 0 {
			o.DiskMaxObject = o.DiskBytes / 8
		}
		d, err := openDisk(o.Dir, o.DiskBytes, o.DiskMaxObject, o.Logger)
		if err != nil {
			return nil, err
		}
		c.disk = d
		d.fifo.init(o.DiskBytes, c.evictedDisk)
		c.o.Store.MaxObject = max(o.MemoryMaxObject, o.DiskMaxObject)
		c.load()
		d.wg.Add(1)
		go c.persister()
	}
	return c, nil
}

// load indexes the disk tier's objects.
func (c *Cache) load() {
	var drop []string
	for _, l := range c.disk.scan() {
		e := &entry{key: l.d.key, vary: l.d.vary, file: l.path}
		e.hash = c.entryHash(e.key, e.vary)
		e.meta.Store(newMeta(&l.d.resp, l.d.t, c.o.Heuristic, l.n))
		c.mu.Lock()
		old := c.insert(e)
		e.diskNode.e, e.diskNode.size = e, l.size
		c.disk.count++
		c.disk.fifo.add(&e.diskNode, e.hash)
		drop = append(drop, c.takeDrops(old)...)
		c.mu.Unlock()
	}
	removeFiles(drop)
}

// Close stops the disk writer after the objects queued so far.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if c.disk != nil {
		close(c.disk.jobs)
		c.disk.wg.Wait()
	}
	return nil
}

func (c *Cache) entryHash(key string, vary []varyField) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(key)
	for _, f := range vary {
		h.WriteString(f.name)
		h.WriteString(f.value)
	}
	return h.Sum64() | 1 // 0 marks an empty ghost slot
}

// insert adds e to the index, replacing a variant with the same secondary
// key (RFC 9111 §4.1: the newer response wins), and returns the replaced
// entry. Caller holds c.mu.
func (c *Cache) insert(e *entry) *entry {
	vs := c.index[e.key]
	for i, old := range vs {
		if sameVary(old.vary, e.vary) {
			vs[i] = e
			c.unlink(old)
			return old
		}
	}
	c.index[e.key] = append(vs, e)
	return nil
}

func sameVary(a, b []varyField) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unlink takes e out of both tiers' queues. Caller holds c.mu.
func (c *Cache) unlink(e *entry) {
	e.removed = true
	if e.body != nil {
		c.mem.remove(&e.memNode)
		e.body = nil
	}
	if e.file != "" {
		c.disk.fifo.remove(&e.diskNode)
		c.disk.count--
	}
}

// takeDrops returns the file of an entry that was unlinked.
func (c *Cache) takeDrops(e *entry) []string {
	if e == nil || e.file == "" {
		return nil
	}
	f := e.file
	e.file = ""
	return []string{f}
}

// remove deletes e from the index. Caller holds c.mu; the returned file is
// deleted by the caller once unlocked.
func (c *Cache) remove(e *entry) string {
	if e.removed {
		return ""
	}
	vs := c.index[e.key]
	for i, v := range vs {
		if v == e {
			vs = append(vs[:i:i], vs[i+1:]...)
			break
		}
	}
	if len(vs) == 0 {
		delete(c.index, e.key)
	} else {
		c.index[e.key] = vs
	}
	c.unlink(e)
	f := e.file
	e.file = ""
	return f
}

func removeFiles(paths []string) {
	for _, p := range paths {
		_ = os.Remove(p)
	}
}

// evictedMem drops an entry's memory copy; an entry on no tier leaves the
// index. Called under c.mu by the memory fifo.
func (c *Cache) evictedMem(n *node) {
	e := n.e
	e.body = nil
	if e.file == "" {
		c.remove(e)
	}
}

// evictedDisk drops an entry's file. Called under c.mu.
func (c *Cache) evictedDisk(n *node) {
	e := n.e
	c.disk.count--
	f := e.file
	e.file = ""
	if e.body == nil {
		c.remove(e)
	}
	// A rename or read of the file may be under way elsewhere; deleting
	// under the lock keeps the directory and the index in step.
	_ = os.Remove(f)
}

// addMemory puts a complete body in the memory tier. Caller holds c.mu.
func (c *Cache) addMemory(e *entry, body []byte) {
	if e.removed || e.body != nil || int64(len(body)) > c.memMax {
		return
	}
	m := e.meta.Load()
	e.body = body
	e.memNode.e = e
	e.memNode.size = int64(len(body)) + entryOverhead(e, m)
	c.mem.add(&e.memNode, e.hash)
}

// entryOverhead estimates what an entry costs besides its content, so the
// memory bound holds for many small objects too.
func entryOverhead(e *entry, m *meta) int64 {
	n := int64(256 + len(e.key))
	h := &m.head.Header
	for i := 0; i < h.Len(); i++ {
		name, value := h.Field(i)
		n += int64(len(name) + len(value) + 16)
	}
	for _, f := range e.vary {
		n += int64(len(f.name) + len(f.value) + 40)
	}
	return n
}

// persister writes committed memory objects to the disk tier.
func (c *Cache) persister() {
	defer c.disk.wg.Done()
	for j := range c.disk.jobs {
		path, size, err := c.disk.write(j.e.key, j.e.vary, j.m, j.body)
		if err != nil {
			c.o.Logger.Warn("cache: writing object", "key", j.e.key, "err", err)
			continue
		}
		c.mu.Lock()
		if j.e.removed || j.e.file != "" {
			c.mu.Unlock()
			_ = os.Remove(path)
			continue
		}
		c.addDisk(j.e, path, size)
		c.mu.Unlock()
	}
}

// addDisk records e's file. Caller holds c.mu.
func (c *Cache) addDisk(e *entry, path string, size int64) {
	e.file = path
	e.diskNode.e, e.diskNode.size = e, size
	c.disk.count++
	c.disk.fifo.add(&e.diskNode, e.hash)
}

// ErrClosed is returned for work on a closed cache.
var ErrClosed = errors.New("cache: closed")

// String describes the cache for logs.
func (c *Cache) String() string {
	if c.disk != nil {
		return fmt.Sprintf("cache %s (memory %d bytes, disk %s %d bytes)", c.o.Name, c.o.MemoryBytes, c.o.Dir, c.o.DiskBytes)
	}
	return fmt.Sprintf("cache %s (memory %d bytes)", c.o.Name, c.o.MemoryBytes)
}
