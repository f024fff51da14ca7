package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/janus-proxy/janus/internal/config"
)

func runCmd(args []string, stdin string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateReportsEveryProblemAndExitsNonZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("listeners:\n  - listen: 127.0.0.1:1\n    forward: {policy: nope, anonymity: invisible}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd([]string{"validate", "-c", path}, "")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{path + ":3: listeners[0].forward.policy: undefined policy", path + ":3: listeners[0].forward.anonymity: unknown level", "2 problems"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
}

func TestValidateAcceptsTheExamples(t *testing.T) {
	code, stdout, stderr := runCmd([]string{"validate", "-c", "../../examples/local.yaml"}, "")
	if code != 0 || !strings.Contains(stdout, "ok") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestConfigDefaultPrintsALoadableCommentedConfig(t *testing.T) {
	code, stdout, _ := runCmd([]string{"config", "default"}, "")
	if code != 0 || !strings.Contains(stdout, "# ") {
		t.Fatalf("exit %d, output %q", code, stdout)
	}
	if _, err := config.Parse("printed.yaml", []byte(stdout)); err != nil {
		t.Fatalf("printed default config does not load: %v", err)
	}
}

func TestHashPassword(t *testing.T) {
	code, stdout, _ := runCmd([]string{"hash-password", "-cost", "4"}, "wonderland\n")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	hash := strings.TrimSpace(stdout)
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("wonderland")); err != nil {
		t.Fatalf("hash %q does not verify: %v", hash, err)
	}
	if code, _, _ := runCmd([]string{"hash-password"}, ""); code == 0 {
		t.Error("an empty password was hashed")
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	if code, stdout, _ := runCmd([]string{"version"}, ""); code != 0 || !strings.HasPrefix(stdout, "janus ") {
		t.Errorf("version: %d %q", code, stdout)
	}
	if code, _, stderr := runCmd([]string{"frobnicate"}, ""); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
}
