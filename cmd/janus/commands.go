package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/janus-proxy/janus/internal/config"
	"github.com/janus-proxy/janus/internal/server"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return "janus " + v
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("janus "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// loadConfig loads path, or the embedded default config when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}

// reload loads the config file again and swaps it in; a config that does
// not load or build changes nothing, and the reason is logged with file
// and line.
func reload(srv *server.Server, path string, log *slog.Logger) {
	err := srv.ReloadFrom(func() (*config.Config, error) { return loadConfig(path) })
	if err != nil {
		log.Error("reload failed; the running config keeps serving", "err", err)
		return
	}
	log.Info("reloaded", "config", srv.Config().File)
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	path := fs.String("c", "", "config file to check (default: the embedded default config)")
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		var errs config.Errors
		if errors.As(err, &errs) && len(errs) > 1 {
			fmt.Fprintf(stderr, "%d problems\n", len(errs))
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", cfg.File)
	return 0
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "default" {
		fmt.Fprintln(stderr, "usage: janus config default")
		return 2
	}
	_, _ = stdout.Write(config.DefaultYAML())
	return 0
}

func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("hash-password", stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost (4-31)")
	if fs.Parse(args) != nil {
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(stderr, "janus hash-password: read stdin:", err)
		return 1
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		fmt.Fprintln(stderr, "janus hash-password: empty password (type it on stdin, then Enter)")
		return 1
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), *cost)
	if err != nil {
		fmt.Fprintln(stderr, "janus hash-password:", err)
		return 1
	}
	fmt.Fprintln(stdout, string(hash))
	return 0
}
