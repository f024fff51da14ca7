package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/janustest"
)

// TestReloadCommandCallsTheAdminAPI: `janus reload -c FILE` finds the
// admin address and token in FILE, reloads, and says so; a broken file
// exits 1 with its file and line, and the running config keeps serving.
func TestReloadCommandCallsTheAdminAPI(t *testing.T) {
	// admin.listen needs a fixed port for the command to find it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := "admin: {listen: \"" + addr + "\", token: reload-token-0123456789}\n" +
		"listeners:\n  - {name: proxy, listen: 127.0.0.1:0, forward: {}}\n"
	j := janustest.Start(t, cfg, nil)
	path := filepath.Join(j.Dir, "janus.yaml")

	code, stdout, stderr := runCmd([]string{"reload", "-c", path}, "")
	if code != 0 || !strings.Contains(stdout, "generation 2") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(cfg, "forward: {}", "forward: {policy: nowhere}", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd([]string{"reload", "-c", path}, "")
	if code != 1 || !strings.Contains(stderr, path+":3:") || !strings.Contains(stderr, "keeps serving") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if g := j.Server.Generation(); g != 2 {
		t.Errorf("generation %d after a failed reload, want 2", g)
	}
	code, _, stderr = runCmd([]string{"reload", "-admin", "http://" + addr, "-token", "wrong"}, "")
	if code != 1 || !strings.Contains(stderr, "bad credentials") {
		t.Errorf("wrong token: exit %d, stderr %q", code, stderr)
	}
}
