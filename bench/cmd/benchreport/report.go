package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// key names one cell of the table.
type key struct{ scenario, candidate, metric string }

// cell gathers a cell's rounds.
type cell struct {
	values []float64
	fails  int
	skips  int
	nosup  int // the candidate cannot do this (tinyproxy holds no idle keep-alive)
}

type results map[key]*cell

func parse(r io.Reader) (results, error) {
	res := results{}
	s := bufio.NewScanner(r)
	for line := 1; s.Scan(); line++ {
		text := strings.TrimSpace(s.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("line %d: %d fields, want 5 (scenario candidate round metric value)", line, len(f))
		}
		k := key{f[0], f[1], f[3]}
		c := res[k]
		if c == nil {
			c = &cell{}
			res[k] = c
		}
		switch f[4] {
		case "fail":
			c.fails++
		case "skip":
			c.skips++
		case "n/s":
			c.nosup++
		default:
			v, err := strconv.ParseFloat(f[4], 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("line %d: value %q is not a number, fail or skip", line, f[4])
			}
			c.values = append(c.values, v)
		}
	}
	return res, s.Err()
}

// median of the rounds; ok is false when no round produced a number.
func (c *cell) median() (float64, bool) {
	if c == nil || len(c.values) == 0 {
		return 0, false
	}
	v := slices.Clone(c.values)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2], true
	}
	return (v[n/2-1] + v[n/2]) / 2, true
}

// status says why a cell has no number: "–" not measured, "skip", "fail",
// "n/s" not supported by the candidate.
func (c *cell) status() string {
	switch {
	case c == nil:
		return "–"
	case c.fails > 0:
		return "fail"
	case c.nosup > 0:
		return "n/s"
	case c.skips > 0:
		return "skip"
	}
	return "–"
}

