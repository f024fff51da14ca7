// Package cache is Janus's shared HTTP cache (RFC 9111, with RFC 5861
// stale-while-revalidate/stale-if-error, RFC 8246 immutable and RFC 9211
// Cache-Status). It decides, stores and serves; it never dials: the faces
// go upstream and feed it what they get.
//
// The model, for one request (the face keeps one Result per connection):
//
//	c.Lookup(ctx, &cache.Request{Head: req, TLS: tls, Now: now}, &res)
//	Answer:  send res.Head, then res.WriteBody (or res.Bytes) unless
//	         res.NoBody. res.Refresh, if set, is a background revalidation
//	         (stale-while-revalidate) the face runs or Aborts.
//	Forward: go upstream. With res.Fill set this request leads a fill:
//	         Fill.Prepare(out) adds the stored validators to the outbound
//	         request; Fill.Response(head, times, &res) says Store (copy
//	         the content into the Fill, then Commit or Abort; with
//	         Fill.Follow(&res) the client reads it back from the cache at
//	         its own pace while another goroutine copies, and Fill.Failed
//	         says when storing gave up), Pass (relay, nothing stored) or
//	         Replace (res is now an Answer: a 304 refreshed the stored
//	         response, or stale-if-error applies); Fill.Fail on no
//	         response may also turn res into an Answer.
//	After an unsafe request: c.Invalidate(req, tls, resp) (§4.4).
//
// Entries are indexed by a primary key (method class and effective URI,
// §4.1) and, within one key, by their secondary key: the request fields the
// stored response's Vary names, plus configured key additions. Response
// metadata (head, times, freshness) is immutable once published and
// swapped whole when a 304 updates it (§4.3.4), so a hit reads it under a
// read lock without copying or allocating.
//
// Content lives in a memory tier bounded in bytes (S3-FIFO: a small
// probation queue in front of a main queue and a ghost list, so a scan of
// one-hit objects cannot flush the working set) and optionally in a disk
// tier bounded in bytes whose files are written under a temporary name,
// synced and renamed, so an object is visible only once complete; the
// index is rebuilt from the files at start, and torn or temporary files are
// deleted. An object being filled is readable at once: followers of a
// collapsed miss read what the writer stored so far and wait for more, so
// a slow reader never slows the writer; objects beyond the memory object
// limit spill to a disk file as they arrive.
package cache
