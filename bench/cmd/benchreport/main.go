// Command benchreport turns the raw results of bench/run into the summary
// tables, one per face (forward: against Squid, tinyproxy and Dante;
// reverse: against nginx and HAProxy): the median of the rounds for every
// scenario and candidate, the ratio to the scenario's anchor, and whether
// Janus meets its target (the acceptance criteria of the benchmark and
// reverse-face issues).
//
// Input lines, tab-separated (bench/run writes them):
//
//	scenario  candidate  round  metric  value
//
// metric is "value" for rates and throughputs, "rss", "pss" and "fds" for
// the idle-connection scenarios, and any other name for a figure shown in
// the every-round listing (p99_ms, cpu_pct, held, ...) or in a row of its
// own (the reverse keep-alive p99); value is a number, "fail", "skip" or "n/s"
// (not supported by that candidate).
//
//	benchreport raw.tsv
package main

import (
	"bufio"
	"io"
	"log/slog"
	"os"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	in := io.Reader(os.Stdin)
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			log.Error("open raw results", "err", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	res, err := parse(in)
	if err != nil {
		log.Error("parse raw results", "err", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	render(w, res)
	if err := w.Flush(); err != nil {
		log.Error("write table", "err", err)
		os.Exit(1)
	}
}
