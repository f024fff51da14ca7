package httpmsg

import (
	"strings"
	"testing"
)

func fields(h *Header) string {
	var parts []string
	for i := 0; i < h.Len(); i++ {
		n, v := h.Field(i)
		parts = append(parts, string(n)+": "+string(v))
	}
	return strings.Join(parts, "|")
}

func TestHeaderLookupsIgnoreCase(t *testing.T) {
	var h Header
	h.AddString("Content-Type", "text/plain")
	h.AddString("X-Multi", "a")
	h.AddString("x-multi", "b")
	if string(h.Get("content-type")) != "text/plain" || !h.Has("CONTENT-TYPE") {
		t.Fatal("case-insensitive Get failed")
	}
	if h.Count("X-MULTI") != 2 {
		t.Fatalf("Count = %d", h.Count("X-MULTI"))
	}
	if h.Get("Missing") != nil {
		t.Fatal("Get of a missing field is not nil")
	}
}

func TestHeaderDelSetCombineKeepOrder(t *testing.T) {
	var h Header
	h.AddString("A", "1")
	h.AddString("B", "2")
	h.AddString("a", "3")
	h.AddString("C", "4")
	if n := h.Del("A"); n != 2 {
		t.Fatalf("Del removed %d", n)
	}
	if got := fields(&h); got != "B: 2|C: 4" {
		t.Fatalf("after Del: %s", got)
	}
	h.Set("B", "5")
	if got := fields(&h); got != "C: 4|B: 5" {
		t.Fatalf("after Set: %s", got)
	}
	h.AddString("X-Forwarded-For", "1.1.1.1")
	h.AddString("D", "6")
	h.AddString("x-forwarded-for", "2.2.2.2")
	i := h.Combine("X-Forwarded-For")
	h.AppendValue(i, ", ", []byte("3.3.3.3"))
	if got := fields(&h); got != "C: 4|B: 5|X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3|D: 6" {
		t.Fatalf("after Combine: %s", got)
	}
}

func TestHeaderHasTokenReadsLists(t *testing.T) {
	var h Header
	h.AddString("Connection", "keep-alive , Upgrade")
	h.AddString("Connection", "x-custom")
	for _, tok := range []string{"keep-alive", "upgrade", "X-Custom"} {
		if !h.HasToken("connection", tok) {
			t.Errorf("token %q not found", tok)
		}
	}
	if h.HasToken("Connection", "close") || h.HasToken("Connection", "keep") {
		t.Error("found a token that is not there")
	}
}

