package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/janus-proxy/janus/internal/upstream"
)

// Activity is what is open on one listener at scrape time.
type Activity struct {
	Listener    string
	Connections int64 // client connections open
	Tunnels     int64 // CONNECT tunnels and SOCKS sessions open
}

// ActivityFunc appends each listener's Activity to dst and returns it.
type ActivityFunc func(dst []Activity) []Activity

// UpstreamFunc appends the HostStats of every live upstream pool to dst and
// returns it (for each pool, Pool.Stats).
type UpstreamFunc func(dst []upstream.HostStats) []upstream.HostStats

// hook is one scrape-time source the server sets: a function that
// appends the current values to a slice; nil reads as none.
type hook[T any] struct {
	fn  atomic.Pointer[func([]T) []T]
	mu  sync.Mutex // guards buf across concurrent scrapes
	buf []T
}

func (h *hook[T]) set(f func([]T) []T) {
	if f == nil {
		h.fn.Store(nil)
		return
	}
	h.fn.Store(&f)
}

// read calls use with the current values, if a source is set.
func (h *hook[T]) read(use func([]T)) {
	f := h.fn.Load()
	if f == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf = (*f)(h.buf[:0])
	use(h.buf)
}

// SetActivity sets where janus_active_connections and janus_active_tunnels
// are read from at each scrape; nil removes them. A reload may set a new one.
func (m *Metrics) SetActivity(f ActivityFunc) { m.activity.set(f) }

// SetUpstreams sets where the janus_upstream_target_* metrics are read
// from at each scrape; nil removes them. A reload sets the new graph's.
func (m *Metrics) SetUpstreams(f UpstreamFunc) { m.upstreams.set(f) }

var (
	descConns = prometheus.NewDesc("janus_active_connections",
		"Client connections open now.", []string{"listener"}, nil)
	descTunnels = prometheus.NewDesc("janus_active_tunnels",
		"CONNECT tunnels and SOCKS sessions open now.", []string{"listener"}, nil)

	targetLabels = []string{"upstream", "target", "addr"}
	descUp       = prometheus.NewDesc("janus_upstream_target_up",
		"1 if the upstream host is taking requests (healthy), 0 if unhealthy or ejected.", targetLabels, nil)
	descEjected = prometheus.NewDesc("janus_upstream_target_ejected",
		"1 while the host is ejected for failing requests.", targetLabels, nil)
	descInFlight = prometheus.NewDesc("janus_upstream_target_in_flight",
		"Requests in flight to the host.", targetLabels, nil)
	descEjections = prometheus.NewDesc("janus_upstream_target_ejections_total",
		"Times the host was ejected.", targetLabels, nil)
	descLatency = prometheus.NewDesc("janus_upstream_target_latency_seconds",
		"The host's peak-EWMA latency as of its last sample.", targetLabels, nil)
	descFailures = prometheus.NewDesc("janus_upstream_target_failures",
		"The host's current run of failed attempts.", targetLabels, nil)
	descChange = prometheus.NewDesc("janus_upstream_target_last_change_timestamp_seconds",
		"When the host last changed state (or was added), Unix seconds.", targetLabels, nil)
)

// activityCollector reads the activity hook at scrape time.
type activityCollector struct{ h *hook[Activity] }

func (c activityCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descConns
	ch <- descTunnels
}

func (c activityCollector) Collect(ch chan<- prometheus.Metric) {
	c.h.read(func(as []Activity) {
		seen := make(map[string]bool, len(as))
		for _, a := range as {
			// A listener reported twice (two graphs during a reload)
			// counts once: the registry refuses duplicate series.
			if seen[a.Listener] {
				continue
			}
			seen[a.Listener] = true
			ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(a.Connections), a.Listener)
			ch <- prometheus.MustNewConstMetric(descTunnels, prometheus.GaugeValue, float64(a.Tunnels), a.Listener)
		}
	})
}

// upstreamCollector reads the upstreams hook at scrape time.
type upstreamCollector struct{ h *hook[upstream.HostStats] }

func (c upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descEjected, descInFlight, descEjections, descLatency, descFailures, descChange} {
		ch <- d
	}
}

func (c upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	c.h.read(func(hs []upstream.HostStats) {
		type key struct{ pool, target, addr string }
		seen := make(map[key]bool, len(hs))
		for i := range hs {
			s := &hs[i]
			addr := ""
			if s.Addr.IsValid() {
				addr = s.Addr.String()
			}
			k := key{s.Pool, s.Target, addr}
			if seen[k] {
				continue
			}
			seen[k] = true
			collectHost(ch, s, []string{s.Pool, s.Target, addr})
		}
	})
}

func collectHost(ch chan<- prometheus.Metric, s *upstream.HostStats, lv []string) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	gauge(descUp, b2f(s.State == upstream.Healthy))
	gauge(descEjected, b2f(s.State == upstream.Ejected))
	gauge(descInFlight, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(descEjections, prometheus.CounterValue, float64(s.Ejections), lv...)
	gauge(descLatency, s.Latency.Seconds())
	gauge(descFailures, float64(s.Failures))
	if !s.LastChange.IsZero() {
		gauge(descChange, unixSeconds(s.LastChange))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
