package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Health configures active health checks: every Interval, each host gets a
// GET of Path; Fall failures in a row make it unhealthy, Rise passes in a
// row healthy again (HAProxy's rise/fall). A pass also ends a passive
// ejection. A host starts healthy.
type Health struct {
	// Path is the request target, e.g. "/healthz"; empty turns active
	// checks off.
	Path string
	// Host is the Host field; empty means the target as configured
	// ("app.internal:8080", or the IP literal and port).
	Host string
	// StatusMin and StatusMax bound the statuses that pass, inclusive; 0
	// and 0 mean 200–399.
	StatusMin, StatusMax int
	// Interval is the time between checks of a host; 0 means 10s.
	Interval time.Duration
	// Timeout bounds one check (connect, send, status line); 0 means 5s,
	// and it is at most Interval.
	Timeout time.Duration
	// Rise is how many passes in a row make an unhealthy host healthy; 0
	// means 2.
	Rise int
	// Fall is how many failures in a row make a healthy host unhealthy; 0
	// means 3.
	Fall int
}

func (h *Health) normalize() error {
	if h.Path == "" {
		return nil
	}
	if h.Path[0] != '/' || !printable(h.Path) {
		return fmt.Errorf("path %q is not an origin-form target", h.Path)
	}
	if !printable(h.Host) {
		return fmt.Errorf("host %q has spaces or control bytes", h.Host)
	}
	if h.StatusMin == 0 && h.StatusMax == 0 {
		h.StatusMin, h.StatusMax = 200, 399
	}
	if h.StatusMin < 100 || h.StatusMax > 999 || h.StatusMin > h.StatusMax {
		return fmt.Errorf("status range %d-%d is not within 100-999", h.StatusMin, h.StatusMax)
	}
	if h.Interval <= 0 {
		h.Interval = 10 * time.Second
	}
	if h.Timeout <= 0 {
		h.Timeout = 5 * time.Second
	}
	h.Timeout = min(h.Timeout, h.Interval)
	if h.Rise <= 0 {
		h.Rise = 2
	}
	if h.Fall <= 0 {
		h.Fall = 3
	}
	return nil
}

// printable reports whether s has only visible ASCII (no space, CR, LF or
// other controls), so it cannot inject into the request line or a field.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// unhealthy reports whether active checks found h down. A pool without
// active checks ignores that verdict: a reload that removes the checks
// must not leave a host down with nothing to bring it back.
func (p *Pool) unhealthy(h *Host) bool {
	return p.opts.Health.Path != "" && h.unhealthy.Load()
}

// healthLoop checks every host at once each Interval until ctx ends.
func (p *Pool) healthLoop(ctx context.Context) {
	t := time.NewTicker(p.opts.Health.Interval)
	defer t.Stop()
	for {
		p.checkAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Pool) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, h := range p.members.Load().hosts {
		wg.Go(func() { p.checkHost(ctx, h) })
	}
	wg.Wait()
}

// checkHost probes h and records the result, unless the pool stopped
// meanwhile (a check cut short by Stop says nothing about the host).
func (p *Pool) checkHost(ctx context.Context, h *Host) {
	start := p.reg.clock.nanos()
	err := p.probe(ctx, h)
	if ctx.Err() != nil {
		return
	}
	p.observeCheck(h, start, err)
}

// probe sends one check to h through the injected dialer and reads the
// status line of the answer.
func (p *Pool) probe(ctx context.Context, h *Host) error {
	hc := &p.opts.Health
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	conn, err := p.opts.Dialer.DialTCP(ctx, h.dialHost, h.addr.Port(), p.opts.Check)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The timeout, or Stop, unblocks a read the origin never answers.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	host := hc.Host
	if host == "" {
		host = h.target
	}
	req := "GET " + hc.Path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: janus-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return fmt.Errorf("health check %s: send: %w", h.addr, err)
	}
	status, err := readStatus(bufio.NewReaderSize(conn, 1024))
	if err != nil {
		return fmt.Errorf("health check %s: %w", h.addr, err)
	}
	if status < hc.StatusMin || status > hc.StatusMax {
		return fmt.Errorf("health check %s: status %d not in %d-%d", h.addr, status, hc.StatusMin, hc.StatusMax)
	}
	return nil
}

// maxInterim bounds the 1xx responses skipped before the final one.
const maxInterim = 4

// readStatus returns the final response's status code, skipping interim
// 1xx responses (a 103 Early Hints may come first, RFC 9110 §15.2).
func readStatus(br *bufio.Reader) (int, error) {
	for range maxInterim + 1 {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("read status line: %w", err)
		}
		status, err := parseStatusLine(line)
		if err != nil {
			return 0, err
		}
		if status >= 200 {
			return status, nil
		}
		for { // an interim response's fields, up to the empty line
			line, err := br.ReadSlice('\n')
			if err != nil {
				return 0, fmt.Errorf("read interim response: %w", err)
			}
			if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
				break
			}
		}
	}
	return 0, errors.New("too many interim responses")
}

// parseStatusLine parses "HTTP/1.x NNN[ reason]" with its line ending
// (RFC 9112 §4: status-line = HTTP-version SP status-code SP
// [reason-phrase]; a missing SP before an empty reason is tolerated).
func parseStatusLine(line []byte) (int, error) {
	l := line
	if n := len(l); n > 0 && l[n-1] == '\n' {
		l = l[:n-1]
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
	}
	const prefix = "HTTP/1."
	if len(l) < len(prefix)+5 || string(l[:len(prefix)]) != prefix || !digit(l[7]) || l[8] != ' ' {
		return 0, fmt.Errorf("malformed status line %.40q", line)
	}
	code := l[9:]
	if len(code) > 3 {
		if code[3] != ' ' {
			return 0, fmt.Errorf("malformed status line %.40q", line)
		}
		code = code[:3]
	}
	if len(code) != 3 || !digit(code[0]) || !digit(code[1]) || !digit(code[2]) || code[0] == '0' {
		return 0, fmt.Errorf("malformed status code in %.40q", line)
	}
	return int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0'), nil
}

func digit(c byte) bool { return '0' <= c && c <= '9' }

// observeCheck applies a check's result: rise and fall counting, and the
// end of a passive ejection that began before the check did.
func (p *Pool) observeCheck(h *Host, start int64, err error) {
	hc := &p.opts.Health
	h.checkMu.Lock()
	if err == nil {
		h.passes++
		h.misses = 0
	} else {
		h.misses++
		h.passes = 0
	}
	passes, misses := h.passes, h.misses
	h.checkMu.Unlock()
	now := p.reg.clock.nanos()
	if err != nil {
		if misses >= hc.Fall && h.unhealthy.CompareAndSwap(false, true) {
			h.slowFrom.Store(0)
			h.lastChange.Store(now)
			p.log.Warn("upstream host unhealthy", "pool", p.name, "addr", h.addr, "target", h.target,
				"failures", misses, "err", err)
		}
		return
	}
	if passes >= hc.Rise && h.unhealthy.CompareAndSwap(true, false) {
		h.lastChange.Store(now)
		if p.slowStart > 0 {
			h.slowFrom.Store(now)
		}
		p.log.Info("upstream host healthy", "pool", p.name, "addr", h.addr, "target", h.target, "passes", passes)
	}
	if to := h.ejectedTo.Load(); to != 0 && start >= h.ejectedAt.Load() {
		p.unEject(h, to, now, "active check passed")
	}
}
