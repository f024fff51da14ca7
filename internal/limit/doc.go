// Package limit holds the gate's counters: request-rate limits (GCRA, one
// atomic word per key), concurrency limits with idempotent releases,
// bandwidth limits in bytes per second that compose (a connection under a
// user under a listener), the RateLimit / RateLimit-Policy / Retry-After
// fields that tell a client about them, and the key builder every limit is
// keyed with.
//
// Everything here is local to one process and safe for concurrent use.
// Package quota persists traffic quotas; package cluster shares rate limits,
// concurrency counts and quotas between instances through Redis and falls
// back to the local limiters of this package when Redis is away.
//
// The hot paths (RateLimiter.Allow, Concurrency.Acquire and Slot.Release,
// AppendIP/AppendString) allocate nothing once a key is known: tables are
// sharded maps looked up with m[string(key)], which Go does without
// copying the key.
package limit
