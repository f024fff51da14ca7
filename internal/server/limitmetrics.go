package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/janus-proxy/janus/internal/limit"
)

// limitCollector exports the rate limiters' decisions and the traffic
// quotas' use at scrape time.
type limitCollector struct {
	s         *Server
	decisions *prometheus.Desc
	keys      *prometheus.Desc
	quotaUsed *prometheus.Desc
	quotaMax  *prometheus.Desc
}

func newLimitCollector(s *Server) *limitCollector {
	return &limitCollector{
		s:         s,
		decisions: prometheus.NewDesc("janus_limit_decisions_total", "Rate-limit decisions by limit and result (allowed or limited).", []string{"limit", "result"}, nil),
		keys:      prometheus.NewDesc("janus_limit_keys", "Keys (clients, users, hosts) a rate limit remembers now.", []string{"limit"}, nil),
		quotaUsed: prometheus.NewDesc("janus_quota_used_bytes", "Bytes used of each traffic quota in its current period.", []string{"account"}, nil),
		quotaMax:  prometheus.NewDesc("janus_quota_limit_bytes", "Each traffic quota's limit in bytes.", []string{"account"}, nil),
	}
}

func (c *limitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.decisions
	ch <- c.keys
	ch <- c.quotaUsed
	ch <- c.quotaMax
}

func (c *limitCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	// One series per limit name: a limit whose settings changed has had
	// two limiters; their figures add up.
	type figures struct {
		allowed, limited uint64
		keys             int
	}
	byName := map[string]*figures{}
	s.limitersMu.Lock()
	for _, v := range s.limiters {
		l, ok := v.(*limit.RateLimiter)
		if !ok {
			continue
		}
		f := byName[l.Name()]
		if f == nil {
			f = &figures{}
			byName[l.Name()] = f
		}
		st := l.Stats()
		f.allowed += st.Allowed
		f.limited += st.Limited
		f.keys += st.Keys
	}
	s.limitersMu.Unlock()
	for name, f := range byName {
		ch <- prometheus.MustNewConstMetric(c.decisions, prometheus.CounterValue, float64(f.allowed), name, "allowed")
		ch <- prometheus.MustNewConstMetric(c.decisions, prometheus.CounterValue, float64(f.limited), name, "limited")
		ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(f.keys), name)
	}
	s.quotaMu.Lock()
	st := s.quotaStore
	s.quotaMu.Unlock()
	if st == nil {
		return
	}
	for _, u := range st.Usages() {
		ch <- prometheus.MustNewConstMetric(c.quotaUsed, prometheus.GaugeValue, float64(u.Used), u.Account)
		ch <- prometheus.MustNewConstMetric(c.quotaMax, prometheus.GaugeValue, float64(u.Limit), u.Account)
	}
}
