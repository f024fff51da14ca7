package cache

import "sync/atomic"

// counters are the cache's statistics, bumped atomically.
type counters struct {
	hits, misses, stale, revalidations, collapsed, stored, purged, bypass atomic.Int64
}

// Stats is a snapshot of the cache's counters and tier sizes.
type Stats struct {
	Hits          int64 // answered from a stored response without going upstream
	Misses        int64 // went upstream with no usable stored response
	StaleServed   int64 // stale responses served (max-stale, stale-while-revalidate, stale-if-error, grace)
	Revalidations int64 // stored responses refreshed by a 304
	Collapsed     int64 // requests served by another request's fill
	Stored        int64 // objects committed
	Purged        int64 // entries removed by purges and invalidations
	Bypassed      int64 // requests the cache did not handle (method, no host, preconditions)
	MemoryObjects int64
	MemoryBytes   int64
	DiskObjects   int64
	DiskBytes     int64
}

// Stats returns the current statistics.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits:          c.stats.hits.Load(),
		Misses:        c.stats.misses.Load(),
		StaleServed:   c.stats.stale.Load(),
		Revalidations: c.stats.revalidations.Load(),
		Collapsed:     c.stats.collapsed.Load(),
		Stored:        c.stats.stored.Load(),
		Purged:        c.stats.purged.Load(),
		Bypassed:      c.stats.bypass.Load(),
	}
	c.mu.RLock()
	s.MemoryBytes = c.mem.bytes()
	for _, vs := range c.index {
		for _, e := range vs {
			if e.body != nil {
				s.MemoryObjects++
			}
		}
	}
	if c.disk != nil {
		s.DiskObjects = c.disk.count
		s.DiskBytes = c.disk.fifo.bytes()
	}
	c.mu.RUnlock()
	return s
}
