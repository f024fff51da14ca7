package upstream

import (
	"sync"
	"testing"
	"time"
)

// TestBudgetBoundsRetriesUnderBurst: when every request fails and every
// failure asks for a retry, retries stay within Ratio × requests plus the
// per-second floor over the window: at most 20% extra load, not 2×.
func TestBudgetBoundsRetriesUnderBurst(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		o        BudgetOptions
		requests int
		want     int // retries allowed
	}{
		{desc: "defaults: 20% plus 10/s over 10s", requests: 5000, want: 1000 + 100},
		{desc: "ratio only", o: BudgetOptions{Ratio: 0.1, MinPerSecond: -1}, requests: 5000, want: 500},
		{desc: "floor only matters when idle", o: BudgetOptions{MinPerSecond: 2, Window: 5 * time.Second}, requests: 0, want: 10},
		{desc: "small burst gets the floor", requests: 10, want: 2 + 100},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			clk := newFakeClock()
			b := NewBudget(tc.o, clk.Now)
			allowed := 0
			for range tc.requests {
				b.Request()
				// Each failed request tries up to 3 retries.
				for range 3 {
					if b.Allow() {
						allowed++
					}
				}
			}
			for range 1000 { // and then a storm of retries alone
				if b.Allow() {
					allowed++
				}
			}
			if allowed != tc.want {
				t.Fatalf("%d retries allowed for %d requests, want %d", allowed, tc.requests, tc.want)
			}
		})
	}
}

// TestBudgetWindowSlides: requests and retries older than the window stop
// counting, a tenth of the window at a time.
func TestBudgetWindowSlides(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(BudgetOptions{Ratio: 0.5, MinPerSecond: -1, Window: 10 * time.Second}, clk.Now)
	for range 100 {
		b.Request()
	}
	spend := func() int {
		n := 0
		for b.Allow() {
			n++
		}
		return n
	}
	if got := spend(); got != 50 {
		t.Fatalf("allowed %d, want 50", got)
	}
	clk.Advance(5 * time.Second)
	for range 100 {
		b.Request()
	}
	if got := spend(); got != 50 { // 200 requests, 50 retries spent
		t.Fatalf("after more requests allowed %d, want 50", got)
	}
	clk.Advance(6 * time.Second) // the first 100 requests and 50 retries expire
	if got := spend(); got != 0 {
		t.Fatalf("allowed %d, want 0 (100 requests, 50 retries left in the window)", got)
	}
	clk.Advance(10 * time.Second) // everything expired
	if b.Allow() {
		t.Fatal("retry allowed with no requests and no floor")
	}
}

// TestBudgetSurvivesReload: the pools of one name share a budget, and new
// options apply to it.
func TestBudgetSurvivesReload(t *testing.T) {
	clk := newFakeClock()
	reg := NewRegistry(clk.Now)
	v1 := newPool(t, reg, Options{Targets: targets(1), Retry: BudgetOptions{MinPerSecond: -1}})
	for range 10 {
		v1.Budget().Request()
	}
	v2 := newPool(t, reg, Options{Targets: targets(1), Retry: BudgetOptions{Ratio: 0.5, MinPerSecond: -1}})
	v1.Stop()
	if v2.Budget() != v1.Budget() {
		t.Fatal("a reload made a new budget")
	}
	n := 0
	for v2.Budget().Allow() {
		n++
	}
	if n != 5 {
		t.Fatalf("allowed %d, want 5 (10 requests before the reload × 0.5)", n)
	}
}

// TestBudgetConcurrent: Request and Allow from many goroutines keep the
// bound (run with -race).
func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(BudgetOptions{MinPerSecond: -1}, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				b.Request()
				if b.Allow() {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed > 1600 {
		t.Fatalf("%d retries for 8000 requests, want at most 1600", allowed)
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		method string
		sent   bool
		want   bool
	}{
		{desc: "nothing sent: any method", method: "POST", want: true},
		{desc: "GET sent", method: "GET", sent: true, want: true},
		{desc: "HEAD sent", method: "HEAD", sent: true, want: true},
		{desc: "PUT is idempotent", method: "PUT", sent: true, want: true},
		{desc: "DELETE is idempotent", method: "DELETE", sent: true, want: true},
		{desc: "OPTIONS", method: "OPTIONS", sent: true, want: true},
		{desc: "TRACE", method: "TRACE", sent: true, want: true},
		{desc: "POST sent", method: "POST", sent: true},
		{desc: "PATCH sent", method: "PATCH", sent: true},
		{desc: "CONNECT sent", method: "CONNECT", sent: true},
		{desc: "methods are case-sensitive (RFC 9110 §9.1)", method: "get", sent: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := Retryable(tc.method, tc.sent); got != tc.want {
				t.Fatalf("Retryable(%q, %v) = %v", tc.method, tc.sent, got)
			}
		})
	}
}
