package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/admin"
	jconfig "github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/limit/quota"
	"github.com/janus-proxy/janus/internal/live"
	"github.com/janus-proxy/janus/internal/metrics"
	"github.com/janus-proxy/janus/internal/server"
	"github.com/janus-proxy/janus/internal/upstream"
)

// fakeServer is the smallest admin.Server: a parsed config and nothing
// running. It has no quota accessors, as a server built without them.
type fakeServer struct {
	cfg  *jconfig.Config
	live *live.Live
}

func newFakeServer(t *testing.T, adminLines string) *fakeServer {
	t.Helper()
	cfg, err := jconfig.Parse("fake.yaml", []byte("admin:\n  listen: 127.0.0.1:0\n"+adminLines+
		"listeners: [{name: proxy, listen: 127.0.0.1:0, forward: {}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeServer{cfg: cfg, live: live.New(live.Options{})}
}

func (f *fakeServer) Config() *jconfig.Config         { return f.cfg }
func (f *fakeServer) Generation() int                 { return 1 }
func (f *fakeServer) Started() time.Time              { return time.Time{} }
func (f *fakeServer) Ready() bool                     { return true }
func (f *fakeServer) Listeners() []admin.Listener     { return nil }
func (f *fakeServer) Upstreams() []upstream.HostStats { return nil }
func (f *fakeServer) Users() *gate.Users              { return nil }
func (f *fakeServer) Live() *live.Live                { return f.live }
func (f *fakeServer) Metrics() *metrics.Metrics       { return nil }
func (f *fakeServer) ReloadConfigFile() error         { return nil }

// The real server has the quota accessors admin looks for.
var _ interface {
	Quotas() []quota.Usage
	CreditQuota(string, int64) (quota.Usage, error)
} = (*server.Server)(nil)

// quotaServer adds the quota accessors *server.Server has, over accounts
// held in memory.
type quotaServer struct {
	*fakeServer
	mu       sync.Mutex
	accounts []quota.Usage // sorted by account; nil: no quotas configured
}

func (q *quotaServer) Quotas() []quota.Usage {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.accounts == nil {
		return nil
	}
	return append([]quota.Usage{}, q.accounts...)
}

func (q *quotaServer) CreditQuota(account string, n int64) (quota.Usage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.accounts {
		if u := &q.accounts[i]; u.Account == account {
			u.Used -= n
			u.Over = u.Used >= u.Limit
			return *u, nil
		}
	}
	return quota.Usage{}, fmt.Errorf("no quota for account %q", account)
}

var reset = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)

func newQuotaServer(t *testing.T, adminLines string) *quotaServer {
	return &quotaServer{fakeServer: newFakeServer(t, adminLines), accounts: []quota.Usage{
		{Account: "group:staff", Plan: "10.0 GiB per 720h0m0s rolling", Limit: 10 << 30, Used: 3 << 30, Reset: reset},
		{Account: "user:bob", Plan: "100.0 KiB balance", Limit: 100 << 10, Used: 120 << 10, Over: true},
	}}
}

// serve starts the admin handler over s on loopback and returns an api
// client for it and the admin log.
func serve(t *testing.T, s admin.Server) (*api, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	h := admin.New(admin.Options{Server: s, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{t: t, base: srv.URL}, &logs
}

func TestQuotasListEveryAccountAndAnEmptyListWithoutQuotas(t *testing.T) {
	withNone := newQuotaServer(t, "")
	withNone.accounts = nil
	for _, tc := range []struct {
		desc   string
		server admin.Server
		want   []quota.Usage
	}{
		{"a server without quota accessors", newFakeServer(t, ""), []quota.Usage{}},
		{"a config without quotas", withNone, []quota.Usage{}},
		{"two accounts", newQuotaServer(t, ""), newQuotaServer(t, "").accounts},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			a, _ := serve(t, tc.server)
			resp, data := a.do("GET", "/api/quotas", "")
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, data)
			}
			// An empty list, not null: the dashboard and scripts iterate it.
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(data, &raw); err != nil || strings.TrimSpace(string(raw["quotas"])) == "null" {
				t.Fatalf("body %s (%v)", data, err)
			}
			var got struct{ Quotas []quota.Usage }
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.Quotas) != fmt.Sprint(tc.want) {
				t.Errorf("quotas %+v, want %+v", got.Quotas, tc.want)
			}
		})
	}
}

// TestQuotaJSONShape pins the field names the dashboard reads: a balance
// has no reset.
func TestQuotaJSONShape(t *testing.T) {
	a, _ := serve(t, newQuotaServer(t, ""))
	_, data := a.do("GET", "/api/quotas", "")
	want := `{
  "quotas": [
    {
      "account": "group:staff",
      "plan": "10.0 GiB per 720h0m0s rolling",
      "limit": 10737418240,
      "used": 3221225472,
      "reset": "2027-02-01T00:00:00Z",
      "over": false
    },
    {
      "account": "user:bob",
      "plan": "100.0 KiB balance",
      "limit": 102400,
      "used": 122880,
      "over": true
    }
  ]
}
`
	if string(data) != want {
		t.Errorf("got\n%s\nwant\n%s", data, want)
	}
}

