package cache

import (
	"testing"
	"time"
)

func TestFreshness(t *testing.T) {
	hp := Heuristic{Fraction: 0.1, Max: time.Hour}
	tests := []struct {
		desc      string
		status    int
		fields    []string
		times     ResponseTimes
		lifetime  time.Duration
		initial   time.Duration
		heuristic bool
	}{
		{desc: "RFC9111_4.2.1_s-maxage_over_max-age", status: 200, fields: []string{"Date: " + date(0), "Cache-Control: max-age=60, s-maxage=10"},
			times: ResponseTimes{at(0), at(0)}, lifetime: 10 * time.Second},
		{desc: "RFC9111_4.2.1_max-age_over_expires", status: 200, fields: []string{"Date: " + date(0), "Expires: " + date(1000), "Cache-Control: max-age=60"},
			times: ResponseTimes{at(0), at(0)}, lifetime: 60 * time.Second},
		{desc: "RFC9111_4.2.1_expires_minus_date", status: 200, fields: []string{"Date: " + date(0), "Expires: " + date(300)},
			times: ResponseTimes{at(0), at(0)}, lifetime: 300 * time.Second},
		{desc: "RFC9111_5.3_invalid_expires_is_stale", status: 200, fields: []string{"Date: " + date(0), "Expires: 0", "Last-Modified: " + date(-100000)},
			times: ResponseTimes{at(0), at(0)}, lifetime: 0},
		{desc: "RFC9111_4.2.1_two_expires_lines_are_stale", status: 200, fields: []string{"Date: " + date(0), "Expires: " + date(50), "Expires: " + date(60)},
			times: ResponseTimes{at(0), at(0)}, lifetime: 0},
		{desc: "RFC9111_4.2.1_expires_without_date_uses_receipt_time", status: 200, fields: []string{"Expires: " + date(100)},
			times: ResponseTimes{at(40), at(40)}, lifetime: 60 * time.Second},
		{desc: "RFC9111_4.2.2_heuristic_fraction_of_last-modified", status: 200, fields: []string{"Date: " + date(0), "Last-Modified: " + date(-1000)},
			times: ResponseTimes{at(0), at(0)}, lifetime: 100 * time.Second, heuristic: true},
		{desc: "RFC9111_4.2.2_heuristic_capped", status: 200, fields: []string{"Date: " + date(0), "Last-Modified: " + date(-1000000)},
			times: ResponseTimes{at(0), at(0)}, lifetime: time.Hour, heuristic: true},
		{desc: "RFC9111_4.2.2_no_heuristic_for_302", status: 302, fields: []string{"Date: " + date(0), "Last-Modified: " + date(-1000)},
			times: ResponseTimes{at(0), at(0)}, lifetime: 0},
		{desc: "RFC9111_4.2.2_public_allows_heuristic_for_any_status", status: 302, fields: []string{"Date: " + date(0), "Last-Modified: " + date(-1000), "Cache-Control: public"},
			times: ResponseTimes{at(0), at(0)}, lifetime: 100 * time.Second, heuristic: true},
		{desc: "RFC9111_4.2.2_heuristic_for_404", status: 404, fields: []string{"Date: " + date(0), "Last-Modified: " + date(-50)},
			times: ResponseTimes{at(0), at(0)}, lifetime: 5 * time.Second, heuristic: true},
		{desc: "RFC9111_4.2.3_age_from_upstream_plus_response_delay", status: 200, fields: []string{"Date: " + date(10), "Age: 30", "Cache-Control: max-age=100"},
			times: ResponseTimes{at(8), at(10)}, lifetime: 100 * time.Second, initial: 32 * time.Second},
		{desc: "RFC9111_4.2.3_apparent_age_from_date", status: 200, fields: []string{"Date: " + date(0), "Cache-Control: max-age=100"},
			times: ResponseTimes{at(20), at(20)}, lifetime: 100 * time.Second, initial: 20 * time.Second},
		{desc: "RFC9111_4.2.3_date_in_future_gives_no_negative_age", status: 200, fields: []string{"Date: " + date(500), "Cache-Control: max-age=100"},
			times: ResponseTimes{at(0), at(0)}, lifetime: 100 * time.Second},
		{desc: "RFC9111_5.1_invalid_age_ignored", status: 200, fields: []string{"Date: " + date(0), "Age: -5", "Cache-Control: max-age=100"},
			times: ResponseTimes{at(0), at(0)}, lifetime: 100 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := newResp(tt.status, tt.fields...)
			var cc Directives
			ParseResponse(&resp.Header, &cc)
			f := ComputeFreshness(resp, &cc, tt.times, hp)
			if f.Lifetime != tt.lifetime || f.InitialAge != tt.initial || f.Heuristic != tt.heuristic {
				t.Errorf("got %+v, want lifetime %v initial %v heuristic %v", f, tt.lifetime, tt.initial, tt.heuristic)
			}
		})
	}
}

func TestCurrentAge(t *testing.T) {
	f := Freshness{InitialAge: 5 * time.Second}
	if got := CurrentAge(f, at(10), at(25)); got != 20*time.Second {
		t.Errorf("RFC9111_4.2.3 current_age = corrected_initial_age + resident_time: got %v", got)
	}
	if got := CurrentAge(f, at(10), at(0)); got != 5*time.Second {
		t.Errorf("a clock going back adds no negative resident time: got %v", got)
	}
}

func TestHTTPDate(t *testing.T) {
	tests := []struct {
		desc string
		in   string
		ok   bool
	}{
		{desc: "RFC9110_5.6.7_IMF-fixdate", in: "Sun, 06 Nov 1994 08:49:37 GMT", ok: true},
		{desc: "RFC9110_5.6.7_obsolete_RFC850", in: "Sunday, 06-Nov-94 08:49:37 GMT", ok: true},
		{desc: "RFC9110_5.6.7_obsolete_asctime", in: "Sun Nov  6 08:49:37 1994", ok: true},
		{desc: "RFC9110_5.6.7_garbage", in: "yesterday", ok: false},
		{desc: "RFC9110_5.6.7_bad_month", in: "Sun, 06 Nox 1994 08:49:37 GMT", ok: false},
	}
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := ParseHTTPDate([]byte(tt.in))
			if ok != tt.ok || ok && !got.Equal(want) {
				t.Errorf("got %v %v", got, ok)
			}
		})
	}
	if s := string(AppendHTTPDate(nil, want)); s != "Sun, 06 Nov 1994 08:49:37 GMT" {
		t.Errorf("AppendHTTPDate: %q", s)
	}
}

func FuzzHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Mon, 99 Jan 0000 99:99:99 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := ParseHTTPDate([]byte(s))
		if !ok || len(s) != 29 || tm.Year() < 1000 {
			return
		}
		// A fixdate that parses prints back to a date that parses to the
		// same instant.
		back, ok2 := ParseHTTPDate(AppendHTTPDate(nil, tm))
		if !ok2 || !back.Equal(tm) {
			t.Fatalf("%q -> %v -> %v %v", s, tm, back, ok2)
		}
	})
}
