package socks

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
)

// TestCurlThroughEverySOCKSFlavour runs curl, the client people use, in
// each SOCKS mode against a loopback origin.
func TestCurlThroughEverySOCKSFlavour(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	checkLeaks(t)
	origin := httpOrigin(t, "127.0.0.1:0")
	port := origin.Listener.Addr().(*net.TCPAddr).Port
	open := startServer(t, Options{Listener: "open", Gate: &gate.Gate{}, AllowSOCKS4: true, AllowSOCKS5: true})
	auth := startServer(t, Options{Listener: "auth", Gate: &gate.Gate{AuthRequired: true, Users: newUsers(t, "alice", "wonderland")}, AllowSOCKS5: true})
	for _, tc := range []struct {
		desc   string
		srv    *testServer
		proxy  string // scheme://[user@]
		target string // as the proxy sees it
		proto  string
		user   string
	}{
		{desc: "socks5h: the proxy resolves", srv: open, proxy: "socks5h://", target: fmt.Sprintf("localhost:%d", port), proto: "socks5"},
		{desc: "socks5: curl resolves", srv: open, proxy: "socks5://", target: fmt.Sprintf("127.0.0.1:%d", port), proto: "socks5"},
		{desc: "socks4", srv: open, proxy: "socks4://", target: fmt.Sprintf("127.0.0.1:%d", port), proto: "socks4"},
		{desc: "socks4a", srv: open, proxy: "socks4a://", target: fmt.Sprintf("localhost:%d", port), proto: "socks4"},
		{desc: "socks5h with user and password", srv: auth, proxy: "socks5h://alice:wonderland@", target: fmt.Sprintf("localhost:%d", port), proto: "socks5", user: "alice"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			url := "http://" + tc.target + "/curl"
			cmd := exec.CommandContext(ctx, curl, "-sS", "--max-time", "5", "--noproxy", "", "--proxy", tc.proxy+tc.srv.addr, url)
			cmd.Env = []string{"PATH=/usr/bin:/bin"} // no *_proxy variables from the environment
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "origin saw /curl" {
				t.Fatalf("curl: %v: %s", err, out)
			}
			e := tc.srv.access.wait(t, func(e *observe.Entry) bool { return e.Target == tc.target && e.Protocol == tc.proto })
			if e.Error != "" || e.User != tc.user || (e.Listener != "open" && e.Listener != "auth") {
				t.Fatalf("entry %+v", e)
			}
		})
	}
}
