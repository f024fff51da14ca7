package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// State is a host's health as balancers see it.
type State uint8

// Host states.
const (
	Healthy   State = iota // picked
	Unhealthy              // failed Fall active checks in a row; not picked until Rise pass
	Ejected                // passive ejection: not picked until EjectedUntil
)

var stateNames = [...]string{Healthy: "healthy", Unhealthy: "unhealthy", Ejected: "ejected"}

func (s State) String() string { return nameOf(stateNames[:], s, "State") }

// Host is one upstream address and its live state, shared by every pool of
// the same name that holds the address (see Registry). It is safe for
// concurrent use; Begin is one atomic add, End a few atomics, one clock
// reading and a short lock for the latency sample, and neither allocates.
type Host struct {
	target   string // the target as configured, e.g. "app.internal:8080"
	name     string // its host part, e.g. "app.internal"
	addr     netip.AddrPort
	dialHost string // addr's IP as text, for Dialer.DialTCP
	id       string
	group    *group

	inflight   atomic.Int64
	failures   atomic.Int32  // consecutive failed attempts
	unhealthy  atomic.Bool   // by active checks
	ejectedAt  atomic.Int64  // clock nanos of the current ejection's start
	ejectedTo  atomic.Int64  // clock nanos the ejection ends; 0: not ejected
	ejectEnded atomic.Int64  // when the last ejection ended
	slowFrom   atomic.Int64  // slow start began; 0: not in slow start
	lastChange atomic.Int64  // last state change
	ejections  atomic.Int64  // ejections so far
	cost       atomic.Uint64 // peak-EWMA latency in ns, float64 bits
	stamp      atomic.Int64  // clock nanos of the last latency sample

	ewmaMu  sync.Mutex // serialises latency samples (cost and stamp together)
	backoff int        // current backoff exponent; guarded by group.ejectMu

	checkMu        sync.Mutex // guards the active-check counters
	passes, misses int
}

func newHost(g *group, m member) *Host {
	sum := sha256.Sum256([]byte(g.name + "\x00" + m.addr.String()))
	return &Host{
		target:   m.target,
		name:     m.name,
		addr:     m.addr,
		dialHost: m.addr.Addr().String(),
		id:       hex.EncodeToString(sum[:8]),
		group:    g,
	}
}

// Addr returns the host's address.
func (h *Host) Addr() netip.AddrPort { return h.addr }

// DialAddr returns the host's IP as text and its port, ready for
// outbound.Dialer.DialTCP without allocating.
func (h *Host) DialAddr() (string, uint16) { return h.dialHost, h.addr.Port() }

// Target returns the configured target this host came from ("10.0.0.1:80"
// or "app.internal:8080"; for a DNS name, every resolved address shares it).
// It is fixed when the host is first created.
func (h *Host) Target() string { return h.target }

// Name returns the target's host part: the DNS name (for the Host header or
// TLS SNI) or the IP literal.
func (h *Host) Name() string { return h.name }

// ID returns an opaque identifier, stable across reloads and Janus
// instances (a hash of the pool name and the address), for sticky cookies.
// It does not reveal the address.
func (h *Host) ID() string { return h.id }

// InFlight returns the number of attempts begun and not yet ended.
func (h *Host) InFlight() int64 { return h.inflight.Load() }

// Begin records the start of an attempt on h. Every Begin must be followed
// by exactly one End.
func (h *Host) Begin() { h.inflight.Add(1) }

// End records the outcome of an attempt begun with Begin: it feeds the
// in-flight count, the latency estimate and passive ejection (under the
// options of the newest live pool of h's name). Safe to call after the pool
// stopped.
func (h *Host) End(o Outcome) {
	h.inflight.Add(-1)
	if o.Abandoned {
		return
	}
	p := h.group.cur.Load()
	if p == nil {
		return
	}
	now := p.reg.clock.nanos()
	if !o.ConnectFailed && o.Latency > 0 {
		h.observe(now, float64(o.Latency), p.decay)
	}
	if p.failed(o) {
		h.fail(p, now)
	} else if h.failures.Load() != 0 {
		h.failures.Store(0)
	}
}

// observe folds a latency sample into the peak EWMA (Finagle's PeakEwma):
// a sample above the estimate replaces it at once, so a host that slows
// down is avoided immediately; below it, the estimate decays toward the
// sample with weight exp(-Δt/τ), so recovery is believed gradually.
func (h *Host) observe(now int64, rtt, tau float64) {
	h.ewmaMu.Lock()
	cost := math.Float64frombits(h.cost.Load())
	if rtt > cost {
		cost = rtt
	} else {
		td := float64(max(now-h.stamp.Load(), 0))
		w := math.Exp(-td / tau)
		cost = cost*w + rtt*(1-w)
	}
	h.cost.Store(math.Float64bits(cost))
	h.stamp.Store(now)
	h.ewmaMu.Unlock()
}

// penalty is the load of a busy host with no latency sample yet, as
// Finagle's: unknown and busy ranks below anything measured.
const penalty = float64(math.MaxInt64 >> 16)

// load is the EWMA balancer's cost: the latency estimate decayed toward 0
// since the last sample (a host not heard from for a while deserves another
// try), times in-flight + 1.
func (h *Host) load(now int64, tau float64) float64 {
	cost := math.Float64frombits(h.cost.Load())
	n := h.inflight.Load()
	if cost > 0 {
		td := float64(max(now-h.stamp.Load(), 0))
		cost *= math.Exp(-td / tau)
	}
	if cost == 0 && n > 0 {
		return penalty
	}
	return cost * float64(n+1)
}

// latency returns the latency estimate as of the last sample.
func (h *Host) latency() time.Duration {
	return time.Duration(math.Float64frombits(h.cost.Load()))
}
