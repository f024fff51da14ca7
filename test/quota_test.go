package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestTrafficQuota: bob's quota of 100 KiB (a balance) counts his bytes
// both ways; once it is used up his requests get 403 saying which quota
// and how much, his SOCKS5 sessions reply "not allowed", alice is not
// affected, and the count survives a restart of Janus.
func TestTrafficQuota(t *testing.T) {
	body := bytes.Repeat([]byte("q"), 60<<10)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer origin.Close()
	store := filepath.Join(t.TempDir(), "quotas.db")
	yaml := fmt.Sprintf(`
users:
  inline:
    - {name: alice, hash: '%s'}
    - {name: bob, hash: '%s'}
quotas:
  store: %q
  users:
    bob: {limit: 100KiB, period: balance}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, aliceHash, bobHash, store)
	get := func(j *janustest.Janus, userinfo string) (int, string) {
		resp, err := proxyClient(t, j, "p", userinfo).Get(origin.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	j := janustest.Start(t, yaml, nil)
	for i := range 2 {
		if s, _ := get(j, "bob:builder"); s != 200 {
			t.Fatalf("bob's request %d within his quota: %d", i, s)
		}
	}
	s, msg := get(j, "bob:builder")
	if s != 403 || !strings.Contains(msg, "quota") || !strings.Contains(msg, "user:bob") {
		t.Errorf("bob over his quota: %d %q, want 403 naming the quota", s, msg)
	}
	if s, _ := get(j, "alice:wonderland"); s != 200 {
		t.Errorf("alice, without a quota: %d", s)
	}
	d, err := proxy.SOCKS5("tcp", j.Addr(t, "p"), &proxy.Auth{User: "bob", Password: "builder"}, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := d.(proxy.ContextDialer).DialContext(context.Background(), "tcp", strings.TrimPrefix(origin.URL, "http://")); err == nil {
		c.Close()
		t.Errorf("bob's SOCKS5 session over his quota was allowed")
	} else if !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("bob's SOCKS5 refusal: %v", err)
	}
	j.WaitLog(t, func(l map[string]any) bool {
		return l["rule"] == "quota" && strings.Contains(fmt.Sprint(l["error"]), "user:bob")
	})

	// A restart keeps the count.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	j2 := janustest.Start(t, yaml, nil)
	if s, _ := get(j2, "bob:builder"); s != 403 {
		t.Errorf("bob after a restart: %d, want 403 (the count must survive)", s)
	}
}

// TestQuotaCutsTraffic: a quota that runs out in the middle of a tunnel
// or a response cuts it there, not when it ends: bob, with 1 MiB left,
// gets about 1 MiB of a 4 MiB download, whether through CONNECT, SOCKS5
// or the HTTP proxy, and the log says why.
func TestQuotaCutsTraffic(t *testing.T) {
	const size = 4 << 20
	body := bytes.Repeat([]byte("c"), size)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(body)
	}))
	defer origin.Close()
	target := strings.TrimPrefix(origin.URL, "http://")
	request := "GET / HTTP/1.1\r\nHost: " + target + "\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct {
		desc  string
		fetch func(j *janustest.Janus) (int64, error)
	}{
		{"CONNECT", func(j *janustest.Janus) (int64, error) {
			c, err := net.Dial("tcp", j.Addr(t, "p"))
			if err != nil {
				return 0, err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n%s", target, target, b64("bob:builder"), request)
			return io.Copy(io.Discard, c) // the 200, then the origin's response
		}},
		{"SOCKS5", func(j *janustest.Janus) (int64, error) {
			d, err := proxy.SOCKS5("tcp", j.Addr(t, "p"), &proxy.Auth{User: "bob", Password: "builder"}, proxy.Direct)
			if err != nil {
				return 0, err
			}
			c, err := d.Dial("tcp", target)
			if err != nil {
				return 0, err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, request)
			return io.Copy(io.Discard, c)
		}},
		{"HTTP", func(j *janustest.Janus) (int64, error) {
			resp, err := proxyClient(t, j, "p", "bob:builder").Get(origin.URL + "/")
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil {
				err = fmt.Errorf("status %d, the whole body", resp.StatusCode)
			}
			return n, err
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			j := janustest.Start(t, fmt.Sprintf(`
users:
  inline:
    - {name: bob, hash: '%s'}
quotas:
  store: %q
  users:
    bob: {limit: 1MiB, period: balance}
listeners:
  - name: p
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, bobHash, filepath.Join(t.TempDir(), "q.db")), nil)
			n, err := tc.fetch(j)
			t.Logf("bob got %d bytes of %d (%v)", n, size, err)
			if n < 1<<20-64<<10 || n > 1<<20+256<<10 {
				t.Errorf("got %d bytes, want about 1 MiB: the quota must cut the download", n)
			}
			j.WaitLog(t, func(l map[string]any) bool {
				return l["user"] == "bob" && strings.Contains(fmt.Sprint(l["error"]), "quota of user:bob exceeded")
			})
		})
	}
}
