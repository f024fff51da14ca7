package live

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHostOf(t *testing.T) {
	for _, tc := range []struct {
		desc, target, want string
	}{
		{"absolute URL", "http://example.com/x?y", "example.com"},
		{"absolute URL with port", "http://example.com:8080/x", "example.com"},
		{"no path", "https://example.com", "example.com"},
		{"user info", "http://u:p@example.com/", "example.com"},
		{"authority", "example.com:443", "example.com"},
		{"IPv4 authority", "10.0.0.1:22", "10.0.0.1"},
		{"IPv6 authority", "[::1]:443", "::1"},
		{"IPv6 URL", "http://[2001:db8::1]:80/", "2001:db8::1"},
		{"bare host", "example.com", "example.com"},
		{"bare IPv6", "2001:db8::1", "2001:db8::1"},
		{"empty", "", ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := hostOf(tc.target); got != tc.want {
				t.Errorf("hostOf(%q) = %q, want %q", tc.target, got, tc.want)
			}
		})
	}
}

// TestTopKOnSkewedInput feeds a Zipf stream of 5,000 hosts, ten times the
// summary's capacity over each minute, and checks the reported top 20
// against exact counts.
func TestTopKOnSkewedInput(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.2, 1, 4999)
	reqs := map[string]int64{}
	bytes := map[string]int64{}
	users := map[string]int64{}
	for i := range 200_000 {
		if i%20_000 == 0 && i > 0 {
			c.Add(time.Minute) // spread over ten minutes
		}
		k := z.Uint64()
		host := "h" + strconv.FormatUint(k, 10) + ".example"
		// Bytes are skewed the other way for a few hosts, so the two
		// rankings differ.
		down := int64(100)
		if k%97 == 3 {
			down = 20_000
		}
		e := fwd("http://"+host+"/", 200, 0, down, time.Millisecond)
		e.User = "u" + strconv.FormatUint(k%300, 10)
		l.Log(e)
		reqs[host]++
		bytes[host] += down
		users[e.User] += down
	}
	s := l.Snapshot()
	for _, tc := range []struct {
		desc  string
		got   []Top
		exact map[string]int64
		value func(Top) int64
	}{
		{"destinations by requests", s.TopDestinations, reqs, func(t Top) int64 { return t.Requests }},
		{"destinations by bytes", s.TopDestinationsByBytes, bytes, func(t Top) int64 { return t.Bytes }},
		{"users by bytes", s.TopUsers, users, func(t Top) int64 { return t.Bytes }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			want := exactTop(tc.exact, 20)
			if len(tc.got) != 20 {
				t.Fatalf("%d tops, want 20", len(tc.got))
			}
			for i, g := range tc.got {
				if g.Key != want[i] {
					t.Errorf("#%d: %s, want %s", i, g.Key, want[i])
				}
				// The figure is a lower bound; the true one is at most
				// Error above it, and for these heavy keys within 3%.
				v, x := tc.value(g), tc.exact[g.Key]
				if v > x || v+g.Error < x || float64(x-v) > 0.03*float64(x) {
					t.Errorf("%s: %d (error %d), exact %d", g.Key, v, g.Error, x)
				}
			}
		})
	}
}

func exactTop(m map[string]int64, n int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return keys[:n]
}

func TestTopsCountOnlyTheirFaceAndAgeOutByMinute(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	e := fwd("a.example:443", 200, 10, 20, time.Second)
	e.Protocol, e.User = "connect", "alice"
	l.Log(e)
	r := rev(200, 1000, time.Millisecond)
	r.User = "bob" // users count on both faces, destinations only forward
	l.Log(r)
	l.Log(fwd("http://b.example/", 200, 0, 0, time.Millisecond))
	for _, tc := range []struct {
		desc  string
		after time.Duration
		dests []Top
		users []Top
	}{
		{"now", 0,
			[]Top{{Key: "a.example", Requests: 1, Bytes: 30}, {Key: "b.example", Requests: 1}},
			[]Top{{Key: "bob", Requests: 1, Bytes: 1000}, {Key: "alice", Requests: 1, Bytes: 30}}},
		{"nine minutes on", 9*time.Minute + 59*time.Second,
			[]Top{{Key: "a.example", Requests: 1, Bytes: 30}, {Key: "b.example", Requests: 1}},
			[]Top{{Key: "bob", Requests: 1, Bytes: 1000}, {Key: "alice", Requests: 1, Bytes: 30}}},
		{"ten minutes on", 10 * time.Minute, []Top{}, []Top{}},
	} {
		c.Set(t0.Add(tc.after))
		s := l.Snapshot()
		if !slices.Equal(s.TopDestinations, tc.dests) || !slices.Equal(s.TopUsers, tc.users) {
			t.Errorf("%s: destinations %v users %v, want %v %v", tc.desc, s.TopDestinations, s.TopUsers, tc.dests, tc.users)
		}
	}
	// The by-bytes list leaves out hosts that moved no bytes.
	c.Set(t0)
	if got := l.Snapshot().TopDestinationsByBytes; len(got) != 1 || got[0].Key != "a.example" {
		t.Errorf("by bytes %v", got)
	}
}

func TestSummaryTakeoverKeepsTheHeap(t *testing.T) {
	s := newSummary[string, struct{}](3)
	for i, k := range []string{"a", "b", "c", "a", "d", "a", "e", "b"} {
		s.add(k, int64(i+1), 0, struct{}{})
	}
	// Every counter's heap position must point back at it, and the root
	// must be the smallest.
	for i, ci := range s.heap {
		if s.counters[ci].at != i {
			t.Fatalf("counter %d says heap %d, is at %d", ci, s.counters[ci].at, i)
		}
		if s.counters[ci].rank < s.counters[s.heap[0]].rank {
			t.Fatal("root is not the minimum")
		}
	}
	if len(s.index) != 3 {
		t.Errorf("index has %d keys, want 3", len(s.index))
	}
	var total int64
	for _, c := range s.counters {
		total += c.rank
	}
	// Space-saving conserves the total weight: 1+2+...+8.
	if total != 36 {
		t.Errorf("ranks sum to %d, want 36", total)
	}
}

// FuzzHostOf pins that hostOf never panics and returns a part of its input
// with no port: what it keys the top destinations by.
func FuzzHostOf(f *testing.F) {
	for _, s := range []string{"http://example.com:80/x", "[::1]:443", "a:1", "http://[", "://@:", "https://u@h?x#y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		h := hostOf(target)
		if !strings.Contains(target, h) {
			t.Fatalf("hostOf(%q) = %q, not part of the input", target, h)
		}
		if strings.Count(h, ":") == 1 && !strings.Contains(target, "["+h+"]") {
			t.Fatalf("hostOf(%q) = %q keeps a port", target, h)
		}
	})
}
