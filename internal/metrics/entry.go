package metrics

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/janus-proxy/janus/internal/live"
	"github.com/janus-proxy/janus/internal/observe"
)

// seriesKey is the labels an entry's counters depend on, besides the gate.
type seriesKey struct {
	listener, face, route, protocol string
	class                           live.Class
}

// series are the resolved children for one seriesKey.
type series struct {
	requests prometheus.Counter
	duration prometheus.Observer // nil for tunnels
	in, out  prometheus.Counter
	tunnels  prometheus.Counter // nil unless an established tunnel
}

type ruleKey struct {
	listener, rule, verdict string
}

// Gate verdicts as labelled. A refusal answered with 401 or 407 asked for
// credentials: a challenge, not a final deny.
const (
	verdictAllow     = "allow"
	verdictDeny      = "deny"
	verdictChallenge = "challenge"
)

func verdictOf(e *observe.Entry) string {
	if !e.Denied {
		return verdictAllow
	}
	if (e.Status == 401 || e.Status == 407) && !isSOCKS(e.Protocol) {
		return verdictChallenge
	}
	return verdictDeny
}

func isSOCKS(p string) bool { return p == "socks5" || p == "socks4" }

// Log counts e. It does not retain e.
func (m *Metrics) Log(e *observe.Entry) {
	k := seriesKey{listener: e.Listener, face: face(e), route: e.Route, class: live.ClassOf(e)}
	if live.IsTunnel(e) {
		// Only the three tunnel protocols become label values.
		k.protocol = e.Protocol
	}
	s := (*m.series.Load())[k]
	if s == nil {
		s = m.newSeries(k)
	}
	s.requests.Inc()
	if s.duration != nil {
		s.duration.Observe(e.Duration.Seconds())
	}
	if e.BytesUp > 0 {
		s.in.Add(float64(e.BytesUp))
	}
	if e.BytesDown > 0 {
		s.out.Add(float64(e.BytesDown))
	}
	if s.tunnels != nil {
		s.tunnels.Inc()
	}
	if e.Rule != "" {
		rk := ruleKey{listener: e.Listener, rule: e.Rule, verdict: verdictOf(e)}
		c := (*m.rules.Load())[rk]
		if c == nil {
			c = m.newRule(rk)
		}
		c.Inc()
	}
}

// newSeries resolves k's children and publishes them in a copy of the map.
func (m *Metrics) newSeries(k seriesKey) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.series.Load()
	if s := old[k]; s != nil {
		return s
	}
	s := &series{
		requests: m.requests.WithLabelValues(k.listener, k.face, k.route, k.class.String()),
		in:       m.bytes.WithLabelValues(k.listener, k.face, "in"),
		out:      m.bytes.WithLabelValues(k.listener, k.face, "out"),
	}
	if k.protocol == "" {
		s.duration = m.duration.WithLabelValues(k.listener, k.face)
	} else if k.class == live.Class2xx || k.class == live.ClassSocksOK {
		// A tunnel counts once established; a refused CONNECT or SOCKS
		// request is only a request.
		s.tunnels = m.tunnels.WithLabelValues(k.listener, k.protocol)
	}
	next := maps.Clone(old)
	next[k] = s
	m.series.Store(&next)
	return s
}

func (m *Metrics) newRule(k ruleKey) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.rules.Load()
	if c := old[k]; c != nil {
		return c
	}
	c := m.gate.WithLabelValues(k.listener, k.rule, k.verdict)
	next := maps.Clone(old)
	next[k] = c
	m.rules.Store(&next)
	return c
}

// ForgetListener drops every series of a listener a reload removed, so
// that /metrics stops reporting it.
func (m *Metrics) ForgetListener(listener string) {
	m.forget(func(k seriesKey) bool { return k.listener == listener },
		func(k ruleKey) bool { return k.listener == listener })
	l := prometheus.Labels{"listener": listener}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.bytes.DeletePartialMatch(l)
	m.gate.DeletePartialMatch(l)
	m.tunnels.DeletePartialMatch(l)
}

// ForgetRoute drops the series of a reverse route a reload removed.
func (m *Metrics) ForgetRoute(listener, route string) {
	m.forget(func(k seriesKey) bool { return k.listener == listener && k.route == route }, nil)
	m.requests.DeletePartialMatch(prometheus.Labels{"listener": listener, "route": route})
}

// forget removes the resolved children the predicates select from the
// maps Log reads, so that a label set seen again gets a new child
// registered with its vector.
func (m *Metrics) forget(dropSeries func(seriesKey) bool, dropRule func(ruleKey) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if dropSeries != nil {
		next := maps.Clone(*m.series.Load())
		maps.DeleteFunc(next, func(k seriesKey, _ *series) bool { return dropSeries(k) })
		m.series.Store(&next)
	}
	if dropRule != nil {
		next := maps.Clone(*m.rules.Load())
		maps.DeleteFunc(next, func(k ruleKey, _ prometheus.Counter) bool { return dropRule(k) })
		m.rules.Store(&next)
	}
}
