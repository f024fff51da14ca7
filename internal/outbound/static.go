package outbound

import (
	"context"
	"net"
	"net/netip"
	"strings"
)

// StaticResolver answers for the names in Hosts from the map and passes
// every other name to Next. Names match case-insensitively and without a
// trailing dot (RFC 4343 §2, RFC 1034 §3.1), in Hosts and in queries alike.
// The config exposes it as resolver.hosts, so tests and examples can map
// names to loopback aliases without DNS.
type StaticResolver struct {
	Hosts map[string][]netip.Addr
	// Next resolves the names Hosts does not have; nil answers "no such
	// host" for them.
	Next Resolver
}

var _ Resolver = StaticResolver{}

// LookupNetIP implements Resolver. network is "ip", "ip4" or "ip6"; a name
// in Hosts with no address of the asked family is "no such host", as a DNS
// name without such records would be.
func (r StaticResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, ok := r.lookup(host)
	if !ok {
		if r.Next == nil {
			return nil, notFound(host)
		}
		return r.Next.LookupNetIP(ctx, network, host)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if network == "ip" || network == "ip4" && a.Is4() || network == "ip6" && a.Is6() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, notFound(host)
	}
	return out, nil
}

func (r StaticResolver) lookup(host string) ([]netip.Addr, bool) {
	name := canonicalName(host)
	if addrs, ok := r.Hosts[name]; ok {
		return addrs, true
	}
	// Keys written in another case or with a trailing dot: Hosts is a small
	// map from the config, so a scan costs less than a normalised copy.
	for k, addrs := range r.Hosts {
		if canonicalName(k) == name {
			return addrs, true
		}
	}
	return nil, false
}

func canonicalName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

func notFound(host string) error {
	return &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
