package janustest

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/server"
)

// Janus is a Janus server started in-process for a test.
type Janus struct {
	Server *server.Server
	Config *config.Config
	Log    *LogBuffer // the access log, JSON lines
	App    *LogBuffer // the application log, JSON lines
	Dir    string     // where the config and its files were written
}

// Start writes yamlText as janus.yaml (and each of files, name → content)
// into a temp dir, loads it, and starts Janus. Use port 0 in listen
// addresses and ask Addr for the bound one. Janus is shut down when the test
// ends.
func Start(t testing.TB, yamlText string, files map[string]string) *Janus {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "janus.yaml")
	if err := os.WriteFile(path, []byte(yamlText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return StartConfig(t, cfg, dir)
}

// StartConfig starts Janus with a loaded config.
func StartConfig(t testing.TB, cfg *config.Config, dir string) *Janus {
	t.Helper()
	j := &Janus{Config: cfg, Log: &LogBuffer{}, App: &LogBuffer{}, Dir: dir}
	logger := slog.New(slog.NewJSONHandler(j.App, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, server.Options{Logger: logger, Access: j.Log})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	j.Server = srv
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return j
}

// Addr returns the bound address of the named listener as host:port.
func (j *Janus) Addr(t testing.TB, listener string) string {
	t.Helper()
	ap, ok := j.Server.Addr(listener)
	if !ok {
		t.Fatalf("no listener %q", listener)
	}
	return ap.String()
}

// AddrPort returns the bound address of the named listener.
func (j *Janus) AddrPort(t testing.TB, listener string) netip.AddrPort {
	t.Helper()
	ap, ok := j.Server.Addr(listener)
	if !ok {
		t.Fatalf("no listener %q", listener)
	}
	return ap
}

// WaitLog waits (bounded) until the access log has a line for which match
// returns true, and returns it.
func (j *Janus) WaitLog(t testing.TB, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range j.Log.Lines() {
			if match(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching access-log line; log:\n%s", j.Log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reload writes yamlText as the config and reloads Janus with it, as
// SIGHUP does; the error is the config's or the reload's.
func (j *Janus) Reload(t testing.TB, yamlText string) error {
	t.Helper()
	path := filepath.Join(j.Dir, "janus.yaml")
	if err := os.WriteFile(path, []byte(yamlText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := j.Server.Reload(cfg); err != nil {
		return err
	}
	j.Config = cfg
	return nil
}
