package httpface

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// headerOrigin answers with the request's Host and header as JSON, and
// adds hop-by-hop fields of its own to the response.
func headerOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := map[string][]string{"Host": {r.Host}}
		for k, v := range r.Header {
			seen[k] = v
		}
		w.Header().Set("Connection", "X-Origin-Secret")
		w.Header().Set("X-Origin-Secret", "hop")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Origin-Kept", "yes")
		json.NewEncoder(w).Encode(seen)
	}))
	t.Cleanup(s.Close)
	return s
}

// seenBy sends req through the proxy and returns what the origin saw and
// the response.
func seenBy(t *testing.T, cl *http.Client, req *http.Request) (map[string][]string, *http.Response) {
	t.Helper()
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seen map[string][]string
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
		t.Fatalf("origin answer: %v", err)
	}
	return seen, resp
}

func TestHopByHopFieldsAreRemovedBothWays(t *testing.T) {
	origin := headerOrigin(t)
	p := startProxy(t, Options{})
	req, _ := http.NewRequest("GET", origin.URL, nil)
	req.Header.Set("Connection", "X-Client-Secret, keep-alive")
	req.Header.Set("X-Client-Secret", "hop")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Proxy-Authorization", "Basic dXNlcjpwYXNz")
	req.Header.Set("TE", "gzip")
	req.Header.Set("Trailer", "X-T")
	req.Header.Set("Upgrade", "h2c")
	req.Header.Set("X-Kept", "end-to-end")
	seen, resp := seenBy(t, p.client(t), req)
	for _, f := range []string{"X-Client-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer", "Upgrade"} {
		if v, ok := seen[f]; ok {
			t.Errorf("origin saw %s: %v", f, v)
		}
	}
	if c := seen["Connection"]; len(c) != 0 {
		t.Errorf("origin saw Connection %v", c)
	}
	if seen["X-Kept"] == nil {
		t.Error("an end-to-end field was dropped")
	}
	for _, f := range []string{"X-Origin-Secret", "Keep-Alive"} {
		if v := resp.Header.Get(f); v != "" {
			t.Errorf("client saw %s: %q", f, v)
		}
	}
	if resp.Header.Get("X-Origin-Kept") != "yes" {
		t.Error("an end-to-end response field was dropped")
	}
}

func TestConnectionHeaderCannotDropViaOrXForwardedFor(t *testing.T) {
	origin := headerOrigin(t)
	p := startProxy(t, Options{Anonymity: Transparent})
	req, _ := http.NewRequest("GET", origin.URL, nil)
	req.Header.Set("Connection", "X-Forwarded-For, Via")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	seen, _ := seenBy(t, p.client(t), req)
	// The client's own X-Forwarded-For was hop-by-hop by its own choice;
	// the one the proxy adds is not.
	if got := strings.Join(seen["X-Forwarded-For"], ","); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want 127.0.0.1", got)
	}
	if got := strings.Join(seen["Via"], ","); got != "1.1 janus" {
		t.Errorf("Via %q", got)
	}
}

