package cache

import (
	"testing"

	"github.com/janus-proxy/janus/internal/httpmsg"
)

func TestKey(t *testing.T) {
	origin := func(path string, kv ...string) *httpmsg.RequestHead {
		h := &httpmsg.RequestHead{Method: []byte("GET"), Form: httpmsg.OriginForm, Path: []byte(path)}
		fields(&h.Header, kv)
		return h
	}
	tests := []struct {
		desc string
		req  *httpmsg.RequestHead
		tls  bool
		want string
	}{
		{desc: "RFC9111_4.1_absolute_form_host_lower_cased_port_explicit", req: newReq("GET", "http://Example.COM/a?b=C"), want: "GET http://example.com:80/a?b=C"},
		{desc: "RFC9111_4.1_HEAD_shares_GET_class", req: newReq("HEAD", "http://example.com/"), want: "GET http://example.com:80/"},
		{desc: "RFC9111_4.1_default_port_normalised", req: newReq("GET", "https://example.com:443/x"), want: "GET https://example.com:443/x"},
		{desc: "RFC9111_4.1_other_port_kept", req: newReq("GET", "http://example.com:8080/x"), want: "GET http://example.com:8080/x"},
		{desc: "RFC9110_7.1_origin_form_uses_host_field", req: origin("/p", "Host: WWW.Example.com"), want: "GET http://www.example.com:80/p"},
		{desc: "RFC9110_7.1_origin_form_over_tls_is_https", req: origin("/p", "Host: example.com"), tls: true, want: "GET https://example.com:443/p"},
		{desc: "RFC9110_7.1_path_case_kept", req: origin("/A%2fB", "Host: h:81"), want: "GET http://h:81/A%2fB"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := AppendKey(nil, tt.req, tt.tls)
			if !ok || string(got) != tt.want {
				t.Errorf("got %q %v, want %q", got, ok, tt.want)
			}
		})
	}
	if _, ok := AppendKey(nil, origin("/"), false); ok {
		t.Error("a request without a host has no key")
	}
}

func TestVaryNormalisation(t *testing.T) {
	tests := []struct {
		desc     string
		stored   []string
		incoming []string
		name     string
		match    bool
	}{
		{desc: "RFC9111_4.1_same_value", stored: []string{"Accept-Encoding: gzip"}, incoming: []string{"Accept-Encoding: gzip"}, name: "accept-encoding", match: true},
		{desc: "RFC9111_4.1_whitespace_normalised", stored: []string{"Accept-Encoding: gzip,br"}, incoming: []string{"Accept-Encoding:  gzip ,  br "}, name: "accept-encoding", match: true},
		{desc: "RFC9111_4.1_field_lines_combined", stored: []string{"Accept-Encoding: gzip, br"}, incoming: []string{"Accept-Encoding: gzip", "Accept-Encoding: br"}, name: "accept-encoding", match: true},
		{desc: "RFC9111_4.1_token_case_normalised", stored: []string{"Accept-Encoding: GZIP"}, incoming: []string{"Accept-Encoding: gzip"}, name: "accept-encoding", match: true},
		{desc: "RFC9111_4.1_other_field_case_kept", stored: []string{"X-Flavour: Blue"}, incoming: []string{"X-Flavour: blue"}, name: "x-flavour", match: false},
		{desc: "RFC9111_4.1_different_value", stored: []string{"Accept-Encoding: gzip"}, incoming: []string{"Accept-Encoding: br"}, name: "accept-encoding", match: false},
		{desc: "RFC9111_4.1_absent_matches_absent", name: "accept-language", match: true},
		{desc: "RFC9111_4.1_absent_does_not_match_empty", stored: nil, incoming: []string{"Accept-Language:"}, name: "accept-language", match: false},
		{desc: "RFC9111_4.1_order_matters", stored: []string{"Accept-Encoding: br, gzip"}, incoming: []string{"Accept-Encoding: gzip, br"}, name: "accept-encoding", match: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var s, in httpmsg.Header
			fields(&s, tt.stored)
			fields(&in, tt.incoming)
			key := secondaryKey(&s, []string{tt.name})
			var scratch []byte
			if got := varyMatches(&in, key, &scratch); got != tt.match {
				t.Errorf("got %v (stored %+v)", got, key)
			}
		})
	}
}
