package live

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/observe"
)

// limitedEntry is a refusal by a limit, as the faces log it.
func limitedEntry(client, user, rule string, status int) *observe.Entry {
	e := fwd("http://a.example/", status, 0, 0, time.Millisecond)
	e.Client = netip.MustParseAddrPort(client)
	e.User, e.Rule, e.Denied, e.Limited = user, rule, true, true
	return e
}

func TestLimitedClientsCountRefusalsByAddressAndUser(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	// 10.0.0.1 anonymous, over a rate limit three times from three ports;
	// the same address as bob, refused by his quota twice, the second
	// time later; 10.0.0.2 once, by a SOCKS concurrency limit; the
	// IPv4-mapped form of 10.0.0.2 is the same client.
	l.Log(limitedEntry("10.0.0.1:1000", "", "per-ip", 429))
	l.Log(limitedEntry("10.0.0.1:1001", "", "per-ip", 429))
	l.Log(limitedEntry("10.0.0.1:1002", "bob", "quota", 403))
	c.Add(1500 * time.Millisecond)
	l.Log(limitedEntry("10.0.0.1:1003", "", "per-ip-burst", 429))
	l.Log(limitedEntry("10.0.0.1:1004", "bob", "quota", 403))
	c.Add(time.Second)
	s := limitedEntry("10.0.0.2:1000", "", "sessions", 2)
	s.Protocol = "socks5"
	l.Log(s)
	l.Log(limitedEntry("[::ffff:10.0.0.2]:1001", "", "sessions", 2))
	// Not limited: a policy denial, a success, an error.
	d := fwd("http://10.0.0.9/", 403, 0, 0, time.Millisecond)
	d.Denied, d.Rule = true, "no-private"
	l.Log(d)
	l.Log(fwd("http://a.example/", 200, 1, 1, time.Millisecond))
	l.Log(rev(502, 0, time.Millisecond))

	// Most refused first; of two as often refused, the latest first.
	want := []LimitedClient{
		{Client: netip.MustParseAddr("10.0.0.1"), Count: 3, Rule: "per-ip-burst", Status: 429, Last: t0.Add(1500 * time.Millisecond)},
		{Client: netip.MustParseAddr("10.0.0.2"), Count: 2, Rule: "sessions", Status: 2, Last: t0.Add(2500 * time.Millisecond)},
		{Client: netip.MustParseAddr("10.0.0.1"), User: "bob", Count: 2, Rule: "quota", Status: 403, Last: t0.Add(1500 * time.Millisecond)},
	}
	for _, tc := range []struct {
		desc  string
		after time.Duration
		want  []LimitedClient
	}{
		{"now", 2500 * time.Millisecond, want},
		{"nine minutes on", 9*time.Minute + 59*time.Second, want},
		{"ten minutes on", 10 * time.Minute, []LimitedClient{}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c.Set(t0.Add(tc.after))
			got := l.Snapshot().LimitedClients
			if !slices.Equal(got, tc.want) {
				t.Errorf("limited clients\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestLimitedClientsKeepTheNewestRuleAcrossMinutes: a client refused by
// one limit in one minute and another the next shows the newer, and its
// refusals add up.
func TestLimitedClientsKeepTheNewestRuleAcrossMinutes(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	for range 5 {
		l.Log(limitedEntry("10.0.0.1:1", "alice", "per-user", 429))
	}
	c.Add(time.Minute)
	l.Log(limitedEntry("10.0.0.1:2", "alice", "quota", 403))
	got := l.Snapshot().LimitedClients
	if len(got) != 1 || got[0].Count != 6 || got[0].Rule != "quota" || got[0].Status != 403 || !got[0].Last.Equal(t0.Add(time.Minute)) {
		t.Errorf("limited clients %+v", got)
	}
}

// TestLimitedClientsOnSkewedInput: 3,000 clients, a Zipf stream of
// refusals far over the summary's capacity; the top 20 are the exact top
// 20, with counts within their error bounds.
func TestLimitedClientsOnSkewedInput(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	r := rand.New(rand.NewPCG(3, 4))
	z := rand.NewZipf(r, 1.3, 1, 2999)
	exact := map[string]int64{}
	for i := range 100_000 {
		if i%10_000 == 0 && i > 0 {
			c.Add(time.Minute)
		}
		k := z.Uint64()
		addr := netip.AddrFrom4([4]byte{10, 1, byte(k >> 8), byte(k)})
		e := limitedEntry(netip.AddrPortFrom(addr, uint16(i)).String(), "", "per-ip", 429)
		l.Log(e)
		exact[addr.String()]++
	}
	got := l.Snapshot().LimitedClients
	want := exactTop(exact, 20)
	if len(got) != 20 {
		t.Fatalf("%d limited clients, want 20", len(got))
	}
	for i, g := range got {
		if g.Client.String() != want[i] {
			t.Errorf("#%d: %s, want %s", i, g.Client, want[i])
		}
		x := exact[g.Client.String()]
		if g.Count > x || g.Count+g.Error < x || float64(x-g.Count) > 0.03*float64(x) {
			t.Errorf("%s: %d (error %d), exact %d", g.Client, g.Count, g.Error, x)
		}
	}
}

// TestLogAllocatesNothingForLimitedEntries pins the per-entry cost: once
// the summaries hold their keys, neither an ordinary entry nor a refusal
// by a limit allocates.
func TestLogAllocatesNothingForLimitedEntries(t *testing.T) {
	l := New(Options{Now: newFakeClock().Now})
	for _, tc := range []struct {
		desc string
		e    *observe.Entry
	}{
		{"ordinary entry", fwd("http://a.example/", 200, 1, 2, time.Millisecond)},
		{"refused by a limit", limitedEntry("10.0.0.1:1", "bob", "per-user", 429)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			l.Log(tc.e)
			if n := testing.AllocsPerRun(100, func() { l.Log(tc.e) }); n != 0 {
				t.Errorf("%v allocations per entry", n)
			}
		})
	}
}

func BenchmarkLogLimited(b *testing.B) {
	// One entry in eight refused by a limit, from 64 clients, half of
	// them as a user.
	es := benchEntries()
	for i := range es {
		if i%8 == 7 {
			e := &es[i]
			e.Status, e.Denied, e.Limited, e.Rule = 429, true, true, "per-ip"
			e.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 64)}), 40000)
			if i%16 == 7 {
				e.User = "user" + strconv.Itoa(i%40)
			}
		}
	}
	l := New(Options{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Log(&es[i%len(es)])
	}
}
