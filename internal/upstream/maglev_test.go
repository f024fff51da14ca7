package upstream

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

// mapKeys picks a host for each of n URI keys and returns the addresses.
func mapKeys(t *testing.T, p *Pool, n int) []netip.AddrPort {
	t.Helper()
	out := make([]netip.AddrPort, n)
	for i := range out {
		h, err := p.Pick(&Request{URI: fmt.Appendf(nil, "/key/%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = h.addr
	}
	return out
}

// TestConsistentHashRemapsAboutOneNth: adding or removing one of N hosts
// moves about 1/N of 10,000 keys (plus Maglev's small extra disruption),
// where modulo hashing would move nearly all of them.
func TestConsistentHashRemapsAboutOneNth(t *testing.T) {
	const keys = 10000
	for _, tc := range []struct {
		desc     string
		from, to int // hosts before and after
		weights  []int
	}{
		{desc: "remove one of 10", from: 10, to: 9},
		{desc: "add an 11th", from: 10, to: 11},
		{desc: "remove one of 3", from: 3, to: 2},
		{desc: "add a 4th", from: 3, to: 4},
		{desc: "remove one of 50", from: 50, to: 49},
		{desc: "remove one of 10 weighted", from: 10, to: 9, weights: []int{1, 2, 3, 4, 5, 1, 2, 3, 4, 5}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			opts := func(n int) Options {
				return Options{Name: "h", Targets: targets(n, tc.weights...), Balance: Hash, Hash: HashKey{Source: HashURI}}
			}
			before := mapKeys(t, newPool(t, NewRegistry(nil), opts(tc.from)), keys)
			after := mapKeys(t, newPool(t, NewRegistry(nil), opts(tc.to)), keys)
			moved, forced := 0, 0
			removed := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.%d:8080", tc.from))
			for i := range before {
				if before[i] != after[i] {
					moved++
				}
				if tc.to < tc.from && before[i] == removed {
					forced++ // these keys must move
				}
			}
			n := max(tc.from, tc.to)
			bound := 1/float64(n) + 0.02
			if tc.weights != nil {
				bound = float64(forced)/keys + 0.02
			}
			share := float64(moved) / keys
			t.Logf("moved %d of %d keys (%.3f; bound %.3f)", moved, keys, share, bound)
			if share > bound {
				t.Errorf("moved %.3f of keys, want below %.3f", share, bound)
			}
			if moved < forced {
				t.Errorf("moved %d keys but %d were on the removed host", moved, forced)
			}
		})
	}
}

// TestHashKeysOfDownHostMoveAlone: while a host is unusable its keys go to
// the others and every other key stays where it was.
func TestHashKeysOfDownHostMoveAlone(t *testing.T) {
	p := newPool(t, NewRegistry(nil), checked(Options{Targets: targets(5), Balance: Hash, Hash: HashKey{Source: HashURI}}))
	before := mapKeys(t, p, 5000)
	down := hostAt(t, p, "127.0.0.3:8080")
	down.unhealthy.Store(true)
	during := mapKeys(t, p, 5000)
	spread := map[netip.AddrPort]int{}
	for i := range before {
		switch {
		case before[i] == down.addr:
			if during[i] == down.addr {
				t.Fatalf("key %d still on the down host", i)
			}
			spread[during[i]]++
		case during[i] != before[i]:
			t.Fatalf("key %d moved from %s to %s though its host is up", i, before[i], during[i])
		}
	}
	if len(spread) != 4 {
		t.Errorf("the down host's keys went to %d hosts, want all 4 others: %v", len(spread), spread)
	}
	down.unhealthy.Store(false)
	after := mapKeys(t, p, 5000)
	for i := range before {
		if after[i] != before[i] {
			t.Fatalf("key %d did not return to %s", i, before[i])
		}
	}
}

// TestHashKeySources: the same key value maps to the same host whatever
// else differs, for every source; a request without the key is balanced.
func TestHashKeySources(t *testing.T) {
	header := func(fields ...string) *httpmsg.Header {
		var h httpmsg.Header
		for i := 0; i+1 < len(fields); i += 2 {
			h.AddString(fields[i], fields[i+1])
		}
		return &h
	}
	for _, tc := range []struct {
		desc string
		key  HashKey
		same [2]*Request // different requests with the same key
	}{
		{desc: "client ip", key: HashKey{Source: HashClientIP}, same: [2]*Request{
			{ClientIP: netip.MustParseAddr("192.0.2.7"), URI: []byte("/a")},
			{ClientIP: netip.MustParseAddr("::ffff:192.0.2.7"), URI: []byte("/b")},
		}},
		{desc: "header", key: HashKey{Source: HashHeader, Name: "X-User"}, same: [2]*Request{
			{Header: header("X-User", "alice"), URI: []byte("/a")},
			{Header: header("x-user", "alice", "Accept", "*/*"), URI: []byte("/b")},
		}},
		{desc: "cookie", key: HashKey{Source: HashCookie, Name: "session"}, same: [2]*Request{
			{Header: header("Cookie", "a=1; session=xyz"), URI: []byte("/a")},
			{Header: header("Cookie", "theme=dark", "Cookie", `session="xyz"`), URI: []byte("/b")},
		}},
		{desc: "uri", key: HashKey{Source: HashURI}, same: [2]*Request{
			{URI: []byte("/p?q=1"), ClientIP: netip.MustParseAddr("10.0.0.1")},
			{URI: []byte("/p?q=1"), ClientIP: netip.MustParseAddr("10.0.0.2")},
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			p := newPool(t, NewRegistry(nil), Options{Targets: targets(8), Balance: Hash, Hash: tc.key})
			for range 20 {
				a, _ := p.Pick(tc.same[0])
				b, _ := p.Pick(tc.same[1])
				if a != b {
					t.Fatalf("same key went to %s and %s", a.addr, b.addr)
				}
			}
			// Without the key: round robin over all eight.
			seen := map[*Host]bool{}
			for range 8 {
				h, _ := p.Pick(&Request{})
				seen[h] = true
			}
			if len(seen) != 8 {
				t.Errorf("keyless requests reached %d hosts, want 8 (round robin)", len(seen))
			}
		})
	}
}

// TestHashSameMembersSameTable: two registries (two Janus instances) map
// keys identically.
func TestHashSameMembersSameTable(t *testing.T) {
	opts := Options{Targets: targets(6), Balance: Hash, Hash: HashKey{Source: HashURI}}
	a := mapKeys(t, newPool(t, NewRegistry(nil), opts), 2000)
	b := mapKeys(t, newPool(t, NewRegistry(nil), opts), 2000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("key %d: %s in one instance, %s in the other", i, a[i], b[i])
		}
	}
}

func TestTableSizeIsPrimeAndLarge(t *testing.T) {
	for _, n := range []int{1, 40, 41, 164, 655, 656, 2621, 10486, 20000} {
		m := tableSize(n)
		if m < 100*n || nextPrime(m) != m {
			t.Errorf("tableSize(%d) = %d, want a prime ≥ %d", n, m, 100*n)
		}
	}
}
