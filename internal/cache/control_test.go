package cache

import (
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func TestCacheControl(t *testing.T) {
	type want struct {
		flags                                         Flag
		maxAge, sMaxAge, maxStale, minFresh, swr, sie int64
		noCacheList, privateList                      string
	}
	none := want{maxAge: Absent, sMaxAge: Absent, maxStale: Absent, minFresh: Absent, swr: Absent, sie: Absent}
	with := func(f func(*want)) want { w := none; f(&w); return w }
	tests := []struct {
		desc    string
		request bool
		fields  []string
		want    want
	}{
		{desc: "RFC9111_5.2.2.1_max-age", fields: []string{"Cache-Control: max-age=60"}, want: with(func(w *want) { w.maxAge = 60 })},
		{desc: "RFC9111_5.2_quoted_max-age_accepted", fields: []string{`Cache-Control: max-age="60"`}, want: with(func(w *want) { w.maxAge = 60 })},
		{desc: "RFC9111_4.2.1_invalid_max-age_is_stale", fields: []string{"Cache-Control: max-age=abc"}, want: with(func(w *want) { w.maxAge = 0 })},
		{desc: "RFC9111_4.2.1_max-age_without_value_is_stale", fields: []string{"Cache-Control: max-age"}, want: with(func(w *want) { w.maxAge = 0 })},
		{desc: "RFC9111_4.2.1_duplicate_max-age_most_restrictive", fields: []string{"Cache-Control: max-age=60, max-age=10"}, want: with(func(w *want) { w.maxAge = 10 })},
		{desc: "RFC9111_4.2.1_duplicate_across_field_lines", fields: []string{"Cache-Control: max-age=5", "Cache-Control: max-age=60"}, want: with(func(w *want) { w.maxAge = 5 })},
		{desc: "RFC9111_1.2.2_delta_seconds_saturate_at_2^31", fields: []string{"Cache-Control: max-age=99999999999999999999"}, want: with(func(w *want) { w.maxAge = 1 << 31 })},
		{desc: "RFC9111_5.2.2.10_s-maxage", fields: []string{"Cache-Control: s-maxage=30, max-age=60"}, want: with(func(w *want) { w.sMaxAge = 30; w.maxAge = 60 })},
		{desc: "RFC9111_5.2.2_flags_case_insensitive", fields: []string{"Cache-Control: No-Store, PUBLIC, must-revalidate, proxy-revalidate, no-transform, immutable, must-understand"},
			want: with(func(w *want) {
				w.flags = NoStore | Public | MustRevalidate | ProxyRevalidate | NoTransform | Immutable | MustUnderstand
			})},
		{desc: "RFC9111_5.2.2.4_no-cache_field_list_quoted", fields: []string{`Cache-Control: no-cache="Set-Cookie, X-A", max-age=5`},
			want: with(func(w *want) { w.flags = NoCacheFields; w.noCacheList = "Set-Cookie, X-A"; w.maxAge = 5 })},
		{desc: "RFC9111_5.2.2.4_two_field_lists_widen_to_no-cache", fields: []string{`Cache-Control: no-cache="a"`, `Cache-Control: no-cache="b"`},
			want: with(func(w *want) { w.flags = NoCacheFields | NoCache; w.noCacheList = "a" })},
		{desc: "RFC9111_5.2.2.7_private_field_list", fields: []string{`Cache-Control: private="X-User"`},
			want: with(func(w *want) { w.flags = PrivateFields; w.privateList = "X-User" })},
		{desc: "RFC9111_5.2.2.7_unqualified_private", fields: []string{`Cache-Control: private`}, want: with(func(w *want) { w.flags = Private })},
		{desc: "RFC9111_5.2.3_unknown_directives_ignored", fields: []string{`Cache-Control: foo, bar="x, max-age=1", max-age=9`}, want: with(func(w *want) { w.maxAge = 9 })},
		{desc: "RFC5861_3_stale-while-revalidate", fields: []string{"Cache-Control: max-age=1, stale-while-revalidate=30, stale-if-error=600"},
			want: with(func(w *want) { w.maxAge = 1; w.swr = 30; w.sie = 600 })},
		{desc: "RFC5861_invalid_swr_grants_nothing", fields: []string{"Cache-Control: stale-while-revalidate=x"}, want: none},
		{desc: "RFC9111_5.2.1.2_max-stale_without_value", request: true, fields: []string{"Cache-Control: max-stale"}, want: with(func(w *want) { w.flags = MaxStaleAny })},
		{desc: "RFC9111_5.2.1.2_max-stale_value", request: true, fields: []string{"Cache-Control: max-stale=20, min-fresh=5"}, want: with(func(w *want) { w.maxStale = 20; w.minFresh = 5 })},
		{desc: "RFC9111_5.2.1.7_only-if-cached", request: true, fields: []string{"Cache-Control: only-if-cached"}, want: with(func(w *want) { w.flags = OnlyIfCached })},
		{desc: "RFC9111_5.4_pragma_no-cache_without_cache-control", request: true, fields: []string{"Pragma: no-cache"}, want: with(func(w *want) { w.flags = NoCache })},
		{desc: "RFC9111_5.4_pragma_ignored_with_cache-control", request: true, fields: []string{"Pragma: no-cache", "Cache-Control: max-age=5"}, want: with(func(w *want) { w.maxAge = 5 })},
		{desc: "RFC9111_5.4_pragma_ignored_in_responses", fields: []string{"Pragma: no-cache"}, want: none},
		{desc: "RFC9111_5.2_whitespace_and_empty_elements", fields: []string{"Cache-Control: ,  max-age = 7 ,,public"}, want: with(func(w *want) { w.maxAge = 7; w.flags = Public })},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var h httpmsg.Header
			fields(&h, tt.fields)
			var d Directives
			if tt.request {
				ParseRequest(&h, &d)
			} else {
				ParseResponse(&h, &d)
			}
			got := want{d.Flags, d.MaxAge, d.SMaxAge, d.MaxStale, d.MinFresh, d.SWR, d.SIE, string(d.NoCacheList), string(d.PrivateList)}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCacheControlDoesNotAllocate(t *testing.T) {
	var h httpmsg.Header
	fields(&h, []string{`Cache-Control: public, max-age=3600, s-maxage=60, no-cache="Set-Cookie", stale-while-revalidate=5`})
	var d Directives
	if n := testing.AllocsPerRun(100, func() { ParseResponse(&h, &d) }); n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
}

func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `no-cache="a, b", private`, `max-age="1`, "s-maxage=99999999999999999999999",
		",,,=,", `a="\"", max-stale`, "stale-while-revalidate=1, stale-if-error=2, min-fresh=3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var d Directives
		d.reset()
		ParseDirectives([]byte(v), &d)
		for _, n := range []int64{d.MaxAge, d.SMaxAge, d.MaxStale, d.MinFresh, d.SWR, d.SIE} {
			if n != Absent && (n < 0 || n > maxDelta) {
				t.Fatalf("delta %d out of range for %q", n, v)
			}
		}
		if d.Has(NoCacheFields) && len(d.NoCacheList) == 0 || d.Has(PrivateFields) && len(d.PrivateList) == 0 {
			t.Fatalf("empty field list for %q", v)
		}
	})
}
