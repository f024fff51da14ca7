package admin_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/admin"
	"github.com/janus-proxy/janus/internal/cache"
	"github.com/janus-proxy/janus/internal/janustest"
)

// The users of examples/users.htpasswd.
const (
	aliceHash = "$2a$10$1XmjluOo0OK0qGnxx6zce.cb/BTleTYGrFxoK1G4or7gcW74CQvCm" // wonderland
	bobHash   = "$2a$10$rdUHF/Jh85a8.BDD9Vn5xu6Xfl0e5tqdBaQ04Pp8yuFDGLz1jXtSS" // builder
	token     = "s3cret-token-0123456789"
)

// config is a forward listener, a reverse one with a pool, users, and
// the admin API on a free loopback port with the given admin lines.
func config(adminLines string) string {
	return `
log: {level: debug}
users:
  inline:
    - {name: alice, hash: '` + aliceHash + `', groups: [staff]}
    - {name: bob, hash: '` + bobHash + `'}
admin:
  listen: 127.0.0.1:0
` + adminLines + `
listeners:
  - name: proxy
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"]}
  - name: web
    listen: 127.0.0.1:0
    reverse: {routes: [{match: {path_prefix: /}, upstream: app}]}
upstreams:
  app: {targets: ["127.0.0.1:1"]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
    - deny: {name: special, to: [special]}
`
}

type api struct {
	t    *testing.T
	j    *janustest.Janus
	base string
	auth string // Authorization header value
}

func start(t *testing.T, adminLines string) *api {
	t.Helper()
	j := janustest.Start(t, config(adminLines), nil)
	ap, ok := j.Server.AdminAddr()
	if !ok {
		t.Fatal("no admin listener")
	}
	return &api{t: t, j: j, base: "http://" + ap.String()}
}

func (a *api) do(method, path, body string) (*http.Response, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if a.auth != "" {
		req.Header.Set("Authorization", a.auth)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// getJSON fetches path, wants 200, and decodes into v.
func (a *api) getJSON(path string, v any) {
	a.t.Helper()
	resp, data := a.do("GET", path, "")
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		a.t.Fatalf("GET %s: %v in %s", path, err, data)
	}
}

func TestEveryEndpointAnswersOnLoopbackWithoutAuth(t *testing.T) {
	a := start(t, "")
	for _, tc := range []struct {
		desc, path, want string
		status           int
	}{
		{"status", "/api/status", `"generation": 1`, 200},
		{"config", "/api/config", `"listen": "127.0.0.1:0"`, 200},
		{"listeners", "/api/listeners", `"name": "proxy"`, 200},
		{"upstreams", "/api/upstreams", `"target": "127.0.0.1:1"`, 200},
		{"users", "/api/users", `"name": "alice"`, 200},
		{"cache off", "/api/cache", `cache off`, 404},
		{"no quotas", "/api/quotas", `"quotas": []`, 200},
		{"errors", "/api/errors", `"errors"`, 200},
		{"live", "/api/live", `"faces"`, 200},
		{"healthz", "/healthz", "ok", 200},
		{"readyz", "/readyz", "ready", 200},
		{"metrics", "/metrics", "janus_build_info", 200},
		{"profiles", "/debug/pprof/", "goroutine", 200},
		{"a heap profile", "/debug/pprof/heap?debug=1", "heap profile", 200},
		{"dashboard", "/", "<title>Janus", 200},
		{"script", "/app.js", "/api/events", 200},
		{"unknown endpoint", "/api/nope", "no such endpoint", 404},
		{"unknown page", "/nope", "not found", 404},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			resp, data := a.do("GET", tc.path, "")
			if resp.StatusCode != tc.status || !strings.Contains(string(data), tc.want) {
				t.Errorf("GET %s: %d, want %d with %q; body:\n%.600s", tc.path, resp.StatusCode, tc.status, tc.want, data)
			}
		})
	}
}

