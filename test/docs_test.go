package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/config"
)

// TestDocsConfigSnippetsLoad: every ```yaml block in README.md and docs/ is
// a complete config that loads (STYLE.md §11), so the docs cannot drift
// from the loader.
func TestDocsConfigSnippetsLoad(t *testing.T) {
	files, _ := filepath.Glob("../docs/*.md")
	files = append(files, "../README.md")
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range yamlBlocks(string(data)) {
			found++
			name := filepath.Base(f) + "#" + string(rune('1'+i))
			t.Run(name, func(t *testing.T) {
				// Snippets name files relative to the repository's examples.
				_, err := config.Parse(filepath.Join("..", "examples", name), []byte(block))
				if err != nil {
					t.Errorf("%s yaml block %d does not load:\n%v\n---\n%s", f, i+1, err, block)
				}
			})
		}
	}
	if found == 0 {
		t.Fatal("no yaml blocks found in the docs")
	}
}

func yamlBlocks(md string) []string {
	var blocks []string
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		var b strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			b.WriteString(lines[i])
			b.WriteByte('\n')
		}
		blocks = append(blocks, b.String())
	}
	return blocks
}

// TestEveryAddressSetIsDocumented: the set names users can write in rules
// are all in the configuration reference.
func TestEveryAddressSetIsDocumented(t *testing.T) {
	data, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range addrset.Names() {
		if !strings.Contains(string(data), "`"+name+"`") {
			t.Errorf("address set %q is not in docs/configuration.md", name)
		}
	}
}
