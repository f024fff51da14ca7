package test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/janus-proxy/janus/internal/janustest"
)

// Floods of HTTP/2 frames (rapid reset, endless header blocks) against the
// h2c listener, with a normal client timing its requests meanwhile.

// h2Normal returns a client speaking h2c with prior knowledge.
func h2Normal(t *testing.T) *http.Client {
	t.Helper()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// normalResult is what a normal client saw while an attack went on.
type normalResult struct {
	slowest time.Duration
	n       int // requests served
	err     error
}

// serveMeanwhile runs normal HTTP/2 requests on a connection of their own,
// one every 20ms, until the returned function is called; that function
// returns what they saw.
func serveMeanwhile(t *testing.T, addr string) (finish func() normalResult) {
	client := h2Normal(t)
	stop := make(chan struct{})
	done := make(chan normalResult, 1)
	go func() {
		var r normalResult
		defer func() { done <- r }()
		for i := 0; i < 1000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			resp, err := client.Get("http://" + addr + "/normal")
			if err != nil {
				r.err = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				r.err = fmt.Errorf("status %d", resp.StatusCode)
				return
			}
			r.slowest = max(r.slowest, time.Since(start))
			r.n++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() normalResult {
		close(stop)
		return <-done
	}
}

// TestHTTP2RapidResetDoesNotStarveOthers: a client that opens streams and
// resets them at once (CVE-2023-44487) as fast as it can write gets no more
// upstream requests in flight than the stream limit (250) allows, where
// without a guard every reset stream would run at once, and a normal client
// on another connection is served promptly meanwhile. internal/h2server
// runs at most 250 handlers per connection (a reset stream's handler counts
// until it returns), refuses streams past that with REFUSED_STREAM, and
// ends a connection after 1000 refusals. A handler that started before its
// stream's reset was read
// finishes its upstream request, as a client's ordinary request would: the
// rate of those is bounded by the stream limit and the origin's latency,
// as for any client, so only the concurrency is checked.
func TestHTTP2RapidResetDoesNotStarveOthers(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		desc    string
		streams int
		delay   time.Duration // the origin's time to answer a flood request
	}{
		{"fast origin", 20000, 0},
		// Few enough streams that the connection is not ended for
		// refusing too many.
		{"slow origin", 900, 100 * time.Millisecond},
		{"slow origin, many streams", 20000, 100 * time.Millisecond},
	} {

		t.Run(tc.desc, func(t *testing.T) {
			o := startRecordingOrigin(t, func(req *recorded, w *bufio.Writer) bool {
				if req.Target == "/flood" {
					time.Sleep(tc.delay)
				}
				return fixedAnswer(req, w)
			})
			j := janustest.Start(t, hardeningConfig(o.addr()), nil)
			addr := j.Addr(t, "h2c")
			finish := serveMeanwhile(t, addr)
			streams, took, how := rapidReset(t, addr, tc.streams)
			time.Sleep(10 * tc.delay) // let the handlers running and queued finish
			nr := finish()
			reached := 0
			for _, r := range o.requests() {
				if r.Target == "/flood" {
					reached++
				}
			}
			o.mu.Lock()
			peak := o.peak
			o.mu.Unlock()
			t.Logf("%d streams opened and reset in %v, connection %s; %d reached the origin over at most %d connections at once; normal client: %d requests, slowest %v",
				streams, took.Round(time.Millisecond), how, reached, peak, nr.n, nr.slowest)
			if nr.err != nil || nr.slowest > time.Second {
				t.Errorf("a normal client during the rapid reset: %v, slowest %v", nr.err, nr.slowest)
			}
			// In flight: at most 250 streams' requests, plus the pool's
			// idle connections (64), the normal client's, and some closed
			// by Janus whose end the origin has not read yet.
			if peak > 250+64+64 {
				t.Errorf("%d upstream connections at once for one client connection", peak)
			}
		})
	}
}

// rapidReset opens streams and resets each at once, for at most n streams
// or 3s, and reports how many, how long, and how the connection ended.
func rapidReset(t *testing.T, addr string, n int) (streams int, took time.Duration, how string) {
	h := dialH2Raw(t, addr)
	h.hb.Reset()
	for _, f := range get2("/flood") {
		_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := append([]byte(nil), h.hb.Bytes()...)
	// The reader answers SETTINGS and notices the end of the connection.
	ended := make(chan string, 1)
	go func() {
		_, how := h.outcome()
		ended <- how
	}()
	start := time.Now()
	for id := uint32(1); streams < n && time.Since(start) < 3*time.Second; id += 2 {
		h.wmu.Lock()
		err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true, EndStream: true})
		if err == nil {
			err = h.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		h.wmu.Unlock()
		if err != nil {
			break
		}
		streams++
	}
	took = time.Since(start)
	select {
	case how = <-ended:
	case <-time.After(time.Second):
		how = "still open"
	}
	return streams, took, how
}

// TestHTTP2EndlessHeaderBlockIsCutOff: a header block that never ends (one
// CONTINUATION frame after another, empty ones that add nothing to its size,
// or a trickle) does not keep others from being served, and ends with the
// connection's idle timeout (2s here), with a GOAWAY: HTTP/2 has no header
// timeout of its own.
func TestHTTP2EndlessHeaderBlockIsCutOff(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	addr := j.Addr(t, "h2c")
	for _, tc := range []struct {
		desc  string
		frag  []byte
		pause time.Duration
	}{
		{"empty CONTINUATION frames as fast as possible", nil, 0},
		{"a CONTINUATION byte every 100ms", []byte{0x40}, 100 * time.Millisecond},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			finish := serveMeanwhile(t, addr)
			h := dialH2Raw(t, addr)
			h.hb.Reset()
			for _, f := range get2("/endless") {
				_ = h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			start := time.Now()
			err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.hb.Bytes(), EndHeaders: false, EndStream: true})
			frames := 0
			for err == nil && time.Since(start) < 15*time.Second {
				err = h.fr.WriteContinuation(1, false, tc.frag)
				frames++
				if tc.pause > 0 {
					time.Sleep(tc.pause)
				}
			}
			took := time.Since(start)
			nr := finish()
			t.Logf("%d CONTINUATION frames in %v until %v; normal client: %d requests, slowest %v", frames, took.Round(time.Millisecond), err, nr.n, nr.slowest)
			if err == nil || took > 5*time.Second {
				t.Errorf("the endless header block was cut off after %v (%v), want within idle+1s (3s)", took, err)
			}
			if nr.err != nil || nr.slowest > time.Second {
				t.Errorf("a normal client meanwhile: %v, slowest %v", nr.err, nr.slowest)
			}
			for _, r := range o.requests() {
				if r.Target == "/endless" {
					t.Errorf("the endless request reached the origin")
				}
			}
		})
	}
}
