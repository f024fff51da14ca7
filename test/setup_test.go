package test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// The users of examples/users.htpasswd.
const (
	aliceHash = "$2a$10$1XmjluOo0OK0qGnxx6zce.cb/BTleTYGrFxoK1G4or7gcW74CQvCm" // wonderland
	bobHash   = "$2a$10$rdUHF/Jh85a8.BDD9Vn5xu6Xfl0e5tqdBaQ04Pp8yuFDGLz1jXtSS" // builder
)

// baseConfig has two listeners sharing one policy: "open" without auth and
// "auth" requiring it. Destinations on 127.0.0.1 are allowed, every other
// special-purpose address (127.0.0.2 included) is denied.
// forbidden.test resolves to 127.0.0.2, origin.test to 127.0.0.1, both
// without DNS.
const baseConfig = `
log:
  level: debug
  access: {format: json}
users:
  inline:
    - {name: alice, hash: '` + aliceHash + `', groups: [staff]}
    - {name: bob, hash: '` + bobHash + `'}
resolver:
  hosts:
    origin.test: [127.0.0.1]
    forbidden.test: [127.0.0.2]
listeners:
  - name: open
    listen: 127.0.0.1:0
    timeouts: {header: 2s, idle: 5s}
    forward: {policy: local, connect_ports: ["1-65535"]}
  - name: auth
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
    - deny: {name: special, to: [special]}
    - allow: {name: rest}
`

func startBase(t *testing.T) *janustest.Janus {
	t.Helper()
	return janustest.Start(t, baseConfig, nil)
}

// proxyClient returns a net/http client that uses Janus's listener as its
// HTTP proxy, with optional credentials.
func proxyClient(t *testing.T, j *janustest.Janus, listener, userinfo string) *http.Client {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: j.Addr(t, listener)}
	if userinfo != "" {
		user, pass, _ := strings.Cut(userinfo, ":")
		u.User = url.UserPassword(user, pass)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u), DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// rawExchange sends raw bytes to addr and returns the status line and
// headers of the first response (or "" if the connection closed first).
func rawExchange(t *testing.T, addr, request string) (status string, resp *http.Response) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", nil
	}
	resp.Body.Close()
	return fmt.Sprint(resp.StatusCode), resp
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
