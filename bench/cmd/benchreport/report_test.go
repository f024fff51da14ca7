package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestRenderMatchesGolden pins the table layout, medians, ratios and
// verdicts for a made-up run (go test -update rewrites the golden file).
func TestRenderMatchesGolden(t *testing.T) {
	raw, err := os.Open("testdata/raw.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	res, err := parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	render(&got, res)
	const golden = "testdata/report.golden"
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("render differs from %s (run go test -update to accept):\n%s", golden, got.String())
	}
	for _, s := range []string{
		">= 1.50x squid: PASS (1.56x)", ">= 0.95x direct: FAIL (0.94x)", ">= 1.30x squid: n/a", "n/s", "fail",
		"Forward face", "Reverse face", "<= 2.00x nginx: FAIL (2.50x)", "<= 64: PASS (3)", ">= 1.00x nginx: n/a",
	} {
		if !strings.Contains(got.String(), s) {
			t.Errorf("table lacks %q", s)
		}
	}
}

func TestParseRejectsMalformedLines(t *testing.T) {
	tests := []struct {
		desc string
		in   string
	}{
		{desc: "four fields", in: "http-fwd\tjanus\t1\t100\n"},
		{desc: "value not a number", in: "http-fwd\tjanus\t1\tvalue\tfast\n"},
		{desc: "NaN", in: "http-fwd\tjanus\t1\tvalue\tNaN\n"},
		{desc: "infinity", in: "http-fwd\tjanus\t1\tvalue\t+Inf\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := parse(strings.NewReader(tt.in)); err == nil {
				t.Errorf("parse(%q) succeeded, want an error", tt.in)
			}
		})
	}
}

func TestMedianOfRounds(t *testing.T) {
	tests := []struct {
		desc   string
		values []float64
		want   float64
		ok     bool
	}{
		{desc: "no rounds", ok: false},
		{desc: "one round", values: []float64{3}, want: 3, ok: true},
		{desc: "odd rounds, unsorted", values: []float64{9, 1, 5}, want: 5, ok: true},
		{desc: "even rounds average the middle", values: []float64{4, 1, 3, 2}, want: 2.5, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := &cell{values: tt.values}
			got, ok := c.median()
			if ok != tt.ok || got != tt.want {
				t.Errorf("median(%v) = %v, %v; want %v, %v", tt.values, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHumanRounding(t *testing.T) {
	tests := []struct {
		desc string
		in   float64
		want string
	}{
		{desc: "hundreds of thousands", in: 123456, want: "123k"},
		{desc: "tens of thousands", in: 14932, want: "14.9k"},
		{desc: "thousands", in: 1009.3, want: "1009"},
		{desc: "tens", in: 19.44, want: "19.4"},
		{desc: "small", in: 2.004, want: "2.00"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := human(tt.in); got != tt.want {
				t.Errorf("human(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestVerdictKinds pins the three kinds of target: a share of the anchor
// to reach, a share not to exceed (latency), and an absolute bound.
func TestVerdictKinds(t *testing.T) {
	rows := func(lines ...string) results {
		res, err := parse(strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	tests := []struct {
		desc string
		sc   scenario
		res  results
		want string
	}{
		{
			desc: "higher is better, exactly at the target passes",
			sc:   scenario{id: "s", anchor: "nginx", target: 0.5},
			res:  rows("s\tjanus\t1\tvalue\t50", "s\tnginx\t1\tvalue\t100"),
			want: ">= 0.50x nginx: PASS (0.50x)",
		},
		{
			desc: "higher is better, below fails",
			sc:   scenario{id: "s", anchor: "nginx", target: 0.5},
			res:  rows("s\tjanus\t1\tvalue\t49", "s\tnginx\t1\tvalue\t100"),
			want: ">= 0.50x nginx: FAIL (0.49x)",
		},
		{
			desc: "lower is better reads the row's metric, not value",
			sc:   scenario{id: "s", metric: "p99_ms", anchor: "nginx", most: 2},
			res:  rows("s\tjanus\t1\tp99_ms\t4", "s\tnginx\t1\tp99_ms\t2", "s\tjanus\t1\tvalue\t1"),
			want: "<= 2.00x nginx: PASS (2.00x)",
		},
		{
			desc: "lower is better, above fails",
			sc:   scenario{id: "s", metric: "p99_ms", anchor: "nginx", most: 2},
			res:  rows("s\tjanus\t1\tp99_ms\t4.1", "s\tnginx\t1\tp99_ms\t2"),
			want: "<= 2.00x nginx: FAIL (2.05x)",
		},
		{
			desc: "absolute limit needs no anchor",
			sc:   scenario{id: "s", count: true, limit: 64},
			res:  rows("s\tjanus\t1\tvalue\t65"),
			want: "<= 64: FAIL (65)",
		},
		{
			desc: "janus not supported",
			sc:   scenario{id: "s", anchor: "nginx", target: 1},
			res:  rows("s\tjanus\t1\tvalue\tn/s", "s\tnginx\t1\tvalue\t100"),
			want: ">= 1.00x nginx: n/a",
		},
		{
			desc: "no target, no verdict",
			sc:   scenario{id: "s", anchor: "nginx"},
			res:  rows("s\tjanus\t1\tvalue\t1", "s\tnginx\t1\tvalue\t100"),
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := verdict(tt.res, tt.sc); got != tt.want {
				t.Errorf("verdict = %q, want %q", got, tt.want)
			}
		})
	}
}