func TestRemoveHopByHopStripsListedAndConnectionNamedFields(t *testing.T) {
	tests := []struct {
		desc        string
		in          [][2]string
		keepUpgrade bool
		want        string
	}{
		{
			desc: "every listed field goes",
			in: [][2]string{{"Connection", "close"}, {"Keep-Alive", "timeout=5"}, {"Proxy-Connection", "keep-alive"},
				{"Proxy-Authorization", "Basic eA=="}, {"Proxy-Authenticate", "Basic"}, {"TE", "trailers"}, {"Trailer", "X"},
				{"Transfer-Encoding", "chunked"}, {"Upgrade", "websocket"}, {"Accept", "*/*"}},
			want: "Accept: */*",
		},
		{
			desc: "fields named in Connection go, case-insensitively",
			in:   [][2]string{{"Connection", "X-Secret, x-other"}, {"X-Secret", "1"}, {"X-Other", "2"}, {"X-Kept", "3"}},
			want: "X-Kept: 3",
		},
		{
			desc: "several Connection fields all count",
			in:   [][2]string{{"Connection", "X-A"}, {"X-A", "1"}, {"X-B", "2"}, {"Connection", "x-b"}},
			want: "",
		},
		{
			desc:        "upgrade kept when forwarded",
			in:          [][2]string{{"Connection", "Upgrade, X-A"}, {"Upgrade", "websocket"}, {"X-A", "1"}},
			keepUpgrade: true,
			want:        "Upgrade: websocket",
		},
		{
			desc: "empty and odd Connection elements are harmless",
			in:   [][2]string{{"Connection", ", ,connection"}, {"Host", "a"}},
			want: "Host: a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var h Header
			for _, f := range tt.in {
				h.AddString(f[0], f[1])
			}
			h.RemoveHopByHop(RequestHopByHop, tt.keepUpgrade)
			if got := fields(&h); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResponseHopByHopKeepsProxyAuthenticate(t *testing.T) {
	var h Header
	h.AddString("Proxy-Authenticate", `Basic realm="up"`)
	h.AddString("Transfer-Encoding", "chunked")
	h.RemoveHopByHop(ResponseHopByHop, false)
	if got := fields(&h); got != `Proxy-Authenticate: Basic realm="up"` {
		t.Fatalf("got %q", got)
	}
}

func TestHeaderOperationsDoNotAllocateOnceWarm(t *testing.T) {
	var h, out Header
	fill := func() {
		h.Reset()
		h.AddString("Host", "example.com")
		h.AddString("User-Agent", "test")
		h.AddString("Connection", "keep-alive, X-Drop")
		h.AddString("X-Drop", "1")
		h.AddString("Accept", "*/*")
	}
	fill()
	out.CopyFrom(&h)
	allocs := testing.AllocsPerRun(100, func() {
		fill()
		out.CopyFrom(&h)
		out.RemoveHopByHop(RequestHopByHop, false)
		_ = out.Get("user-agent")
		_ = out.HasToken("Connection", "close")
		out.Del("Host")
		out.AddString("Host", "example.com")
		out.AddString("Via", "1.1 janus")
	})
	if allocs != 0 {
		t.Fatalf("allocs per run = %v, want 0", allocs)
	}
}

func TestSplitAuthority(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		host    string
		port    uint16
		hasPort bool
		bad     bool
	}{
		{desc: "name", in: "example.com", host: "example.com"},
		{desc: "name and port", in: "example.com:8080", host: "example.com", port: 8080, hasPort: true},
		{desc: "empty port means default", in: "example.com:", host: "example.com"},
		{desc: "IPv4", in: "127.0.0.1:80", host: "127.0.0.1", port: 80, hasPort: true},
		{desc: "IPv6", in: "[::1]:443", host: "::1", port: 443, hasPort: true},
		{desc: "IPv6 without port", in: "[2001:db8::1]", host: "2001:db8::1"},
		{desc: "empty", in: "", bad: true},
		{desc: "port only", in: ":80", bad: true},
		{desc: "userinfo", in: "user@host", bad: true},
		{desc: "space", in: "a b", bad: true},
		{desc: "port out of range", in: "a:65536", bad: true},
		{desc: "port zero", in: "a:0", bad: true},
		{desc: "letters in port", in: "a:8o", bad: true},
		{desc: "unclosed bracket", in: "[::1", bad: true},
		{desc: "zone", in: "[fe80::1%25eth0]:80", bad: true},
		{desc: "junk after bracket", in: "[::1]x", bad: true},
		{desc: "slash", in: "a/b", bad: true},
		{desc: "bare IPv6", in: "::1", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			host, port, hasPort, err := SplitAuthority([]byte(tt.in))
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted %q", tt.in)
				}
				return
			}
			if err != nil || string(host) != tt.host || port != tt.port || hasPort != tt.hasPort {
				t.Fatalf("got %q %d %v %v", host, port, hasPort, err)
			}
		})
	}
}

func TestRequestHeadCopyFromIsDeep(t *testing.T) {
	var a, b RequestHead
	a.Method = a.StoreString("GET")
	a.Host = a.StoreString("example.com")
	a.Path = a.StoreString("/x")
	a.Header.AddString("Host", "example.com")
	b.CopyFrom(&a)
	a.Reset()
	a.Method = a.StoreString("PUT")
	a.Host = a.StoreString("other.org")
	if string(b.Method) != "GET" || string(b.Host) != "example.com" || string(b.Path) != "/x" || b.Header.Len() != 1 {
		t.Fatalf("copy changed with its source: %q %q %q", b.Method, b.Host, b.Path)
	}
}
