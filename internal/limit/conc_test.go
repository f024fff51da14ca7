package limit

import (
	"sync"
	"testing"
)

func newConc(t testing.TB, max int, o Options) *Concurrency {
	t.Helper()
	c, err := NewConcurrency("test", max, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConcurrencyLimitsPerKey(t *testing.T) {
	c := newConc(t, 2, Options{})
	a, b := []byte("a"), []byte("b")
	s1, ok1 := c.Acquire(a)
	s2, ok2 := c.Acquire(a)
	_, ok3 := c.Acquire(a)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire a three times: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := c.Acquire(b); !ok {
		t.Error("b refused because of a")
	}
	s1.Release()
	if _, ok := c.Acquire(a); !ok {
		t.Error("a refused after a release")
	}
	s2.Release()
	if c.Held(a) != 1 {
		t.Errorf("a holds %d, want 1", c.Held(a))
	}
	if s := c.Stats(); s.Allowed != 4 || s.Limited != 1 {
		t.Errorf("stats %+v, want 4 allowed, 1 limited", s)
	}
}

func TestSlotReleaseIsIdempotent(t *testing.T) {
	tests := []struct {
		desc    string
		release func(s Slot)
	}{
		{"twice", func(s Slot) { s.Release(); s.Release() }},
		{"from a copy and the original", func(s Slot) { cp := s; cp.Release(); s.Release() }},
		{"from many goroutines at once", func(s Slot) {
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() { defer wg.Done(); s.Release() }()
			}
			wg.Wait()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newConc(t, 3, Options{})
			k := []byte("k")
			keep, _ := c.Acquire(k)
			s, _ := c.Acquire(k)
			tt.release(s)
			if s.Held() {
				t.Error("slot still held after release")
			}
			// The ticket went back to the pool; a new acquisition may reuse
			// it. The stale slot must not release the new one.
			s3, _ := c.Acquire(k)
			s.Release()
			if got := c.Held(k); got != 2 {
				t.Errorf("held %d, want 2 (keep and s3)", got)
			}
			keep.Release()
			s3.Release()
			if got := c.Held(k); got != 0 {
				t.Errorf("held %d after all releases, want 0", got)
			}
		})
	}
}

func TestZeroSlotReleaseDoesNothing(t *testing.T) {
	var s Slot
	s.Release()
	if s.Held() {
		t.Error("zero slot is held")
	}
}

func TestConcurrencySweepsOnlyEmptyKeys(t *testing.T) {
	c := newConc(t, 1, Options{})
	s, _ := c.Acquire([]byte("held"))
	e, _ := c.Acquire([]byte("empty"))
	e.Release()
	if n := c.Sweep(); n != 1 {
		t.Errorf("swept %d, want 1", n)
	}
	if _, ok := c.Acquire([]byte("held")); ok {
		t.Error("a held key lost its count in a sweep")
	}
	s.Release()
}

func TestConcurrencyOverflowRefusesNewKeys(t *testing.T) {
	c := newConc(t, 1, Options{MaxKeys: nShards}) // one key per shard
	var slots []Slot
	refused := 0
	for i := range 1000 {
		s, ok := c.Acquire([]byte{byte(i), byte(i >> 8)})
		if ok {
			slots = append(slots, s)
		} else {
			refused++
		}
	}
	if st := c.Stats(); st.Keys > nShards || st.Overflow == 0 || int(st.Overflow) != refused {
		t.Errorf("stats %+v with %d refused: want ≤%d keys and overflow counted", st, refused, nShards)
	}
	for _, s := range slots {
		s.Release()
	}
	if _, ok := c.Acquire([]byte("new")); !ok {
		t.Error("a new key is refused after every slot was released")
	}
}

// TestConcurrencyNeverExceedsMaxUnderRace: goroutines acquire, check the
// count and release, with sweeps in between; the count never passes Max
// and ends at zero.
func TestConcurrencyNeverExceedsMaxUnderRace(t *testing.T) {
	c := newConc(t, 3, Options{MaxKeys: 64})
	var wg sync.WaitGroup
	var mu sync.Mutex
	inside := map[byte]int{}
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := []byte{byte((i + g) % 4)}
				s, ok := c.Acquire(k)
				if !ok {
					continue
				}
				mu.Lock()
				inside[k[0]]++
				if inside[k[0]] > 3 {
					t.Errorf("key %d: %d inside", k[0], inside[k[0]])
				}
				mu.Unlock()
				if i%500 == 0 {
					c.Sweep()
				}
				mu.Lock()
				inside[k[0]]--
				mu.Unlock()
				s.Release()
				s.Release()
			}
		}()
	}
	wg.Wait()
	for k := range 4 {
		if n := c.Held([]byte{byte(k)}); n != 0 {
			t.Errorf("key %d holds %d at the end", k, n)
		}
	}
}

func TestConcurrencyAcquireReleaseDoesNotAllocate(t *testing.T) {
	c := newConc(t, 10, Options{})
	k := []byte("user")
	s, _ := c.Acquire(k)
	s.Release()
	n := testing.AllocsPerRun(1000, func() {
		s, _ := c.Acquire(k)
		s.Release()
	})
	if n != 0 {
		t.Errorf("%v allocations per acquire/release, want 0", n)
	}
}

func BenchmarkConcurrencyAcquireRelease(b *testing.B) {
	c := newConc(b, 1<<30, Options{})
	k := []byte("user")
	b.ReportAllocs()
	for b.Loop() {
		s, _ := c.Acquire(k)
		s.Release()
	}
}
