package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/janus-proxy/janus/internal/janustest"
)

// dashboardConfig: a forward listener with alice, a reverse one whose pool
// has a live origin and a dead target, and the admin API.
func dashboardConfig(origin string, extra string) string {
	return dashboardConfigCache(origin, origin, extra)
}

func dashboardConfigCache(origin, cacheable, extra string) string {
	return `
log: {level: debug}
users:
  inline:
    - {name: alice, hash: '` + aliceHash + `', groups: [staff]}
admin: {listen: 127.0.0.1:0}
listeners:
  - name: proxy
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, connect_ports: ["1-65535"]}
  - name: web
    listen: 127.0.0.1:0
    reverse: {routes: [{match: {path_prefix: /}, upstream: app}]}
  - name: cached
    listen: 127.0.0.1:0
    reverse: {routes: [{match: {path_prefix: /}, upstream: static, cache: on}]}
` + extra + `
cache: {memory: 16MiB}
upstreams:
  static: {targets: ['` + cacheable + `']}
  app:
    targets: ['` + origin + `', '127.0.0.1:1']
    health: {path: /, interval: 200ms, timeout: 200ms, rise: 1, fall: 1}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
    - deny: {name: special-destinations, to: [special]}
`
}

// newBrowser starts Debian's chromium headless, or skips (fails under
// JANUS_REQUIRE_EXTERNAL=1) when it is not installed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin := janustest.RequireExternal(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1366, 1000),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// An empty action starts the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// waitJS polls expr in the page until it is true (bounded).
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText.slice(0, 3000)`))
		t.Fatalf("%s: %v (waiting for %s)\npage:\n%s", what, err, expr, page)
	}
}

func text(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// TestDashboardShowsLiveTrafficAndReloads drives the dashboard in real
// headless Chromium: known traffic through both faces shows up in the
// counters, the charts (the series they draw), the top users, the denials
// and the tail; the upstream table colours the dead target; the reload
// button reloads (and shows a bad config's file and line); the page stays
// usable on a narrow screen. Screenshots are kept in a temp dir.
func TestDashboardShowsLiveTrafficAndReloads(t *testing.T) {
	ctx := newBrowser(t)
	origin := janustest.EchoOrigin(t)
	originAddr := strings.TrimPrefix(origin.URL, "http://")
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = w.Write([]byte("cacheable " + r.URL.Path))
	}))
	t.Cleanup(static.Close)
	staticAddr := strings.TrimPrefix(static.URL, "http://")
	dashboardConfig := func(_ string, extra string) string { return dashboardConfigCache(originAddr, staticAddr, extra) }
	j := janustest.Start(t, dashboardConfig(originAddr, ""), nil)
	ap, _ := j.Server.AdminAddr()
	base := "http://" + ap.String() + "/"

	if err := chromedp.Do(ctx, chromedp.Navigate(base)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "status loads", `document.getElementById("generation").textContent === "1"`)
	waitJS(t, ctx, "the event stream connects", `document.getElementById("conn").classList.contains("on") && window.janus.ticks > 0`)

	// Known traffic: 7 proxied requests as alice, 1 denied (alice too), 5
	// through the reverse face.
	const fwd, rev = 7, 5
	client := proxyClientFor(t, j.Addr(t, "proxy"), "alice:wonderland")
	for i := range fwd {
		getWant(t, client, fmt.Sprintf("%s/fwd/%d", origin.URL, i), http.StatusOK)
	}
	getWant(t, client, "http://127.0.0.2:9/denied-here", http.StatusForbidden)
	web := &http.Client{Timeout: 5 * time.Second}
	for i := range rev {
		getWant(t, web, fmt.Sprintf("http://%s/rev/%d", j.Addr(t, "web"), i), http.StatusOK)
	}

	sum := func(face string) string {
		return `window.janus.series.` + face + `.requests.reduce((a, b) => a + b, 0)`
	}
	waitJS(t, ctx, "the 10-minute totals count every request", `document.getElementById("total-forward").textContent === "8" && document.getElementById("total-reverse").textContent === "5"`)
	waitJS(t, ctx, "the charts' series hold every request", sum("forward")+` === 8 && `+sum("reverse")+` === 5`)
	waitJS(t, ctx, "the status mix shows 2xx and 4xx", `!!document.querySelector('#mix-forward span[data-cls="2xx"]') && !!document.querySelector('#mix-forward span[data-cls="4xx"]')`)
	waitJS(t, ctx, "alice is the top user, with bytes", `(() => { const r = document.querySelector("#top-users tbody tr"); return !!r && r.cells[0].textContent === "alice" && r.cells[1].textContent === "8" && !r.cells[2].textContent.startsWith("0 "); })()`)
	waitJS(t, ctx, "the denial shows its rule", `document.querySelector("#denials tbody").innerText.includes("local#special-destinations") || document.querySelector("#denials tbody").innerText.includes("special-destinations")`)
	waitJS(t, ctx, "the dead target is unhealthy, the origin healthy", `(() => {
		const dead = document.querySelector('#upstreams tr[data-target="127.0.0.1:1"]');
		const live = document.querySelector('#upstreams tr[data-target="`+originAddr+`"]');
		return !!dead && !!live && dead.dataset.state === "unhealthy" && live.dataset.state === "healthy"
			&& getComputedStyle(dead.querySelector(".state")).color !== getComputedStyle(live.querySelector(".state")).color; })()`)
	waitJS(t, ctx, "the tail lists the requests", `document.querySelectorAll("#tail tbody tr").length >= 13`)
	waitJS(t, ctx, "no quotas, no limited clients", `!document.getElementById("quotas-none").classList.contains("hidden")
		&& document.getElementById("credit-form").classList.contains("hidden")
		&& document.querySelector("#limited tbody").innerText.includes("no client refused")`)
	if got := text(t, ctx, `document.getElementById("lat-reverse").textContent`); !strings.HasSuffix(got, " ms") {
		t.Errorf("reverse latency percentiles %q", got)
	}

	// The tail filter.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("#tail-contains"), "denied-here")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the filtered tail holds the denial only", `(() => { const rows = document.querySelectorAll("#tail tbody tr"); return rows.length === 1 && rows[0].innerText.includes("403"); })()`)

	dir, err := os.MkdirTemp("", "janus-dashboard-")
	if err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, filepath.Join(dir, "desktop.png"))

	// The cache: a miss then a hit show as 50 %; the purge form purges.
	cachedURL := "http://" + j.Addr(t, "cached") + "/c"
	getWant(t, web, cachedURL, http.StatusOK)
	getWant(t, web, cachedURL, http.StatusOK)
	waitJS(t, ctx, "the cache shows its hit ratio", `document.getElementById("cache-ratio").textContent === "50.0 %" && document.getElementById("cache-objects").textContent === "1"`)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("#purge-value"), cachedURL),
		chromedp.Click(chromedp.ID("#purge-btn"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the purge form answers", `document.getElementById("purge-result").textContent !== ""`)
	if res := text(t, ctx, `document.getElementById("purge-result").textContent`); res != "purged 1 entry" {
		t.Errorf("purge result %q", res)
	}
	waitJS(t, ctx, "the purged object is gone", `document.getElementById("cache-objects").textContent === "0"`)

	// The reload button: a new listener appears; a bad config is refused
	// with its file and line.
	path := filepath.Join(j.Dir, "janus.yaml")
	extra := "  - name: extra\n    listen: 127.0.0.1:0\n    forward: {}\n"
	if err := os.WriteFile(path, []byte(dashboardConfig(originAddr, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("#reload-btn"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "reloaded", `document.getElementById("reload-result").textContent === "reloaded: generation 2" && document.getElementById("generation").textContent === "2"`)
	waitJS(t, ctx, "the new listener is listed", `!!document.querySelector('#listeners tr[data-listener="extra"]')`)
	waitJS(t, ctx, "the config view shows the new config", `document.getElementById("config").textContent.includes("name: extra")`)
	bad := strings.Replace(dashboardConfig(originAddr, extra), "policy: local,", "policy: nowhere,", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("#reload-btn"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the failed reload says where", `document.getElementById("reload-result").textContent.includes(`+jsString(path+":")+`) && document.getElementById("reload-result").textContent.includes("keeps serving")`)
	if g := j.Server.Generation(); g != 2 {
		t.Errorf("generation %d after a failed reload", g)
	}

	// A narrow screen: one column, nothing wider than the screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	wide := `[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > 391 && !e.closest(".scroll, pre")).map((e) => e.tagName + "#" + e.id + "." + e.className).slice(0, 10).join(" ")`
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.documentElement.scrollWidth <= 390`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("the narrow layout scrolls sideways: %d px wide; too wide: %s", len(text(t, ctx, `" ".repeat(document.documentElement.scrollWidth)`)), text(t, ctx, wide))
	}
	shot(t, ctx, filepath.Join(dir, "narrow.png"))
	t.Logf("dashboard screenshots: %s", dir)
}

