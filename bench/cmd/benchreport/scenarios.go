package main

// candidates in table order. "direct" is the load generator talking to the
// origin itself (for idle-http, the origin nginx holding the connections).
var candidates = []string{"direct", "janus", "squid", "tinyproxy", "dante"}

// scenario describes one row group of the table. Rates are higher-is-better
// and compared with their anchor; idle scenarios report bytes and
// descriptors per connection and have no target.
type scenario struct {
	id     string
	title  string
	unit   string
	idle   bool
	anchor string  // candidate the ratios are taken to
	target float64 // Janus's median must reach target × anchor's; 0: none
}

// scenarios in table order; the targets are the acceptance criteria.
var scenarios = []scenario{
	{id: "http-fwd", title: "forward HTTP, keep-alive, 14 B", unit: "req/s", anchor: "squid", target: 1.5},
	{id: "connect-bulk", title: "CONNECT bulk, 1 GiB", unit: "MiB/s", anchor: "direct", target: 0.95},
	{id: "connect-rate", title: "CONNECT new tunnels", unit: "tunnels/s", anchor: "squid", target: 1.3},
	{id: "socks-bulk", title: "SOCKS5 bulk, 1 GiB", unit: "MiB/s", anchor: "dante", target: 1.5},
	{id: "socks-rate", title: "SOCKS5 new sessions", unit: "sessions/s", anchor: "dante", target: 2},
	{id: "idle-connect", title: "idle CONNECT tunnel", unit: "per conn", idle: true},
	{id: "idle-socks", title: "idle SOCKS5 tunnel", unit: "per conn", idle: true},
	{id: "idle-http", title: "idle keep-alive client conn", unit: "per conn", idle: true},
}
