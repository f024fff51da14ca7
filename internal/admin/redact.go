package admin

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/janus-proxy/janus/internal/config"
)

// ConfigView is GET /api/config: the running config as it was written,
// comments kept, with every secret replaced by Redacted.
type ConfigView struct {
	File       string `json:"file"`
	Generation int    `json:"generation"`
	YAML       string `json:"yaml"`
	Config     any    `json:"config"` // the same, as a JSON tree (aliases expanded)
}

// Redacted replaces secret values.
const Redacted = "<redacted>"

// isSecret reports whether a key's value must not leave Janus: tokens,
// passwords, password hashes (a bcrypt hash can be attacked offline),
// secrets. Paths to key files are not secrets and stay.
func isSecret(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"token", "password", "hash", "secret"} {
		if k == s || strings.HasSuffix(k, "_"+s) {
			return true
		}
	}
	return false
}

func redactedConfig(cfg *config.Config) (*ConfigView, error) {
	v := &ConfigView{File: cfg.File, Config: map[string]any{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(cfg.Source, &doc); err != nil {
		return nil, fmt.Errorf("parse running config: %w", err)
	}
	if len(doc.Content) == 0 {
		return v, nil
	}
	redactNode(&doc, 0)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("print running config: %w", err)
	}
	v.YAML = string(out)
	var tree any
	if err := doc.Decode(&tree); err != nil {
		return nil, fmt.Errorf("decode running config: %w", err)
	}
	v.Config = jsonable(tree, 0)
	return v, nil
}

// redactNode replaces the scalar values of secret keys, in place. Depth is
// bounded like the config decoder's.
func redactNode(n *yaml.Node, depth int) {
	if n == nil || depth > 64 {
		return
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if isSecret(k.Value) && (val.Kind == yaml.ScalarNode || val.Kind == yaml.AliasNode) {
				// An anchor on a secret would leak through its aliases.
				*val = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: Redacted, Anchor: val.Anchor}
				continue
			}
			redactNode(val, depth+1)
		}
		return
	}
	for _, c := range n.Content {
		redactNode(c, depth+1)
	}
}

// jsonable turns YAML's decoded values into what encoding/json accepts
// (maps with non-string keys).
func jsonable(v any, depth int) any {
	if depth > 64 {
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e, depth+1)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e, depth+1)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e, depth+1)
		}
		return t
	}
	return v
}
