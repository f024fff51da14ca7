// Package quota counts traffic against per-user or per-group quotas over a
// period (a rolling window, a calendar month, or a balance that never
// resets) and persists the counts in a bbolt file, so a restart loses at
// most one flush interval. Charging is an atomic add; a background flush
// folds charges into per-slot counters every second, writes them in one
// transaction, and, in cluster mode, adds them to the counts every
// instance shares (see Syncer).
package quota

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how a quota's period runs.
type Mode uint8

// The modes.
const (
	// Rolling counts the bytes of the last Period, in slots of Period/Slots:
	// old traffic leaves the window slot by slot.
	Rolling Mode = iota + 1
	// Monthly counts the bytes of the current calendar month (UTC); the
	// count starts again at 00:00 UTC on the first.
	Monthly
	// Balance counts every byte ever; only Store.Credit gives room back.
	Balance
)

var modeNames = [...]string{Rolling: "rolling", Monthly: "monthly", Balance: "balance"}

func (m Mode) String() string {
	if int(m) < len(modeNames) && modeNames[m] != "" {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Slots is how many slots a rolling window is cut into: traffic leaves
// the window Period/Slots at a time (a day for 30 days).
const Slots = 30

// Plan is one quota.
type Plan struct {
	Limit  int64         // bytes, both directions together; > 0
	Mode   Mode          //
	Period time.Duration // Rolling only: the window (≥ Slots seconds)
}

// Validate reports a plan that cannot be counted.
func (p Plan) Validate() error {
	switch {
	case p.Limit <= 0:
		return fmt.Errorf("quota limit %d must be positive", p.Limit)
	case p.Mode < Rolling || p.Mode > Balance:
		return fmt.Errorf("quota mode %v unknown", p.Mode)
	case p.Mode == Rolling && p.Period < Slots*time.Second:
		return fmt.Errorf("rolling quota period %v shorter than %ds", p.Period, Slots)
	}
	return nil
}

func (p Plan) String() string {
	if p.Mode == Rolling {
		return fmt.Sprintf("%s per %v rolling", bytesString(p.Limit), p.Period)
	}
	return fmt.Sprintf("%s %s", bytesString(p.Limit), p.Mode)
}

// slot numbers the slot that holds time t, and first is the oldest slot
// still in the window whose newest slot is cur.
func (p Plan) slot(t time.Time) int64 {
	switch p.Mode {
	case Rolling:
		return t.UnixNano() / int64(p.Period/Slots)
	case Monthly:
		u := t.UTC()
		return int64(u.Year())*12 + int64(u.Month()) - 1
	}
	return 0
}

func (p Plan) first(cur int64) int64 {
	if p.Mode == Rolling {
		return cur - Slots + 1
	}
	return cur
}

// reset is when the window next gives bytes back: the next slot (rolling),
// the next month, or never (zero) for a balance.
func (p Plan) reset(t time.Time) time.Time {
	switch p.Mode {
	case Rolling:
		l := int64(p.Period / Slots)
		return time.Unix(0, (t.UnixNano()/l+1)*l)
	case Monthly:
		u := t.UTC()
		return time.Date(u.Year(), u.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// ErrExceeded is wrapped by every *ExceededError.
var ErrExceeded = errors.New("traffic quota exceeded")

// ExceededError says an account is over its quota. Faces turn it into a
// 403 (or 407) with Error() as the reason, and SOCKS reply 0x02.
type ExceededError struct {
	Account string
	Plan    Plan
	Used    int64
	Reset   time.Time // when bytes come back; zero for a balance
}

func (e *ExceededError) Error() string {
	s := fmt.Sprintf("traffic quota of %s exceeded: %s used of %s", e.Account, bytesString(e.Used), e.Plan)
	if !e.Reset.IsZero() {
		s += ", room again from " + e.Reset.UTC().Format(time.RFC3339)
	}
	return s
}

func (e *ExceededError) Unwrap() error { return ErrExceeded }

// Usage is an account's state for the admin API.
type Usage struct {
	Account string    `json:"account"`
	Plan    string    `json:"plan"`
	Limit   int64     `json:"limit"`
	Used    int64     `json:"used"`
	Reset   time.Time `json:"reset,omitzero"`
	Over    bool      `json:"over"`
}

// Account is one quota's counter. Charge and Check are what the hot path
// calls: atomic loads and one atomic add.
type Account struct {
	name string
	s    *Store

	plan    atomic.Pointer[Plan]
	base    atomic.Int64 // usage in the window as of the last fold
	pending atomic.Int64 // charged since the last fold

	mu       sync.Mutex      // guards the fields below; held by the flusher
	slots    map[int64]int64 // this instance's bytes per slot
	unsynced map[int64]int64 // bytes per slot not yet added to the shared count
	remote   int64           // the shared count in the window at the last sync
	synced   bool            // remote is known
	epoch    string          // the shared count's epoch at the last sync
	dirty    bool            // slots changed since the last write
}

// Name is the account's name.
func (a *Account) Name() string { return a.name }

// Plan is the account's plan.
func (a *Account) Plan() Plan { return *a.plan.Load() }

// Used is the bytes counted in the window, charges not yet folded
// included (credits count negative).
func (a *Account) Used() int64 { return a.base.Load() + a.pending.Load() }

// Check returns an *ExceededError if the account has no room left; call
// it before admitting a request, tunnel or session.
func (a *Account) Check() error {
	p := a.plan.Load()
	if used := a.Used(); used >= p.Limit {
		return &ExceededError{Account: a.name, Plan: *p, Used: used, Reset: p.reset(a.s.now())}
	}
	return nil
}

// Charge counts n bytes (either direction) and returns an *ExceededError
// once the account is over: a tunnel or body that gets one should stop.
// It is an atomic add and a comparison; it implements limit.Meter.
func (a *Account) Charge(n int64) error {
	used := a.base.Load() + a.pending.Add(n)
	if p := a.plan.Load(); used > p.Limit {
		return &ExceededError{Account: a.name, Plan: *p, Used: used, Reset: p.reset(a.s.now())}
	}
	return nil
}

func bytesString(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n), 0
	for ; (f >= unit || f <= -unit) && i < 5; i++ {
		f /= unit
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + [...]string{"", "KiB", "MiB", "GiB", "TiB", "PiB"}[i]
}
