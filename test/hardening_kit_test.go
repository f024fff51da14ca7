package test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// The hardening tests drive a Janus reverse listener with raw bytes and
// check, through a recording origin behind it, what reached the upstream.
// A request the origin parses is one that got through; a smuggled request
// would show up in its recording as one more.

// recorded is one request the recording origin parsed completely.
type recorded struct {
	Method  string
	Target  string
	Header  http.Header
	Body    string
	Trailer http.Header
}

func (r recorded) String() string { return r.Method + " " + r.Target }

// originAnswer writes the origin's response to req on w. It returns false
// to close the connection afterwards.
type originAnswer func(req *recorded, w *bufio.Writer) (keep bool)

// fixedAnswer is the recording origin's default: a short 200 naming the
// target it answers, so that pipelined responses can be told apart.
func fixedAnswer(req *recorded, w *bufio.Writer) bool {
	fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Origin-Target: %s\r\n\r\nok\n", req.Target)
	return true
}

// recordingOrigin is a raw TCP origin on 127.0.0.1 that records every byte
// it receives and every request it parses, and answers each request with
// answer. Its parser is lenient on purpose (bare LF ends a line, any
// Transfer-Encoding containing "chunked" is chunked): the weaker the origin,
// the more a proxy must protect it.
type recordingOrigin struct {
	ln     net.Listener
	answer originAnswer
	// headsOnly makes the origin answer as soon as a head is in, without
	// reading any content: as an origin that refuses a request early does.
	headsOnly atomic.Bool

	mu    sync.Mutex
	raw   bytes.Buffer
	reqs  []recorded
	conns map[net.Conn]struct{}
	total int       // connections accepted
	peak  int       // most connections open at once
	last  time.Time // when a byte last arrived
	wg    sync.WaitGroup
}

func startRecordingOrigin(t *testing.T, answer originAnswer) *recordingOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if answer == nil {
		answer = fixedAnswer
	}
	o := &recordingOrigin{ln: ln, answer: answer, conns: map[net.Conn]struct{}{}}
	o.wg.Add(1)
	go o.accept()
	t.Cleanup(o.close)
	return o
}

func (o *recordingOrigin) addr() string { return o.ln.Addr().String() }

func (o *recordingOrigin) accept() {
	defer o.wg.Done()
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		o.mu.Lock()
		o.conns[c] = struct{}{}
		o.total++
		o.peak = max(o.peak, len(o.conns))
		o.mu.Unlock()
		o.wg.Add(1)
		go o.serve(c)
	}
}

// close stops the origin and waits for its goroutines.
func (o *recordingOrigin) close() {
	o.ln.Close()
	o.mu.Lock()
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}

// recorder copies what the origin reads into its recording.
type recorder struct {
	o *recordingOrigin
	c net.Conn
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	if n > 0 {
		r.o.mu.Lock()
		r.o.raw.Write(p[:n])
		r.o.last = time.Now()
		r.o.mu.Unlock()
	}
	return n, err
}

func (o *recordingOrigin) serve(c net.Conn) {
	defer o.wg.Done()
	defer func() {
		o.mu.Lock()
		delete(o.conns, c)
		o.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(recorder{o, c})
	bw := bufio.NewWriter(c)
	for {
		var req *recorded
		var err error
		if o.headsOnly.Load() {
			req, err = readLenientHead(br)
		} else {
			req, err = readLenientRequest(br)
		}
		if err != nil {
			return
		}
		o.mu.Lock()
		o.reqs = append(o.reqs, *req)
		o.mu.Unlock()
		keep := o.answer(req, bw)
		if bw.Flush() != nil || !keep {
			return
		}
	}
}

// requests returns the requests parsed so far, after the origin has been
// quiet for a moment (bounded), so that anything Janus was still sending
// is in.
func (o *recordingOrigin) requests() []recorded {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		quiet := time.Since(o.last) > 50*time.Millisecond
		o.mu.Unlock()
		if quiet {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]recorded(nil), o.reqs...)
}

// recording returns every byte received so far.
func (o *recordingOrigin) recording() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.raw.String()
}

// reset forgets what was recorded (connections stay).
func (o *recordingOrigin) reset() {
	o.mu.Lock()
	o.raw.Reset()
	o.reqs = nil
	o.mu.Unlock()
}

// readLenientRequest parses one request as a lenient origin would.
func readLenientRequest(br *bufio.Reader) (*recorded, error) {
	req, err := readLenientHead(br)
	if err != nil {
		return nil, err
	}
	return req, readLenientBody(br, req)
}

// readLenientHead parses a request line and fields.
func readLenientHead(br *bufio.Reader) (*recorded, error) {
	line, err := readLenientLine(br)
	for err == nil && line == "" {
		line, err = readLenientLine(br)
	}
	if err != nil {
		return nil, err
	}
	parts := strings.Fields(line)
	if len(parts) < 2 {
		return nil, fmt.Errorf("request line %q", line)
	}
	req := &recorded{Method: parts[0], Target: parts[1], Header: http.Header{}}
	if err := readLenientFields(br, req.Header); err != nil {
		return nil, err
	}
	return req, nil
}

// readLenientBody reads the content of req as its fields frame it.
func readLenientBody(br *bufio.Reader, req *recorded) error {
	switch {
	case strings.Contains(strings.ToLower(strings.Join(req.Header.Values("Transfer-Encoding"), ",")), "chunked"):
		req.Trailer = http.Header{}
		var body strings.Builder
		for {
			sz, err := readLenientLine(br)
			if err != nil {
				return err
			}
			sz, _, _ = strings.Cut(sz, ";")
			n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
			if err != nil || n < 0 || n > 64<<20 {
				return fmt.Errorf("chunk size %q", sz)
			}
			if n == 0 {
				break
			}
			if _, err := io.CopyN(&body, br, n); err != nil {
				return err
			}
			if _, err := readLenientLine(br); err != nil {
				return err
			}
		}
		if err := readLenientFields(br, req.Trailer); err != nil {
			return err
		}
		req.Body = body.String()
	case req.Header.Get("Content-Length") != "":
		n, err := strconv.ParseInt(strings.TrimSpace(req.Header.Get("Content-Length")), 10, 64)
		if err != nil || n < 0 || n > 64<<20 {
			return fmt.Errorf("content-length %q", req.Header.Get("Content-Length"))
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return err
		}
		req.Body = string(b)
	}
	return nil
}

func readLenientFields(br *bufio.Reader, h http.Header) error {
	for {
		line, err := readLenientLine(br)
		if err != nil {
			return err
		}
		if line == "" {
			return nil
		}
		name, value, _ := strings.Cut(line, ":")
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
}

func readLenientLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

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
