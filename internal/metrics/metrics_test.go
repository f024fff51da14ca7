package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/janus-proxy/janus/internal/observe"
	"github.com/janus-proxy/janus/internal/upstream"
)

// scrape fetches m's Handler over a real loopback server and parses it.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	text := scrapeText(t, m)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, text)
	}
	return fams
}

func scrapeText(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// value returns the sample of family name whose labels include want
// (name=value pairs), and whether there is exactly one such series.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	var found []*dto.Metric
	for _, m := range f.Metric {
		if hasLabels(m, want) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	m := found[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		ok := false
		for _, l := range m.Label {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

var client = netip.MustParseAddrPort("127.0.0.9:40000")

// knownTraffic is a fixed mix over two listeners and both faces.
func knownTraffic() []observe.Entry {
	fwd := observe.Entry{Listener: "proxy", Face: "forward", Client: client, User: "alice", Rule: "office#2"}
	rev := observe.Entry{Listener: "web", Face: "reverse", Client: client, Route: "app", Upstream: "app", Protocol: "http", Method: "GET", Target: "/"}
	var es []observe.Entry
	add := func(base observe.Entry, n int, f func(*observe.Entry)) {
		for range n {
			e := base
			f(&e)
			es = append(es, e)
		}
	}
	add(fwd, 3, func(e *observe.Entry) {
		e.Protocol, e.Method, e.Target, e.Status = "http", "GET", "http://secret.example/x", 200
		e.BytesUp, e.BytesDown, e.Duration = 10, 1000, 3*time.Millisecond
	})
	add(fwd, 2, func(e *observe.Entry) {
		e.Protocol, e.Method, e.Target, e.Status = "connect", "CONNECT", "secret.example:443", 200
		e.BytesUp, e.BytesDown, e.Duration = 500, 5000, time.Minute
	})
	add(fwd, 1, func(e *observe.Entry) {
		e.Protocol, e.Method, e.Target, e.Status, e.Rule, e.Denied = "socks5", "CONNECT", "10.0.0.1:22", 2, "no-private", true
	})
	add(fwd, 1, func(e *observe.Entry) {
		e.Protocol, e.Method, e.Target, e.Status, e.Rule, e.Denied, e.User = "http", "GET", "http://x/", 407, "auth", true, ""
	})
	add(fwd, 1, func(e *observe.Entry) {
		e.Protocol, e.Method, e.Target, e.Status, e.BytesDown = "socks4", "CONNECT", "1.2.3.4:80", 90, 42
	})
	add(rev, 4, func(e *observe.Entry) { e.Status, e.BytesDown, e.Duration = 200, 100, 20*time.Millisecond })
	add(rev, 1, func(e *observe.Entry) { e.Status, e.Error, e.Duration = 502, "upstream refused", 2*time.Second })
	add(rev, 1, func(e *observe.Entry) { e.Status = 0 })
	return es
}

func TestScrapeCountsKnownTraffic(t *testing.T) {
	m := New(Options{Version: "v1.2.3"})
	for _, e := range knownTraffic() {
		m.Log(&e)
	}
	fams := scrape(t, m)
	for _, tc := range []struct {
		desc   string
		name   string
		labels []string
		want   float64
	}{
		{"forward http 2xx", "janus_requests_total", []string{"listener", "proxy", "face", "forward", "route", "", "code_class", "2xx"}, 5},
		{"socks5 refusal is socks_err", "janus_requests_total", []string{"listener", "proxy", "code_class", "socks_err"}, 1},
		{"socks4 grant is socks_ok", "janus_requests_total", []string{"listener", "proxy", "code_class", "socks_ok"}, 1},
		{"challenge is 4xx", "janus_requests_total", []string{"listener", "proxy", "code_class", "4xx"}, 1},
		{"reverse 2xx by route", "janus_requests_total", []string{"listener", "web", "face", "reverse", "route", "app", "code_class", "2xx"}, 4},
		{"reverse 5xx", "janus_requests_total", []string{"listener", "web", "route", "app", "code_class", "5xx"}, 1},
		{"no status sent", "janus_requests_total", []string{"listener", "web", "code_class", "none"}, 1},
		{"forward latency excludes tunnels", "janus_request_duration_seconds", []string{"listener", "proxy", "face", "forward"}, 4},
		{"reverse latency", "janus_request_duration_seconds", []string{"listener", "web", "face", "reverse"}, 6},
		{"forward bytes in", "janus_bytes_total", []string{"listener", "proxy", "direction", "in"}, 3*10 + 2*500},
		{"forward bytes out", "janus_bytes_total", []string{"listener", "proxy", "direction", "out"}, 3*1000 + 2*5000 + 42},
		{"reverse bytes out", "janus_bytes_total", []string{"listener", "web", "face", "reverse", "direction", "out"}, 400},
		{"allowed by rule", "janus_gate_decisions_total", []string{"listener", "proxy", "rule", "office#2", "verdict", "allow"}, 6},
		{"denied by rule", "janus_gate_decisions_total", []string{"listener", "proxy", "rule", "no-private", "verdict", "deny"}, 1},
		{"407 is a challenge", "janus_gate_decisions_total", []string{"listener", "proxy", "rule", "auth", "verdict", "challenge"}, 1},
		{"connect tunnels", "janus_tunnels_total", []string{"listener", "proxy", "protocol", "connect"}, 2},
		{"socks4 sessions", "janus_tunnels_total", []string{"listener", "proxy", "protocol", "socks4"}, 1},
		{"build info", "janus_build_info", []string{"version", "v1.2.3"}, 1},
		{"no reloads yet", "janus_reloads_total", []string{"result", "ok"}, 0},
		{"no failed reloads yet", "janus_reloads_total", []string{"result", "failed"}, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok := value(fams, tc.name, tc.labels...)
			if !ok || got != tc.want {
				t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
			}
		})
	}
	// The reverse face's latency: 4×20ms + 2s + 0 = 2.08s, with the 2s in
	// the 2.5s bucket and not the 1s one.
	for _, mm := range fams["janus_request_duration_seconds"].Metric {
		if !hasLabels(mm, []string{"listener", "web"}) {
			continue
		}
		h := mm.Histogram
		if s := h.GetSampleSum(); s < 2.079 || s > 2.081 {
			t.Errorf("reverse latency sum %v, want 2.08", s)
		}
		for _, b := range h.Bucket {
			switch b.GetUpperBound() {
			case 0.025:
				if b.GetCumulativeCount() != 5 {
					t.Errorf("le=0.025: %d, want 5", b.GetCumulativeCount())
				}
			case 1:
				if b.GetCumulativeCount() != 5 {
					t.Errorf("le=1: %d, want 5", b.GetCumulativeCount())
				}
			case 2.5:
				if b.GetCumulativeCount() != 6 {
					t.Errorf("le=2.5: %d, want 6", b.GetCumulativeCount())
				}
			}
		}
	}
	if _, ok := value(fams, "janus_tunnels_total", "protocol", "socks5"); ok {
		t.Error("a refused SOCKS5 request counts as a tunnel")
	}
	if fams["go_goroutines"] == nil || fams["process_open_fds"] == nil {
		t.Error("runtime and process collectors missing")
	}
}

func TestLabelsNeverCarryClientsUsersOrTargets(t *testing.T) {
	m := New(Options{})
	for _, e := range knownTraffic() {
		m.Log(&e)
	}
	text := scrapeText(t, m)
	for _, s := range []string{"127.0.0.9", "alice", "secret.example", "10.0.0.1", "upstream refused"} {
		if strings.Contains(text, s) {
			t.Errorf("scrape mentions %q", s)
		}
	}
}

func TestStrayFaceDoesNotMakeASeries(t *testing.T) {
	m := New(Options{NoRuntime: true})
	m.Log(&observe.Entry{Listener: "proxy", Face: "sideways", Protocol: "http", Status: 200})
	fams := scrape(t, m)
	if v, ok := value(fams, "janus_requests_total", "face", "forward"); !ok || v != 1 {
		t.Errorf("forward = %v %v, want 1", v, ok)
	}
	if _, ok := value(fams, "janus_requests_total", "face", "sideways"); ok {
		t.Error("a stray face made its own series")
	}
}

func TestReloadsCountAndStampSuccess(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := New(Options{NoRuntime: true, Now: func() time.Time { return now }})
	if v, _ := value(scrape(t, m), "janus_config_last_reload_success_timestamp_seconds"); v != 1_800_000_000 {
		t.Errorf("initial stamp %v", v)
	}
	now = now.Add(90 * time.Second)
	m.RecordReload(false)
	fams := scrape(t, m)
	if v, _ := value(fams, "janus_config_last_reload_success_timestamp_seconds"); v != 1_800_000_000 {
		t.Errorf("a failed reload moved the stamp to %v", v)
	}
	now = now.Add(10 * time.Second)
	m.RecordReload(true)
	m.RecordReload(true)
	fams = scrape(t, m)
	if v, _ := value(fams, "janus_config_last_reload_success_timestamp_seconds"); v != 1_800_000_100 {
		t.Errorf("stamp %v, want 1800000100", v)
	}
	if v, _ := value(fams, "janus_reloads_total", "result", "ok"); v != 2 {
		t.Errorf("ok reloads %v", v)
	}
	if v, _ := value(fams, "janus_reloads_total", "result", "failed"); v != 1 {
		t.Errorf("failed reloads %v", v)
	}
}

func TestActivityIsReadAtScrape(t *testing.T) {
	m := New(Options{NoRuntime: true})
	if _, ok := scrape(t, m)["janus_active_connections"]; ok {
		t.Error("activity without a hook")
	}
	conns := int64(3)
	m.SetActivity(func(dst []Activity) []Activity {
		// A listener handed over by a reload may be reported by both
		// graphs: only the first counts.
		return append(dst, Activity{Listener: "proxy", Connections: conns, Tunnels: 2},
			Activity{Listener: "web", Connections: 7}, Activity{Listener: "proxy", Connections: 99})
	})
	for _, want := range []int64{3, 5} {
		conns = want
		fams := scrape(t, m)
		if v, _ := value(fams, "janus_active_connections", "listener", "proxy"); v != float64(want) {
			t.Errorf("proxy connections %v, want %d", v, want)
		}
		if v, _ := value(fams, "janus_active_tunnels", "listener", "proxy"); v != 2 {
			t.Errorf("proxy tunnels %v", v)
		}
		if v, _ := value(fams, "janus_active_connections", "listener", "web"); v != 7 {
			t.Errorf("web connections %v", v)
		}
	}
	m.SetActivity(nil)
	if _, ok := scrape(t, m)["janus_active_connections"]; ok {
		t.Error("activity after the hook was removed")
	}
}

// TestUpstreamGaugesFollowARealPool ejects one host of a real pool and
// keeps a request in flight on the other.
func TestUpstreamGaugesFollowARealPool(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reg := upstream.NewRegistry(clock)
	pool, err := reg.NewPool(context.Background(), upstream.Options{
		Name:    "app",
		Targets: []upstream.Target{{Addr: "127.0.0.1:9001"}, {Addr: "127.0.0.1:9002"}},
		Eject:   upstream.Eject{Consecutive: 1, MaxShare: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Stop()
	m := New(Options{NoRuntime: true})
	m.SetUpstreams(func(dst []upstream.HostStats) []upstream.HostStats {
		dst = pool.Stats(dst)
		return pool.Stats(dst) // twice, as two graphs might: deduplicated
	})

	h1, err := pool.Pick(&upstream.Request{})
	if err != nil {
		t.Fatal(err)
	}
	h1.Begin()
	h1.End(upstream.Outcome{ConnectFailed: true})
	h2, err := pool.Pick(&upstream.Request{})
	if err != nil || h2 == h1 {
		t.Fatalf("second pick %v, %v", h2, err)
	}
	h2.Begin()
	h2.End(upstream.Outcome{Status: 200, Latency: 40 * time.Millisecond})
	h2.Begin()
	defer h2.End(upstream.Outcome{Abandoned: true})

	fams := scrape(t, m)
	a1, a2 := h1.Addr().String(), h2.Addr().String()
	for _, tc := range []struct {
		desc string
		name string
		addr string
		want float64
	}{
		{"ejected host is down", "janus_upstream_target_up", a1, 0},
		{"ejected host says so", "janus_upstream_target_ejected", a1, 1},
		{"ejections count", "janus_upstream_target_ejections_total", a1, 1},
		{"an ejection restarts the failure run", "janus_upstream_target_failures", a1, 0},
		{"healthy host is up", "janus_upstream_target_up", a2, 1},
		{"healthy host not ejected", "janus_upstream_target_ejected", a2, 0},
		{"in flight", "janus_upstream_target_in_flight", a2, 1},
		{"latency", "janus_upstream_target_latency_seconds", a2, 0.04},
		{"no ejections", "janus_upstream_target_ejections_total", a2, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, ok := value(fams, tc.name, "upstream", "app", "target", tc.addr, "addr", tc.addr)
			if !ok || got < tc.want*0.999 || got > tc.want*1.001 {
				t.Errorf("%s{addr=%s} = %v (%v), want %v", tc.name, tc.addr, got, ok, tc.want)
			}
		})
	}
	if v, ok := value(fams, "janus_upstream_target_last_change_timestamp_seconds", "addr", a1); !ok || v != 1_800_000_000 {
		t.Errorf("last change %v %v", v, ok)
	}
}

func TestRegisterAddsACollector(t *testing.T) {
	m := New(Options{NoRuntime: true})
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "janus_cache_hits_total", Help: "Cache hits."})
	if err := m.Register(c); err != nil {
		t.Fatal(err)
	}
	c.Add(3)
	if v, _ := value(scrape(t, m), "janus_cache_hits_total"); v != 3 {
		t.Errorf("hits %v", v)
	}
	if err := m.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "janus_cache_hits_total", Help: "Again."})); err == nil {
		t.Error("a clashing collector was registered")
	}
	if !m.Unregister(c) {
		t.Error("unregister failed")
	}
	if _, ok := scrape(t, m)["janus_cache_hits_total"]; ok {
		t.Error("still scraped after Unregister")
	}
}

