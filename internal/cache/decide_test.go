package cache

import (
	"testing"
	"time"
)

func TestServeDecision(t *testing.T) {
	hp := Heuristic{Fraction: 0.1, Max: time.Hour}
	tests := []struct {
		desc string
		resp []string // received at 0, Date 0
		req  []string
		now  int
		want verdict
	}{
		{desc: "RFC9111_4.2_fresh_is_served", resp: []string{"Cache-Control: max-age=60"}, now: 30, want: vFresh},
		{desc: "RFC9111_4.2_stale_is_validated", resp: []string{"Cache-Control: max-age=60"}, now: 61, want: vValidate},
		{desc: "RFC9111_5.2.1.4_request_no-cache", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: no-cache"}, now: 1, want: vValidate},
		{desc: "RFC9111_5.4_request_pragma_no-cache", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Pragma: no-cache"}, now: 1, want: vValidate},
		{desc: "RFC9111_5.2.1.1_request_max-age_exceeded", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: max-age=10"}, now: 20, want: vValidate},
		{desc: "RFC9111_5.2.1.1_request_max-age_met", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: max-age=30"}, now: 20, want: vFresh},
		{desc: "RFC8246_2_immutable_ignores_reload_max-age_0", resp: []string{"Cache-Control: max-age=60, immutable"}, req: []string{"Cache-Control: max-age=0"}, now: 20, want: vFresh},
		{desc: "RFC9111_5.2.1.3_min-fresh_unmet", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: min-fresh=50"}, now: 20, want: vValidate},
		{desc: "RFC9111_5.2.1.3_min-fresh_met", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: min-fresh=30"}, now: 20, want: vFresh},
		{desc: "RFC9111_5.2.1.2_max-stale_any", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: max-stale"}, now: 1000, want: vStale},
		{desc: "RFC9111_5.2.1.2_max-stale_within", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: max-stale=30"}, now: 80, want: vStale},
		{desc: "RFC9111_5.2.1.2_max-stale_exceeded", resp: []string{"Cache-Control: max-age=60"}, req: []string{"Cache-Control: max-stale=30"}, now: 100, want: vValidate},
		{desc: "RFC9111_5.2.2.2_must-revalidate_forbids_max-stale", resp: []string{"Cache-Control: max-age=60, must-revalidate"}, req: []string{"Cache-Control: max-stale"}, now: 100, want: vValidate},
		{desc: "RFC9111_5.2.2.8_proxy-revalidate_forbids_stale", resp: []string{"Cache-Control: max-age=60, proxy-revalidate"}, req: []string{"Cache-Control: max-stale"}, now: 100, want: vValidate},
		{desc: "RFC9111_5.2.2.10_s-maxage_forbids_stale", resp: []string{"Cache-Control: s-maxage=60"}, req: []string{"Cache-Control: max-stale"}, now: 100, want: vValidate},
		{desc: "RFC9111_5.2.2.4_no-cache_always_validates", resp: []string{"Cache-Control: no-cache, max-age=60", `ETag: "x"`}, now: 1, want: vValidate},
		{desc: "RFC9111_5.2.2.4_qualified_no-cache_serves_fresh", resp: []string{`Cache-Control: no-cache="X-A", max-age=60`}, now: 1, want: vFresh},
		{desc: "RFC5861_3_stale-while-revalidate_window", resp: []string{"Cache-Control: max-age=60, stale-while-revalidate=30"}, now: 80, want: vSWR},
		{desc: "RFC5861_3_stale-while-revalidate_past_window", resp: []string{"Cache-Control: max-age=60, stale-while-revalidate=30"}, now: 100, want: vValidate},
		{desc: "RFC5861_3_swr_not_with_must-revalidate", resp: []string{"Cache-Control: max-age=60, stale-while-revalidate=30, must-revalidate"}, now: 80, want: vValidate},
		{desc: "RFC9111_4.2.3_upstream_age_counts", resp: []string{"Cache-Control: max-age=60", "Age: 50"}, now: 15, want: vValidate},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := newResp(200, append([]string{"Date: " + date(0)}, tt.resp...)...)
			m := newMeta(resp, ResponseTimes{at(0), at(0)}, hp, 0)
			req := newReq("GET", "http://example.com/", tt.req...)
			var rc Directives
			ParseRequest(&req.Header, &rc)
			if got := decide(m, &rc, at(tt.now)); got.v != tt.want {
				t.Errorf("got verdict %d (age %v ttl %v), want %d", got.v, got.age, got.ttl, tt.want)
			}
		})
	}
}

func TestStaleOnError(t *testing.T) {
	hp := Heuristic{}
	tests := []struct {
		desc  string
		resp  []string
		req   []string
		grace time.Duration
		now   int
		want  bool
	}{
		{desc: "RFC5861_4_stale-if-error_within", resp: []string{"Cache-Control: max-age=10, stale-if-error=100"}, now: 50, want: true},
		{desc: "RFC5861_4_stale-if-error_past", resp: []string{"Cache-Control: max-age=10, stale-if-error=100"}, now: 200, want: false},
		{desc: "RFC5861_4_request_stale-if-error", resp: []string{"Cache-Control: max-age=10"}, req: []string{"Cache-Control: stale-if-error=100"}, now: 50, want: true},
		{desc: "grace_for_a_down_upstream", resp: []string{"Cache-Control: max-age=10"}, grace: time.Minute, now: 50, want: true},
		{desc: "grace_exceeded", resp: []string{"Cache-Control: max-age=10"}, grace: time.Minute, now: 100, want: false},
		{desc: "RFC9111_4.2.4_must-revalidate_beats_stale-if-error", resp: []string{"Cache-Control: max-age=10, stale-if-error=100, must-revalidate"}, now: 50, want: false},
		{desc: "RFC9111_4.2.4_no_directive_no_grace", resp: []string{"Cache-Control: max-age=10"}, now: 50, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m := newMeta(newResp(200, append([]string{"Date: " + date(0)}, tt.resp...)...), ResponseTimes{at(0), at(0)}, hp, 0)
			req := newReq("GET", "http://example.com/", tt.req...)
			var rc Directives
			ParseRequest(&req.Header, &rc)
			if got := staleOnError(m, &rc, tt.grace, at(tt.now)); got != tt.want {
				t.Errorf("got %v", got)
			}
		})
	}
}
