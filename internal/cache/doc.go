// Package cache is Janus's shared HTTP cache (RFC 9111, with RFC 5861
// stale-while-revalidate/stale-if-error, RFC 8246 immutable and RFC 9211
// Cache-Status). It decides, stores and serves; it never dials: the faces
// go upstream and feed it what they get.
//
// The model, for one request:
//
//	res := c.Lookup(ctx, &cache.Request{Head: req, TLS: tls, Now: now}, &res)
//	Answer:  write res.Head (and res.Body unless HEAD or bodiless) from the cache.
//	Forward: go upstream. When res.Fill is set this request leads a fill:
//	         res.Fill.Prepare(out) adds validators, then Response(head, times)
//	         says Store (relay and copy the body into the Fill, then Commit),
//	         Pass (relay, nothing stored) or Replace (res is now an Answer:
//	         a 304 refreshed the stored response, or stale-if-error applies).
//
// Entries are indexed by a primary key (method class and effective URI,
// RFC 9111 §4.1) and, within one key, by their secondary key: the request
// fields the stored response's Vary names, plus the configured key
// additions. Response metadata (head, times, freshness) is immutable once
// published and swapped whole when a 304 updates it (§4.3.4), so a lookup
// reads it under a read lock without copying.
//
// Bodies live in a memory tier bounded in bytes (S3-FIFO: a small probation
// queue in front of a main queue and a ghost list, so one scan cannot flush
// the working set) and optionally in a disk tier bounded in bytes whose
// files are written to a temporary name, synced and renamed, so an object is
// visible only once complete; the index is rebuilt from the files at start.
// An object being filled is readable at once: followers of a collapsed miss
// read what the writer stored so far and wait for more, so a slow reader
// never slows the writer.
package cache
