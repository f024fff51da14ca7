package test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
