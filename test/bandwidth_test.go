package test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestBandwidthLimitPerUser: bob's tunnels (CONNECT and SOCKS5) are held
// to 1 MiB/s, within 15% (after the bucket's one-second burst), while
// alice's are not limited.
func TestBandwidthLimitPerUser(t *testing.T) {
	const size = 4 << 20
	body := bytes.Repeat([]byte("b"), size)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer origin.Close()
	target := strings.TrimPrefix(origin.URL, "http://")
	j := janustest.Start(t, fmt.Sprintf(`
users:
  inline:
    - {name: alice, hash: '%s'}
    - {name: bob, hash: '%s'}
limits:
  bob-bw: {bandwidth: 1MiB, key: user, users: [bob]}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"], limits: [bob-bw]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, aliceHash, bobHash), nil)
	addr := j.Addr(t, "p")
	// fetch downloads the body through an established tunnel c.
	fetch := func(c net.Conn) time.Duration {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != size {
			t.Fatalf("read %d bytes, want %d", n, size)
		}
		return time.Since(start)
	}
	connect := func(user string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n", target, target, b64(user))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("CONNECT as %s: %v %v", user, resp, err)
		}
		return c
	}
	socks := func(user, password string) net.Conn {
		d, err := proxy.SOCKS5("tcp", addr, &proxy.Auth{User: user, Password: password}, proxy.Direct)
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.Dial("tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// 4 MiB at 1 MiB/s after a burst of 1 MiB: about 3 s.
	want := 3 * time.Second
	for _, tc := range []struct {
		desc string
		conn func() net.Conn
	}{
		{"CONNECT", func() net.Conn { return connect("bob:builder") }},
		{"SOCKS5", func() net.Conn { return socks("bob", "builder") }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			// bob's bucket is his, whatever the connection: let its burst
			// come back from the previous case first.
			time.Sleep(1100 * time.Millisecond)
			took := fetch(tc.conn())
			t.Logf("bob's %d MiB through %s took %v (want about %v)", size>>20, tc.desc, took.Round(time.Millisecond), want)
			if took < want*85/100 || took > want*115/100 {
				t.Errorf("took %v, want %v within 15%%", took, want)
			}
		})
	}
	if took := fetch(connect("alice:wonderland")); took > time.Second {
		t.Errorf("alice, not limited, took %v", took)
	}
}
