package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// originParsed returns what the origin parsed, as recordedString.
func originParsed(o *recordingOrigin) []string {
	var got []string
	for _, r := range o.requests() {
		got = append(got, recordedString(r))
	}
	return got
}

// TestPipelinedRequestsReachTheOriginInOrder: requests sent in one write
// (with Content-Length and chunked content, and one Janus answers itself)
// are each answered, in order, and the origin sees exactly the proxied ones
// in the same order.
func TestPipelinedRequestsReachTheOriginInOrder(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	payload := "GET /p1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /p2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /p3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + hello +
		"GET /admin HTTP/1.1\r\nHost: h\r\n\r\n" +
		"GET /p5 HTTP/1.1\r\nHost: h\r\n\r\n"
	res := rawSend(t, j.Addr(t, "web"), []byte(payload), 5, 300*time.Millisecond)
	if got, want := res.statuses(), []int{200, 200, 200, 403, 200}; !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v (err %v)", got, want, res.Err)
	}
	var targets []string
	for _, r := range res.Responses {
		targets = append(targets, r.Header.Get("X-Origin-Target"))
	}
	if want := []string{"/p1", "/p2", "/p3", "", "/p5"}; !slices.Equal(targets, want) {
		t.Errorf("responses answer %q, want %q", targets, want)
	}
	if res.Closed {
		t.Error("Janus closed a connection of well-formed pipelined requests")
	}
	if got, want := originParsed(o), []string{"GET /p1", "POST /p2 [abc]", "POST /p3 [hello]", "GET /p5"}; !slices.Equal(got, want) {
		t.Errorf("origin parsed %q, want %q", got, want)
	}
}

// TestPipelinedRequestsAfterARefusedOneAreDropped: once a request is
// refused, where the next one starts is unknown, so nothing after it is
// served.
func TestPipelinedRequestsAfterARefusedOneAreDropped(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	payload := "GET /p1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled +
		"GET /p3 HTTP/1.1\r\nHost: h\r\n\r\n"
	res := rawSend(t, j.Addr(t, "web"), []byte(payload), 3, 3*time.Second)
	if got, want := res.statuses(), []int{200, 400}; !slices.Equal(got, want) || !res.Closed {
		t.Errorf("statuses %v closed %v, want %v and closed (err %v)", got, res.Closed, want, res.Err)
	}
	if got, want := originParsed(o), []string{"GET /p1"}; !slices.Equal(got, want) {
		t.Errorf("origin parsed %q, want %q", got, want)
	}
}

// switchingAnswer answers 101 to requests that ask for an upgrade to proto,
// and then goes on reading HTTP/1.1 on the connection: what an origin
// that speaks proto would do with whatever the client sends next.
func switchingAnswer(proto string) originAnswer {
	return func(req *recorded, w *bufio.Writer) bool {
		if strings.EqualFold(req.Header.Get("Upgrade"), proto) {
			fmt.Fprintf(w, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", proto)
			return true
		}
		return fixedAnswer(req, w)
	}
}

// TestUpgradeTheOriginDeclinesKeepsTheConnectionHTTP: a client that asks
// for an upgrade and sends a request right behind it, hoping the proxy
// tunnels from then on, still has that request routed (and /admin
// refused), because only the origin's 101 switches protocols.
func TestUpgradeTheOriginDeclinesKeepsTheConnectionHTTP(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	payload := "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" +
		"GET /admin/secret HTTP/1.1\r\nHost: h\r\n\r\n"
	res := rawSend(t, j.Addr(t, "web"), []byte(payload), 2, 300*time.Millisecond)
	if got, want := res.statuses(), []int{200, 403}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v (err %v)", got, want, res.Err)
	}
	if got, want := originParsed(o), []string{"GET /ws"}; !slices.Equal(got, want) {
		t.Errorf("origin parsed %q, want %q", got, want)
	}
}

// TestOriginSwitchingUnaskedIsABadGateway: a 101 to a request that asked
// for no upgrade is not passed on, and the connection does not become a
// tunnel.
func TestOriginSwitchingUnaskedIsABadGateway(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, func(req *recorded, w *bufio.Writer) bool {
		fmt.Fprint(w, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		return true
	})
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	res := rawSend(t, j.Addr(t, "web"), []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n"), 2, 300*time.Millisecond)
	if got, want := res.statuses(), []int{502, 403}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v (err %v)", got, want, res.Err)
	}
	if got, want := originParsed(o), []string{"GET /a"}; !slices.Equal(got, want) {
		t.Errorf("origin parsed %q, want %q", got, want)
	}
}

