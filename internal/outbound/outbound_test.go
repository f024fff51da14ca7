package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

var errForbidden = errors.New("forbidden by test policy")

// deny returns a check refusing the given addresses.
func deny(bad ...netip.Addr) Check {
	return func(a netip.Addr) error {
		if slices.Contains(bad, a) {
			return fmt.Errorf("%s: %w", a, errForbidden)
		}
		return nil
	}
}

func TestDialTCPErrorKinds(t *testing.T) {
	lo := addr("127.0.0.1")
	cases := []struct {
		desc  string
		setup func(t *testing.T) (d *Dialer, host string, port uint16, check Check)
		want  Kind
		addr  netip.Addr // the address the error names, if any
	}{
		{desc: "closed loopback port is refused", want: KindRefused, addr: lo,
			setup: func(t *testing.T) (*Dialer, string, uint16, Check) {
				return &Dialer{}, "127.0.0.1", closedPort(t), nil
			}},
		{desc: "check refusing the address is denied", want: KindDenied, addr: lo,
			setup: func(t *testing.T) (*Dialer, string, uint16, Check) {
				l := listenCounting(t, netip.AddrPortFrom(lo, 0))
				return &Dialer{}, "127.0.0.1", l.addrPort().Port(), deny(lo)
			}},
		{desc: "own listener is a loop", want: KindLoop, addr: lo,
			setup: func(t *testing.T) (*Dialer, string, uint16, Check) {
				l := listenCounting(t, netip.AddrPortFrom(lo, 0))
				self, err := SelfAddrs([]netip.AddrPort{l.addrPort()})
				if err != nil {
					t.Fatal(err)
				}
				return &Dialer{Self: self}, "127.0.0.1", l.addrPort().Port(), nil
			}},
		{desc: "loopback alias of a wildcard listener is a loop", want: KindLoop, addr: addr("127.0.0.9"),
			setup: func(t *testing.T) (*Dialer, string, uint16, Check) {
				l := listenCounting(t, netip.AddrPortFrom(netip.IPv6Unspecified(), 0))
				self, err := SelfAddrs([]netip.AddrPort{l.addrPort()})
				if err != nil {
					t.Fatal(err)
				}
				return &Dialer{Self: self}, "127.0.0.9", l.addrPort().Port(), nil
			}},
		{desc: "name missing from a static resolver is no-host", want: KindNoHost,
			setup: func(t *testing.T) (*Dialer, string, uint16, Check) {
				r := StaticResolver{Hosts: map[string][]netip.Addr{"known.test": {lo}}}
				return &Dialer{Resolver: r}, "unknown.test", 80, nil
			}},
		{desc: "silent origin times out", want: KindTimeout, addr: addr("127.0.0.1"),
			setup: func(t *testing.T) (*Dialer, string, uint16, Check) {
				port := blackhole(t, lo, 0)
				return &Dialer{Timeout: 200 * time.Millisecond}, "127.0.0.1", port, nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			checkGoroutines(t)
			d, host, port, check := tc.setup(t)
			c, err := d.DialTCP(context.Background(), host, port, check)
			if err == nil {
				c.Close()
				t.Fatalf("DialTCP(%s, %d) connected, want %s", host, port, tc.want)
			}
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if oe.Kind != tc.want || KindOf(err) != tc.want {
				t.Errorf("Kind = %s, want %s (%v)", oe.Kind, tc.want, err)
			}
			if oe.Host != host || oe.Addr != tc.addr {
				t.Errorf("error names host %q addr %v, want %q %v", oe.Host, oe.Addr, host, tc.addr)
			}
		})
	}
}

func TestNameResolvingToForbiddenAliasIsDeniedWithoutConnecting(t *testing.T) {
	checkGoroutines(t)
	evil := addr("127.0.0.2")
	l := listenCounting(t, netip.AddrPortFrom(evil, 0))
	d := &Dialer{Resolver: StaticResolver{Hosts: map[string][]netip.Addr{"rebind.test": {evil}}}}
	c, err := d.DialTCP(context.Background(), "rebind.test", l.addrPort().Port(), deny(evil))
	if err == nil {
		c.Close()
		t.Fatal("connected to a forbidden address")
	}
	if KindOf(err) != KindDenied || !errors.Is(err, errForbidden) {
		t.Fatalf("error = %v, want KindDenied wrapping the check's error", err)
	}
	// The same listener does accept when allowed, so a zero count means
	// that no connection was attempted.
	time.Sleep(100 * time.Millisecond)
	if n := l.accepted.Load(); n != 0 {
		t.Fatalf("forbidden listener accepted %d connections", n)
	}
	c, err = d.DialTCP(context.Background(), "rebind.test", l.addrPort().Port(), nil)
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	c.Close()
}

