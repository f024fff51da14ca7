package gate

import (
	"net/netip"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/httpmsg"
	"github.com/janus-proxy/janus/internal/limit"
)

// TestLimitKeys pins what each key counts together: with a burst of one,
// a second request under the same key is limited, one under another key
// is not.
func TestLimitKeys(t *testing.T) {
	bob := &Identity{Name: "bob", Groups: []string{"staff", "ops"}}
	carol := &Identity{Name: "carol", Groups: []string{"staff"}}
	dave := &Identity{Name: "dave", Groups: []string{"ops"}}
	hdr := func(v string) HeaderGetter {
		h := &httpmsg.Header{}
		if v != "" {
			h.AddString("X-Api-Key", v)
		}
		return h
	}
	ip1, ip2 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	for _, tc := range []struct {
		desc        string
		spec        LimitSpec
		first, then Request
		same        bool
	}{
		{desc: "client_ip: same address", spec: LimitSpec{Key: ByClientIP}, first: Request{Client: ip1}, then: Request{Client: ip1}, same: true},
		{desc: "client_ip: other address", spec: LimitSpec{Key: ByClientIP}, first: Request{Client: ip1}, then: Request{Client: ip2}},
		{desc: "user: same user, two addresses", spec: LimitSpec{Key: ByUser}, first: Request{Client: ip1, User: bob}, then: Request{Client: ip2, User: bob}, same: true},
		{desc: "user: two users", spec: LimitSpec{Key: ByUser}, first: Request{Client: ip1, User: bob}, then: Request{Client: ip1, User: carol}},
		{desc: "group: two users of one group", spec: LimitSpec{Key: ByGroup}, first: Request{Client: ip1, User: bob}, then: Request{Client: ip2, User: carol}, same: true},
		{desc: "group: first groups differ", spec: LimitSpec{Key: ByGroup}, first: Request{Client: ip1, User: bob}, then: Request{Client: ip1, User: dave}},
		{desc: "group: the limit's group decides", spec: LimitSpec{Key: ByGroup, Groups: []string{"ops"}}, first: Request{Client: ip1, User: bob}, then: Request{Client: ip2, User: dave}, same: true},
		{desc: "group: no user, by address", spec: LimitSpec{Key: ByGroup}, first: Request{Client: ip1}, then: Request{Client: ip2}},
		{desc: "host: same host", spec: LimitSpec{Key: ByHost}, first: Request{Client: ip1, Host: "a.test"}, then: Request{Client: ip2, Host: "a.test"}, same: true},
		{desc: "route: same route", spec: LimitSpec{Key: ByRoute}, first: Request{Client: ip1, Route: "api"}, then: Request{Client: ip2, Route: "api"}, same: true},
		{desc: "route: two routes", spec: LimitSpec{Key: ByRoute}, first: Request{Client: ip1, Route: "api"}, then: Request{Client: ip1, Route: "web"}},
		{desc: "header: same value", spec: LimitSpec{Key: ByHeader, Header: "X-Api-Key"}, first: Request{Client: ip1, Header: hdr("k1")}, then: Request{Client: ip2, Header: hdr("k1")}, same: true},
		{desc: "header: two values", spec: LimitSpec{Key: ByHeader, Header: "X-Api-Key"}, first: Request{Client: ip1, Header: hdr("k1")}, then: Request{Client: ip1, Header: hdr("k2")}},
		{desc: "header: absent, by address", spec: LimitSpec{Key: ByHeader, Header: "X-Api-Key"}, first: Request{Client: ip1, Header: hdr("")}, then: Request{Client: ip1}, same: true},
		{desc: "global: everyone", spec: LimitSpec{Key: Global}, first: Request{Client: ip1, User: bob}, then: Request{Client: ip2, Route: "x"}, same: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			l, err := limit.NewRateLimiter("k", limit.Rate{Count: 1, Per: time.Hour, Burst: 1}, limit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tc.spec.Name = "k"
			g := &Gate{Limits: []*RateLimit{{LimitSpec: tc.spec, Limiter: l}}}
			allow := Decision{Verdict: Allow}
			if d := g.limited(&tc.first, allow); d.Verdict != Allow {
				t.Fatalf("first request: %v", d.Verdict)
			}
			d := g.limited(&tc.then, allow)
			if limited := d.Verdict == Limited; limited != tc.same {
				t.Errorf("second request limited = %v, want %v (same key)", limited, tc.same)
			}
		})
	}
}