// TestH2CUpgradeCannotTunnelPastTheRoutes: an upgrade to h2c would turn the
// connection into a tunnel straight to an origin that speaks HTTP/2, past
// every route rule (h2c smuggling). The reverse face does not pass it on
// (RFC 9113 §3.1 deprecates it; RFC 9110 §7.8 lets a server ignore
// Upgrade), so the request is an ordinary one and what follows is routed.
func TestH2CUpgradeCannotTunnelPastTheRoutes(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct{ desc, upgrade, proto string }{
		{"h2c", "h2c", "h2c"},
		{"h2c in capitals", "H2C", "h2c"},
		{"h2c after websocket", "websocket, h2c", "h2c"},
		{"an HTTP version", "HTTP/2.0", "HTTP/2.0"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o := startRecordingOrigin(t, switchingAnswer(tc.proto))
			j := janustest.Start(t, hardeningConfig(o.addr()), nil)
			c, err := net.DialTimeout("tcp", j.Addr(t, "web"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write([]byte("GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: " + tc.upgrade +
				"\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"))
			first := readRaw(c, br, 1, 100*time.Millisecond)
			if got := first.statuses(); !slices.Equal(got, []int{200}) {
				t.Errorf("upgrade request: statuses %v, want [200] (err %v)", got, first.Err)
			}
			// Through a tunnel this would reach the origin; routed, Janus
			// refuses it.
			_, _ = c.Write([]byte("GET /admin/secret HTTP/1.1\r\nHost: h\r\n\r\n"))
			second := readRaw(c, br, 1, 100*time.Millisecond)
			if got := second.statuses(); !slices.Equal(got, []int{403}) {
				t.Errorf("request after the upgrade: statuses %v, want [403] (err %v)", got, second.Err)
			}
			reqs := o.requests()
			var got []string
			for _, r := range reqs {
				got = append(got, recordedString(r))
			}
			if want := []string{"GET /a"}; !slices.Equal(got, want) {
				t.Errorf("origin parsed %q, want %q", got, want)
			}
			if len(reqs) > 0 && (reqs[0].Header.Get("Upgrade") != "" || reqs[0].Header.Get("HTTP2-Settings") != "") {
				t.Errorf("the upgrade reached the origin: %v", reqs[0].Header)
			}
		})
	}
}

// TestAbsoluteFormTargetNamesTheSite: on a reverse-only listener an
// absolute-form target is accepted, and its host, not Host, names the site
// (RFC 9112 §3.2.2), both to the routes and to the origin, so that a client
// cannot pass one route's check with one name and reach another site with
// the other.
func TestAbsoluteFormTargetNamesTheSite(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	for _, tc := range []struct {
		desc, req string
		status    int
		host      string // the Host the origin sees; "" when nothing reaches it
	}{
		{"a filtered host in the target", "GET http://internal.example/x HTTP/1.1\r\nHost: public.example\r\n\r\n", 403, ""},
		{"a filtered host in the target, upper case", "GET http://INTERNAL.EXAMPLE./x HTTP/1.1\r\nHost: public.example\r\n\r\n", 403, ""},
		{"a filtered path in the target", "GET http://public.example/admin HTTP/1.1\r\nHost: public.example\r\n\r\n", 403, ""},
		{"a filtered path behind a dot segment", "GET http://public.example/x/../admin HTTP/1.1\r\nHost: public.example\r\n\r\n", 403, ""},
		{"a filtered host in Host only", "GET http://public.example/x HTTP/1.1\r\nHost: internal.example\r\n\r\n", 200, "public.example"},
		{"the target's port goes with it", "GET http://public.example:8080/x HTTP/1.1\r\nHost: internal.example\r\n\r\n", 200, "public.example:8080"},
		{"https in the target", "GET https://public.example/x HTTP/1.1\r\nHost: public.example\r\n\r\n", 200, "public.example"},
		{"another scheme", "GET ftp://public.example/x HTTP/1.1\r\nHost: public.example\r\n\r\n", 400, ""},
		{"no authority", "GET http:///x HTTP/1.1\r\nHost: public.example\r\n\r\n", 400, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			o.reset()
			res := rawSend(t, j.Addr(t, "web"), []byte(tc.req), 1, 100*time.Millisecond)
			if got := res.statuses(); !slices.Equal(got, []int{tc.status}) {
				t.Errorf("statuses %v, want [%d] (err %v)", got, tc.status, res.Err)
			}
			reqs := o.requests()
			switch {
			case tc.host == "" && len(reqs) != 0:
				t.Errorf("origin parsed %v", reqs)
			case tc.host != "" && len(reqs) != 1:
				t.Errorf("origin parsed %v, want one request", reqs)
			case tc.host != "":
				r := reqs[0]
				if r.Target != "/x" || r.Header.Values("Host")[0] != tc.host || len(r.Header.Values("Host")) != 1 ||
					r.Header.Get("X-Forwarded-Host") != tc.host {
					t.Errorf("origin got target %q Host %q X-Forwarded-Host %q, want /x and %q",
						r.Target, r.Header.Values("Host"), r.Header.Get("X-Forwarded-Host"), tc.host)
				}
			}
		})
	}
}

// TestContentTheOriginDeclinedIsNeverSent: a request with Expect:
// 100-continue that the origin answers at once, without asking for the
// content, has its content left unsent: what the client sends next on that
// connection (here a request hidden as content) is neither forwarded nor
// parsed, and the connection closes.
func TestContentTheOriginDeclinedIsNeverSent(t *testing.T) {
	checkLeaks(t)
	o := startRecordingOrigin(t, nil)
	o.headsOnly.Store(true)
	j := janustest.Start(t, hardeningConfig(o.addr()), nil)
	c, err := net.DialTimeout("tcp", j.Addr(t, "web"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(smuggled))
	br := bufio.NewReader(c)
	first := readRaw(c, br, 1, 100*time.Millisecond)
	if got := first.statuses(); !slices.Equal(got, []int{200}) || !first.Responses[0].Close {
		t.Fatalf("statuses %v %v (err %v), want 200 with Connection: close", got, first.Responses, first.Err)
	}
	_, _ = io.WriteString(c, smuggled)
	rest := readRaw(c, br, 1, 3*time.Second)
	if len(rest.Responses) != 0 || !rest.Closed {
		t.Errorf("after the declined content: statuses %v, closed %v", rest.statuses(), rest.Closed)
	}
	if got := originParsed(o); !slices.Equal(got, []string{"POST /a"}) {
		t.Errorf("origin parsed %q", got)
	}
	if strings.Contains(o.recording(), "smuggled") {
		t.Errorf("the declined content reached the origin")
	}
}