func TestCheckSeesEveryCandidateInResolverOrder(t *testing.T) {
	checkGoroutines(t)
	l := listenCounting(t, netip.AddrPortFrom(addr("127.0.0.2"), 0))
	all := addrs("127.0.0.2", "::1", "127.0.0.3", "::ffff:127.0.0.4")
	var (
		mu   sync.Mutex
		seen []netip.Addr
	)
	check := func(a netip.Addr) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, a)
		return nil
	}
	d := &Dialer{Resolver: StaticResolver{Hosts: map[string][]netip.Addr{"multi.test": all}}}
	c, err := d.DialTCP(context.Background(), "multi.test", l.addrPort().Port(), check)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := addrs("127.0.0.2", "::1", "127.0.0.3", "127.0.0.4") // mapped form unmapped
	if !slices.Equal(seen, want) {
		t.Errorf("check saw %v, want %v", seen, want)
	}
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != addr("127.0.0.2") {
		t.Errorf("connected to %s, want the first address 127.0.0.2", got)
	}
}

func TestDialSkipsDeniedAddressesAndDialsTheAllowedOne(t *testing.T) {
	checkGoroutines(t)
	good := listenCounting(t, netip.AddrPortFrom(addr("127.0.0.3"), 0))
	port := good.addrPort().Port()
	bad := listenCounting(t, netip.AddrPortFrom(addr("127.0.0.2"), port))
	r := StaticResolver{Hosts: map[string][]netip.Addr{"mixed.test": addrs("127.0.0.2", "127.0.0.3")}}
	c, err := (&Dialer{Resolver: r}).DialTCP(context.Background(), "mixed.test", port, deny(addr("127.0.0.2")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != netip.AddrPortFrom(addr("127.0.0.3"), port) {
		t.Errorf("connected to %s, want 127.0.0.3:%d", got, port)
	}
	time.Sleep(50 * time.Millisecond)
	if n := bad.accepted.Load(); n != 0 {
		t.Errorf("denied address accepted %d connections", n)
	}
}

func TestRefusedAddressStartsTheNextAttemptAtOnce(t *testing.T) {
	checkGoroutines(t)
	good := listenCounting(t, netip.AddrPortFrom(addr("127.0.0.3"), 0))
	r := StaticResolver{Hosts: map[string][]netip.Addr{"h.test": addrs("127.0.0.2", "127.0.0.3")}}
	d := &Dialer{Resolver: r, AttemptDelay: 5 * time.Second}
	start := time.Now()
	c, err := d.DialTCP(context.Background(), "h.test", good.addrPort().Port(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v: the refused attempt did not start the next one at once", took)
	}
}

func TestSilentAddressIsRacedAfterAttemptDelay(t *testing.T) {
	checkGoroutines(t)
	good := listenCounting(t, netip.AddrPortFrom(addr("127.0.0.3"), 0))
	port := good.addrPort().Port()
	blackhole(t, addr("127.0.0.2"), port)
	r := StaticResolver{Hosts: map[string][]netip.Addr{"h.test": addrs("127.0.0.2", "127.0.0.3")}}
	d := &Dialer{Resolver: r, Timeout: 10 * time.Second, AttemptDelay: 50 * time.Millisecond}
	start := time.Now()
	c, err := d.DialTCP(context.Background(), "h.test", port, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if took := time.Since(start); took < 50*time.Millisecond || took > 2*time.Second {
		t.Errorf("took %v, want about the 50ms attempt delay", took)
	}
}

func TestBudgetBoundsTheWholeDial(t *testing.T) {
	checkGoroutines(t)
	port := blackhole(t, addr("127.0.0.2"), 0)
	blackhole(t, addr("127.0.0.3"), port)
	r := StaticResolver{Hosts: map[string][]netip.Addr{"h.test": addrs("127.0.0.2", "127.0.0.3")}}
	d := &Dialer{Resolver: r, Timeout: 10 * time.Second, Budget: 300 * time.Millisecond, AttemptDelay: 50 * time.Millisecond}
	start := time.Now()
	_, err := d.DialTCP(context.Background(), "h.test", port, nil)
	took := time.Since(start)
	if KindOf(err) != KindTimeout {
		t.Errorf("error = %v, want KindTimeout", err)
	}
	if took > 2*time.Second {
		t.Errorf("took %v, want about the 300ms budget", took)
	}
}

func TestContextCancelStopsEveryAttempt(t *testing.T) {
	checkGoroutines(t)
	port := blackhole(t, addr("127.0.0.2"), 0)
	blackhole(t, addr("127.0.0.3"), port)
	r := StaticResolver{Hosts: map[string][]netip.Addr{"h.test": addrs("127.0.0.2", "127.0.0.3")}}
	d := &Dialer{Resolver: r, Timeout: 10 * time.Second, AttemptDelay: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := d.DialTCP(ctx, "h.test", port, nil)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want one wrapping context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v after a cancel at 100ms", took)
	}
}

// failingResolver fails the test if it is asked anything.
type failingResolver struct{ t *testing.T }

func (r failingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.t.Errorf("resolver asked about %q", host)
	return nil, errors.New("unexpected lookup")
}

func TestIPLiteralsAreNeverResolved(t *testing.T) {
	checkGoroutines(t)
	l := listenCounting(t, netip.AddrPortFrom(addr("::1"), 0))
	d := &Dialer{Resolver: failingResolver{t}}
	for _, host := range []string{"::1", "[::1]"} {
		c, err := d.DialTCP(context.Background(), host, l.addrPort().Port(), nil)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		c.Close()
	}
}

func TestResolveReturnsTheFirstAllowedAddress(t *testing.T) {
	lo := addr("127.0.0.1")
	self := selfSet([]netip.AddrPort{netip.AddrPortFrom(lo, 53)}, nil)
	r := StaticResolver{Hosts: map[string][]netip.Addr{
		"mixed.test": addrs("127.0.0.2", "127.0.0.1", "::1"),
		"self.test":  {lo},
	}}
	d := &Dialer{Resolver: r, Self: self}
	cases := []struct {
		desc  string
		host  string
		check Check
		want  netip.Addr
		kind  Kind
	}{
		{desc: "first address when all are allowed", host: "mixed.test", want: addr("127.0.0.2")},
		{desc: "skips denied and self", host: "mixed.test", check: deny(addr("127.0.0.2")), want: addr("::1")},
		{desc: "only self is a loop", host: "self.test", kind: KindLoop},
		{desc: "all denied", host: "mixed.test", check: deny(addrs("127.0.0.2", "::1")...), kind: KindDenied},
		{desc: "unknown name", host: "nope.test", kind: KindNoHost},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := d.Resolve(context.Background(), tc.host, 53, tc.check)
			if tc.want.IsValid() {
				if err != nil || got != tc.want {
					t.Fatalf("Resolve = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if KindOf(err) != tc.kind {
				t.Fatalf("Resolve = %v, %v; want kind %s", got, err, tc.kind)
			}
		})
	}
}

func TestInterleaveAlternatesFamiliesFromTheFirst(t *testing.T) {
	cases := []struct {
		desc string
		in   []netip.Addr
		want []netip.Addr
	}{
		{desc: "single", in: addrs("192.0.2.1"), want: addrs("192.0.2.1")},
		{desc: "one family keeps order", in: addrs("192.0.2.3", "192.0.2.1", "192.0.2.2"), want: addrs("192.0.2.3", "192.0.2.1", "192.0.2.2")},
		{desc: "v6 first", in: addrs("2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"),
			want: addrs("2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2")},
		{desc: "v4 first, uneven", in: addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"),
			want: addrs("192.0.2.1", "2001:db8::1", "192.0.2.2", "192.0.2.3")},
		{desc: "already mixed", in: addrs("2001:db8::1", "192.0.2.1", "192.0.2.2", "2001:db8::2", "2001:db8::3"),
			want: addrs("2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "2001:db8::3")},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got := interleave(tc.in, 443)
			var gotAddrs []netip.Addr
			for _, ap := range got {
				if ap.Port() != 443 {
					t.Fatalf("port %d, want 443", ap.Port())
				}
				gotAddrs = append(gotAddrs, ap.Addr())
			}
			if !slices.Equal(gotAddrs, tc.want) {
				t.Errorf("interleave(%v) = %v, want %v", tc.in, gotAddrs, tc.want)
			}
		})
	}
}

func TestClassifyMapsSystemErrors(t *testing.T) {
	wrap := func(e error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", e)}
	}
	cases := []struct {
		desc string
		err  error
		want Kind
	}{
		{desc: "refused", err: wrap(syscall.ECONNREFUSED), want: KindRefused},
		{desc: "network unreachable", err: wrap(syscall.ENETUNREACH), want: KindNetUnreachable},
		{desc: "host unreachable", err: wrap(syscall.EHOSTUNREACH), want: KindHostUnreachable},
		{desc: "kernel timeout", err: wrap(syscall.ETIMEDOUT), want: KindTimeout},
		{desc: "deadline", err: fmt.Errorf("dial: %w", context.DeadlineExceeded), want: KindTimeout},
		{desc: "cancel", err: fmt.Errorf("dial: %w", context.Canceled), want: KindOther},
		{desc: "anything else", err: errors.New("boom"), want: KindOther},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

func TestKindNames(t *testing.T) {
	for k := KindOther; k <= KindTimeout; k++ {
		if s := k.String(); s == "" || s[0] == 'K' {
			t.Errorf("Kind %d has no name: %q", k, s)
		}
	}
	if s := Kind(200).String(); s != "Kind(200)" {
		t.Errorf("Kind(200).String() = %q", s)
	}
}

func TestListenUDPOpensALoopbackSocket(t *testing.T) {
	c, err := (&Dialer{}).ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ap := c.LocalAddr().(*net.UDPAddr).AddrPort(); ap.Port() == 0 || !ap.Addr().IsLoopback() {
		t.Errorf("bound to %s", ap)
	}
}
