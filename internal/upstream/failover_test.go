package upstream

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/outbound"
)

// attempt does what the reverse face will: dial the picked host through
// the outbound dialer, send a GET, read the status, and report the
// outcome.
func attempt(ctx context.Context, d *outbound.Dialer, h *Host) Outcome {
	start := time.Now()
	h.Begin()
	ip, port := h.DialAddr()
	conn, err := d.DialTCP(ctx, ip, port, nil)
	if err != nil {
		o := Outcome{ConnectFailed: true}
		h.End(o)
		return o
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	var o Outcome
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n"); err == nil {
		o.Status, _ = readStatus(bufio.NewReader(conn))
	}
	o.Latency = time.Since(start)
	h.End(o)
	return o
}

// TestKilledTargetCostsNoIdempotentRequest: a target killed mid-run is
// ejected after its failures, and every GET still succeeds by retrying
// on another host within the budget.
func TestKilledTargetCostsNoIdempotentRequest(t *testing.T) {
	checkGoroutines(t)
	origins := []*origin{newOrigin(t), newOrigin(t), newOrigin(t)}
	var ts []Target
	for _, o := range origins {
		ts = append(ts, Target{Addr: o.addr})
	}
	p := newPool(t, NewRegistry(nil), Options{Targets: ts, Balance: P2C, Eject: Eject{Consecutive: 3}})
	d := &outbound.Dialer{}
	ctx := t.Context()
	retries := 0
	for i := range 300 {
		if i == 100 {
			origins[1].srv.Close()
		}
		p.Budget().Request()
		var tried []*Host
		for {
			h, err := p.Pick(nil, tried...)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			o := attempt(ctx, d, h)
			if o.Status == 200 {
				break
			}
			// A killed origin refuses: nothing was sent, so even a POST could go again.
			if !o.ConnectFailed || !Retryable("POST", !o.ConnectFailed) || !p.Budget().Allow() {
				t.Fatalf("request %d failed on %s: %+v", i, h.addr, o)
			}
			retries++
			tried = append(tried, h)
		}
	}
	st := p.Stats(nil)
	if st[1].State != Ejected {
		t.Errorf("the killed target is %s, want ejected", st[1].State)
	}
	if retries < 3 || retries > 10 {
		t.Errorf("%d retries, want about 3 (until the ejection)", retries)
	}
	for _, s := range st {
		if s.InFlight != 0 {
			t.Errorf("%s: %d in flight after every attempt ended", s.Addr, s.InFlight)
		}
	}
}
