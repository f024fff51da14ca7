package cache

import (
	"testing"
	"time"
)

func TestStorable(t *testing.T) {
	hp := Heuristic{Fraction: 0.1, Max: time.Hour}
	tests := []struct {
		desc   string
		policy StorePolicy
		method string
		req    []string
		status int
		resp   []string
		want   string
	}{
		{desc: "RFC9111_3_max-age_200", status: 200, resp: []string{"Cache-Control: max-age=60"}, want: ""},
		{desc: "RFC9111_3_method_POST_not_configured", method: "POST", status: 200, resp: []string{"Cache-Control: max-age=60"}, want: reasonMethod},
		{desc: "RFC9111_3_method_configurable", policy: StorePolicy{Methods: []string{"GET", "POST"}}, method: "POST", status: 200, resp: []string{"Cache-Control: max-age=60"}, want: ""},
		{desc: "RFC9111_3.3_partial_206_not_stored_as_complete", status: 206, resp: []string{"Cache-Control: max-age=60"}, want: reasonPartial},
		{desc: "RFC9111_3_304_not_stored", status: 304, resp: []string{"Cache-Control: max-age=60"}, want: reasonStatus},
		{desc: "RFC9111_5.2.2.5_response_no-store", status: 200, resp: []string{"Cache-Control: no-store, max-age=60"}, want: reasonNoStore},
		{desc: "RFC9111_5.2.1.5_request_no-store", req: []string{"Cache-Control: no-store"}, status: 200, resp: []string{"Cache-Control: max-age=60"}, want: reasonNoStore},
		{desc: "RFC9111_5.2.2.3_must-understand_overrides_no-store", status: 200, resp: []string{"Cache-Control: no-store, must-understand, max-age=60"}, want: ""},
		{desc: "RFC9111_5.2.2.3_must-understand_unknown_status", status: 299, resp: []string{"Cache-Control: no-store, must-understand, max-age=60"}, want: reasonStatus},
		{desc: "RFC9111_3.5_private_not_stored_by_shared_cache", status: 200, resp: []string{"Cache-Control: private, max-age=60"}, want: reasonPrivate},
		{desc: "RFC9111_5.2.2.7_qualified_private_is_storable", status: 200, resp: []string{`Cache-Control: private="X-User", max-age=60`}, want: ""},
		{desc: "RFC9111_3.5_authorization_needs_explicit_permission", req: []string{"Authorization: Basic x"}, status: 200, resp: []string{"Cache-Control: max-age=60"}, want: reasonAuthorization},
		{desc: "RFC9111_3.5_authorization_with_public", req: []string{"Authorization: Basic x"}, status: 200, resp: []string{"Cache-Control: public, max-age=60"}, want: ""},
		{desc: "RFC9111_3.5_authorization_with_s-maxage", req: []string{"Authorization: Basic x"}, status: 200, resp: []string{"Cache-Control: s-maxage=60"}, want: ""},
		{desc: "RFC9111_3.5_authorization_with_must-revalidate", req: []string{"Authorization: Basic x"}, status: 200, resp: []string{"Cache-Control: must-revalidate, max-age=60"}, want: ""},
		{desc: "RFC9111_3_302_needs_explicit_freshness", status: 302, resp: []string{"Last-Modified: " + date(-100)}, want: reasonNotExplicit},
		{desc: "RFC9111_3_302_with_expires", status: 302, resp: []string{"Date: " + date(0), "Expires: " + date(60)}, want: ""},
		{desc: "RFC9110_15.1_404_heuristically_cacheable", status: 404, resp: []string{"Date: " + date(0), "Last-Modified: " + date(-100)}, want: ""},
		{desc: "RFC9111_4.1_vary_star_never_matches", status: 200, resp: []string{"Cache-Control: max-age=60", "Vary: Accept, *"}, want: reasonVaryStar},
		{desc: "policy_set-cookie_not_stored_by_default", status: 200, resp: []string{"Cache-Control: max-age=60", "Set-Cookie: a=b"}, want: reasonSetCookie},
		{desc: "policy_set-cookie_stored_when_allowed", policy: StorePolicy{StoreSetCookie: true}, status: 200, resp: []string{"Cache-Control: max-age=60", "Set-Cookie: a=b"}, want: ""},
		{desc: "policy_max_object_size", policy: StorePolicy{MaxObject: 10}, status: 200, resp: []string{"Cache-Control: max-age=60", "Content-Length: 11"}, want: reasonTooLarge},
		{desc: "RFC9111_4.2_no_freshness_no_validator_is_useless", status: 200, resp: []string{"Cache-Control: max-age=0"}, want: reasonUseless},
		{desc: "RFC9111_4.3_no_freshness_with_etag_is_storable", status: 200, resp: []string{"Cache-Control: no-cache", `ETag: "a"`}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req := newReq(method, "http://example.com/x", tt.req...)
			resp := newResp(tt.status, tt.resp...)
			var rc, sc Directives
			ParseRequest(&req.Header, &rc)
			ParseResponse(&resp.Header, &sc)
			x := exchange{method: req.Method, req: &req.Header, reqCC: &rc, resp: resp, respCC: &sc,
				fresh: ComputeFreshness(resp, &sc, ResponseTimes{at(0), at(0)}, hp)}
			if got := tt.policy.storable(&x); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