// human prints 14932 as "14.9k", 1009.3 as "1009", 0.5 as "0.50".
func human(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100000:
		return fmt.Sprintf("%.0fk", v/1000)
	case a >= 10000:
		return fmt.Sprintf("%.1fk", v/1000)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// human prints a row's figure: counts whole, the rest as human does.
func (sc scenario) human(v float64) string {
	if sc.count {
		return fmt.Sprintf("%.0f", v)
	}
	return human(v)
}

func render(w io.Writer, res results) {
	for _, t := range tables {
		if !t.present(res) {
			continue
		}
		fmt.Fprintf(w, "%s\n\n", t.title)
		renderTable(w, res, t)
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Ratios are to the scenario's anchor:", anchors(res))
	fmt.Fprintln(w, "Idle cells: bytes of RSS / descriptors per connection; the PSS row shares forked children's pages fairly.")
	renderRounds(w, res)
}

func renderTable(w io.Writer, res results, t table) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tunit\t%s\tJanus target\n", strings.Join(t.candidates, "\t"))
	for _, sc := range t.rows {
		if !sc.present(res) {
			continue
		}
		if sc.idle {
			renderIdle(tw, res, t.candidates, sc)
			continue
		}
		metric := sc.metricName()
		anchor, anchorOK := res[key{sc.id, sc.anchor, metric}].median()
		row := []string{sc.title, sc.unit}
		for _, cand := range t.candidates {
			c := res[key{sc.id, cand, metric}]
			m, ok := c.median()
			switch {
			case !ok:
				row = append(row, c.status())
			case anchorOK && anchor > 0 && cand != sc.anchor:
				row = append(row, fmt.Sprintf("%s (%.2fx)", sc.human(m), m/anchor))
			default:
				row = append(row, sc.human(m))
			}
		}
		row = append(row, verdict(res, sc))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}

func (t table) present(res results) bool {
	for _, sc := range t.rows {
		if sc.present(res) {
			return true
		}
	}
	return false
}

func (sc scenario) present(res results) bool {
	for k := range res {
		if k.scenario == sc.id {
			return true
		}
	}
	return false
}

func renderIdle(tw io.Writer, res results, candidates []string, sc scenario) {
	rss := []string{sc.title, "RSS B / fds"}
	pss := []string{sc.title, "PSS B"}
	for _, cand := range candidates {
		r := res[key{sc.id, cand, "rss"}]
		m, ok := r.median()
		if !ok {
			rss = append(rss, r.status())
			pss = append(pss, r.status())
			continue
		}
		fds, _ := res[key{sc.id, cand, "fds"}].median()
		p, _ := res[key{sc.id, cand, "pss"}].median()
		rss = append(rss, fmt.Sprintf("%s / %.1f", human(m), fds))
		pss = append(pss, human(p))
	}
	fmt.Fprintln(tw, strings.Join(append(rss, "reported"), "\t"))
	fmt.Fprintln(tw, strings.Join(append(pss, ""), "\t"))
}

// verdict compares Janus's median with the row's target: a share of the
// anchor's figure to reach (target) or not to exceed (most), or an
// absolute bound (limit).
func verdict(res results, sc scenario) string {
	metric := sc.metricName()
	j, jok := res[key{sc.id, "janus", metric}].median()
	a, aok := res[key{sc.id, sc.anchor, metric}].median()
	var want string
	var pass bool
	var got string
	switch {
	case sc.target > 0:
		want = fmt.Sprintf(">= %.2fx %s", sc.target, sc.anchor)
		if !jok || !aok || a <= 0 {
			return want + ": n/a"
		}
		pass, got = j/a >= sc.target, fmt.Sprintf("%.2fx", j/a)
	case sc.most > 0:
		want = fmt.Sprintf("<= %.2fx %s", sc.most, sc.anchor)
		if !jok || !aok || a <= 0 {
			return want + ": n/a"
		}
		pass, got = j/a <= sc.most, fmt.Sprintf("%.2fx", j/a)
	case sc.limit > 0:
		want = "<= " + sc.human(sc.limit)
		if !jok {
			return want + ": n/a"
		}
		pass, got = j <= sc.limit, sc.human(j)
	default:
		return ""
	}
	if pass {
		return fmt.Sprintf("%s: PASS (%s)", want, got)
	}
	return fmt.Sprintf("%s: FAIL (%s)", want, got)
}

// anchors lists each measured scenario's anchor once.
func anchors(res results) string {
	var parts []string
	for _, t := range tables {
		for _, sc := range t.rows {
			part := sc.id + "→" + sc.anchor
			if sc.anchor != "" && sc.present(res) && !slices.Contains(parts, part) {
				parts = append(parts, part)
			}
		}
	}
	return strings.Join(parts, ", ")
}

// metricRank puts the table's figures before the latencies and the rest.
func metricRank(m string) int {
	if i := slices.Index([]string{"value", "rss", "pss", "fds", "cpu_pct", "p50_ms", "p99_ms", "mean_ms", "total", "held", "requests"}, m); i >= 0 {
		return i
	}
	return 100
}

// renderRounds lists every round's figure so that noise is visible.
func renderRounds(w io.Writer, res results) {
	keys := make([]key, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	order := func(s string, list []string) int { return slices.Index(list, s) }
	ids, candidates := scenarioOrder(), candidateOrder()
	slices.SortFunc(keys, func(a, b key) int {
		if d := order(a.scenario, ids) - order(b.scenario, ids); d != 0 {
			return d
		}
		if d := order(a.candidate, candidates) - order(b.candidate, candidates); d != 0 {
			return d
		}
		if d := metricRank(a.metric) - metricRank(b.metric); d != 0 {
			return d
		}
		return strings.Compare(a.metric, b.metric)
	})
	fmt.Fprintln(w, "\nEvery round's figure, in round order:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		c := res[k]
		vals := make([]string, 0, len(c.values)+2)
		for _, v := range c.values {
			if v == math.Trunc(v) && math.Abs(v) < 10000 {
				vals = append(vals, fmt.Sprintf("%.0f", v)) // counts, and figures that happen to be whole
			} else {
				vals = append(vals, human(v))
			}
		}
		if c.fails > 0 {
			vals = append(vals, fmt.Sprintf("%d failed", c.fails))
		}
		if c.skips > 0 {
			vals = append(vals, fmt.Sprintf("%d skipped", c.skips))
		}
		if c.nosup > 0 {
			vals = append(vals, fmt.Sprintf("%d not supported", c.nosup))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", k.scenario, k.candidate, k.metric, strings.Join(vals, " "))
	}
	tw.Flush()
}
