package live

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestSubscriberFilters(t *testing.T) {
	denied := fwd("10.0.0.1:22", 2, 0, 0, 0)
	denied.Protocol, denied.User, denied.Denied, denied.Rule = "socks5", "alice", true, "no-private"
	for _, tc := range []struct {
		desc   string
		filter Filter
		want   []string // targets received, in order
	}{
		{"zero filter takes all", Filter{}, []string{"http://a.example/", "/", "10.0.0.1:22"}},
		{"face", Filter{Face: "reverse"}, []string{"/"}},
		{"listener", Filter{Listener: "proxy"}, []string{"http://a.example/", "10.0.0.1:22"}},
		{"class", Filter{Class: "socks_err"}, []string{"10.0.0.1:22"}},
		{"substring of target", Filter{Contains: "a.exa"}, []string{"http://a.example/"}},
		{"substring of user", Filter{Contains: "lic"}, []string{"10.0.0.1:22"}},
		{"all fields must match", Filter{Face: "forward", Class: "2xx", Contains: "10.0"}, nil},
		{"no entries", Filter{NoEntries: true}, nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			l := New(Options{Now: newFakeClock().Now})
			ch, cancel := l.Subscribe(tc.filter)
			l.Log(fwd("http://a.example/", 200, 1, 1, time.Millisecond))
			l.Log(rev(200, 1, time.Millisecond))
			l.Log(denied)
			cancel()
			var got []string
			for ev := range ch {
				if ev.Type != "entry" || ev.Tick != nil {
					t.Errorf("event %+v", ev)
				}
				got = append(got, ev.Entry.Target)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestSlowSubscriberDropsAndCountsWithoutBlockingLog(t *testing.T) {
	l := New(Options{Now: newFakeClock().Now, SubscriberBuffer: 4})
	ch, cancel := l.Subscribe(Filter{})
	defer cancel()
	fast, cancelFast := l.Subscribe(Filter{Face: "reverse"})
	defer cancelFast()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Log blocked on a full subscriber")
	}
	if n := len(ch); n != 4 {
		t.Errorf("%d events queued, want 4", n)
	}
	if s := l.Snapshot(); s.Dropped != 6 || s.Subscribers != 2 {
		t.Errorf("dropped %d, subscribers %d; want 6 and 2", s.Dropped, s.Subscribers)
	}
	for range 4 {
		if ev := <-ch; ev.Dropped != 0 {
			t.Errorf("queued event reports %d drops", ev.Dropped)
		}
	}
	// The next event delivered says how many were lost before it.
	l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond))
	if ev := <-ch; ev.Dropped != 6 {
		t.Errorf("next event reports %d drops, want 6", ev.Dropped)
	}
	l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond))
	if ev := <-ch; ev.Dropped != 0 {
		t.Errorf("drops reported twice: %d", ev.Dropped)
	}
	if len(fast) != 0 {
		t.Error("a filtered-out subscriber got events")
	}
}

func TestTickCarriesTheLastCompleteSecond(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now})
	ch, cancel := l.Subscribe(Filter{NoEntries: true})
	defer cancel()
	noTicks, cancel2 := l.Subscribe(Filter{NoTicks: true})
	defer cancel2()
	l.Log(fwd("http://a/", 200, 5, 50, 10*time.Millisecond))
	l.Log(fwd("http://a/", 503, 5, 50, 30*time.Millisecond))
	e := rev(200, 10, time.Millisecond)
	e.Denied, e.Status = true, 403
	l.Log(e)
	c.Add(1500 * time.Millisecond)
	l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond)) // the current second: not in the tick
	l.tick()
	if len(ch) != 1 {
		t.Fatalf("%d events, want one tick", len(ch))
	}
	ev := <-ch
	if ev.Type != "tick" || ev.Tick == nil || !ev.Tick.Time.Equal(t0) {
		t.Fatalf("event %+v", ev)
	}
	f, r := ev.Tick.Faces["forward"], ev.Tick.Faces["reverse"]
	if f.Requests != 2 || f.BytesIn != 10 || f.BytesOut != 100 || f.Classes["2xx"] != 1 || f.Classes["5xx"] != 1 {
		t.Errorf("forward %+v", f)
	}
	if f.Latency.P50 < 9.7 || f.Latency.P50 > 10.3 || f.Latency.P99 < 29 || f.Latency.P99 > 31 {
		t.Errorf("forward latency %+v", f.Latency)
	}
	if r.Requests != 1 || r.Denied != 1 || r.Classes["4xx"] != 1 {
		t.Errorf("reverse %+v", r)
	}
	for len(noTicks) > 0 {
		if ev := <-noTicks; ev.Type == "tick" {
			t.Error("a NoTicks subscriber got a tick")
		}
	}
}

// settle waits, bounded, for the goroutine count to fall to n.
func settle(n int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		g := runtime.NumGoroutine()
		if g <= n || time.Now().After(deadline) {
			return g
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunTicksAndStopsAndCancelLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	l := New(Options{})
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		l.Run(ctx)
	}()
	ch, cancel := l.Subscribe(Filter{})
	var wg sync.WaitGroup
	wg.Add(1)
	ticks := 0
	go func() {
		defer wg.Done()
		for ev := range ch {
			if ev.Type == "tick" {
				ticks++
			}
		}
	}()
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); {
		l.Log(fwd("http://a/", 200, 1, 1, time.Millisecond))
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	cancel() // twice is harmless
	wg.Wait()
	if ticks < 2 {
		t.Errorf("%d ticks in about 2.5 s, want at least 2", ticks)
	}
	stop()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if s := l.Snapshot(); s.Subscribers != 0 {
		t.Errorf("%d subscribers after cancel", s.Subscribers)
	}
	if g := settle(before); g > before {
		t.Errorf("%d goroutines, %d before", g, before)
	}
}

func TestLogSnapshotSubscribeConcurrently(t *testing.T) {
	c := newFakeClock()
	l := New(Options{Now: c.Now, SubscriberBuffer: 8})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				e := fwd("http://h/", 200, 1, 1, time.Millisecond)
				if (i+w)%2 == 0 {
					e = rev(500, 1, time.Millisecond)
					e.Error = "x"
				}
				e.User = "u"
				l.Log(e)
				if i%500 == 0 {
					c.Add(time.Second)
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 20 {
			ch, cancel := l.Subscribe(Filter{Contains: "h"})
			<-time.After(time.Millisecond)
			cancel()
			for range ch {
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 20 {
			_ = l.Snapshot()
			l.tick()
		}
	}()
	wg.Wait()
	c.Add(time.Second) // the last second is complete
	var total int64
	for _, f := range l.Snapshot().Faces {
		total += sum(f.Series.Requests)
	}
	if total != 12000 {
		t.Errorf("%d requests counted, want 12000", total)
	}
}
