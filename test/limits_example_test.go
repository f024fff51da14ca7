package test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestLimitsExample runs examples/limits.yaml (on free ports, in front of
// a test origin, its quota store in a temp dir): a client past 50
// requests/s with a burst of 10 gets 429 on 127.0.0.1:8083's face, and bob
// is served through 127.0.0.1:8084's proxy with his limits.
func TestLimitsExample(t *testing.T) {
	raw, err := os.ReadFile("../examples/limits.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{`"127.0.0.1:8083"`, `"127.0.0.1:8084"`, `"127.0.0.1:9001"`, "rate: 50/s, burst: 10", "bandwidth: 1MiB", "limit: 100MiB"} {
		if !strings.Contains(text, want) {
			t.Fatalf("examples/limits.yaml no longer says %s", want)
		}
	}
	origin := janustest.EchoOrigin(t)
	users, err := os.ReadFile("../examples/users.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	text = strings.NewReplacer(
		`"127.0.0.1:8083"`, `"127.0.0.1:0"`,
		`"127.0.0.1:8084"`, `"127.0.0.1:0"`,
		`"127.0.0.1:9001"`, `"`+strings.TrimPrefix(origin.URL, "http://")+`"`,
		"store: janus-quotas.db", "store: "+filepath.Join(t.TempDir(), "quotas.db"),
	).Replace(text)
	j := janustest.Start(t, text, map[string]string{"users.htpasswd": string(users)})

	limited := 0
	for range 40 {
		resp, err := http.Get("http://" + j.Addr(t, "site") + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("40 requests at once were never limited by 50/s with a burst of 10")
	}
	resp, err := proxyClient(t, j, "proxy", "bob:builder").Get(origin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("bob through the proxy: %d", resp.StatusCode)
	}
}
