package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/janus-proxy/janus/internal/limit"
	"github.com/janus-proxy/janus/internal/limit/cluster"
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
		decisions: prometheus.NewDesc("janus_limit_decisions_total", "Rate and concurrency limit decisions by limit and result (allowed or limited).", []string{"limit", "result"}, nil),
		keys:      prometheus.NewDesc("janus_limit_keys", "Keys (clients, users, hosts) a rate or concurrency limit remembers now.", []string{"limit"}, nil),
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
	add := func(name string, allowed, limited uint64, keys int) {
		f := byName[name]
		if f == nil {
			f = &figures{}
			byName[name] = f
		}
		f.allowed += allowed
		f.limited += limited
		f.keys += keys
	}
	for _, v := range s.limiters {
		switch l := v.(type) {
		case *limit.RateLimiter:
			st := l.Stats()
			add(l.Name(), st.Allowed, st.Limited, st.Keys)
		case *cluster.RateLimiter:
			st := l.Stats()
			add(l.Name(), st.Allowed, st.Limited, st.Keys)
		case *limit.Concurrency:
			st := l.Stats()
			add(l.Name(), st.Allowed, st.Limited+st.Overflow, st.Keys)
		case *cluster.Concurrency:
			st := l.Stats()
			add(l.Local().Name(), st.Allowed, st.Limited+st.Overflow, st.Keys)
		}
	}
	s.limitersMu.Unlock()
	for name, f := range byName {
		ch <- prometheus.MustNewConstMetric(c.decisions, prometheus.CounterValue, float64(f.allowed), name, "allowed")
		ch <- prometheus.MustNewConstMetric(c.decisions, prometheus.CounterValue, float64(f.limited), name, "limited")
		ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(f.keys), name)
	}
	st := s.quotaStoreNow()
	if st == nil {
		return
	}
	for _, u := range st.Usages() {
		ch <- prometheus.MustNewConstMetric(c.quotaUsed, prometheus.GaugeValue, float64(u.Used), u.Account)
		ch <- prometheus.MustNewConstMetric(c.quotaMax, prometheus.GaugeValue, float64(u.Limit), u.Account)
	}
}
