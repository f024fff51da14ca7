package upstream

import (
	"net/netip"
	"time"
)

// HostStats is one host's state at one moment, for the admin API.
type HostStats struct {
	Pool   string
	Target string // as configured
	Addr   netip.AddrPort
	ID     string // the sticky-cookie value
	Weight int    // configured
	State  State
	// SlowStart: the host is ramping up after coming back.
	SlowStart bool
	InFlight  int64
	// Latency is the peak-EWMA latency as of the last sample.
	Latency time.Duration
	// Failures is the current run of failed attempts.
	Failures  int
	Ejections int64
	// EjectedUntil is when the current ejection ends; zero if not ejected.
	EjectedUntil time.Time
	// LastChange is the last state change (or when the host was added).
	LastChange time.Time
}

// Stats appends the state of each of the pool's hosts to dst, in member
// order, and returns it.
func (p *Pool) Stats(dst []HostStats) []HostStats {
	m := p.members.Load()
	c := &p.reg.clock
	now := c.nanos()
	for i, h := range m.hosts {
		s := HostStats{
			Pool:       p.name,
			Target:     h.target,
			Addr:       h.addr,
			ID:         h.id,
			Weight:     int(m.weights[i]),
			InFlight:   h.inflight.Load(),
			Latency:    h.latency(),
			Failures:   int(h.failures.Load()),
			Ejections:  h.ejections.Load(),
			LastChange: c.time(h.lastChange.Load()),
		}
		if from := h.slowFrom.Load(); from != 0 && p.slowStart > 0 && now-from < p.slowStart {
			s.SlowStart = true
		}
		switch to := h.ejectedTo.Load(); {
		case to != 0 && now < to:
			s.State = Ejected
			s.EjectedUntil = c.time(to)
		case p.unhealthy(h):
			s.State = Unhealthy
		}
		dst = append(dst, s)
	}
	return dst
}
