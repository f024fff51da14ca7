package test

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestCurl drives Janus with the real curl, through each protocol.
func TestCurl(t *testing.T) {
	curl := janustest.RequireExternal(t, "curl")
	origin := janustest.EchoOrigin(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(origin.URL, "http://"))
	j := startBase(t)
	open, auth := j.Addr(t, "open"), j.Addr(t, "auth")
	for _, tc := range []struct {
		desc string
		args []string
		want string // substring of the output; "" means curl must fail
	}{
		{"http proxy -x", []string{"-x", "http://" + open, "http://origin.test:" + port + "/x"}, `"/x"`},
		{"CONNECT tunnel -p -x", []string{"-p", "-x", "http://" + open, "http://127.0.0.1:" + port + "/tunnel"}, `"/tunnel"`},
		{"proxy-user", []string{"-x", "http://" + auth, "--proxy-user", "alice:wonderland", "http://127.0.0.1:" + port + "/auth"}, `"/auth"`},
		{"proxy-user with CONNECT", []string{"-p", "-x", "http://" + auth, "--proxy-user", "bob:builder", "http://127.0.0.1:" + port + "/auth-tunnel"}, `"/auth-tunnel"`},
		{"407 without credentials", []string{"-x", "http://" + auth, "-w", "%{http_code}", "-o", "/dev/null", "http://127.0.0.1:" + port + "/"}, "407"},
		{"socks5", []string{"--socks5", open, "http://127.0.0.1:" + port + "/s5"}, `"/s5"`},
		{"socks5 with auth", []string{"--socks5", auth, "--proxy-user", "alice:wonderland", "http://127.0.0.1:" + port + "/s5auth"}, `"/s5auth"`},
		{"socks5-hostname", []string{"--socks5-hostname", open, "http://origin.test:" + port + "/s5h"}, `"/s5h"`},
		{"socks4a", []string{"--socks4a", open, "http://origin.test:" + port + "/s4a"}, `"/s4a"`},
		{"socks4", []string{"--socks4", open, "http://127.0.0.1:" + port + "/s4"}, `"/s4"`},
		{"socks5-hostname to a forbidden name", []string{"--socks5-hostname", open, "http://forbidden.test:" + port + "/"}, ""},
		{"403 for a forbidden address", []string{"-x", "http://" + open, "-w", "%{http_code}", "-o", "/dev/null", "http://127.0.0.2:" + port + "/"}, "403"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			args := append([]string{"-sS", "--max-time", "10", "--noproxy", ""}, tc.args...)
			out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
			if tc.want == "" {
				if err == nil {
					t.Fatalf("curl succeeded, want failure: %s", out)
				}
				return
			}
			if err != nil && !strings.Contains(string(out), tc.want) {
				t.Fatalf("curl %v: %v\n%s", args, err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output %q does not contain %q", out, tc.want)
			}
		})
	}
}
