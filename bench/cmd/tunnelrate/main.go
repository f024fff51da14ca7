// Command tunnelrate measures how many new tunnels per second a proxy sets
// up: each worker opens a tunnel (HTTP CONNECT, SOCKS5 or direct), sends one
// small HTTP request through it with "Connection: close", reads the whole
// reply until the origin's close comes back through the tunnel, closes, and
// starts again. Only exchanges that end inside the measured window count.
//
//	tunnelrate -mode connect -proxy 127.0.0.1:3128 -target 127.0.0.1:8080 -c 64 -warmup 1s -d 5s
//
// It prints one line, "rate=<tunnels/s> ok=<n> errors=<n>" and the latency of
// a whole exchange (p50_ms, p99_ms, max_ms), and the first few errors on
// stderr. It exits non-zero when more than 1% of the attempts
// failed, so that the harness does not report a rate built on refusals.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/janus-proxy/janus/bench/internal/proxyclient"
)

func main() {
	var (
		mode    = flag.String("mode", "connect", "direct, connect or socks5")
		proxy   = flag.String("proxy", "", "proxy host:port (not for -mode direct)")
		target  = flag.String("target", "", "origin ip:port the tunnel leads to")
		path    = flag.String("path", "/small", "path requested from the origin through each tunnel")
		workers = flag.Int("c", 64, "concurrent workers")
		warmup  = flag.Duration("warmup", time.Second, "time before counting starts")
		dur     = flag.Duration("d", 5*time.Second, "measured time")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := proxyclient.ParseMode(*mode)
	if err != nil {
		log.Error("bad flag", "err", err)
		os.Exit(2)
	}
	t, err := netip.ParseAddrPort(*target)
	if err != nil || *workers < 1 || *dur <= 0 || (m != proxyclient.Direct && *proxy == "") {
		log.Error("need -target ip:port, -c >= 1, -d > 0 and -proxy unless -mode direct", "target", *target, "err", err)
		os.Exit(2)
	}
	r := run(config{
		dialer:  proxyclient.Dialer{Mode: m, Proxy: *proxy, Target: t},
		request: []byte("GET " + *path + " HTTP/1.1\r\nHost: " + t.String() + "\r\nConnection: close\r\n\r\n"),
		workers: *workers,
		warmup:  *warmup,
		dur:     *dur,
	})
	for _, e := range r.samples {
		log.Warn("exchange failed", "err", e)
	}
	fmt.Printf("rate=%.1f ok=%d errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
		float64(r.ok)/dur.Seconds(), r.ok, r.errors, ms(r.p50), ms(r.p99), ms(r.max))
	if r.errors*100 > r.ok+r.errors {
		log.Error("too many failed exchanges", "ok", r.ok, "errors", r.errors)
		os.Exit(1)
	}
}

type config struct {
	dialer  proxyclient.Dialer
	request []byte
	workers int
	warmup  time.Duration
	dur     time.Duration
}

type result struct {
	ok, errors    int64
	samples       []error       // the first few errors, to say why
	p50, p99, max time.Duration // of the counted exchanges, set-up to close
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// maxLatencies bounds the memory of one worker's latency record.
const maxLatencies = 1 << 18

// run drives the workers for warmup+dur and counts the exchanges that end
// inside the measured window.
func run(cfg config) result {
	start := time.Now()
	from, until := start.Add(cfg.warmup), start.Add(cfg.warmup+cfg.dur)
	var (
		ok, failed atomic.Int64
		mu         sync.Mutex
		samples    []error
		latencies  []time.Duration
		wg         sync.WaitGroup
	)
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			var lat []time.Duration
			defer func() {
				mu.Lock()
				latencies = append(latencies, lat...)
				mu.Unlock()
			}()
			for time.Now().Before(until) {
				begin := time.Now()
				err := exchange(cfg, buf, until)
				end := time.Now()
				if end.Before(from) || end.After(until) {
					continue
				}
				if err == nil {
					ok.Add(1)
					if len(lat) < maxLatencies {
						lat = append(lat, end.Sub(begin))
					}
					continue
				}
				failed.Add(1)
				mu.Lock()
				if len(samples) < 5 {
					samples = append(samples, err)
				}
				mu.Unlock()
				// A failing proxy must not turn the loop into a busy spin.
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	r := result{ok: ok.Load(), errors: failed.Load(), samples: samples}
	if n := len(latencies); n > 0 {
		slices.Sort(latencies)
		r.p50, r.p99, r.max = latencies[n/2], latencies[n*99/100], latencies[n-1]
	}
	return r
}

var (
	okPrefix    = []byte("HTTP/1.1 200 ")
	errNotOK    = errors.New("origin reply through the tunnel is not 200")
	errTruncate = errors.New("tunnel closed before any reply")
)

// exchange is one tunnel's life: open, one request, read to EOF, close.
func exchange(cfg config, buf []byte, until time.Time) error {
	c, err := cfg.dialer.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	// Bounded: no exchange outlives the run by more than a second.
	if err := c.SetDeadline(until.Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write(cfg.request); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	n, err := io.ReadAtLeast(c, buf, len(okPrefix))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errTruncate
		}
		return fmt.Errorf("read reply: %w", err)
	}
	if !bytes.HasPrefix(buf[:n], okPrefix) {
		return fmt.Errorf("%w: %q", errNotOK, buf[:min(n, 40)])
	}
	// The origin closes after the reply ("Connection: close"): reading to
	// EOF makes the proxy's teardown part of what is measured.
	for {
		if _, err := c.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read reply body: %w", err)
		}
	}
}