func TestMetricNamesPassPromlint(t *testing.T) {
	m := New(Options{NoRuntime: true})
	for _, e := range knownTraffic() {
		m.Log(&e)
	}
	m.SetActivity(func(dst []Activity) []Activity { return append(dst, Activity{Listener: "proxy"}) })
	problems, err := promlint.New(strings.NewReader(scrapeText(t, m))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestLogAndScrapeConcurrently(t *testing.T) {
	m := New(Options{NoRuntime: true})
	es := knownTraffic()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				e := es[(i+w)%len(es)]
				e.Listener = []string{"a", "b", "c"}[i%3]
				m.Log(&e)
			}
		}()
	}
	for range 5 {
		scrape(t, m)
	}
	wg.Wait()
	fams := scrape(t, m)
	var total float64
	for _, mm := range fams["janus_requests_total"].Metric {
		total += mm.Counter.GetValue()
	}
	if total != 8000 {
		t.Errorf("requests %v, want 8000", total)
	}
}

// TestForgetDropsRemovedListenersAndRoutes: a listener or route a reload
// removed leaves /metrics; the others stay, and a forgotten label set
// seen again counts from zero in a series of its own.
func TestForgetDropsRemovedListenersAndRoutes(t *testing.T) {
	m := New(Options{})
	for _, e := range knownTraffic() {
		m.Log(&e)
	}
	m.ForgetRoute("web", "app")
	m.ForgetListener("proxy")
	text := scrapeText(t, m)
	for _, gone := range []string{`listener="proxy"`, `route="app"`} {
		if strings.Contains(text, gone) {
			t.Errorf("%s still in /metrics", gone)
		}
	}
	if !strings.Contains(text, `janus_request_duration_seconds_count{face="reverse",listener="web"}`) {
		t.Errorf("the web listener's other series went too")
	}
	e := observe.Entry{Listener: "web", Face: "reverse", Route: "app", Protocol: "http", Status: 200}
	m.Log(&e)
	fams := scrape(t, m)
	if v, ok := value(fams, "janus_requests_total", "listener", "web", "route", "app", "code_class", "2xx"); !ok || v != 1 {
		t.Errorf("the route back: %v %v, want 1", v, ok)
	}
}
