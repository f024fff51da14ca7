package live

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
)

// benchEntries are a realistic mix: forward HTTP and CONNECT to a few
// hundred hosts, reverse requests, some errors and denials.
func benchEntries() []observe.Entry {
	es := make([]observe.Entry, 512)
	for i := range es {
		e := observe.Entry{
			Time: time.Unix(1_800_000_000, 0), Listener: "proxy", Face: "forward",
			Client: netip.MustParseAddrPort("127.0.0.1:40000"), Protocol: "http", Method: "GET",
			Target: "http://host" + strconv.Itoa(i%300) + ".example:80/path/x",
			Status: 200, BytesUp: 100, BytesDown: int64(1000 + i), Duration: time.Duration(i) * 37 * time.Microsecond,
			UserAgent: "bench/1",
		}
		switch {
		case i%4 == 1:
			e.Face, e.Route, e.Upstream, e.Listener = "reverse", "app", "app", "web"
			e.Target = "/index.html"
		case i%8 == 2:
			e.Protocol, e.Method, e.Target = "connect", "CONNECT", "host"+strconv.Itoa(i%50)+".example:443"
		case i%16 == 3:
			e.Status, e.Denied, e.Rule, e.Error = 403, true, "office#1", "refused"
		case i%32 == 5:
			e.Status, e.Error = 502, "dial: refused"
		}
		if i%3 == 0 {
			e.User = "user" + strconv.Itoa(i%40)
		}
		es[i] = e
	}
	return es
}

func BenchmarkLog(b *testing.B) {
	for _, bc := range []struct {
		desc string
		subs int
	}{{"no subscribers", 0}, {"two subscribers", 2}} {
		b.Run(bc.desc, func(b *testing.B) {
			l := New(Options{})
			for range bc.subs {
				ch, cancel := l.Subscribe(Filter{})
				defer cancel()
				go func() {
					for range ch {
					}
				}()
			}
			es := benchEntries()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.Log(&es[i%len(es)])
			}
		})
	}
}

func BenchmarkLogParallel(b *testing.B) {
	l := New(Options{})
	es := benchEntries()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Log(&es[i%len(es)])
			i++
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	l := New(Options{})
	es := benchEntries()
	for i := range 100_000 {
		l.Log(&es[i%len(es)])
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = l.Snapshot()
	}
}
