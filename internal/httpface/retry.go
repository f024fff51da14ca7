package httpface

import (
	"errors"
	"io"
	"slices"
	"sync/atomic"

	"github.com/janus-proxy/janus/internal/upstream"
)

// tries walks the targets one request may try in an upstream pool. Every
// front (HTTP/1.1 and HTTP/2, the http1 engine and round-tripper upstreams)
// retries the same way: to a target not tried yet, within the upstream's
// attempts and the pool's retry budget, so that failures never multiply
// load (no retry storm). A target that could not be connected to is always
// worth another; one that answered with a retry status (or not in time) only
// when the request may reach a second target (replayable).
type tries struct {
	u       *Upstream
	budget  *upstream.Budget
	req     upstream.Request
	host    *upstream.Host // the target of the current attempt
	attempt int
	tried   [4]*upstream.Host
	exclude []*upstream.Host
	// replayable: the method is idempotent (RFC 9110 §9.2.2) and its
	// content, if any, can be sent again.
	replayable bool
}

// start counts the request toward the budget and picks its first target,
// or returns the pool's error (it wraps upstream.ErrNoHost).
func (t *tries) start(u *Upstream, req upstream.Request, replayable bool) error {
	*t = tries{u: u, budget: u.Pool.Budget(), req: req, replayable: replayable}
	t.exclude = t.tried[:0]
	t.budget.Request()
	h, err := u.Pool.Pick(&t.req)
	if err != nil {
		return err
	}
	t.host = h
	return nil
}

// next moves on to a target not tried yet, when attempts and the budget
// allow; the budget is charged only when there is such a target.
func (t *tries) next() bool {
	t.exclude = append(t.exclude, t.host)
	if t.attempt+1 >= max(t.u.Attempts, 1) {
		return false
	}
	h, err := t.u.Pool.Pick(&t.req, t.exclude...)
	if err != nil || !t.budget.Allow() {
		return false
	}
	t.attempt++
	t.host = h
	return true
}

// onStatus reports whether a response with status is set aside for another
// target (which is then current); the caller discards that response. A nil
// t never retries (the forward face).
func (t *tries) onStatus(status int) bool {
	return t != nil && t.replayable && slices.Contains(t.u.RetryStatuses, status) && t.next()
}

// onTimeout reports whether a target that sent no response head in time
// is given up for another.
func (t *tries) onTimeout() bool {
	return t != nil && t.replayable && t.u.RetryTimeout && t.next()
}

// onBroken reports whether a target that closed or reset the connection
// without a response is given up for another (nginx's default "error").
func (t *tries) onBroken() bool {
	return t != nil && t.replayable && t.next()
}

// connectFailed reports to the pool an attempt that could not connect
// (Begin and End pair, so the host's in-flight count stays right).
func connectFailed(h *upstream.Host) {
	h.Begin()
	h.End(upstream.Outcome{ConnectFailed: true})
}

// idempotent reports whether a request with method may reach a target
// twice (RFC 9110 §9.2.2).
// (upstream.Retryable takes a string; this one does not allocate.)
func idempotent(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// connectError marks a failure to connect to a target: nothing of the
// request was sent, so any request may try another target.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// isConnectFailure reports whether err (from a round-tripper upstream)
// says the target could not be connected to.
func isConnectFailure(err error) bool {
	var ce *connectError
	return errors.As(err, &ce)
}

// countingReader counts what is read through it, and hides the reader's
// Close from round-trippers that close a failed request's body. The count
// is atomic: a streaming round-tripper reads on while the response is
// relayed.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
