package main

import "slices"

// table is one face's comparison: its candidates are the columns, in
// order. "direct" is the load generator talking to the origin itself (for
// idle-http, the origin nginx holding the connections).
type table struct {
	title      string
	candidates []string
	rows       []scenario
}

// scenario describes one row of a table: one metric of one scenario.
// Rates are higher-is-better and compared with their anchor; idle
// scenarios report bytes and descriptors per connection and have no
// target.
type scenario struct {
	id     string
	metric string // the figure the row shows; "value" when empty
	title  string
	unit   string
	idle   bool
	count  bool   // the figure is a count: print it whole
	anchor string // candidate the ratios are taken to; "" for none

	// At most one of these is Janus's target (the acceptance criteria of
	// the benchmark issues); all zero: reported only.
	target float64 // higher is better: Janus's median ≥ target × anchor's
	most   float64 // lower is better: Janus's median ≤ most × anchor's
	limit  float64 // lower is better, absolute: Janus's median ≤ limit
}

// metricName is the raw results' metric the row shows.
func (sc scenario) metricName() string {
	if sc.metric == "" {
		return "value"
	}
	return sc.metric
}

// upstreamConnLimit is what "no growth of upstream connections under
// steady load" allows: in the steady middle half of the measured run, at
// most one new upstream connection per client connection of the load (wrk
// -c64), whatever the number of requests (tens of thousands). A proxy that
// reuses opens none there; one without reuse opens one per request.
const upstreamConnLimit = 64

var tables = []table{
	{
		title:      "Forward face",
		candidates: []string{"direct", "janus", "squid", "tinyproxy", "dante"},
		rows: []scenario{
			{id: "http-fwd", title: "forward HTTP, keep-alive, 14 B", unit: "req/s", anchor: "squid", target: 1.5},
			{id: "connect-bulk", title: "CONNECT bulk, 1 GiB", unit: "MiB/s", anchor: "direct", target: 0.95},
			{id: "connect-rate", title: "CONNECT new tunnels", unit: "tunnels/s", anchor: "squid", target: 1.3},
			{id: "socks-bulk", title: "SOCKS5 bulk, 1 GiB", unit: "MiB/s", anchor: "dante", target: 1.5},
			{id: "socks-rate", title: "SOCKS5 new sessions", unit: "sessions/s", anchor: "dante", target: 2},
			{id: "idle-connect", title: "idle CONNECT tunnel", unit: "per conn", idle: true},
			{id: "idle-socks", title: "idle SOCKS5 tunnel", unit: "per conn", idle: true},
			{id: "idle-http", title: "idle keep-alive client conn", unit: "per conn", idle: true},
		},
	},
	{
		// Issue 3: ≥ 0.5× nginx on keep-alive small responses and on TLS
		// keep-alive, p99 no worse than 2× nginx's, HTTP/2 at least
		// nginx's, no growth of upstream connections under steady load.
		title:      "Reverse face",
		candidates: []string{"direct", "janus", "nginx", "haproxy"},
		rows: []scenario{
			{id: "rev-keepalive", title: "reverse keep-alive, 14 B", unit: "req/s", anchor: "nginx", target: 0.5},
			{id: "rev-keepalive", metric: "p99_ms", title: "reverse keep-alive, 14 B, p99", unit: "ms", anchor: "nginx", most: 2},
			{id: "rev-newconn", title: "reverse, new connection per request", unit: "req/s", anchor: "nginx"},
			{id: "rev-upstream-conns", title: "upstream conns opened, steady keep-alive", unit: "conns", count: true, limit: upstreamConnLimit},
			{id: "rev-tls-keepalive", title: "reverse TLS keep-alive, HTTP/1.1, 14 B", unit: "req/s", anchor: "nginx", target: 0.5},
			{id: "rev-h2", title: "reverse HTTP/2 over TLS, 14 B, -m10", unit: "req/s", anchor: "nginx", target: 1},
		},
	},
	{
		// Issue 4: cache hits at least at nginx proxy_cache's rate, with the
		// memory per cached object reported.
		title:      "Cache",
		candidates: []string{"janus", "nginx", "varnish"},
		rows: []scenario{
			{id: "cache-hit", title: "cache hit, 1 KiB, keep-alive", unit: "req/s", anchor: "nginx", target: 1},
			{id: "cache-hit", metric: "p99_ms", title: "cache hit, 1 KiB, p99", unit: "ms", anchor: "nginx"},
			{id: "cache-mem", title: "memory per cached 1 KiB object", unit: "per object", idle: true},
		},
	},
	{
		// Issue 6: an enabled rate limit costs under 5% of requests/s
		// locally, under 15% shared through Redis.
		title:      "Limits",
		candidates: []string{"janusbase", "janus"},
		rows: []scenario{
			{id: "rev-limit", title: "reverse keep-alive with a rate limit deciding every request", unit: "req/s", anchor: "janusbase", target: 0.95},
			{id: "rev-limit-redis", title: "the same limit shared through Redis", unit: "req/s", anchor: "janusbase", target: 0.85},
		},
	},
}

// scenarioOrder lists scenario ids in table order, each once: the order of
// the every-round listing.
func scenarioOrder() []string {
	var ids []string
	for _, t := range tables {
		for _, sc := range t.rows {
			if len(ids) == 0 || ids[len(ids)-1] != sc.id {
				ids = append(ids, sc.id)
			}
		}
	}
	return ids
}

// candidateOrder lists every candidate once, in table order.
func candidateOrder() []string {
	var all []string
	for _, t := range tables {
		for _, c := range t.candidates {
			if !slices.Contains(all, c) {
				all = append(all, c)
			}
		}
	}
	return all
}
