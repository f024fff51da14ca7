package httpface

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIdleKeepAliveMemory measures what an idle keep-alive client
// connection costs the proxy after one request: Go heap and stacks per
// connection (the client sockets of this test are in the same process and
// counted too: a few hundred bytes each). It asserts nothing; run it with
// JANUS_MEASURE=1 and -v to see the figures.
func TestIdleKeepAliveMemory(t *testing.T) {
	if os.Getenv("JANUS_MEASURE") == "" {
		t.Skip("set JANUS_MEASURE=1 to measure")
	}
	n := 1000
	if s := os.Getenv("JANUS_MEASURE_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	origin := tinyOrigin(t)
	for _, parked := range []bool{false, true} {
		name := "ServeConn"
		if parked {
			name = "ServeParked"
		}
		t.Run(name, func(t *testing.T) { measureIdle(t, n, origin, parked) })
	}
}

func measureIdle(t *testing.T, n int, origin string, parked bool) {
	p := startProxyMode(t, Options{}, parked)
	p.srv.o.Access = nil
	stats := func() (heap, stack, rss uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse, vmRSS()
	}
	// Warm the pools with one connection.
	warm := idleClient(t, p.addr, origin)
	warm.Close()
	time.Sleep(100 * time.Millisecond)
	h0, s0, r0 := stats()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		conns = append(conns, idleClient(t, p.addr, origin))
	}
	time.Sleep(parkAfter + 500*time.Millisecond)
	h1, s1, r1 := stats()
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	t.Logf("%d idle keep-alive connections: heap %.0f B/conn, stacks %.0f B/conn, RSS %.0f B/conn (client sockets included)",
		n, per(h0, h1), per(s0, s1), per(r0, r1))
	for _, c := range conns {
		c.Close()
	}
}

func idleClient(t *testing.T, proxy, origin string) net.Conn {
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET http://%s/small HTTP/1.1\r\nHost: %s\r\nUser-Agent: idle\r\n\r\n", origin, origin)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	return c
}

func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
