// Command cachefill measures what a caching proxy pays per stored object:
// it reads the proxy's process tree (VmRSS, Pss) from /proc, fetches N
// distinct cacheable URLs through it (PATH?n=1 .. PATH?n=N, each twice, so
// the second answer shows it was stored), reads again, and prints the
// difference per object.
//
//	cachefill -addr 127.0.0.1:8082 -pid 1234 -n 10000
//
// It prints one line of key=value pairs; byte figures are per object.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/bench/internal/procstat"
)

func main() {
	var (
		addr    = flag.String("addr", "", "the proxy's reverse listener, host:port")
		path    = flag.String("path", "/1k", "the cacheable path; ?n=I makes each URL distinct")
		pid     = flag.Int("pid", 0, "pid of the process (tree) to measure")
		n       = flag.Int("n", 10000, "objects to store")
		workers = flag.Int("workers", 8, "requests at once")
		settle  = flag.Duration("settle", time.Second, "wait before each reading")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *pid <= 0 || *addr == "" || *n < 1 || *n > 1000000 {
		log.Error("need -addr, -pid and 1 <= -n <= 1000000")
		os.Exit(2)
	}
	root := procstat.Root("/proc")
	time.Sleep(*settle)
	before, err := root.Tree(*pid)
	if err != nil {
		log.Error("reading the proxy's memory", "err", err)
		os.Exit(1)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers}}
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				url := fmt.Sprintf("http://%s%s?n=%d", *addr, *path, i)
				for range 2 {
					resp, err := client.Get(url)
					if err != nil {
						bad.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						bad.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if b := bad.Load(); b*100 > int64(*n) {
		log.Error("too many failed requests", "failed", b, "of", 2**n)
		os.Exit(1)
	}
	time.Sleep(*settle)
	after, err := root.Tree(*pid)
	if err != nil {
		log.Error("reading the proxy's memory", "err", err)
		os.Exit(1)
	}
	d := after.Sub(before)
	fmt.Printf("rss=%d pss=%d objects=%d failed=%d\n", d.RSS/int64(*n), d.PSS/int64(*n), *n, bad.Load())
}
