package outbound

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
)

func TestStaticResolverAnswersFromHostsAndDelegatesTheRest(t *testing.T) {
	next := StaticResolver{Hosts: map[string][]netip.Addr{"upstream.test": addrs("127.0.0.8")}}
	r := StaticResolver{
		Hosts: map[string][]netip.Addr{
			"app.test":         addrs("127.0.0.2", "::1"),
			"Mixed.Case.Test.": addrs("127.0.0.3"),
			"v4only.test":      addrs("127.0.0.4"),
			"mapped.test":      addrs("::ffff:127.0.0.5"),
		},
		Next: next,
	}
	cases := []struct {
		desc    string
		r       Resolver
		network string
		host    string
		want    []netip.Addr
		miss    bool
	}{
		{desc: "exact name", r: r, network: "ip", host: "app.test", want: addrs("127.0.0.2", "::1")},
		{desc: "query in upper case", r: r, network: "ip", host: "APP.Test", want: addrs("127.0.0.2", "::1")},
		{desc: "query with trailing dot", r: r, network: "ip", host: "app.test.", want: addrs("127.0.0.2", "::1")},
		{desc: "key in mixed case with trailing dot", r: r, network: "ip", host: "mixed.case.test", want: addrs("127.0.0.3")},
		{desc: "ip4 filters", r: r, network: "ip4", host: "app.test", want: addrs("127.0.0.2")},
		{desc: "ip6 filters", r: r, network: "ip6", host: "app.test", want: addrs("::1")},
		{desc: "no address of the family", r: r, network: "ip6", host: "v4only.test", miss: true},
		{desc: "mapped entry is IPv4", r: r, network: "ip4", host: "mapped.test", want: addrs("127.0.0.5")},
		{desc: "unknown name goes to Next", r: r, network: "ip", host: "upstream.test", want: addrs("127.0.0.8")},
		{desc: "unknown to Next too", r: r, network: "ip", host: "nowhere.test", miss: true},
		{desc: "nil Next", r: StaticResolver{}, network: "ip", host: "app.test", miss: true},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := tc.r.LookupNetIP(context.Background(), tc.network, tc.host)
			if tc.miss {
				var de *net.DNSError
				if !errors.As(err, &de) || !de.IsNotFound {
					t.Fatalf("LookupNetIP(%q) = %v, %v; want a not-found *net.DNSError", tc.host, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("LookupNetIP(%q) = %v, %v; want %v", tc.host, got, err, tc.want)
			}
		})
	}
}

func TestStaticResolverAnswerIsACopy(t *testing.T) {
	hosts := map[string][]netip.Addr{"a.test": addrs("127.0.0.2")}
	r := StaticResolver{Hosts: hosts}
	got, _ := r.LookupNetIP(context.Background(), "ip", "a.test")
	got[0] = addr("127.0.0.9")
	if hosts["a.test"][0] != addr("127.0.0.2") {
		t.Fatal("changing the answer changed Hosts")
	}
}
