package config

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultFile is the name errors give the embedded default config.
const DefaultFile = "<default>"

// DefaultYAML returns the embedded default config, with its comments.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default returns the embedded default config, loaded.
func Default() (*Config, error) { return Parse(DefaultFile, defaultYAML) }

// Load reads and checks the config file at path. On failure the error is
// an Errors listing every problem as file:line: key: reason.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", err)}}
	}
	return Parse(path, data)
}

// Parse decodes, completes and checks a config read from file.
func Parse(file string, data []byte) (*Config, error) {
	root, err := parseYAML(file, data)
	if err != nil {
		return nil, err
	}
	c := &Config{File: file, Source: data}
	d := &decoder{file: file, lines: map[string]int{}}
	if root != nil {
		d.decode(root, reflect.ValueOf(c).Elem(), "", 0)
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	v := &validator{decoder: d, c: c, dir: configDir(file)}
	v.validate()
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return c, nil
}

func configDir(file string) string {
	if file == DefaultFile {
		return "."
	}
	return filepath.Dir(file)
}
