package tunnel

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fleet is n tunnels' sockets: the test's ends and the proxy's ends.
type fleet struct {
	clients, origins []*net.TCPConn // test ends
	proxyC, proxyO   []*net.TCPConn // proxy ends, handed to the tunnel
}

// openFleet makes n client⇄proxy and n proxy⇄origin loopback connections
// through two listeners.
func openFleet(t testing.TB, n int) *fleet {
	t.Helper()
	f := &fleet{}
	pairs := func(dialed, accepted *[]*net.TCPConn) {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		for range n {
			d, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
			if err != nil {
				t.Fatal(err)
			}
			a, err := ln.AcceptTCP()
			if err != nil {
				t.Fatal(err)
			}
			*dialed, *accepted = append(*dialed, d), append(*accepted, a)
		}
	}
	pairs(&f.clients, &f.proxyC)
	pairs(&f.proxyO, &f.origins)
	t.Cleanup(f.close)
	return f
}

func (f *fleet) close() {
	for _, cs := range [][]*net.TCPConn{f.clients, f.origins, f.proxyC, f.proxyO} {
		for _, c := range cs {
			c.Close()
		}
	}
}

// pingAll moves one byte each way through every tunnel, so that each
// direction has spliced (and taken a pipe) at least once before going idle.
func (f *fleet) pingAll(t testing.TB) {
	t.Helper()
	b := make([]byte, 1)
	for i := range f.clients {
		for _, p := range [][2]*net.TCPConn{{f.clients[i], f.origins[i]}, {f.origins[i], f.clients[i]}} {
			if _, err := p[0].Write([]byte{'x'}); err != nil {
				t.Fatal(err)
			}
			p[1].SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(p[1], b); err != nil {
				t.Fatalf("tunnel %d: %v", i, err)
			}
		}
	}
}

// drainPipePool closes the pooled empty pipes, so that descriptor counts
// show only what tunnels hold.
func drainPipePool() {
	for {
		select {
		case p := <-pipes:
			syscall.Close(p.r)
			syscall.Close(p.w)
		default:
			return
		}
	}
}

// fdsPerIdleTunnel opens n tunnels with start, pings them, and returns the
// descriptors the proxy side holds per idle tunnel.
func fdsPerIdleTunnel(t *testing.T, n int, start func(f *fleet, i int)) float64 {
	drainPipePool()
	before := openFDs(t)
	f := openFleet(t, n)
	for i := range n {
		start(f, i)
	}
	f.pingAll(t)
	time.Sleep(100 * time.Millisecond) // let every direction go back to waiting
	drainPipePool()
	after := openFDs(t)
	// The test's own ends are two descriptors per tunnel.
	return float64(after-before-2*n) / float64(n)
}

func TestIdleTunnelsHoldTwoDescriptorsEach(t *testing.T) {
	const n = 200
	checkGoroutines(t)
	got := fdsPerIdleTunnel(t, n, func(f *fleet, i int) {
		go Join(f.proxyC[i], f.proxyO[i], Options{})
	})
	t.Logf("Join: %.2f descriptors per idle tunnel", got)
	if got > 2.05 {
		t.Errorf("Join holds %.2f descriptors per idle tunnel, want 2 (no splice pipes while idle)", got)
	}
	naive := fdsPerIdleTunnel(t, n, func(f *fleet, i int) {
		go naiveJoin(f.proxyC[i], f.proxyO[i])
	})
	t.Logf("plain io.Copy tunnel: %.2f descriptors per idle tunnel", naive)
}

