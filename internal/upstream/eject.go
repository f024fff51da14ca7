package upstream

import "time"

// Eject configures passive outlier ejection: a host whose attempts fail
// Consecutive times in a row is taken out of rotation for Base × 2^(k-1)
// (its k-th ejection, capped at Max), as Envoy's outlier detection does,
// but never more than MaxShare of the pool at once.
type Eject struct {
	// Consecutive is how many failed attempts in a row eject a host; 0
	// means 5, negative disables ejection.
	Consecutive int
	// ConnectOnly counts only connect failures; the zero value also counts
	// attempts that got no response or a 5xx.
	ConnectOnly bool
	// Base is the first ejection's length; 0 means 30s.
	Base time.Duration
	// Max caps an ejection's length; 0 means 5m. Each Max that passes
	// without an ejection lowers the backoff exponent by one.
	Max time.Duration
	// MaxShare is the largest share of the pool's hosts ejected at once, in
	// (0, 1]; 0 means 0.5. The count is rounded down, so a pool of one host
	// is never emptied by ejection (that would only turn errors into 503s).
	MaxShare float64
}

// failed reports whether an attempt counts as a failure for ejection.
func (p *Pool) failed(o Outcome) bool {
	if p.opts.Eject.ConnectOnly {
		return o.ConnectFailed
	}
	return o.ConnectFailed || o.Status == 0 || o.Status >= 500
}

// fail counts a failed attempt and ejects h when the run is long enough.
func (h *Host) fail(p *Pool, now int64) {
	n := h.failures.Add(1)
	if need := p.opts.Eject.Consecutive; need > 0 && int(n) >= need {
		p.eject(h, now, int(n))
	}
}

// eject takes h out of rotation unless it is already out, is not one of
// p's hosts, or the pool's ejected share would exceed MaxShare.
func (p *Pool) eject(h *Host, now int64, failures int) {
	g := h.group
	g.ejectMu.Lock()
	defer g.ejectMu.Unlock()
	if to := h.ejectedTo.Load(); to != 0 && now < to {
		return
	}
	hosts := p.members.Load().hosts
	member, out := false, 0
	for _, o := range hosts {
		if o == h {
			member = true
		} else if to := o.ejectedTo.Load(); to != 0 && now < to {
			out++
		}
	}
	if !member {
		return
	}
	if allowed := int(p.opts.Eject.MaxShare * float64(len(hosts))); out+1 > allowed {
		p.log.Debug("upstream host not ejected: pool at its ejection limit",
			"pool", p.name, "addr", h.addr, "failures", failures, "ejected", out, "hosts", len(hosts))
		return
	}
	k := h.backoff
	if k > 0 {
		if ended := h.ejectEnded.Load(); ended != 0 {
			k -= int((now - ended) / int64(p.opts.Eject.Max))
		}
	}
	k = max(k, 0) + 1
	d := p.opts.Eject.Max
	if k-1 < 30 {
		d = min(p.opts.Eject.Base<<(k-1), p.opts.Eject.Max)
	}
	h.backoff = k
	h.ejectedAt.Store(now)
	h.ejectedTo.Store(now + int64(d))
	h.ejections.Add(1)
	h.failures.Store(0)
	h.slowFrom.Store(0)
	h.lastChange.Store(now)
	p.log.Warn("upstream host ejected", "pool", p.name, "addr", h.addr, "target", h.target,
		"failures", failures, "for", d, "ejections", h.ejections.Load())
}

// unEject ends h's ejection that was due to end at to, at time now, if no
// one else ended it first. The host comes back in slow start.
func (p *Pool) unEject(h *Host, to, now int64, why string) {
	if !h.ejectedTo.CompareAndSwap(to, 0) {
		return
	}
	h.ejectEnded.Store(now)
	h.lastChange.Store(now)
	if p.slowStart > 0 {
		h.slowFrom.Store(now)
	}
	p.log.Info("upstream host back", "pool", p.name, "addr", h.addr, "target", h.target, "why", why)
}

// weightUnit scales configured weights so that slow start can give a host
// a fraction of its weight in integers.
const weightUnit = 1024

// slowWeight returns weight w (in weightUnit) scaled for slow start at now:
// from 10% when the host came back to 100% after the window, linearly (as
// Envoy's and HAProxy's slow start ramp).
func (p *Pool) slowWeight(h *Host, w int64, now int64) int64 {
	from := h.slowFrom.Load()
	if from == 0 {
		return w
	}
	elapsed := max(now-from, 0)
	if p.slowStart <= 0 || elapsed >= p.slowStart {
		h.slowFrom.CompareAndSwap(from, 0)
		return w
	}
	return max(w*(weightUnit/10+(weightUnit-weightUnit/10)*elapsed/p.slowStart)/weightUnit, 1)
}
