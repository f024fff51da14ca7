package config

import (
	"strings"
	"testing"
)

func TestHTTP3KeyIsCheckedWithFileLine(t *testing.T) {
	const routes = "    reverse: {routes: [{match: {path_prefix: /}, respond: {status: 200}}]}\n"
	for _, tc := range []struct {
		desc string
		yaml string
		want string
	}{
		{
			desc: "on a plain listener",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    http3: true\n" + routes,
			want: "t.yaml:3: listeners[0].http3: http3 is for TLS listeners with a reverse face",
		},
		{
			desc: "on a forward-only TLS listener",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    tls: {certificates: [{cert: a.pem, key: a.key}]}\n    http3: true\n    forward: {}\n",
			want: "t.yaml:4: listeners[0].http3: http3 is for TLS listeners with a reverse face",
		},
		{
			desc: "not a boolean",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    http3: sometimes\n" + routes,
			want: "t.yaml:3: listeners[0].http3",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	// http3: false is accepted anywhere: it asks for nothing.
	if _, err := Parse("t.yaml", []byte("listeners:\n  - listen: 127.0.0.1:1\n    http3: false\n"+routes)); err != nil {
		t.Errorf("http3: false on a plain listener: %v", err)
	}
}

func TestServesHTTP3Defaults(t *testing.T) {
	on, off := true, false
	tls, rev, fwd := &TLS{}, &Reverse{}, &Forward{}
	pp := &ProxyProtocol{}
	for _, tc := range []struct {
		desc string
		l    Listener
		want bool
	}{
		{desc: "TLS with a reverse face", l: Listener{TLS: tls, Reverse: rev}, want: true},
		{desc: "TLS with both faces", l: Listener{TLS: tls, Reverse: rev, Forward: fwd}, want: true},
		{desc: "turned off", l: Listener{TLS: tls, Reverse: rev, HTTP3: &off}},
		{desc: "plain listener", l: Listener{Reverse: rev}},
		{desc: "forward face only", l: Listener{TLS: tls, Forward: fwd}},
		{desc: "http not among the protocols", l: Listener{TLS: tls, Reverse: rev, Forward: fwd, Protocols: []string{"socks5"}}},
		{desc: "behind a PROXY protocol balancer", l: Listener{TLS: tls, Reverse: rev, ProxyProtocol: pp}},
		{desc: "behind a PROXY protocol balancer, asked for", l: Listener{TLS: tls, Reverse: rev, ProxyProtocol: pp, HTTP3: &on}, want: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := tc.l.ServesHTTP3(); got != tc.want {
				t.Errorf("ServesHTTP3() = %v, want %v", got, tc.want)
			}
		})
	}
}
