package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/janus-proxy/janus/internal/janustest"
)

// retryOrigin answers every request with a fixed status after an optional
// delay, counts what it got, and says which target it is.
type retryOrigin struct {
	srv      *httptest.Server
	name     string
	requests atomic.Int32
	bodies   chan string
}

func startRetryOrigin(t *testing.T, name string, status int, delay time.Duration, tlsCfg *tls.Config, h2 bool) *retryOrigin {
	t.Helper()
	o := &retryOrigin{name: name, bodies: make(chan string, 1000)}
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		select {
		case o.bodies <- string(b):
		default:
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("X-Origin", name)
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %s %s", name, r.Method, b)
	}))
	if tlsCfg != nil {
		o.srv.TLS = tlsCfg
		o.srv.EnableHTTP2 = h2
		o.srv.StartTLS()
	} else {
		o.srv.Start()
	}
	t.Cleanup(o.srv.Close)
	return o
}

func (o *retryOrigin) addr() string {
	return strings.TrimPrefix(strings.TrimPrefix(o.srv.URL, "http://"), "https://")
}

// retryClients are the fronts a request reaches Janus by: HTTP/1.1 and
// HTTP/2 (h2c with prior knowledge) on the same listener.
func retryClients(t *testing.T) map[string]*http.Client {
	h2 := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(h2.CloseIdleConnections)
	h1 := &http.Transport{}
	t.Cleanup(h1.CloseIdleConnections)
	return map[string]*http.Client{
		"HTTP/1.1": {Transport: h1, Timeout: 10 * time.Second},
		"HTTP/2":   {Transport: h2, Timeout: 10 * time.Second},
	}
}

// retryUpstreams are the ways Janus speaks to targets: its own HTTP/1.1
// engine, HTTPS and HTTP/2 over TLS through round-trippers.
var retryUpstreams = []struct {
	desc     string
	protocol string
	tls      bool
	h2       bool
}{
	{"http1", "http1", false, false},
	{"https", "http1", true, false},
	{"h2", "h2", true, true},
}

func retryConfig(u string, targets []string, ca, retries string) string {
	return retryConfigTimeout(u, targets, ca, retries, "5s")
}

func retryConfigTimeout(u string, targets []string, ca, retries, timeout string) string {
	tlsLine := ""
	if ca != "" {
		tlsLine = fmt.Sprintf("\n    tls: {ca: %q}", ca)
	}
	return fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app}]}
upstreams:
  app:
    targets: ['%s']
    protocol: %s%s
    eject: {consecutive: -1}
    retries: %s
    timeouts: {response: %s}
