package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// hardeningConfig is a reverse-only listener "web" in front of the pool
// "rec" (one target, no retries, no ejection, so that every test request
// reaches the one origin), with short header and tunnel timeouts. Paths
// under /admin and the host internal.example are answered 403 by Janus
// itself.
func hardeningConfig(target string) string { return hardeningConfigWS(target, "") }

// hardeningConfigWS is hardeningConfig with, when wsTarget is not empty,
// paths under /ws routed to the pool "ws" of that target. A second
// listener, "h2c", has the same routes, takes HTTP/2 with prior knowledge,
// and closes idle connections after 2s.
func hardeningConfigWS(target, wsTarget string) string {
	routes := `
      routes:
        - {name: admin, match: {path_prefix: /admin}, respond: {status: 403, body: "admin is not served here\n"}}
        - {name: internal, match: {hosts: [internal.example]}, respond: {status: 403, body: "internal site\n"}}`
	wsPool := ""
	if wsTarget != "" {
		routes += "\n        - {name: ws, match: {path_prefix: /ws}, upstream: ws}"
		wsPool = fmt.Sprintf("\n  ws:\n    targets: ['%s']\n    eject: {consecutive: -1}\n    retries: {attempts: 1}", wsTarget)
	}
	routes += "\n        - {name: app, match: {path_prefix: /}, upstream: rec}"
	return fmt.Sprintf(`
log: {access: {format: json}}
listeners:
  - name: web
    listen: 127.0.0.1:0
    max_header_bytes: 16KiB
    timeouts: {header: 1s, idle: 5s, tunnel_idle: 1s, response: 5s}
    reverse:%s
  - name: h2c
    listen: 127.0.0.1:0
    h2c: true
    max_header_bytes: 16KiB
    timeouts: {header: 1s, idle: 2s, tunnel_idle: 1s, response: 5s}
    reverse:%s
upstreams:
  rec:
    targets: ['%s']
    eject: {consecutive: -1}
    retries: {attempts: 1}%s
`, routes, routes, target, wsPool)
}

// checkLeaks fails the test if goroutines or file descriptors are left
// over once its cleanups (Janus's shutdown, the origins') have run. Call
// it first in a test, so that its checks run last.
//
// Pipes are counted apart: the tunnel package keeps up to 32 empty splice
// pipes (two descriptors each) for reuse, process-wide, so a test that
// spliced may leave some behind by design. Every other descriptor must be
// closed.
func checkLeaks(t *testing.T) {
	t.Helper()
	janustest.CheckGoroutines(t)
	before, pipesBefore := countFDs()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		n, pipes := countFDs()
		for n > before && time.Now().Before(deadline) {
			runtime.GC() // the runtime's own splice pipes close when collected
			time.Sleep(20 * time.Millisecond)
			n, pipes = countFDs()
		}
		if n > before || pipes > pipesBefore+2*32 {
			t.Errorf("descriptor leak: %d open before (and %d pipe ends), %d after (and %d):\n%s", before, pipesBefore, n, pipes, describeFDs())
		}
	})
}

// countFDs counts this process's open descriptors, pipes apart.
func countFDs() (other, pipes int) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(target, "pipe:") {
			pipes++
		} else {
			other++
		}
	}
	return other, pipes
}

// describeFDs lists the process's descriptors, with the TCP endpoints of
// its sockets, for a leak report.
func describeFDs() string {
	entries, _ := os.ReadDir("/proc/self/fd")
	tcp := map[string]string{} // socket inode → "local remote state"
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if fs := strings.Fields(line); len(fs) > 9 {
				tcp[fs[9]] = fs[1] + " " + fs[2] + " st=" + fs[3]
			}
		}
	}
	var out strings.Builder
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&out, "  fd %s → %s", e.Name(), target)
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			out.WriteString(" " + tcp[strings.TrimSuffix(inode, "]")])
		}
		out.WriteString("\n")
	}
	return out.String()
}

// rawResponse is one response read off a raw connection.
type rawResponse struct {
	Status int
	Header http.Header
	Body   string
	Close  bool // it said Connection: close (net/http takes that field out of Header)
}

// rawResult is what a raw exchange saw.
type rawResult struct {
	Responses []rawResponse
	Closed    bool   // the connection ended after the responses
	Extra     string // bytes that followed the responses, if any
	Err       error  // a response could not be read
}

func (r rawResult) statuses() []int {
	var s []int
	for _, resp := range r.Responses {
		s = append(s, resp.Status)
	}
	return s
}

// rawSend connects to addr, writes payload, reads up to want responses and
// then whether the connection closes within closeWait.
func rawSend(t *testing.T, addr string, payload []byte, want int, closeWait time.Duration) rawResult {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// A refused request may be answered and closed before the rest of the
	// payload is taken; a failed write shows in what is read back.
	go func() { _, _ = c.Write(payload) }()
	return readRaw(c, bufio.NewReader(c), want, closeWait)
}

// readRaw reads up to want responses from br, then waits up to closeWait
// for the connection to close.
func readRaw(c net.Conn, br *bufio.Reader, want int, closeWait time.Duration) rawResult {
	var res rawResult
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < want; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				res.Err = err
			}
			res.Closed = true
			return res
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res.Responses = append(res.Responses, rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Close: resp.Close})
		if err != nil {
			res.Err = err
			res.Closed = true
			return res
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(closeWait))
	var extra [256]byte
	n, err := io.ReadAtLeast(br, extra[:], 1)
	res.Extra = string(extra[:n])
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) && n == 0 {
		// EOF or a reset: either way Janus closed it.
		res.Closed = true
	}
	return res
}

// isTimeoutErr reports whether err is a deadline that passed.
func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
