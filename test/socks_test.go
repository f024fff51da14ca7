package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/janus-proxy/janus/internal/janustest"
)

func socksHTTPClient(t *testing.T, d proxy.Dialer) *http.Client {
	t.Helper()
	cd := d.(proxy.ContextDialer)
	tr := &http.Transport{DialContext: cd.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestSOCKS5WithAndWithoutAuth(t *testing.T) {
	janustest.CheckGoroutines(t)
	origin := janustest.EchoOrigin(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(origin.URL, "http://"))
	j := startBase(t)
	for _, tc := range []struct {
		desc     string
		listener string
		auth     *proxy.Auth
		host     string
		ok       bool
	}{
		{"no auth, IPv4", "open", nil, "127.0.0.1", true},
		{"no auth, domain resolved by Janus", "open", nil, "origin.test", true},
		{"auth required, alice", "auth", &proxy.Auth{User: "alice", Password: "wonderland"}, "127.0.0.1", true},
		{"auth required, wrong password", "auth", &proxy.Auth{User: "alice", Password: "nope"}, "127.0.0.1", false},
		{"auth required, no credentials", "auth", nil, "127.0.0.1", false},
		{"forbidden by name", "open", nil, "forbidden.test", false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			d, err := proxy.SOCKS5("tcp", j.Addr(t, tc.listener), tc.auth, &net.Dialer{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := socksHTTPClient(t, d).Get("http://" + net.JoinHostPort(tc.host, port) + "/via-socks")
			if !tc.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want refusal")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if seen := janustest.DecodeSeen(t, resp.Body); seen.Path != "/via-socks" {
				t.Errorf("origin saw %+v", seen)
			}
		})
	}
	line := j.WaitLog(t, func(l map[string]any) bool { return l["proto"] == "socks5" && l["user"] == "alice" })
	if line["method"] != "CONNECT" || line["status"] != float64(0) {
		t.Errorf("socks5 log line %v", line)
	}
	j.WaitLog(t, func(l map[string]any) bool {
		return l["proto"] == "socks5" && l["status"] == float64(2) && strings.HasPrefix(l["target"].(string), "forbidden.test")
	})
}

// socksUDPAssociate opens a UDP association through a SOCKS5 proxy without
// auth and returns the control connection and the relay address.
func socksUDPAssociate(t *testing.T, proxyAddr string) (net.Conn, *net.UDPAddr) {
	t.Helper()
	ctl, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = ctl.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := ctl.Write([]byte{5, 1, 0}); err != nil {
		t.Fatal(err)
	}
	var sel [2]byte
	if _, err := io.ReadFull(ctl, sel[:]); err != nil || sel != [2]byte{5, 0} {
		t.Fatalf("method selection %v %v", sel, err)
	}
	// UDP ASSOCIATE, expected source 0.0.0.0:0.
	if _, err := ctl.Write([]byte{5, 3, 0, 1, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	var rep [10]byte
	if _, err := io.ReadFull(ctl, rep[:]); err != nil {
		t.Fatal(err)
	}
	if rep[1] != 0 || rep[3] != 1 {
		t.Fatalf("UDP ASSOCIATE reply %v", rep)
	}
	_ = ctl.SetDeadline(time.Time{})
	relay := &net.UDPAddr{IP: net.IP(rep[4:8]), Port: int(binary.BigEndian.Uint16(rep[8:10]))}
	return ctl, relay
}

func TestSOCKS5UDPAssociateRoundTrip(t *testing.T) {
	janustest.CheckGoroutines(t)
	echo, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteToUDP(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	j := startBase(t)
	ctl, relay := socksUDPAssociate(t, j.Addr(t, "open"))
	defer ctl.Close()
	client, err := net.DialUDP("udp", nil, relay)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	echoPort := echo.LocalAddr().(*net.UDPAddr).Port
	header := []byte{0, 0, 0, 1, 127, 0, 0, 1, byte(echoPort >> 8), byte(echoPort)}
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 3; i++ {
		payload := []byte("datagram " + strconv.Itoa(i))
		if _, err := client.Write(append(append([]byte{}, header...), payload...)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, err := client.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:10], header) || string(buf[10:n]) != "echo:"+string(payload) {
			t.Fatalf("reply %q", buf[:n])
		}
	}
	ctl.Close() // ends the association
	j.WaitLog(t, func(l map[string]any) bool { return l["proto"] == "socks5" && l["method"] == "UDP_ASSOCIATE" })
}

func socks4Connect(t *testing.T, proxyAddr string, ip [4]byte, port uint16, host string) (net.Conn, byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := []byte{4, 1, byte(port >> 8), byte(port), ip[0], ip[1], ip[2], ip[3]}
	req = append(req, "user"...)
	req = append(req, 0)
	if host != "" {
		req = append(req, host...)
		req = append(req, 0)
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	var rep [8]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		c.Close()
		return nil, 0
	}
	_ = c.SetDeadline(time.Time{})
	return c, rep[1]
}

func TestSOCKS4AndSOCKS4a(t *testing.T) {
	origin := janustest.EchoOrigin(t)
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(origin.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	j := startBase(t)
	for _, tc := range []struct {
		desc     string
		listener string
		ip       [4]byte
		host     string
		want     byte
	}{
		{"socks4 to 127.0.0.1", "open", [4]byte{127, 0, 0, 1}, "", 0x5a},
		{"socks4a by name", "open", [4]byte{0, 0, 0, 1}, "origin.test", 0x5a},
		{"socks4a to a forbidden name", "open", [4]byte{0, 0, 0, 1}, "forbidden.test", 0x5b},
		{"socks4 on an auth-required listener", "auth", [4]byte{127, 0, 0, 1}, "", 0x5b},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, code := socks4Connect(t, j.Addr(t, tc.listener), tc.ip, uint16(port), tc.host)
			if code != tc.want {
				t.Fatalf("reply code %#x, want %#x", code, tc.want)
			}
			if c == nil {
				return
			}
			defer c.Close()
			if code != 0x5a {
				return
			}
			_, _ = io.WriteString(c, "GET /socks4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := io.ReadAll(c)
			if err != nil || !strings.Contains(string(resp), `"/socks4"`) {
				t.Errorf("response %q %v", resp, err)
			}
		})
	}
}

func TestSOCKSGarbageClosesCleanly(t *testing.T) {
	janustest.CheckGoroutines(t)
	j := startBase(t)
	for _, garbage := range [][]byte{
		{5, 0},                          // no methods
		{5, 1, 0, 5, 9, 0, 1},           // unknown command
		{5, 255},                        // truncated
		{4, 9, 0, 80, 1, 2, 3},          // truncated SOCKS4
		{5, 1, 0, 5, 1, 0, 3, 0, 0, 80}, // empty domain
	} {
		c, err := net.Dial("tcp", j.Addr(t, "open"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(garbage)
		if cw, ok := c.(*net.TCPConn); ok {
			_ = cw.CloseWrite()
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c)
		if err != nil {
			t.Errorf("%v: connection not closed cleanly: %v", garbage, err)
		}
		c.Close()
	}
	// Janus still serves.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, _ := proxy.SOCKS5("tcp", j.Addr(t, "open"), nil, &net.Dialer{})
	origin := janustest.EchoOrigin(t)
	c, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", strings.TrimPrefix(origin.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// tcpEcho starts a loopback TCP server that echoes what it reads.
func tcpEcho(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// TestDataSentWithTheHandshakeIsKept: a client that sends its first payload
// in the same write as its handshake (as TLS clients with optimistic data
// and pipelining SOCKS clients do) loses nothing, whatever the sniffer and
// the handshake reader had read ahead.
func TestDataSentWithTheHandshakeIsKept(t *testing.T) {
	echo := tcpEcho(t)
	j := startBase(t)
	port := uint16(echo.Port)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 200) // 3200 bytes: past every read-ahead buffer
	for _, tc := range []struct {
		desc      string
		handshake []byte
		replyLen  int
	}{
		{"socks5", append([]byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1}, byte(port>>8), byte(port)), 2 + 10},
		{"socks4a", append(append([]byte{4, 1, byte(port >> 8), byte(port), 0, 0, 0, 1, 0}, "origin.test"...), 0), 8},
		{"connect", []byte("CONNECT 127.0.0.1:" + strconv.Itoa(int(port)) + " HTTP/1.1\r\nHost: x\r\n\r\n"), len("HTTP/1.1 200 Connection established\r\n\r\n")},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := net.Dial("tcp", j.Addr(t, "open"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(append(append([]byte{}, tc.handshake...), payload...)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(payload)+64)
			n, err := io.ReadAtLeast(c, got, tc.replyLen+len(payload))
			if err != nil {
				t.Fatalf("read %d bytes: %v (%q)", n, err, got[:n])
			}
			if !bytes.Equal(got[n-len(payload):n], payload) {
				t.Fatalf("echo differs: got %q", got[:n])
			}
		})
	}
}
