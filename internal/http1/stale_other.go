//go:build !linux

package http1

// isStale cannot peek without blocking here; a stale connection shows as an
// error on first use and the request is retried.
func (c *ClientConn) isStale() bool { return false }