// vmRSS reads this process's resident set size in bytes.
func vmRSS(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// settle collects garbage and hands free memory back, then returns RSS and
// the Go heap and stack bytes in use.
func settle(t testing.TB) (rss, goMem int64) {
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return vmRSS(t), int64(ms.HeapInuse + ms.StackInuse)
}

// TestIdleTunnelMemory measures what an idle tunnel costs on top of its two
// sockets: RSS and Go heap+stack per tunnel, for Join and for the plain
// io.Copy tunnel. Numbers go to the log (-v); the bound is loose on purpose.
func TestIdleTunnelMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 tunnels")
	}
	const n = 2000
	for _, tc := range []struct {
		desc  string
		start func(f *fleet, i int)
		limit int64 // bytes per tunnel, 0 for no check
	}{
		{desc: "Join", limit: 16 << 10, start: func(f *fleet, i int) {
			go Join(f.proxyC[i], f.proxyO[i], Options{Idle: time.Hour})
		}},
		{desc: "Start", limit: 16 << 10, start: func(f *fleet, i int) {
			Start(f.proxyC[i], f.proxyO[i], Options{Idle: time.Hour}, func(Result, error) {})
		}},
		{desc: "plain io.Copy", start: func(f *fleet, i int) {
			go naiveJoin(f.proxyC[i], f.proxyO[i])
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			f := openFleet(t, n)
			rss0, go0 := settle(t)
			for i := range n {
				tc.start(f, i)
			}
			f.pingAll(t)
			drainPipePool()
			rss1, go1 := settle(t)
			perRSS, perGo := (rss1-rss0)/n, (go1-go0)/n
			t.Logf("%s: %d B RSS, %d B Go heap+stack per idle tunnel (sockets excluded)", tc.desc, perRSS, perGo)
			if tc.limit > 0 && !raceOn && perGo > tc.limit {
				t.Errorf("%d B of Go memory per idle tunnel, want under %d", perGo, tc.limit)
			}
			f.close()
		})
	}
}

func TestManyConcurrentTunnelsShareThePipePool(t *testing.T) {
	const tunnels, size = 3 * pipePoolSize / 2, 2 << 20
	checkGoroutines(t)
	errs := make(chan error, tunnels)
	for i := range tunnels {
		j := startTunnel(t, modes[0], Options{Idle: 10 * time.Second})
		go func() {
			done := make(chan []byte, 1)
			go func() { _, h, _ := readAndHash(j.origin); done <- h }()
			sent, err := sendAndHash(j.client, uint64(i), size)
			if err != nil {
				errs <- err
				return
			}
			if got := <-done; !bytes.Equal(got, sent) {
				errs <- fmt.Errorf("tunnel %d: origin got different bytes", i)
				return
			}
			j.origin.Close()
			out := <-j.done
			if out.err != nil || out.res.Up != size {
				errs <- fmt.Errorf("tunnel %d: Join = %+v, %v", i, out.res, out.err)
				return
			}
			errs <- nil
		}()
	}
	for range tunnels {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(pipes); n > pipePoolSize {
		t.Errorf("%d pipes pooled, bound is %d", n, pipePoolSize)
	}
}

func TestEndedTunnelsLeaveNoDescriptors(t *testing.T) {
	checkGoroutines(t)
	drainPipePool()
	before := settledFDs(t) // earlier tests' sockets may still be closing
	ends := []func(j *joined){
		func(j *joined) { j.client.Close(); j.origin.Close() },
		func(j *joined) { j.client.SetLinger(0); j.client.Close() },
		func(j *joined) { j.origin.SetLinger(0); j.origin.Close() },
		func(j *joined) {}, // left to the idle limit
	}
	for i := range 40 {
		m := modes[i%len(modes)]
		j := startTunnel(t, m, Options{Idle: 100 * time.Millisecond})
		j.client.Write(make([]byte, 100<<10))
		j.origin.Write(make([]byte, 100<<10))
		ends[i%len(ends)](j)
		j.wait(t, 5*time.Second)
		j.client.Close()
		j.origin.Close()
	}
	drainPipePool()
	if after := settledFDs(t); after > before {
		t.Errorf("%d descriptors open before, %d after 40 ended tunnels", before, after)
	}
}

// settledFDs waits (at most 5s) until the count of open descriptors stops
// falling, so that sockets other tests are still closing do not count.
func settledFDs(t *testing.T) int {
	t.Helper()
	n := openFDs(t)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m := openFDs(t)
		if m >= n {
			return m
		}
		n = m
	}
	return n
}
