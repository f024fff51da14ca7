package outbound

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// interleave orders addrs for dialing as RFC 8305 §4 asks: the resolver's
// order within each family, alternating families, starting with the family
// of the resolver's first answer (First Address Family Count of 1).
func interleave(addrs []netip.Addr, port uint16) []netip.AddrPort {
	var first, other []netip.Addr
	for _, a := range addrs {
		if a.Is4() == addrs[0].Is4() {
			first = append(first, a)
		} else {
			other = append(other, a)
		}
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for i := 0; i < len(first) || i < len(other); i++ {
		if i < len(first) {
			out = append(out, netip.AddrPortFrom(first[i], port))
		}
		if i < len(other) {
			out = append(out, netip.AddrPortFrom(other[i], port))
		}
	}
	return out
}

// attempt is the outcome of one connection attempt.
type attempt struct {
	ap  netip.AddrPort
	c   *net.TCPConn
	err error
}

// race dials cands in order, starting the next attempt when the running ones
// have all failed or after AttemptDelay (RFC 8305 §5), and returns the first
// connection made; the other attempts are cancelled and their connections,
// if any, closed. The error of a total failure is that of the first attempt.
func (d *Dialer) race(ctx context.Context, host string, cands []netip.AddrPort) (*net.TCPConn, error) {
	if len(cands) == 1 {
		// Nothing to race (an address literal, or one allowed address):
		// dial on this goroutine, without a helper goroutine and channel.
		var r attempt
		d.dialOne(ctx, cands[0], &r)
		if r.err != nil {
			return nil, &Error{Kind: classify(r.err), Host: host, Addr: r.ap.Addr(), Err: r.err}
		}
		return r.c, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan attempt, len(cands)) // buffered: losers never block
	next, running := 0, 0
	start := func() {
		go d.attempt(ctx, cands[next], results)
		next++
		running++
	}
	start()
	delay := time.NewTimer(d.attemptDelay())
	defer delay.Stop()
	var firstErr *Error
	for running > 0 {
		select {
		case r := <-results:
			running--
			if r.err == nil {
				if running > 0 {
					go closeLosers(results, running)
				}
				return r.c, nil
			}
			if firstErr == nil {
				firstErr = &Error{Kind: classify(r.err), Host: host, Addr: r.ap.Addr(), Err: r.err}
			}
			if next < len(cands) && ctx.Err() == nil {
				start()
				delay.Reset(d.attemptDelay())
			}
		case <-delay.C:
			if next < len(cands) && ctx.Err() == nil {
				start()
				delay.Reset(d.attemptDelay())
			}
		}
	}
	return nil, firstErr
}

// attempt dials ap for race and sends the outcome to results.
func (d *Dialer) attempt(ctx context.Context, ap netip.AddrPort, results chan<- attempt) {
	var r attempt
	d.dialOne(ctx, ap, &r)
	results <- r
}

// dialOne dials exactly ap: an address literal, never a name, so nothing is
// resolved again after the check. It goes through DialContext with ap's
// text, not Dialer.DialTCP: that one turns an invalid laddr into ":0" and
// binds before connecting, which makes every connection take its own
// ephemeral port instead of sharing ports across destinations (and fails
// with EADDRINUSE under load).
func (d *Dialer) dialOne(ctx context.Context, ap netip.AddrPort, r *attempt) {
	nd := net.Dialer{Timeout: d.timeout(), KeepAlive: d.KeepAlive}
	r.ap = ap
	c, err := nd.DialContext(ctx, "tcp", ap.String())
	if err == nil {
		r.c = c.(*net.TCPConn)
	}
	r.err = err
}

// closeLosers collects the attempts still running after a winner and closes
// any connection they made; the cancelled context ends them quickly.
func closeLosers(results <-chan attempt, n int) {
	for range n {
		if r := <-results; r.c != nil {
			r.c.Close()
		}
	}
}
