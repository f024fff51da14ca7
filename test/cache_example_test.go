package test

import (
	"os"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/janustest"
)

// TestCacheExampleIsWhatIssue4Promises pins examples/cache.yaml: a
// caching reverse proxy on 127.0.0.1:8082 in front of 127.0.0.1:9001,
// memory and disk (./janus-cache) tiers, PURGE from loopback,
// Cache-Status on; and runs it against a script origin.
func TestCacheExampleIsWhatIssue4Promises(t *testing.T) {
	cfg, err := config.Load("../examples/cache.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listeners[0].Listen != "127.0.0.1:8082" {
		t.Errorf("listens on %s", cfg.Listeners[0].Listen)
	}
	if got := cfg.Upstreams["origin"].Targets; len(got) != 1 || got[0].Addr != "127.0.0.1:9001" {
		t.Errorf("targets %v", got)
	}
	o, ok := cfg.CacheOptions()
	if !ok || !o.CacheStatus || !strings.HasSuffix(o.Dir, "janus-cache") || o.MemoryBytes == 0 {
		t.Errorf("cache options %+v", o)
	}
	for _, rt := range cfg.Listeners[0].Reverse.Routes {
		if !rt.Cache.On {
			t.Errorf("route %s is not cached", rt.Name)
		}
	}

	data, err := os.ReadFile("../examples/cache.yaml")
	if err != nil {
		t.Fatal(err)
	}
	origin := newScriptOrigin(t)
	origin.static("/", 200, "Cache-Control", "max-age=60")
	text := strings.NewReplacer("127.0.0.1:8082", "127.0.0.1:0", "127.0.0.1:9001", origin.hostPort(),
		"output: stdout", "output: stderr").Replace(string(data))
	j := janustest.Start(t, text, nil)
	addr := j.Addr(t, "cache")
	e := &cacheEnv{t: t, o: origin, j: j, web: "http://" + addr, client: janusClient(t)}
	e.do("GET", "/")
	r, _ := e.do("GET", "/")
	if !strings.HasPrefix(r.Header.Get("Cache-Status"), "janus; hit") {
		t.Errorf("Cache-Status %q", r.Header.Get("Cache-Status"))
	}
	if r, _ := e.do("PURGE", "/"); r.StatusCode != 200 {
		t.Errorf("PURGE from loopback: %d", r.StatusCode)
	}
	if _, err := os.Stat(j.Dir + "/janus-cache/objects"); err != nil {
		t.Errorf("disk tier: %v", err)
	}
}
