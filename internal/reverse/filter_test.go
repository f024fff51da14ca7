package reverse

import (
	"net/netip"
	"strings"
	"testing"
)

// TestFilterChecks pins each filter rule, on the normalised path: no
// encoding trick gets a denied path past it.
func TestFilterChecks(t *testing.T) {
	tb := mustTable(t, []RouteSpec{{
		Name:   "api",
		Action: ActionSpec{Upstream: "app"},
		Filter: FilterSpec{
			Methods:      []string{"GET", "HEAD"},
			AllowPaths:   []string{`^/(api|admin)/`},
			DenyPaths:    []string{`^/admin/`, `\.php$`},
			DenyHeaders:  []FieldMatch{{Name: "User-Agent", Regex: `(?i).*sqlmap.*`}, {Name: "X-Debug"}},
			AllowClients: []string{"127.0.0.0/8"},
			DenyClients:  []string{"127.0.0.66"},
		},
	}})
	local, denied, foreign := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.66"), netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		desc, method, target string
		fields               []string
		client               netip.Addr
		want                 int
	}{
		{"allowed", "GET", "/api/x", nil, local, 0},
		{"method not allowed", "POST", "/api/x", nil, local, 405},
		{"path outside the allowed ones", "GET", "/other", nil, local, 403},
		{"denied path", "GET", "/admin/panel", nil, local, 403},
		{"denied path, percent-encoded", "GET", "/%61dmin/panel", nil, local, 403},
		{"denied path, dot segments", "GET", "/api/../admin/panel", nil, local, 403},
		{"denied path, double slash", "GET", "//admin/panel", nil, local, 403},
		{"denied suffix", "GET", "/api/index.php", nil, local, 403},
		{"denied user agent", "GET", "/api/x", []string{"User-Agent: Mozilla sqlmap/1.7"}, local, 403},
		{"denied field by presence", "GET", "/api/x", []string{"X-Debug: 1"}, local, 403},
		{"client not allowed", "GET", "/api/x", nil, foreign, 403},
		{"client denied", "GET", "/api/x", nil, denied, 403},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			req := get(t, tc.method, tc.target, "site.test", tc.fields...)
			rt, p, err := tb.Match(req, tc.client)
			if err != nil || rt == nil {
				t.Fatalf("no route: %v", err)
			}
			v := rt.Filter.Check(req, &p, tc.client)
			if v.Status != tc.want {
				t.Errorf("status %d (%s), want %d", v.Status, v.Reason, tc.want)
			}
			if v.Status == 405 && v.Allow != "GET, HEAD" {
				t.Errorf("Allow %q", v.Allow)
			}
		})
	}
}

func TestFilterCompileErrors(t *testing.T) {
	_, err := NewTable([]RouteSpec{{Name: "bad", Action: ActionSpec{Upstream: "app"}, Filter: FilterSpec{
		Methods: []string{"GE T"}, DenyPaths: []string{"(["}, AllowClients: []string{"not-a-cidr"},
	}}})
	if err == nil {
		t.Fatal("a bad filter compiled")
	}
	for _, want := range []string{"filter.methods[0]", "filter.deny_paths[0]", "filter.allow_clients[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
