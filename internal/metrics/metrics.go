// Package metrics exposes Janus's Prometheus metrics: counters fed by the
// access-log entries of every face, gauges read at scrape time from hooks
// the server sets (active connections, upstream hosts), reloads and build
// information, on a registry of its own. Labels only ever carry names from
// the config (listeners, routes, rules, upstreams) and fixed vocabularies,
// never client addresses, users or targets, so the number of series stays
// bounded.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/upstream"
)

// Options configure Metrics. The zero value is usable.
type Options struct {
	// Version is janus_build_info's version label; "" reads "unknown".
	Version string
	// Now is the clock for the reload timestamp; nil means time.Now.
	Now func() time.Time
	// Logger receives errors met while serving a scrape; nil discards them.
	Logger *slog.Logger
	// NoRuntime leaves out the Go runtime and process collectors (tests
	// that compare whole scrapes).
	NoRuntime bool
}

// DurationBuckets are janus_request_duration_seconds's upper bounds: from
// half a millisecond (a cache hit, a local origin) to a minute (a slow
// upload).
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// Metrics is Janus's metrics registry. Log is safe for concurrent use and
// does not allocate once an entry's label set has been seen.
type Metrics struct {
	o   Options
	reg *prometheus.Registry

	requests *prometheus.CounterVec   // listener, face, route, code_class
	duration *prometheus.HistogramVec // listener, face
	bytes    *prometheus.CounterVec   // listener, face, direction
	gate     *prometheus.CounterVec   // listener, rule, verdict
	tunnels  *prometheus.CounterVec   // listener, protocol

	reloads    *prometheus.CounterVec // result
	lastReload prometheus.Gauge

	// Children resolved per label set: Log reads the maps without a lock;
	// a new label set copies them under mu (label sets come from the
	// config, so there are few and they stop changing).
	mu     sync.Mutex
	series atomic.Pointer[map[seriesKey]*series]
	rules  atomic.Pointer[map[ruleKey]prometheus.Counter]

	activity  hook[Activity]
	upstreams hook[upstream.HostStats]
}

// New returns Metrics with every collector registered.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "unknown"
	}
	m := &Metrics{o: o, reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "janus_requests_total",
		Help: "Finished HTTP requests, CONNECT tunnels and SOCKS sessions, by listener, face, reverse route and outcome class (1xx..5xx, none: no status sent, socks_ok, socks_err).",
	}, []string{"listener", "face", "route", "code_class"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "janus_request_duration_seconds",
		Help:    "Time from the start of an HTTP request to the end of its response; tunnels and sessions are not counted.",
		Buckets: DurationBuckets,
	}, []string{"listener", "face"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "janus_bytes_total",
		Help: "Payload bytes by direction: in from clients, out to clients.",
	}, []string{"listener", "face", "direction"})
	m.gate = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "janus_gate_decisions_total",
		Help: "Gate decisions by the rule that decided and the verdict (allow, deny, challenge).",
	}, []string{"listener", "rule", "verdict"})
	m.tunnels = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "janus_tunnels_total",
		Help: "Finished CONNECT tunnels and SOCKS sessions that were established (2xx, socks_ok), by protocol (connect, socks5, socks4).",
	}, []string{"listener", "protocol"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "janus_reloads_total",
		Help: "Configuration reloads by result (ok, failed).",
	}, []string{"result"})
	m.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "janus_config_last_reload_success_timestamp_seconds",
		Help: "When the running configuration was loaded (start or last successful reload), Unix seconds.",
	})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "janus_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "go_version"})
	buildInfo.WithLabelValues(o.Version, runtime.Version()).Set(1)
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	m.lastReload.Set(unixSeconds(o.Now()))

	m.reg.MustRegister(m.requests, m.duration, m.bytes, m.gate, m.tunnels, m.reloads, m.lastReload, buildInfo,
		activityCollector{&m.activity}, upstreamCollector{&m.upstreams})
	if !o.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m.series.Store(&map[seriesKey]*series{})
	m.rules.Store(&map[ruleKey]prometheus.Counter{})
	return m
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	opts := promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}
	if m.o.Logger != nil {
		opts.ErrorLog = errorLog{m.o.Logger}
	}
	return promhttp.HandlerFor(m.reg, opts)
}

// errorLog carries promhttp's errors to slog.
type errorLog struct{ l *slog.Logger }

func (e errorLog) Println(v ...any) { e.l.Error("metrics: scrape", "error", fmt.Sprint(v...)) }

// Register adds a collector to the registry, such as the cache's counters.
// A collector whose descriptors clash with registered ones is refused.
func (m *Metrics) Register(c prometheus.Collector) error {
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("register collector: %w", err)
	}
	return nil
}

// Unregister removes a collector added by Register (a reload that replaces
// the cache drops the old one's).
func (m *Metrics) Unregister(c prometheus.Collector) bool { return m.reg.Unregister(c) }

// RecordReload counts one reload attempt; a successful one also sets the
// last-success timestamp. The initial load is not a reload: New stamps it.
func (m *Metrics) RecordReload(ok bool) {
	if !ok {
		m.reloads.WithLabelValues("failed").Inc()
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.lastReload.Set(unixSeconds(m.o.Now()))
}

// Compile-time check: Metrics is a sink for the access-log fan-out, like
// *observe.AccessLog and *live.Live.
var _ interface{ Log(*observe.Entry) } = (*Metrics)(nil)

// face maps an entry to its face label; anything but "reverse" is the
// forward face, so a stray value cannot make a new series.
func face(e *observe.Entry) string {
	if e.Face == "reverse" {
		return "reverse"
	}
	return "forward"
}
