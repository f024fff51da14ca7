// Command idleconns measures what a proxy pays to hold idle connections: it
// reads the proxy's process tree (VmRSS, Pss, open descriptors) from /proc,
// opens N connections that each did one small exchange and then sit idle,
// reads again, and prints the difference per connection. It then closes them
// all and reports how many descriptors the proxy still holds (a leak check).
//
// Modes:
//
//	connect  HTTP CONNECT tunnels to an echo origin this tool runs on loopback
//	socks5   SOCKS5 CONNECT tunnels to the same echo origin
//	http     keep-alive client connections after one absolute-form GET of
//	         -target's -path through the proxy
//	origin   keep-alive connections straight to -target (the origin itself
//	         is then the process to measure: a reference point)
//
//	idleconns -mode connect -proxy 127.0.0.1:3128 -pid 1234 -n 1000
//
// It prints one line of key=value pairs; byte figures are per connection.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/janus-proxy/janus/bench/internal/procstat"
	"github.com/janus-proxy/janus/bench/internal/proxyclient"
)

func main() {
	var (
		mode   = flag.String("mode", "connect", "connect, socks5, http or origin")
		proxy  = flag.String("proxy", "", "proxy host:port (not for -mode origin)")
		target = flag.String("target", "", "origin ip:port for -mode http and origin")
		path   = flag.String("path", "/small", "path of the one request for -mode http and origin")
		pid    = flag.Int("pid", 0, "pid of the process (tree) to measure")
		n      = flag.Int("n", 1000, "idle connections to open")
		settle = flag.Duration("settle", time.Second, "wait before each reading")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *pid <= 0 || *n < 1 || *n > 10000 {
		log.Error("need -pid and 1 <= -n <= 10000")
		os.Exit(2)
	}
	open, cleanup, err := opener(*mode, *proxy, *target, *path)
	if err != nil {
		log.Error("bad flags", "err", err)
		os.Exit(2)
	}
	defer cleanup()
	r, err := measure(procstat.Proc, *pid, *n, *settle, open)
	if err != nil {
		log.Error("measure", "err", err)
		os.Exit(1)
	}
	per := func(v int64) float64 { return float64(v) / float64(r.opened) }
	d := r.loaded.Sub(r.before)
	fmt.Printf("conns=%d errors=%d alive=%d rss_per_conn=%.0f pss_per_conn=%.0f fds_per_conn=%.2f procs_added=%d fds_left=%d\n",
		r.opened, r.errors, r.alive, per(d.RSS), per(d.PSS), per(int64(d.FDs)), d.Procs, r.after.FDs-r.before.FDs)
	switch {
	case r.errors*100 > r.opened+r.errors:
		log.Error("too many connections failed", "opened", r.opened, "errors", r.errors)
		os.Exit(1)
	case (r.opened-r.alive)*100 > r.opened:
		// The figures above then measure closed connections: say that
		// this server does not hold idle connections at all.
		log.Error("the server closed idle connections", "opened", r.opened, "alive", r.alive)
		os.Exit(exitNoIdle)
	}
}

// exitNoIdle is the exit status when the server closed the connections
// instead of keeping them idle (tinyproxy closes after each request).
const exitNoIdle = 3

// openFunc opens one connection and takes it to its idle state.
type openFunc func() (net.Conn, error)

func opener(mode, proxy, target, path string) (openFunc, func(), error) {
	switch mode {
	case "connect", "socks5":
		if proxy == "" {
			return nil, nil, errors.New("-proxy is required")
		}
		sink, err := startEcho()
		if err != nil {
			return nil, nil, err
		}
		d := proxyclient.Dialer{Mode: proxyclient.Mode(mode), Proxy: proxy, Target: sink.addr}
		return func() (net.Conn, error) { return pingThrough(d) }, sink.close, nil
	case "http", "origin":
		t, err := netip.ParseAddrPort(target)
		if err != nil {
			return nil, nil, fmt.Errorf("-target: %w", err)
		}
		addr, uri := proxy, "http://"+t.String()+path // RFC 9112 §3.2.2 absolute-form
		if mode == "origin" {
			addr, uri = t.String(), path
		}
		if addr == "" {
			return nil, nil, errors.New("-proxy is required")
		}
		req := "GET " + uri + " HTTP/1.1\r\nHost: " + t.String() + "\r\n\r\n"
		return func() (net.Conn, error) { return oneRequest(addr, req) }, func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown -mode %q", mode)
}

type result struct {
	before, loaded, after procstat.Usage
	opened, errors, alive int
}

// measure reads the tree, opens n connections (32 at a time), reads again
// with all of them idle, closes them and reads a last time.
func measure(root procstat.Root, pid, n int, settle time.Duration, open openFunc) (result, error) {
	var r result
	time.Sleep(settle)
	var err error
	if r.before, err = root.Tree(pid); err != nil {
		return r, err
	}
	conns := make([]net.Conn, 0, n)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		next  = make(chan struct{})
		first error
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				c, err := open()
				mu.Lock()
				if err != nil {
					r.errors++
					if first == nil {
						first = err
					}
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		}()
	}
	for range n {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	r.opened = len(conns)
	if r.opened == 0 {
		return r, fmt.Errorf("no connection opened: %w", first)
	}
	if first != nil {
		slog.Warn("some connections failed", "errors", r.errors, "first", first)
	}
	time.Sleep(settle)
	if r.loaded, err = root.Tree(pid); err != nil {
		return r, err
	}
	r.alive = countAlive(conns)
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(settle)
	r.after, err = root.Tree(pid)
	return r, err
}

// countAlive probes every connection with a short read: a timeout means
// the server still holds it open; EOF or a reset means it closed it.
func countAlive(conns []net.Conn) int {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		alive int
	)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			var b [1]byte
			n, err := c.Read(b[:])
			if n > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
				mu.Lock()
				alive++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return alive
}

// pingThrough opens a tunnel and moves one line through it and back, so the
// proxy has set up its data path before the tunnel goes idle.
func pingThrough(d proxyclient.Dialer) (net.Conn, error) {
	c, err := d.Dial()
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var buf [5]byte
	_, err = io.WriteString(c, "ping\n")
	if err == nil {
		_, err = io.ReadFull(c, buf[:])
	}
	if err == nil && string(buf[:]) != "ping\n" {
		err = fmt.Errorf("echo returned %q", buf[:])
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ping through tunnel: %w", err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// oneRequest opens a keep-alive connection and completes one request on it.
func oneRequest(addr, req string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := writeAndRead(c, req)
	if err == nil && (resp.StatusCode != http.StatusOK || resp.Close) {
		err = fmt.Errorf("reply %q, close=%v: the connection would not stay open", resp.Status, resp.Close)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func writeAndRead(c net.Conn, req string) (*http.Response, error) {
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp, err
}

// echo is the loopback origin at the far end of idle tunnels.
type echo struct {
	ln   net.Listener
	addr netip.AddrPort
}

func startEcho() (*echo, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &echo{ln: ln, addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	go e.serve()
	return e, nil
}

func (e *echo) serve() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

func (e *echo) close() { e.ln.Close() }
