// Package testenv holds the test helpers that need nothing of Janus: the
// external-program rule and the goroutine-leak check. Packages that
// janustest itself depends on (through the server) use it directly;
// janustest passes them on.
package testenv

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// RequireExternal returns the path of an external program a test drives,
// skipping the test when it is missing, or failing it when
// JANUS_REQUIRE_EXTERNAL=1 (as .ci/run sets, having installed it).
func RequireExternal(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("JANUS_REQUIRE_EXTERNAL") == "1" {
		t.Fatalf("%s is required (JANUS_REQUIRE_EXTERNAL=1) but not installed: %v", name, err)
	}
	t.Skipf("%s is not installed; skipping (install it, e.g. apt-get install -y %s)", name, name)
	return ""
}

// CheckGoroutines fails the test if, after it ends, more goroutines run
// than before it began (waiting up to 5 s for them to finish).
func CheckGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		var n int
		for time.Now().Before(deadline) {
			n = runtime.NumGoroutine()
			if n <= before {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
	})
}