func shot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsString(s string) string { return "`" + strings.ReplaceAll(s, "`", "\\`") + "`" }

func proxyClientFor(t *testing.T, addr, userinfo string) *http.Client {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: addr}
	if userinfo != "" {
		user, pass, _ := strings.Cut(userinfo, ":")
		u.User = url.UserPassword(user, pass)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func getWant(t *testing.T, c *http.Client, u string, want int) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	// Read to the end: a body left unread resets the connection, and the
	// proxy logs the exchange as failed.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", u, resp.StatusCode, want)
	}
}

// TestDashboardShowsLimitedClientsAndQuotas (issue 6): bob under a
// per-user rate limit of 1/m with a burst of 2 and a monthly quota; alice
// in a group whose balance is smaller than one response. After real
// requests through the proxy (bob's third and fourth refused with 429,
// alice's second with 403 by the quota), the Limits panel lists both with
// the limit that refused them, the Quotas panel shows bob's bar with his
// use and the group over, and the credit form brings the group back under.
func TestDashboardShowsLimitedClientsAndQuotas(t *testing.T) {
	ctx := newBrowser(t)
	body := strings.Repeat("q", 10<<10)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }))
	t.Cleanup(origin.Close)
	yaml := fmt.Sprintf(`
users:
  inline:
    - {name: alice, hash: '%s', groups: [staff]}
    - {name: bob, hash: '%s'}
admin: {listen: 127.0.0.1:0}
quotas:
  store: %q
  users:
    bob: {limit: 1MiB, period: month}
  groups:
    staff: {limit: 1KiB, period: balance}
limits:
  per-user: {rate: 1/m, burst: 2, key: user}
listeners:
  - name: proxy
    listen: 127.0.0.1:0
    forward: {policy: local, auth: required, limits: [per-user]}
policies:
  local:
    - allow: {name: local-origin, to: [127.0.0.1]}
`, aliceHash, bobHash, filepath.Join(t.TempDir(), "quotas.db"))
	j := janustest.Start(t, yaml, nil)
	ap, _ := j.Server.AdminAddr()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ap.String()+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the quotas load before any traffic", `document.querySelectorAll("#quotas .quota").length === 2
		&& document.getElementById("quotas-none").classList.contains("hidden")`)

	bob := proxyClientFor(t, j.Addr(t, "proxy"), "bob:builder")
	for i, want := range []int{200, 200, 429, 429} {
		getWant(t, bob, fmt.Sprintf("%s/bob/%d", origin.URL, i), want)
	}
	alice := proxyClientFor(t, j.Addr(t, "proxy"), "alice:wonderland")
	getWant(t, alice, origin.URL+"/alice/0", http.StatusOK)
	// An exchange is charged when it ends, which may be just after the
	// client has the response.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if us := j.Server.Quotas(); len(us) == 2 && us[0].Account == "group:staff" && us[0].Over {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's response is not charged to her group: %+v", j.Server.Quotas())
		}
	}
	getWant(t, alice, origin.URL+"/alice/1", http.StatusForbidden)

	limited := func(user string) string {
		return `document.querySelector('#limited tr[data-client="127.0.0.1"][data-user="` + user + `"]')`
	}
	waitJS(t, ctx, "bob is limited by the rate limit, twice", `(() => { const r = `+limited("bob")+`;
		return !!r && r.cells[2].textContent === "per-user" && r.cells[3].textContent === "2" && r.cells[4].textContent.endsWith("ago"); })()`)
	waitJS(t, ctx, "alice is limited by the quota", `(() => { const r = `+limited("alice")+`;
		return !!r && r.cells[2].textContent === "quota" && r.cells[3].textContent === "1"; })()`)
	quota := func(account string) string {
		return `document.querySelector('#quotas .quota[data-account="` + account + `"]')`
	}
	waitJS(t, ctx, "bob's bar shows his use, under his limit", `(() => { const q = `+quota("user:bob")+`;
		return !!q && q.dataset.over === "0" && q.querySelector(".bar .fill").getBoundingClientRect().width > 0
			&& q.querySelector(".use").textContent.startsWith("20.") && q.querySelector(".use").textContent.includes("/ 1.0 MiB")
			&& q.innerText.includes("room again in "); })()`)
	waitJS(t, ctx, "the group is over, in red, with no reset", `(() => { const q = `+quota("group:staff")+`, b = `+quota("user:bob")+`;
		return !!q && q.dataset.over === "1" && q.innerText.includes("no reset")
			&& q.querySelector(".bar .fill").style.width === "100%"
			&& getComputedStyle(q.querySelector(".fill")).backgroundColor !== getComputedStyle(b.querySelector(".fill")).backgroundColor; })()`)
	dir, err := os.MkdirTemp("", "janus-dashboard-quotas-")
	if err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, filepath.Join(dir, "quotas.png"))
	t.Logf("dashboard screenshot (the group over its quota): %s", dir)
	// The tail's "limited" filter keeps the three refusals.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("#tail-class"), "limited")); err != nil {
		t.Fatal(err)
	}
	text(t, ctx, `(document.getElementById("tail-class").dispatchEvent(new Event("input")), "")`)
	waitJS(t, ctx, "the tail filtered to limited refusals", `document.querySelectorAll("#tail tbody tr").length === 3`)

	// Credit the group 1 MiB through the form: it is back under.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("#credit-account"), "group:staff"),
		chromedp.SetValue(chromedp.ID("#credit-amount"), "1"),
		chromedp.SetValue(chromedp.ID("#credit-unit"), "1048576"),
		chromedp.Click(chromedp.ID("#credit-btn"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the credit answers", `document.getElementById("credit-result").textContent.startsWith("credited 1.0 MiB to group:staff")`)
	waitJS(t, ctx, "the group is under its quota again", `(() => { const q = `+quota("group:staff")+`; return !!q && q.dataset.over === "0"; })()`)
	getWant(t, alice, origin.URL+"/alice/2", http.StatusOK)
	credited := func() bool {
		for _, l := range j.App.Lines() {
			if l["msg"] == "quota credited through the admin API" && l["account"] == "group:staff" && l["bytes"] == float64(1<<20) {
				return true
			}
		}
		return false
	}
	if !credited() {
		t.Errorf("the credit is not logged with its account and bytes:\n%s", j.App.String())
	}
}
