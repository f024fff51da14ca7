package upstream

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Target is one configured upstream address.
type Target struct {
	// Addr is "host:port": an IP literal (IPv6 in brackets) or a DNS name,
	// which is resolved again every Options.ResolveInterval; each address
	// of the answer (A and AAAA) is its own Host with the target's weight.
	Addr string
	// Weight is the target's share relative to the others, 1 to MaxWeight;
	// 0 means 1.
	Weight int
}

// MaxWeight bounds a target's weight, which keeps the balancers'
// arithmetic far from overflow.
const MaxWeight = 10000

// resolveTimeout bounds one lookup of a DNS-named target.
const resolveTimeout = 5 * time.Second

// target is a parsed Target.
type target struct {
	addr   string
	host   string
	port   uint16
	ip     netip.Addr // valid for an IP literal
	weight int32
}

func parseTarget(t Target) (target, error) {
	host, portText, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return target{}, fmt.Errorf("target %q: %w", t.Addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return target{}, fmt.Errorf("target %q: bad port %q", t.Addr, portText)
	}
	if t.Weight < 0 || t.Weight > MaxWeight {
		return target{}, fmt.Errorf("target %q: weight %d is not in 1..%d", t.Addr, t.Weight, MaxWeight)
	}
	pt := target{addr: t.Addr, host: host, port: uint16(port), weight: int32(max(t.Weight, 1))}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return target{}, fmt.Errorf("target %q: zoned addresses are not supported", t.Addr)
		}
		pt.ip = ip.Unmap()
		return pt, nil
	}
	if !validName(host) {
		return target{}, fmt.Errorf("target %q: %q is neither an IP address nor a DNS name", t.Addr, host)
	}
	return pt, nil
}

// validName accepts DNS names as resolvers take them (RFC 1123 §2.1
// letters, digits and hyphens, plus underscores seen in service names), so
// that a typo fails the config rather than every lookup.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// collect returns the pool's members: literal targets as they are, DNS
// names with their last answer (looked up now when there is none, or
// always when fresh is set). Duplicate addresses are merged, adding their
// weights. The order is the targets' order, each name's addresses sorted,
// so that round robin and hashing do not depend on the resolver's order.
func (p *Pool) collect(ctx context.Context, fresh bool) []member {
	var ms []member
	index := map[netip.AddrPort]int{}
	add := func(t target, a netip.Addr) {
		ap := netip.AddrPortFrom(a, t.port)
		if i, ok := index[ap]; ok {
			ms[i].weight = min(ms[i].weight+t.weight, MaxWeight)
			return
		}
		index[ap] = len(ms)
		ms = append(ms, member{target: t.addr, name: t.host, addr: ap, weight: t.weight})
	}
	looked := map[string]bool{}
	for _, t := range p.targets {
		if t.ip.IsValid() {
			add(t, t.ip)
			continue
		}
		addrs, ok := p.reg.lastAnswer(p.group, t.host)
		if (fresh || !ok) && !looked[t.host] {
			looked[t.host] = true
			if answer, err := p.lookup(ctx, t.host); err != nil {
				p.log.Warn("upstream name not resolved", "pool", p.name, "name", t.host, "err", err)
			} else {
				p.reg.setAnswer(p.group, t.host, answer)
				addrs = answer
			}
		}
		for _, a := range addrs {
			add(t, a)
		}
	}
	return ms
}

// lookup resolves name to its addresses, unmapped, sorted, without
// duplicates.
func (p *Pool) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	r := p.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, min(resolveTimeout, p.opts.ResolveInterval))
	defer cancel()
	answer, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	var addrs []netip.Addr
	for _, a := range answer {
		if a = a.Unmap(); a.IsValid() {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", name)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs), nil
}

// resolveLoop follows the DNS-named targets' A and AAAA records. A failed
// lookup keeps the last answer: a DNS outage must not empty the pool.
func (p *Pool) resolveLoop(ctx context.Context) {
	t := time.NewTicker(p.opts.ResolveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ms := p.collect(ctx, true)
		if ctx.Err() != nil {
			return
		}
		if !sameMembers(p.members.Load(), ms) {
			p.log.Info("upstream addresses changed", "pool", p.name, "hosts", len(ms))
			p.setMembers(ms)
		}
	}
}

func sameMembers(m *members, ms []member) bool {
	if len(m.hosts) != len(ms) {
		return false
	}
	for i, h := range m.hosts {
		if h.addr != ms[i].addr || m.weights[i] != ms[i].weight {
			return false
		}
	}
	return true
}
