package admin_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestMetricsCountKnownTraffic scrapes /metrics on the admin listener
// after known traffic: 3 proxied requests, 2 denials, 4 answers from the
// dead pool (502), one reload.
func TestMetricsCountKnownTraffic(t *testing.T) {
	a := start(t, "")
	origin := janustest.EchoOrigin(t)
	tr := &http.Transport{Proxy: http.ProxyURL(mustURL(t, "http://alice:wonderland@"+a.j.Addr(t, "proxy")))}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	hit := func(c *http.Client, u string, want, n int) {
		for range n {
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("GET %s: %d, want %d", u, resp.StatusCode, want)
			}
		}
	}
	hit(c, origin.URL+"/m", 200, 3)
	hit(c, "http://127.0.0.2:9/", 403, 2)
	hit(&http.Client{Timeout: 5 * time.Second}, "http://"+a.j.Addr(t, "web")+"/", 502, 4)
	if resp, data := a.do("POST", "/api/reload", ""); resp.StatusCode != 200 {
		t.Fatalf("reload: %d %s", resp.StatusCode, data)
	}
	resp, data := a.do("GET", "/metrics", "")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	body := string(data)
	for _, tc := range []struct{ desc, series, value string }{
		{"proxied 2xx", `janus_requests_total{code_class="2xx",face="forward",listener="proxy",route=""}`, "3"},
		{"denials by rule", `janus_gate_decisions_total{listener="proxy",rule="special",verdict="deny"}`, "2"},
		{"dead pool 5xx", `janus_requests_total{code_class="5xx",face="reverse",listener="web",route="`, "4"},
		{"reloads", `janus_reloads_total{result="ok"}`, "1"},
		{"latency histogram", `janus_request_duration_seconds_count{face="forward",listener="proxy"}`, "5"},
		{"build info", `janus_build_info{`, "1"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tc.series) + `.* (\S+)$`)
			m := re.FindStringSubmatch(body)
			if m == nil || m[1] != tc.value {
				var near []string
				name, _, _ := strings.Cut(tc.series, "{")
				for _, l := range strings.Split(body, "\n") {
					if strings.HasPrefix(l, name) {
						near = append(near, l)
					}
				}
				t.Errorf("%s: got %v, want %s; series:\n%s", tc.series, m, tc.value, strings.Join(near, "\n"))
			}
		})
	}
}