func TestQuotaCredit(t *testing.T) {
	for _, tc := range []struct {
		desc, method, body string
		noQuotas           bool
		status             int
		want               string
		used               int64 // bob's use after, checked on 200
	}{
		{"credits bob", "POST", `{"account":"user:bob","bytes":102400}`, false, 200, `"over": false`, 20 << 10},
		{"a group", "POST", `{"account":"group:staff","bytes":1073741824}`, false, 200, `"used": 2147483648`, 120 << 10},
		{"credit is POST", "GET", "", false, 405, "use POST", 0},
		{"empty body", "POST", "", false, 400, "empty body", 0},
		{"bad JSON", "POST", `{"account":`, false, 400, "bad JSON", 0},
		{"unknown field", "POST", `{"account":"user:bob","bytes":1,"user":"bob"}`, false, 400, "unknown field", 0},
		{"no account", "POST", `{"bytes":1}`, false, 400, `want \"account\"`, 0},
		{"account without a kind", "POST", `{"account":"bob","bytes":1}`, false, 400, "user:NAME or group:NAME", 0},
		{"account of another kind", "POST", `{"account":"host:bob","bytes":1}`, false, 400, "user:NAME or group:NAME", 0},
		{"account without a name", "POST", `{"account":"user:","bytes":1}`, false, 400, "user:NAME or group:NAME", 0},
		{"no bytes", "POST", `{"account":"user:bob"}`, false, 400, "positive number of bytes, got 0", 0},
		{"negative bytes", "POST", `{"account":"user:bob","bytes":-5}`, false, 400, "got -5", 0},
		{"fractional bytes", "POST", `{"account":"user:bob","bytes":1.5}`, false, 400, "bad JSON", 0},
		{"bytes as a string", "POST", `{"account":"user:bob","bytes":"1MiB"}`, false, 400, "bad JSON", 0},
		{"unknown account", "POST", `{"account":"user:carol","bytes":1}`, false, 404, `no quota for account \"user:carol\"`, 0},
		{"no quotas configured", "POST", `{"account":"user:bob","bytes":1}`, true, 404, "no quota for account", 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := newQuotaServer(t, "")
			var srv admin.Server = s
			if tc.noQuotas {
				srv = s.fakeServer
			}
			a, logs := serve(t, srv)
			resp, data := a.do(tc.method, "/api/quotas/credit", tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(string(data), tc.want) {
				t.Fatalf("%d %s, want %d with %q", resp.StatusCode, data, tc.status, tc.want)
			}
			if tc.status != 200 {
				if strings.Contains(logs.String(), "credited") {
					t.Errorf("a refused credit was logged: %s", logs)
				}
				if u := s.Quotas()[1]; u.Used != 120<<10 {
					t.Errorf("a refused credit changed bob's use to %d", u.Used)
				}
				return
			}
			var u quota.Usage
			if err := json.Unmarshal(data, &u); err != nil {
				t.Fatal(err)
			}
			var req admin.CreditRequest
			_ = json.Unmarshal([]byte(tc.body), &req)
			if u.Account != req.Account {
				t.Errorf("answer for %q, want %q", u.Account, req.Account)
			}
			if bob := s.Quotas()[1]; bob.Used != tc.used {
				t.Errorf("bob uses %d, want %d", bob.Used, tc.used)
			}
			var line struct {
				Level, Msg, Account string
				Bytes               int64
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Level != "INFO" ||
				line.Account != req.Account || line.Bytes != req.Bytes {
				t.Errorf("log %s, want the account and bytes at info", logs)
			}
		})
	}
}

func TestQuotaEndpointsNeedAdminAuth(t *testing.T) {
	a, _ := serve(t, newQuotaServer(t, "  token: "+token+"\n"))
	for _, tc := range []struct {
		desc, auth, method, path, body string
		status                         int
	}{
		{"list without credentials", "", "GET", "/api/quotas", "", 401},
		{"credit without credentials", "", "POST", "/api/quotas/credit", `{"account":"user:bob","bytes":1}`, 401},
		{"credit with a wrong token", "Bearer nope", "POST", "/api/quotas/credit", `{"account":"user:bob","bytes":1}`, 401},
		{"list with the token", "Bearer " + token, "GET", "/api/quotas", "", 200},
		{"credit with the token", "Bearer " + token, "POST", "/api/quotas/credit", `{"account":"user:bob","bytes":1}`, 200},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			a.auth = tc.auth
			if resp, data := a.do(tc.method, tc.path, tc.body); resp.StatusCode != tc.status {
				t.Errorf("%d %s, want %d", resp.StatusCode, data, tc.status)
			}
		})
	}
}
