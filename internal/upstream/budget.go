package upstream

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// BudgetOptions configures a retry budget.
type BudgetOptions struct {
	// Ratio is the retries allowed per request over the window; 0 means
	// 0.2 (at most 20% extra load on the upstream).
	Ratio float64
	// MinPerSecond is a floor of retries per second, so that a pool with
	// little traffic can still retry; 0 means 10, negative means none.
	MinPerSecond float64
	// Window is how far back requests and retries count; 0 means 10s.
	Window time.Duration
}

func (o *BudgetOptions) normalize() error {
	if o.Ratio == 0 {
		o.Ratio = 0.2
	}
	if !(o.Ratio > 0 && o.Ratio <= 1) {
		return fmt.Errorf("ratio %v is not in (0, 1]", o.Ratio)
	}
	// Normalising twice changes nothing: a negative floor stays negative.
	switch {
	case o.MinPerSecond == 0:
		o.MinPerSecond = 10
	case math.IsInf(o.MinPerSecond, 0) || math.IsNaN(o.MinPerSecond):
		return fmt.Errorf("min per second %v is not a number", o.MinPerSecond)
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	return nil
}

// budgetBuckets is the window's resolution: requests and retries expire a
// tenth of the window at a time.
const budgetBuckets = 10

// Budget bounds retries to a share of requests, as Finagle's RetryBudget and
// Linkerd's and Envoy's budgets do: over the last Window, a retry is allowed
// while retries stay under Ratio × requests + MinPerSecond × Window. When an
// upstream fails every request, the load it sees grows by at most that
// share instead of multiplying by the number of tries: no retry storm.
//
// Request is lock-free (it runs for every request); Allow takes a lock
// (it runs only for failures). The zero Budget is not usable: use NewBudget.
type Budget struct {
	clock   clock
	opts    atomic.Pointer[BudgetOptions]
	mu      sync.Mutex // serialises Allow and bucket resets
	buckets [budgetBuckets]budgetBucket
}

type budgetBucket struct {
	epoch    atomic.Int64 // which tenth of time the counts belong to
	requests atomic.Int64
	retries  atomic.Int64
}

// NewBudget returns a budget with o's settings (zero fields take their
// defaults) reading time from now (nil means time.Now).
func NewBudget(o BudgetOptions, now func() time.Time) *Budget {
	if now == nil {
		now = time.Now
	}
	b := &Budget{clock: clock{now: now, base: now().Add(-time.Second)}}
	b.SetOptions(o)
	return b
}

// SetOptions replaces the budget's settings (a reload); counts are kept
// when the window does not change. Invalid options keep the old ones.
func (b *Budget) SetOptions(o BudgetOptions) {
	if err := o.normalize(); err != nil {
		return
	}
	b.opts.Store(&o)
}

// bucket returns the current bucket, emptied first if it still holds an
// older tenth's counts.
func (b *Budget) bucket(o *BudgetOptions, locked bool) *budgetBucket {
	e := b.clock.nanos() / max(int64(o.Window)/budgetBuckets, 1)
	bk := &b.buckets[e%budgetBuckets]
	if bk.epoch.Load() == e {
		return bk
	}
	if !locked {
		b.mu.Lock()
		defer b.mu.Unlock()
	}
	if bk.epoch.Load() != e {
		bk.requests.Store(0)
		bk.retries.Store(0)
		bk.epoch.Store(e)
	}
	return bk
}

// Request counts one request (not a retry) toward the budget.
func (b *Budget) Request() {
	b.bucket(b.opts.Load(), false).requests.Add(1)
}

// Allow reports whether one more retry fits the budget, and if so counts it.
func (b *Budget) Allow() bool {
	o := b.opts.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.bucket(o, true)
	e := cur.epoch.Load()
	var requests, retries int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if be := bk.epoch.Load(); be > e-budgetBuckets && be <= e {
			requests += bk.requests.Load()
			retries += bk.retries.Load()
		}
	}
	limit := o.Ratio*float64(requests) + max(o.MinPerSecond, 0)*o.Window.Seconds()
	if float64(retries+1) > limit {
		return false
	}
	cur.retries.Add(1)
	return true
}

// Retryable reports whether a failed attempt may be tried again on another
// host: always when nothing of the request reached the upstream (sent is
// false: the connection failed, or closed before the request was written),
// and otherwise only for idempotent methods (RFC 9110 §9.2.2), which the
// upstream may safely receive twice. The face still checks the budget and
// that it can replay the body.
func Retryable(method string, sent bool) bool {
	if !sent {
		return true
	}
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}
