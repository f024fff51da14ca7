package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/janustest"
)

// buildJanus builds cmd/janus once per test binary run.
func buildJanus(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "janus")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/janus")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs the janus binary and waits until it logs that it is
// listening. It returns the process and its stdout (the access log).
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, *janustest.LogBuffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout := &janustest.LogBuffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var all strings.Builder
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "janus started") {
				ready <- ""
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
		}
		ready <- all.String()
	}()
	select {
	case msg := <-ready:
		if msg != "" {
			if strings.Contains(msg, "address already in use") {
				t.Skipf("the default port is busy on this machine: %s", msg)
			}
			t.Fatalf("janus exited before it started:\n%s", msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("janus did not start within 20s")
	}
	return cmd, stdout
}

// TestBinaryRunsTheSafeDefaultConfig: `janus` with no arguments serves a
// forward proxy on 127.0.0.1:8080 that refuses loopback destinations, and
// stops cleanly on SIGTERM.
func TestBinaryRunsTheSafeDefaultConfig(t *testing.T) {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:8080", 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("127.0.0.1:8080 is already in use on this machine")
	}
	bin := buildJanus(t)
	cmd, stdout := startBinary(t, bin)
	origin := janustest.EchoOrigin(t)
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: "127.0.0.1:8080"})}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(origin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("default config let a client reach a loopback origin: status %d", resp.StatusCode)
	}
	tr.CloseIdleConnections()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("janus did not stop within 10s of SIGTERM")
	}
	if !strings.Contains(stdout.String(), `"rule":"special-destinations"`) {
		t.Errorf("access log on stdout lacks the denial: %q", stdout.String())
	}
}

// TestBinaryReopensLogOnSIGUSR1: logrotate moves the file, SIGUSR1 makes
// Janus write to a new one.
func TestBinaryReopensLogOnSIGUSR1(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	cfgPath := filepath.Join(dir, "janus.yaml")
	origin := janustest.EchoOrigin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := "log: {access: {output: " + logPath + "}}\nlisteners:\n  - {name: p, listen: '" + addr + "', forward: {policy: all}}\npolicies:\n  all: [{allow: {}}]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, _ := startBinary(t, buildJanus(t), "run", "-c", cfgPath)
	get := func() {
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr})}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(origin.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitLines := func(path string, n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			data, _ := os.ReadFile(path)
			if strings.Count(string(data), "\n") >= n {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		data, _ := os.ReadFile(path)
		t.Fatalf("%s: want %d lines, have %q", path, n, data)
	}
	get()
	waitLines(logPath, 1)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	get()
	waitLines(logPath, 1)
	waitLines(logPath+".1", 1)
}

// TestBinaryReloadsOnSIGHUP: SIGHUP loads the config file again and serves
// it on the same socket; a broken file changes nothing.
func TestBinaryReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "janus.yaml")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	write := func(body string) {
		cfg := "listeners:\n  - name: site\n    listen: '" + addr + "'\n    reverse: {routes: [{name: hello, respond: {status: 200, body: " + body + "}}]}\n"
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	answer := func() string {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	write("one")
	cmd, _ := startBinary(t, buildJanus(t), "run", "-c", cfgPath)
	if got := answer(); got != "one" {
		t.Fatalf("before the reload: %q", got)
	}
	waitAnswer := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := answer()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("answer %q, want %q", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write("two")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitAnswer("two")
	if err := os.WriteFile(cfgPath, []byte("listeners: [{{{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := answer(); got != "two" {
		t.Errorf("after a broken config: %q, want the running one's %q", got, "two")
	}
}

// TestBinaryUpgradeDropsNothing: SIGUSR2 starts a new janus process that
// inherits the listening socket (no connection refused while clients keep
// connecting), serves the config file as it is now, and the old process
// drains and exits.
func TestBinaryUpgradeDropsNothing(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "janus.yaml")
	pidPath := filepath.Join(dir, "janus.pid")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	write := func(body string) {
		cfg := "listeners:\n  - name: site\n    listen: '" + addr + "'\n    reverse: {routes: [{name: hello, respond: {status: 200, body: " + body + "}}]}\n"
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	cmd, _ := startBinary(t, buildJanus(t), "run", "-c", cfgPath, "-pid-file", pidPath)
	t.Cleanup(func() {
		// The new process is not our child: stop it by its PID file.
		if b, err := os.ReadFile(pidPath); err == nil {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil && pid != cmd.Process.Pid {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	// Process.Wait, not cmd.Wait: the new process inherits stdout and
	// stderr, so their copies would not end with the old process.
	exited := make(chan error, 1)
	go func() {
		st, err := cmd.Process.Wait()
		if err == nil && !st.Success() {
			err = fmt.Errorf("%s", st)
		}
		exited <- err
	}()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int32
	var sawTwo atomic.Bool
	for i := range 4 {
		tr := &http.Transport{DisableKeepAlives: i%2 == 0}
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			for n := 0; n < 100000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + addr + "/")
				if err != nil {
					failed.Add(1)
					t.Errorf("request during the upgrade: %v", err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					t.Errorf("status %d during the upgrade", resp.StatusCode)
					return
				}
				if string(b) == "two" {
					sawTwo.Store(true)
				}
				ok.Add(1)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	write("two")
	if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the old process exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the old process did not exit after the upgrade")
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests served, %d failed", ok.Load(), failed.Load())
	if !sawTwo.Load() {
		t.Errorf("the new process never answered: the config it loaded says two")
	}
	b, err := os.ReadFile(pidPath)
	if err != nil || strings.TrimSpace(string(b)) == fmt.Sprint(cmd.Process.Pid) {
		t.Errorf("PID file %q (%v): want the new process's PID", b, err)
	}
}
