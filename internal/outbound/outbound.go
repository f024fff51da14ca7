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
	"strconv"
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
// is not usable; set Resolver.
type Dialer struct {
	Resolver Resolver      // how names are resolved
	Timeout  time.Duration // per dial attempt; 0 means 10s
	// Self reports whether addr:port is one of Janus's own listeners; dialing
	// one would loop. Nil means no check.
	Self func(netip.AddrPort) bool
}

// DialTCP resolves host (a name or an IP literal), keeps the addresses that
// check allows and that are not Janus itself, and dials them in order until
// one answers.
func (d *Dialer) DialTCP(ctx context.Context, host string, port uint16, check Check) (*net.TCPConn, error) {
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, port)
		if d.Self != nil && d.Self(ap) {
			if firstErr == nil {
				firstErr = &Error{Kind: KindLoop, Host: host, Addr: a, Err: errors.New("destination is one of Janus's own listeners")}
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
		c, err := d.dialAddr(ctx, ap)
		if err == nil {
			return c, nil
		}
		if firstErr == nil || KindOf(firstErr) == KindDenied || KindOf(firstErr) == KindLoop {
			firstErr = &Error{Kind: classify(err), Host: host, Addr: a, Err: err}
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

func (d *Dialer) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 10 * time.Second
}

func (d *Dialer) dialAddr(ctx context.Context, ap netip.AddrPort) (*net.TCPConn, error) {
	nd := net.Dialer{Timeout: d.timeout()}
	c, err := nd.DialContext(ctx, "tcp", ap.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// Resolve returns the first address of host that check allows and that is
// not Janus itself (for UDP relaying, where each datagram is checked).
func (d *Dialer) Resolve(ctx context.Context, host string, port uint16, check Check) (netip.Addr, error) {
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return netip.Addr{}, err
	}
	var firstErr error
	for _, a := range addrs {
		if d.Self != nil && d.Self(netip.AddrPortFrom(a, port)) {
			firstErr = &Error{Kind: KindLoop, Host: host, Addr: a, Err: errors.New("destination is one of Janus's own listeners")}
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
		return a, nil
	}
	return netip.Addr{}, firstErr
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

func (d *Dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	rctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	addrs, err := d.Resolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		kind := KindNoHost
		var de *net.DNSError
		if errors.As(err, &de) && de.IsTimeout {
			kind = KindTimeout
		}
		return nil, &Error{Kind: kind, Host: host, Err: err}
	}
	if len(addrs) == 0 {
		return nil, &Error{Kind: KindNoHost, Host: host, Err: errors.New("no addresses")}
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
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