`, strings.Join(targets, "', '"), u, tlsLine, retries, timeout)
}

// TestRetriesOnStatusAndTimeout: a target that answers a retry status, or
// does not answer in time, sends an idempotent request to the other
// target; a POST, which may not reach a second target, gets what the
// first one said. Every front and every kind of upstream retries alike.
func TestRetriesOnStatusAndTimeout(t *testing.T) {
	ca := janustest.NewCA(t, t.TempDir())
	_, _, pair := ca.Issue(t, "upstream", false, "127.0.0.1")
	for _, up := range retryUpstreams {
		var tlsCfg *tls.Config
		caPath := ""
		if up.tls {
			tlsCfg = tlsServerConfig(pair, ca, false)
			caPath = ca.PEMPath
		}
		for _, tc := range []struct {
			desc    string
			status  int
			delay   time.Duration
			retries string
			timeout string
		}{
			{"503 retried", 503, 0, "{attempts: 2, statuses: [502, 503]}", "5s"},
			{"timeout retried", 200, 5 * time.Second, "{attempts: 2, on_timeout: true}", "500ms"},
		} {
			t.Run(up.desc+"/"+tc.desc, func(t *testing.T) {
				bad := startRetryOrigin(t, "bad", tc.status, tc.delay, tlsCfg, up.h2)
				good := startRetryOrigin(t, "good", 200, 0, tlsCfg, up.h2)
				j := janustest.Start(t, retryConfigTimeout(up.protocol, []string{bad.addr(), good.addr()}, caPath, tc.retries, tc.timeout), nil)
				base := "http://" + j.Addr(t, "web")
				for front, client := range retryClients(t) {
					for i := range 6 {
						resp, err := client.Get(base + "/get")
						if err != nil {
							t.Fatalf("%s GET %d: %v", front, i, err)
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || resp.Header.Get("X-Origin") != "good" {
							t.Errorf("%s GET %d: %d %q, want 200 from good", front, i, resp.StatusCode, body)
						}
					}
					// PUT is idempotent: its content goes again, whole.
					req, _ := http.NewRequest("PUT", base+"/put", strings.NewReader("payload"))
					for i := range 4 {
						req.Body = io.NopCloser(strings.NewReader("payload"))
						resp, err := client.Do(req)
						if err != nil {
							t.Fatalf("%s PUT %d: %v", front, i, err)
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || string(body) != "good PUT payload" {
							// HTTP/2 streams content: it cannot go again.
							if !(front == "HTTP/2" || up.protocol != "http1" || up.tls) || resp.StatusCode == 200 {
								t.Errorf("%s PUT %d: %d %q, want 200 from good", front, i, resp.StatusCode, body)
							}
						}
					}
				}
				if bad.requests.Load() == 0 {
					t.Fatalf("the bad target got no request: round robin did not reach it")
				}
				if tc.status == 503 {
					// A POST is never retried on a status.
					sawBad := false
					for i := range 4 {
						resp, err := retryClients(t)["HTTP/1.1"].Post(base+"/post", "text/plain", strings.NewReader("once"))
						if err != nil {
							t.Fatalf("POST %d: %v", i, err)
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 503 {
							sawBad = true
						}
					}
					if !sawBad {
						t.Errorf("no POST reached the bad target's 503: was one retried?")
					}
				}
			})
		}
	}
}

// TestRetryBudgetStopsAStorm: when every target fails, retries stay within
// the budget's share of requests instead of multiplying the load by the
// number of attempts.
func TestRetryBudgetStopsAStorm(t *testing.T) {
	a := startRetryOrigin(t, "a", 503, 0, nil, false)
	b := startRetryOrigin(t, "b", 503, 0, nil, false)
	j := janustest.Start(t, retryConfig("http1", []string{a.addr(), b.addr()}, "",
		"{attempts: 3, statuses: [503], budget: 20%, min_per_second: -1}"), nil)
	client := retryClients(t)["HTTP/1.1"]
	const n = 100
	for i := range n {
		resp, err := client.Get("http://" + j.Addr(t, "web") + "/x")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Fatalf("request %d: %d, want the targets' 503", i, resp.StatusCode)
		}
	}
	total := a.requests.Load() + b.requests.Load()
	t.Logf("%d requests reached the targets for %d client requests", total, n)
	if total > n+n/5+1 || total < n+1 {
		t.Errorf("%d requests reached the targets, want %d plus at most 20%% retries (and at least one)", total, n)
	}
}

// TestConnectRetriesOverTLS: a target that cannot be connected to is
// skipped for TLS and HTTP/2 upstreams as for plain ones, POST included
// (nothing was sent).
func TestConnectRetriesOverTLS(t *testing.T) {
	ca := janustest.NewCA(t, t.TempDir())
	_, _, pair := ca.Issue(t, "upstream", false, "127.0.0.1")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	for _, up := range retryUpstreams {
		t.Run(up.desc, func(t *testing.T) {
			var tlsCfg *tls.Config
			caPath := ""
			if up.tls {
				tlsCfg = tlsServerConfig(pair, ca, false)
				caPath = ca.PEMPath
			}
			good := startRetryOrigin(t, "good", 200, 0, tlsCfg, up.h2)
			j := janustest.Start(t, retryConfig(up.protocol, []string{deadAddr, good.addr()}, caPath, "{attempts: 2}"), nil)
			for front, client := range retryClients(t) {
				for i := range 4 {
					resp, err := client.Post("http://"+j.Addr(t, "web")+"/post", "text/plain", strings.NewReader("content"))
					if err != nil {
						t.Fatalf("%s POST %d: %v", front, i, err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(body) != "good POST content" {
						t.Errorf("%s POST %d: %d %q", front, i, resp.StatusCode, body)
					}
				}
			}
		})
	}
}

// TestKilledTargetCostsNoRequest: a target killed while clients send
// requests costs none of them: pooled connections to it, refused
// connects and cut exchanges all move on to the others, and the health
// checks take it out.
func TestKilledTargetCostsNoRequest(t *testing.T) {
	a := startNamedOrigin(t, "a")
	b := startNamedOrigin(t, "b")
	c := startNamedOrigin(t, "c")
	j := janustest.Start(t, fmt.Sprintf(`
listeners:
  - name: web
    listen: 127.0.0.1:0
    h2c: true
    reverse: {routes: [{name: app, match: {path_prefix: /}, upstream: app}]}
upstreams:
  app:
    targets: [%q, %q, %q]
    health: {path: /, interval: 100ms, timeout: 1s, fall: 1}
    retries: {attempts: 3}
`, a.addr(), b.addr(), c.addr()), nil)
	base := "http://" + j.Addr(t, "web")
	var ok, failed atomic.Int32
	var perOrigin [3]atomic.Int32
	stop := make(chan struct{})
	done := make(chan struct{})
	clients := retryClients(t)
	workers := 0
	for front, client := range clients {
		for range 2 {
			workers++
			go func() {
				defer func() { done <- struct{}{} }()
				for i := 0; i < 5000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := client.Get(base + "/x")
					if err != nil {
						t.Errorf("%s: %v", front, err)
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("%s: status %d", front, resp.StatusCode)
						failed.Add(1)
						continue
					}
					ok.Add(1)
					if o := resp.Header.Get("X-Origin"); o != "" {
						perOrigin[o[0]-'a'].Add(1)
					}
				}
			}()
		}
	}
	time.Sleep(300 * time.Millisecond)
	b.srv.CloseClientConnections()
	b.srv.Close()
	afterKill := perOrigin[1].Load()
	time.Sleep(700 * time.Millisecond)
	close(stop)
	for range workers {
		<-done
	}
	t.Logf("%d requests served, %d failed; per target a/b/c: %d/%d/%d (b killed after %d)",
		ok.Load(), failed.Load(), perOrigin[0].Load(), perOrigin[1].Load(), perOrigin[2].Load(), afterKill)
	if ok.Load() < 50 {
		t.Errorf("only %d requests served", ok.Load())
	}
	// Responses in flight when it was killed may be counted just after.
	if late := perOrigin[1].Load() - afterKill; late > int32(workers) {
		t.Errorf("the killed target answered %d requests after it was killed", late)
	}
}
