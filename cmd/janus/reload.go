package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/janus-proxy/janus/internal/config"
)

// cmdReload asks a running Janus to reload its config file through POST
// /api/reload, and prints what it says: ok, or every problem with file and
// line. The admin address and token come from the config file, read
// leniently (the file may be the broken one the reload will report).
func cmdReload(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("reload", stderr)
	path := fs.String("c", "", "config file of the running Janus (default: the embedded default config)")
	adminURL := fs.String("admin", "", "admin API base URL, e.g. http://127.0.0.1:9901 (default: admin.listen from the config)")
	token := fs.String("token", "", "admin token (default: admin.token from the config, or $JANUS_ADMIN_TOKEN)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the answer")
	if fs.Parse(args) != nil {
		return 2
	}
	base, tok := *adminURL, *token
	if tok == "" {
		tok = os.Getenv("JANUS_ADMIN_TOKEN")
	}
	if base == "" || tok == "" {
		listen, cfgToken, err := adminOf(*path)
		if err != nil {
			fmt.Fprintln(stderr, "janus reload:", err)
			return 1
		}
		if base == "" {
			if base, err = adminBase(listen); err != nil {
				fmt.Fprintln(stderr, "janus reload:", err)
				return 1
			}
		}
		if tok == "" {
			tok = cfgToken
		}
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/api/reload", nil)
	if err != nil {
		fmt.Fprintln(stderr, "janus reload:", err)
		return 1
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: *timeout}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "janus reload: is Janus running with its admin API at %s? %v\n", base, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var res struct {
		OK         bool   `json:"ok"`
		Generation int    `json:"generation"`
		File       string `json:"file"`
		Error      string `json:"error"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		fmt.Fprintf(stderr, "janus reload: %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	if resp.StatusCode != http.StatusOK || !res.OK {
		msg := res.Error
		if msg == "" {
			msg = resp.Status
		}
		fmt.Fprintf(stderr, "janus reload failed; the running config keeps serving:\n%s\n", msg)
		return 1
	}
	fmt.Fprintf(stdout, "reloaded %s: generation %d\n", res.File, res.Generation)
	return 0
}

// adminOf reads admin.listen and admin.token from the config file without
// checking the rest of it.
func adminOf(path string) (listen, token string, err error) {
	data := config.DefaultYAML()
	if path != "" {
		if data, err = os.ReadFile(path); err != nil {
			return "", "", fmt.Errorf("read config: %w", err)
		}
	}
	var doc struct {
		Admin struct {
			Listen string `yaml:"listen"`
			Token  string `yaml:"token"`
		} `yaml:"admin"`
	}
	// Lenient on purpose: the rest of the file is the server's to judge.
	if err := yaml.Unmarshal(data, &doc); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return "", "", fmt.Errorf("%s: %w (use -admin URL)", path, err)
		}
	}
	if doc.Admin.Listen == "" {
		return "", "", fmt.Errorf("%s has no admin.listen: the admin API is off (use -admin URL)", path)
	}
	return doc.Admin.Listen, doc.Admin.Token, nil
}

// adminBase turns admin.listen into a URL: an unspecified host means this
// machine.
func adminBase(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("admin.listen %q: %w", listen, err)
	}
	if port == "0" {
		return "", fmt.Errorf("admin.listen %q has no fixed port (use -admin URL)", listen)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
