package live

import (
	"net/netip"
	"sync"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
)

// fakeClock is a settable clock for exact tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// t0 is the start of a minute, so minute arithmetic in tests is plain.
var t0 = time.Unix(1_800_000_000-1_800_000_000%60, 0).UTC()

func newFakeClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testClient = netip.MustParseAddrPort("127.0.0.9:40000")

// fwd and rev build entries for the two faces.
func fwd(target string, status int, up, down int64, d time.Duration) *observe.Entry {
	return &observe.Entry{
		Time: t0, Listener: "proxy", Face: "forward", Client: testClient, Protocol: "http", Method: "GET",
		Target: target, Status: status, BytesUp: up, BytesDown: down, Duration: d,
	}
}

func rev(status int, down int64, d time.Duration) *observe.Entry {
	return &observe.Entry{
		Time: t0, Listener: "web", Face: "reverse", Route: "app", Upstream: "app", Client: testClient,
		Protocol: "http", Method: "GET", Target: "/", Status: status, BytesDown: down, Duration: d,
	}
}
