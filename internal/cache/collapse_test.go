package cache

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitGoroutines waits (bounded) for the goroutine count to fall to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Errorf("goroutines: %d, want at most %d", runtime.NumGoroutine(), n)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// collapse runs n concurrent requests for one URL; the one that leads plays
// the upstream with lead. It returns the bodies (or errors) and how many
// went upstream.
func collapse(t *testing.T, c *Cache, n int, lead func(res *Result) (string, error)) (bodies []string, upstream int64) {
	var up atomic.Int64
	bodies = make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req := newReq("GET", "http://example.com/big")
			var res Result
			defer res.Close()
			c.Lookup(context.Background(), &Request{Head: req, Now: at(0)}, &res)
			switch {
			case res.Action == Answer:
				var b strings.Builder
				if _, err := res.WriteBody(&b); err != nil {
					bodies[i] = "error: " + err.Error()
					return
				}
				bodies[i] = b.String()
			case res.Fill != nil:
				up.Add(1)
				body, err := lead(&res)
				if err != nil {
					bodies[i] = "error: " + err.Error()
					return
				}
				bodies[i] = body
			default:
				up.Add(1) // released: goes up alone
				bodies[i] = "alone"
			}
		}()
	}
	close(start)
	wg.Wait()
	return bodies, up.Load()
}

func TestCollapsing100Callers(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCache(t, Options{})
	want := strings.Repeat("0123456789", 10000)
	bodies, up := collapse(t, c, 100, func(res *Result) (string, error) {
		time.Sleep(50 * time.Millisecond) // let the others pile up
		if o := res.Fill.Response(newResp(200, "Cache-Control: max-age=60"), ResponseTimes{at(0), at(0)}, res); o != Store {
			return "", errors.New("not stored")
		}
		for i := 0; i < len(want); i += 1000 {
			_, _ = res.Fill.Write([]byte(want[i : i+1000]))
			time.Sleep(100 * time.Microsecond) // followers read while it fills
		}
		return want, res.Fill.Commit()
	})
	if up != 1 {
		t.Errorf("upstream requests: %d, want 1", up)
	}
	for i, b := range bodies {
		if b != want {
			t.Fatalf("caller %d got %d bytes (%.40q)", i, len(b), b)
		}
	}
	if s := c.Stats(); s.Collapsed+s.Hits != 99 {
		t.Errorf("stats %+v", s)
	}
	waitGoroutines(t, before)
}

func TestCollapsedFollowersReleasedOnFailure(t *testing.T) {
	for _, tc := range []struct {
		desc string
		lead func(res *Result) (string, error)
	}{
		{desc: "leader_connect_failure", lead: func(res *Result) (string, error) {
			time.Sleep(30 * time.Millisecond)
			res.Fill.Fail(errors.New("refused"), at(0), res)
			return "alone", nil
		}},
		{desc: "uncacheable_response", lead: func(res *Result) (string, error) {
			time.Sleep(30 * time.Millisecond)
			if o := res.Fill.Response(newResp(200, "Cache-Control: private"), ResponseTimes{at(0), at(0)}, res); o != Pass {
				return "", errors.New("stored a private response")
			}
			return "alone", nil
		}},
		{desc: "leader_abandons", lead: func(res *Result) (string, error) {
			time.Sleep(30 * time.Millisecond)
			res.Fill.Abort(nil)
			return "alone", nil
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			before := runtime.NumGoroutine()
			c := newCache(t, Options{})
			bodies, up := collapse(t, c, 20, tc.lead)
			for i, b := range bodies {
				if b != "alone" {
					t.Errorf("caller %d: %q", i, b)
				}
			}
			if up != 20 {
				t.Errorf("every caller goes up itself: %d", up)
			}
			waitGoroutines(t, before)
		})
	}
}

func TestCollapseWaitIsBounded(t *testing.T) {
	c := newCache(t, Options{CollapseWait: 50 * time.Millisecond})
	req := newReq("GET", "http://example.com/slow")
	leader := lookup(c, req, 0)
	if leader.Fill == nil {
		t.Fatal("no leader")
	}
	defer leader.Fill.Abort(nil)
	start := time.Now()
	res := lookup(c, req, 0)
	if res.Action != Forward || res.Fill != nil || time.Since(start) > time.Second {
		t.Errorf("a follower gives up after CollapseWait: action %d after %v", res.Action, time.Since(start))
	}
	if next := lookup(c, req, 0); next.Fill == nil {
		t.Error("after a timed-out wait the next miss leads a new fill")
	} else {
		next.Fill.Abort(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c2 := newCache(t, Options{})
	l2 := &Result{}
	c2.Lookup(ctx, &Request{Head: req, Now: at(0)}, l2)
	defer l2.Fill.Abort(nil)
	var f Result
	c2.Lookup(ctx, &Request{Head: req, Now: at(0)}, &f)
	if f.Action != Forward || f.Fill != nil {
		t.Errorf("a cancelled follower stops waiting")
	}
}

func TestAbortMidBodyFailsReaders(t *testing.T) {
	c := newCache(t, Options{})
	req := newReq("GET", "http://example.com/cut")
	leader := lookup(c, req, 0)
	done := make(chan error, 1)
	go func() {
		follower := lookup(c, req, 0)
		defer follower.Close()
		_, err := follower.WriteBody(io.Discard)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	leader.Fill.Response(newResp(200, "Cache-Control: max-age=60", "Content-Length: 100"), ResponseTimes{at(0), at(0)}, leader)
	_, _ = leader.Fill.Write([]byte("part"))
	time.Sleep(20 * time.Millisecond)
	leader.Fill.Abort(io.ErrUnexpectedEOF)
	select {
	case err := <-done:
		if !errors.Is(err, ErrAborted) {
			t.Errorf("a follower of an aborted fill gets ErrAborted: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("follower stuck")
	}
	if res := lookup(c, req, 1); res.Action != Forward {
		t.Error("an aborted object is not stored")
	}
}
