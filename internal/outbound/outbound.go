// Package outbound is the only place in Janus that opens connections to the
// outside world. It resolves a destination once, asks the caller's check
// about every resolved address, and dials exactly the address that passed, so
// DNS rebinding cannot move a connection to a forbidden address between the
// check and the dial. It also refuses Janus's own listeners (proxy loops).
package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Resolver looks up a host's addresses. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Check decides whether an address may be dialed; a non-nil error refuses
// it and is wrapped in the returned *Error with Kind Denied.
type Check func(netip.Addr) error

// Kind classifies a dial failure so that faces can pick the status code or
// SOCKS reply.
type Kind uint8

// Failure kinds.
const (
	KindOther           Kind = iota // 502, SOCKS 0x01
	KindDenied                      // the check refused every address: 403, SOCKS 0x02
	KindLoop                        // the destination is Janus itself: 403 (508 in spirit), SOCKS 0x02
	KindNoHost                      // DNS: no such host or no address: 502, SOCKS 0x04
	KindRefused                     // connection refused: 502, SOCKS 0x05
	KindNetUnreachable              // 502, SOCKS 0x03
	KindHostUnreachable             // 502, SOCKS 0x04
	KindTimeout                     // 504, SOCKS 0x04
)

var kindNames = [...]string{"other", "denied", "loop", "no-host", "refused", "network-unreachable", "host-unreachable", "timeout"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a failed dial or resolution.
type Error struct {
	Kind Kind
	Host string     // as asked
	Addr netip.Addr // the address involved, if one was reached
	Err  error
}

func (e *Error) Error() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("dial %s (%s): %s: %v", e.Host, e.Addr, e.Kind, e.Err)
	}
	return fmt.Sprintf("dial %s: %s: %v", e.Host, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, KindOther if it is not an *Error.
func KindOf(err error) Kind {
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Kind
	}
	return KindOther
}

// Dialer dials TCP and opens UDP sockets on behalf of clients. The zero value
// dials with net.DefaultResolver and the defaults below.
//
// Connections get Go's TCP defaults: TCP_NODELAY on (a proxy forwards what
// it has at once; coalescing is the endpoints' business) and keep-alive
// probes after KeepAlive of silence, so a tunnel whose origin vanished
// without a FIN or RST ends even without an idle limit.
type Dialer struct {
	// Resolver resolves names; nil means net.DefaultResolver. Use a
	// StaticResolver to pin names to addresses (tests, resolver.hosts).
	Resolver Resolver
	// Timeout bounds each connection attempt and the name resolution; 0
	// means 10s.
	Timeout time.Duration
	// Budget bounds one DialTCP as a whole (resolution and every attempt);
	// 0 means 30s. The caller's context can end it sooner.
	Budget time.Duration
	// AttemptDelay is how long an attempt runs alone before the next
	// address is tried alongside it (RFC 8305 §5, Connection Attempt Delay);
	// 0 means 250ms. A failed attempt starts the next one at once.
	AttemptDelay time.Duration
	// KeepAlive is the idle time before TCP keep-alive probes; 0 means Go's
	// default (15s), negative turns probes off.
	KeepAlive time.Duration
	// Self reports whether addr:port is one of Janus's own listeners; dialing
	// one would loop. Nil means no check. See SelfAddrs.
	Self func(netip.AddrPort) bool
}

// DialTCP resolves host (a name or an IP literal) once, asks Self and check
// about every resolved address, and dials only the addresses that passed, in
// the resolver's order with address families interleaved (RFC 8305 §4),
// starting a new attempt every AttemptDelay until one connects. The
// connection returned is to an address that passed the check: nothing is
// resolved again between the check and the dial, so DNS rebinding cannot
// move it. Errors are *Error; KindDenied or KindLoop means no connection was
// attempted at all.
func (d *Dialer) DialTCP(ctx context.Context, host string, port uint16, check Check) (*net.TCPConn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.budget())
	defer cancel()
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	allowed, err := d.admit(host, port, addrs, check)
	if err != nil {
		return nil, err
	}
	return d.race(ctx, host, interleave(allowed, port))
}

// admit returns the addresses that are not Janus itself and that check
// allows, in the resolver's order; every address is asked about, so a policy
// sees every candidate. With none left, the error is the first refusal.
func (d *Dialer) admit(host string, port uint16, addrs []netip.Addr, check Check) ([]netip.Addr, error) {
	allowed := addrs[:0:0]
	var firstErr error
	for _, a := range addrs {
		if d.Self != nil && d.Self(netip.AddrPortFrom(a, port)) {
			if firstErr == nil {
				firstErr = &Error{Kind: KindLoop, Host: host, Addr: a, Err: fmt.Errorf("port %d there is one of Janus's own listeners", port)}
			}
			continue
		}
		if check != nil {
			if err := check(a); err != nil {
				if firstErr == nil {
					firstErr = &Error{Kind: KindDenied, Host: host, Addr: a, Err: err}
				}
				continue
			}
		}
		allowed = append(allowed, a)
	}
	if len(allowed) == 0 {
		return nil, firstErr
	}
	return allowed, nil
}

func (d *Dialer) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 10 * time.Second
}

func (d *Dialer) budget() time.Duration {
	if d.Budget > 0 {
		return d.Budget
	}
	return 30 * time.Second
}

func (d *Dialer) attemptDelay() time.Duration {
	if d.AttemptDelay > 0 {
		return d.AttemptDelay
	}
	return 250 * time.Millisecond
}

// Resolve returns the first address of host, in the resolver's order, that
// check allows and that is not Janus itself (for UDP relaying, where each
// datagram's destination is checked this way). Every address is asked about.
func (d *Dialer) Resolve(ctx context.Context, host string, port uint16, check Check) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, d.budget())
	defer cancel()
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return netip.Addr{}, err
	}
	allowed, err := d.admit(host, port, addrs, check)
	if err != nil {
		return netip.Addr{}, err
	}
	return allowed[0], nil
}

// ListenUDP opens a UDP socket on the local address laddr (port 0 for any)
// for relaying datagrams. Every destination must be checked with Resolve
// before a datagram is sent to it.
func (d *Dialer) ListenUDP(laddr netip.AddrPort) (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(laddr))
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", laddr, err)
	}
	return c, nil
}

// resolve returns host's addresses, unmapped and without duplicates. An IP
// literal (brackets allowed) is used as it is.
func (d *Dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	lit := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(lit); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	rctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	addrs, err := r.LookupNetIP(rctx, "ip", host)
	if err != nil {
		kind := KindNoHost
		var de *net.DNSError
		if errors.As(err, &de) && de.IsTimeout || errors.Is(err, context.DeadlineExceeded) {
			kind = KindTimeout
		} else if errors.Is(err, context.Canceled) {
			kind = KindOther
		}
		return nil, &Error{Kind: kind, Host: host, Err: err}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a = a.Unmap(); a.IsValid() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, &Error{Kind: KindNoHost, Host: host, Err: errors.New("no addresses")}
	}
	return out, nil
}

func classify(err error) Kind {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.ENETUNREACH):
		return KindNetUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH):
		return KindHostUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	}
	return KindOther
}
