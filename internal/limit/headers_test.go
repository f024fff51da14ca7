package limit

import (
	"net/http"
	"testing"
	"time"
)

func TestHeaderFields(t *testing.T) {
	tests := []struct {
		desc                       string
		name                       string
		rate                       Rate
		d                          Decision
		policy, ratelimit, retryAt string
	}{
		{"allowed, per second", "per-ip", Rate{Count: 50, Per: time.Second, Burst: 10},
			Decision{Allowed: true, Limit: 10, Remaining: 7, Reset: 60 * time.Millisecond},
			`"per-ip";q=50;w=1`, `"per-ip";r=7;t=1`, ""},
		{"refused: t is the retry delay, rounded up", "per-ip", Rate{Count: 100, Per: time.Minute},
			Decision{Limit: 100, Reset: time.Minute, RetryAfter: 1500 * time.Millisecond},
			`"per-ip";q=100;w=60`, `"per-ip";r=0;t=2`, "2"},
		{"sub-second period scales to w=1", "fast", Rate{Count: 5, Per: 100 * time.Millisecond},
			Decision{Allowed: true, Limit: 5, Remaining: 5},
			`"fast";q=50;w=1`, `"fast";r=5;t=0`, ""},
		{"refusal shorter than a second still says 1", "x", Rate{Count: 1000, Per: time.Second},
			Decision{RetryAfter: time.Millisecond},
			`"x";q=1000;w=1`, `"x";r=0;t=1`, "1"},
		{"name is escaped as a structured-field string", "a\"b\\c\x01é", Rate{Count: 1, Per: time.Hour},
			Decision{Allowed: true, Limit: 1},
			`"a\"b\\c???";q=1;w=3600`, `"a\"b\\c???";r=0;t=0`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := http.Header{}
			SetHeaders(h, tt.name, tt.rate, tt.d)
			if got := h.Get(FieldRateLimitPolicy); got != tt.policy {
				t.Errorf("RateLimit-Policy %q, want %q", got, tt.policy)
			}
			if got := h.Get(FieldRateLimit); got != tt.ratelimit {
				t.Errorf("RateLimit %q, want %q", got, tt.ratelimit)
			}
			if got := h.Get(FieldRetryAfter); got != tt.retryAt {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAt)
			}
		})
	}
}

func TestHeaderAppendDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 128)
	r := Rate{Count: 50, Per: time.Second}
	d := Decision{Limit: 10, RetryAfter: time.Second}
	n := testing.AllocsPerRun(100, func() {
		b := AppendPolicy(buf[:0], "per-ip", r)
		b = AppendRateLimit(b[:0], "per-ip", d)
		b = AppendRetryAfter(b[:0], d)
		sink = len(b)
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}