func TestStatusAndListenersSayWhatRuns(t *testing.T) {
	a := start(t, "")
	var st admin.Status
	a.getJSON("/api/status", &st)
	if st.Generation != 1 || st.ConfigFile != filepath.Join(a.j.Dir, "janus.yaml") || !strings.HasPrefix(st.GoVersion, "go") || !st.Ready {
		t.Errorf("status %+v", st)
	}
	var ls struct{ Listeners []admin.Listener }
	a.getJSON("/api/listeners", &ls)
	if len(ls.Listeners) != 2 {
		t.Fatalf("listeners %+v", ls)
	}
	p := ls.Listeners[0]
	if p.Name != "proxy" || p.Address != a.j.Addr(t, "proxy") || strings.Join(p.Protocols, ",") != "http,connect,socks5,socks4" {
		t.Errorf("proxy listener %+v", p)
	}
	if w := ls.Listeners[1]; w.Name != "web" || strings.Join(w.Protocols, ",") != "reverse" {
		t.Errorf("web listener %+v", w)
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	a := start(t, "  token: "+token+"\n")
	a.auth = "Bearer " + token
	var v admin.ConfigView
	a.getJSON("/api/config", &v)
	for _, secret := range []string{token, aliceHash, bobHash, "$2a$"} {
		if strings.Contains(v.YAML, secret) {
			t.Errorf("the config view shows %q:\n%s", secret, v.YAML)
		}
		js, _ := json.Marshal(v.Config)
		if strings.Contains(string(js), secret) {
			t.Errorf("the config tree shows %q", secret)
		}
	}
	if !strings.Contains(v.YAML, "token: <redacted>") || !strings.Contains(v.YAML, "upstream: app") {
		t.Errorf("config view:\n%s", v.YAML)
	}
}

func TestAuthRefusals(t *testing.T) {
	a := start(t, "  token: "+token+"\n  users: [alice]\n")
	basic := func(u, p string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	for _, tc := range []struct {
		desc, auth, path string
		status           int
		want             string
	}{
		{"no credentials", "", "/api/status", 401, "authentication required"},
		{"wrong token", "Bearer nope", "/api/status", 401, "bad credentials"},
		{"right token", "Bearer " + token, "/api/status", 200, "generation"},
		{"alice is an admin user", basic("alice", "wonderland"), "/api/status", 200, "generation"},
		{"alice with a wrong password", basic("alice", "nope"), "/api/status", 401, "bad credentials"},
		{"bob is not an admin user", basic("bob", "builder"), "/api/status", 401, "bad credentials"},
		{"metrics need credentials", "", "/metrics", 401, "authentication required"},
		{"profiles need credentials", "", "/debug/pprof/", 401, "authentication required"},
		{"the CPU profile needs credentials", "", "/debug/pprof/profile", 401, "authentication required"},
		{"events need credentials", "", "/api/events", 401, "authentication required"},
		{"unknown endpoints say nothing without credentials", "", "/api/nope", 401, "authentication required"},
		{"probes need none", "", "/healthz", 200, "ok"},
		{"the page needs none", "", "/", 200, "Janus"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			a.auth = tc.auth
			resp, data := a.do("GET", tc.path, "")
			if resp.StatusCode != tc.status || !strings.Contains(string(data), tc.want) {
				t.Errorf("%d %s, want %d with %q", resp.StatusCode, data, tc.status, tc.want)
			}
			if resp.StatusCode == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestClientsOutsideAllowAreRefused(t *testing.T) {
	a := start(t, "  allow: [10.0.0.0/8]\n")
	resp, data := a.do("GET", "/healthz", "")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(data), "admin.allow") {
		t.Errorf("%d %s", resp.StatusCode, data)
	}
}

func TestMethodsAndBadInput(t *testing.T) {
	a := start(t, "")
	for _, tc := range []struct {
		desc, method, path, body string
		status                   int
		want                     string
	}{
		{"reload is POST", "GET", "/api/reload", "", 405, "use POST"},
		{"status is GET", "POST", "/api/status", "", 405, "use GET"},
		{"purge is POST", "GET", "/api/cache/purge", "", 405, "use POST"},
		{"purge: bad JSON", "POST", "/api/cache/purge", "{url:", 400, "bad JSON"},
		{"purge: empty body", "POST", "/api/cache/purge", "", 400, "empty body"},
		{"purge: unknown field", "POST", "/api/cache/purge", `{"uri":"x"}`, 400, "unknown field"},
		{"purge: two fields", "POST", "/api/cache/purge", `{"url":"http://a/","tag":"t"}`, 400, "exactly one"},
		{"purge: cache off", "POST", "/api/cache/purge", `{"tag":"t"}`, 404, "cache off"},
		{"reload: bad JSON", "POST", "/api/reload", "nope", 400, "bad JSON"},
		{"events: bad face", "GET", "/api/events?face=sideways", "", 400, "face"},
		{"events: bad flag", "GET", "/api/events?ticks=maybe", "", 400, "ticks"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			resp, data := a.do(tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(string(data), tc.want) {
				t.Errorf("%d %s, want %d with %q", resp.StatusCode, data, tc.status, tc.want)
			}
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestCacheStatsAndPurge(t *testing.T) {
	a := start(t, "")
	c, err := cache.New(cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := admin.New(admin.Options{Server: a.j.Server, Cache: func() admin.Cache { return c }})
	srv := httptest.NewServer(h)
	defer srv.Close()
	a.base = srv.URL
	var st admin.CacheStats
	a.getJSON("/api/cache", &st)
	for _, body := range []string{`{"url":"http://example.com/a"}`, `{"prefix":"http://example.com/"}`, `{"tag":"t"}`} {
		resp, data := a.do("POST", "/api/cache/purge", body)
		if resp.StatusCode != 200 || !strings.Contains(string(data), `"purged": 0`) {
			t.Errorf("purge %s: %d %s", body, resp.StatusCode, data)
		}
	}
	resp, data := a.do("POST", "/api/cache/purge", `{"url":"::not a url"}`)
	if resp.StatusCode != 400 {
		t.Errorf("purge of a bad URL: %d %s", resp.StatusCode, data)
	}
}

func TestReloadThroughTheAPI(t *testing.T) {
	a := start(t, "")
	resp, data := a.do("POST", "/api/reload", "")
	var res admin.ReloadResult
	_ = json.Unmarshal(data, &res)
	if resp.StatusCode != 200 || !res.OK || res.Generation != 2 {
		t.Fatalf("reload: %d %s", resp.StatusCode, data)
	}
	// A bad config: 400 with file and line, and the old one keeps serving.
	path := filepath.Join(a.j.Dir, "janus.yaml")
	bad := strings.Replace(config(""), "policy: local,", "policy: nowhere,", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, data = a.do("POST", "/api/reload", "{}")
	res = admin.ReloadResult{}
	_ = json.Unmarshal(data, &res)
	if resp.StatusCode != 400 || res.OK || len(res.Problems) != 1 || res.Problems[0].Line == 0 ||
		res.Problems[0].File != path || !strings.Contains(res.Error, "nowhere") {
		t.Fatalf("bad reload: %d %s", resp.StatusCode, data)
	}
	var st admin.Status
	a.getJSON("/api/status", &st)
	if st.Generation != 2 {
		t.Errorf("generation %d after a failed reload, want 2", st.Generation)
	}
}

func TestReloadMovesTheAdminListener(t *testing.T) {
	a := start(t, "")
	old := a.base
	path := filepath.Join(a.j.Dir, "janus.yaml")
	// Another free port: the config names a fixed one, so find one.
	l := httptest.NewServer(http.NotFoundHandler())
	port := l.Listener.Addr().String()
	l.Close()
	moved := strings.Replace(config(""), "listen: 127.0.0.1:0\n\nlisteners", "listen: "+port+"\n\nlisteners", 1)
	if moved == config("") {
		t.Fatal("test config did not change")
	}
	if err := os.WriteFile(path, []byte(moved), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, data := a.do("POST", "/api/reload", "")
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %d %s", resp.StatusCode, data)
	}
	a.base = "http://" + port
	var st admin.Status
	a.getJSON("/api/status", &st)
	if st.Generation != 2 {
		t.Errorf("generation %d", st.Generation)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := http.Get(old + "/healthz")
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old admin address still answers")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEventsStreamEntriesAndTicks: a request through the proxy arrives on
// /api/events as an entry event, and ticks come every second.
func TestEventsStreamEntriesAndTicks(t *testing.T) {
	a := start(t, "")
	resp, err := http.Get(a.base + "/api/events?face=forward")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	// A denied request (no credentials): it is logged all the same.
	proxied, err := http.NewRequest("GET", "http://127.0.0.1:1/events-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(mustURL(t, "http://"+a.j.Addr(t, "proxy")))}
	defer tr.CloseIdleConnections()
	pr, err := tr.RoundTrip(proxied)
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sawEntry, sawTick := false, false
	done := make(chan struct{})
	go func() {
		defer close(done)
		event := ""
		for sc.Scan() && !(sawEntry && sawTick) {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: ") && event == "entry":
				sawEntry = sawEntry || strings.Contains(line, "/events-test")
			case strings.HasPrefix(line, "data: ") && event == "tick":
				sawTick = true
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		resp.Body.Close()
		<-done
	}
	if !sawEntry || !sawTick {
		t.Errorf("entry %v, tick %v", sawEntry, sawTick)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