func TestHostComesFromTheAbsoluteURI(t *testing.T) {
	origin := headerOrigin(t)
	p := startProxy(t, Options{})
	host := strings.TrimPrefix(origin.URL, "http://")
	raw := p.rawRequest(t, "GET "+origin.URL+"/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
	if !strings.Contains(raw, `"Host":["`+host+`"]`) {
		t.Fatalf("origin saw another Host:\n%s", raw)
	}
}

func TestAnonymityLevels(t *testing.T) {
	origin := headerOrigin(t)
	identifying := map[string]string{
		"X-Forwarded-For": "198.51.100.7", "Forwarded": "for=198.51.100.7", "X-Real-IP": "198.51.100.7",
		"Via": "1.1 upstream", "Client-IP": "198.51.100.7", "True-Client-IP": "198.51.100.7",
		"X-Client-IP": "198.51.100.7", "X-Originating-IP": "198.51.100.7", "X-Cluster-Client-IP": "198.51.100.7",
		"Forwarded-For": "198.51.100.7", "X-Forwarded-Host": "a.example", "X-Forwarded-Proto": "https",
	}
	tests := []struct {
		desc         string
		level        Anonymity
		wantVia      string // what the origin sees
		wantXFF      string
		wantRealIP   string
		wantRespVia  string // what the client sees
		clientFields bool
	}{
		{desc: "anonymous adds Via and passes the client's fields", level: Anonymous,
			wantVia: "1.1 upstream, 1.1 janus", wantXFF: "198.51.100.7", wantRealIP: "198.51.100.7", wantRespVia: "1.1 janus", clientFields: true},
		{desc: "transparent appends the client to X-Forwarded-For", level: Transparent,
			wantVia: "1.1 upstream, 1.1 janus", wantXFF: "198.51.100.7, 127.0.0.1", wantRealIP: "198.51.100.7", wantRespVia: "1.1 janus", clientFields: true},
		{desc: "elite adds nothing and strips identifying fields", level: Elite},
		{desc: "anonymous without client fields", level: Anonymous, wantVia: "1.1 janus", wantRespVia: "1.1 janus"},
		{desc: "transparent without client fields", level: Transparent, wantVia: "1.1 janus", wantXFF: "127.0.0.1", wantRespVia: "1.1 janus"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p := startProxy(t, Options{Anonymity: tt.level})
			req, _ := http.NewRequest("GET", origin.URL, nil)
			if tt.clientFields || tt.level == Elite {
				for k, v := range identifying {
					req.Header.Set(k, v)
				}
			}
			seen, resp := seenBy(t, p.client(t), req)
			get := func(k string) string { return strings.Join(seen[http.CanonicalHeaderKey(k)], ", ") }
			if get("Via") != tt.wantVia || get("X-Forwarded-For") != tt.wantXFF || get("X-Real-Ip") != tt.wantRealIP {
				t.Errorf("origin saw Via %q, X-Forwarded-For %q, X-Real-IP %q", get("Via"), get("X-Forwarded-For"), get("X-Real-Ip"))
			}
			if tt.level == Elite {
				for k := range identifying {
					if v := get(k); v != "" {
						t.Errorf("elite passed %s: %q", k, v)
					}
				}
			}
			if got := resp.Header.Get("Via"); got != tt.wantRespVia {
				t.Errorf("client saw Via %q, want %q", got, tt.wantRespVia)
			}
		})
	}
}

func TestViaNameIsConfigurable(t *testing.T) {
	origin := headerOrigin(t)
	p := startProxy(t, Options{ViaName: "gateway-7"})
	req, _ := http.NewRequest("GET", origin.URL, nil)
	seen, resp := seenBy(t, p.client(t), req)
	if strings.Join(seen["Via"], ",") != "1.1 gateway-7" || resp.Header.Get("Via") != "1.1 gateway-7" {
		t.Fatalf("Via %v / %q", seen["Via"], resp.Header.Get("Via"))
	}
}

func TestParseAnonymity(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Anonymity
		bad  bool
	}{{"", Anonymous, false}, {"anonymous", Anonymous, false}, {"transparent", Transparent, false}, {"elite", Elite, false}, {"Elite", 0, true}, {"high", 0, true}} {
		got, err := ParseAnonymity(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseAnonymity(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != strings.ToLower(tt.in) && tt.in != "" {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func TestMaxForwardsIsDecrementedAndStopsAtZero(t *testing.T) {
	origin := headerOrigin(t)
	p := startProxy(t, Options{})
	req, _ := http.NewRequest("OPTIONS", origin.URL, nil)
	req.Header.Set("Max-Forwards", "3")
	seen, _ := seenBy(t, p.client(t), req)
	if got := strings.Join(seen["Max-Forwards"], ","); got != "2" {
		t.Errorf("origin saw Max-Forwards %q, want 2", got)
	}
	req, _ = http.NewRequest("GET", origin.URL, nil)
	req.Header.Set("Max-Forwards", "3")
	seen, _ = seenBy(t, p.client(t), req)
	if got := strings.Join(seen["Max-Forwards"], ","); got != "3" {
		t.Errorf("GET: origin saw Max-Forwards %q, want it untouched", got)
	}
	for _, tt := range []struct{ method, status string }{{"OPTIONS", "200"}, {"TRACE", "405"}} {
		raw := p.rawRequest(t, tt.method+" "+origin.URL+"/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n")
		if statusOf(raw) != tt.status || strings.Contains(raw, "Origin-Kept") {
			t.Errorf("%s with Max-Forwards 0:\n%s", tt.method, raw)
		}
	}
}
