package httpface

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
	"github.com/janus-proxy/janus/internal/observe"
)

func TestConnectTunnelsHTTPS(t *testing.T) {
	checkNoLeaks(t)
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret "+r.URL.Path)
	}))
	defer origin.Close()
	p := startProxy(t, Options{})
	tr := origin.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(mustURL("http://" + p.addr))
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < 2; i++ {
		resp, err := cl.Get(origin.URL + "/doc")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "secret /doc" {
			t.Fatalf("got %q", b)
		}
	}
	tr.CloseIdleConnections()
	e := p.access.find(t, func(e *observe.Entry) bool { return e.Protocol == "connect" })
	host := strings.TrimPrefix(origin.URL, "https://")
	if e.Method != "CONNECT" || e.Target != host || e.Status != 200 || e.BytesUp == 0 || e.BytesDown == 0 || e.Rule != "test#1" {
		t.Errorf("access entry %+v", e)
	}
}

func TestConnectPortsAreEnforced(t *testing.T) {
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer origin.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(origin.URL, "https://"))
	tests := []struct {
		desc   string
		ports  gate.PortSet
		status string
		rule   string
	}{
		{desc: "default allows only 443", status: "403", rule: gate.RuleConnectPorts},
		{desc: "port in the set", ports: gate.PortSet{{Lo: 1024, Hi: 65535}}, status: "200"},
		{desc: "port outside the set", ports: gate.PortSet{{Lo: 443, Hi: 443}}, status: "403", rule: gate.RuleConnectPorts},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			g := &gate.Gate{ConnectPorts: tt.ports}
			p := startProxy(t, Options{Gate: g})
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n", port, port)
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(resp.StatusCode) != tt.status {
				t.Fatalf("status %d, want %s", resp.StatusCode, tt.status)
			}
			if tt.rule != "" {
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), tt.rule) {
					t.Errorf("body %q does not name %s", b, tt.rule)
				}
			}
		})
	}
}

func TestConnectPassesBytesSentWithTheRequest(t *testing.T) {
	addr := rawOrigin(t, func(c net.Conn) { io.Copy(c, c) })
	p := startProxy(t, Options{})
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// The client does not wait for the 200 before speaking.
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nearly", addr, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "early" {
		t.Fatalf("echo %q %v", buf, err)
	}
}

func TestConnectDisabledOrWithContentIsRefused(t *testing.T) {
	p := startProxy(t, Options{AllowHTTP: true})
	if got := statusOf(p.rawRequest(t, "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); got != "405" {
		t.Errorf("CONNECT on an HTTP-only listener: %s, want 405", got)
	}
	q := startProxy(t, Options{AllowCONNECT: true})
	if got := statusOf(q.rawRequest(t, "GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); got != "405" {
		t.Errorf("HTTP on a CONNECT-only listener: %s, want 405", got)
	}
	if got := statusOf(q.rawRequest(t, "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")); got != "400" {
		t.Errorf("CONNECT with content: %s, want 400", got)
	}
}
