package test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/janus-proxy/janus"

// goPackage is one directory of Go code, read without its tests.
type goPackage struct {
	dir     string // relative to the module root
	name    string
	doc     bool
	imports map[string][]string // import path → files importing it
	files   map[string]*ast.File
}

func loadPackages(t *testing.T) []*goPackage {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	byDir := map[string]*goPackage{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		p := byDir[rel]
		if p == nil {
			p = &goPackage{dir: filepath.ToSlash(rel), name: f.Name.Name, imports: map[string][]string{}, files: map[string]*ast.File{}}
			byDir[rel] = p
		}
		p.files[filepath.Base(path)] = f
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.doc = true
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			p.imports[ip] = append(p.imports[ip], filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []*goPackage
	for _, p := range byDir {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].dir < pkgs[j].dir })
	if len(pkgs) < 5 {
		t.Fatalf("found only %d packages; is the test running from test/?", len(pkgs))
	}
	return pkgs
}

// TestEveryPackageHasADocComment: a package says its one job (STYLE.md §1).
func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range loadPackages(t) {
		if !p.doc {
			t.Errorf("%s: package %s has no doc comment (// Package %s ... or // Command ...)", p.dir, p.name, p.name)
		}
	}
}

// TestDependencyRules pins ARCHITECTURE.md: data flows one way.
func TestDependencyRules(t *testing.T) {
	faces := []string{"internal/httpface", "internal/socks", "internal/reverse", "internal/server", "internal/admin", "internal/http1"}
	rules := []struct {
		pkg       string
		forbidden []string
		why       string
	}{
		{"internal/gate", faces, "the gate decides on small values and never knows a face"},
		{"internal/cache", faces, "the cache serves both faces and imports neither"},
		{"internal/upstream", faces, "upstream pools are shared and import no face"},
		{"internal/outbound", append(faces, "internal/gate"), "the dialer takes a check function, not the gate"},
		// config compiles what it checks (policies, route tables) so that
		// errors carry lines, but never imports the serving packages.
		{"internal/config", []string{"internal/httpface", "internal/socks", "internal/server", "internal/admin", "internal/http1"}, "config is data; the server builds from it"},
	}
	pkgs := loadPackages(t)
	byDir := map[string]*goPackage{}
	for _, p := range pkgs {
		byDir[p.dir] = p
	}
	for _, r := range rules {
		p := byDir[r.pkg]
		if p == nil {
			continue // not written yet
		}
		for _, f := range r.forbidden {
			if files, ok := p.imports[module+"/"+f]; ok {
				t.Errorf("%s imports %s (%v): %s", r.pkg, f, files, r.why)
			}
		}
	}
	// observe imports nothing of ours.
	for _, p := range pkgs {
		if p.dir != "internal/observe" {
			continue
		}
		for ip := range p.imports {
			if strings.HasPrefix(ip, module+"/") {
				t.Errorf("internal/observe imports %s: observe must import nothing of Janus", ip)
			}
		}
	}
}

// TestOnlyOutboundDials: every connection to the outside world goes
// through internal/outbound, where the resolved address is checked.
func TestOnlyOutboundDials(t *testing.T) {
	dialFuncs := map[string]map[string]bool{
		"net": {"Dial": true, "DialTimeout": true, "DialTCP": true, "DialUDP": true, "DialIP": true, "DialUnix": true, "Dialer": true, "ListenUDP": true, "ListenPacket": true},
		"tls": {"Dial": true, "DialWithDialer": true, "Dialer": true},
	}
	for _, p := range loadPackages(t) {
		if p.dir == "internal/outbound" || strings.HasPrefix(p.dir, "bench") || p.dir == "internal/janustest" || p.dir == "internal/testenv" {
			continue // the dialer itself; load generators and test clients
		}
		for name, f := range p.files {
			aliases := map[string]string{} // local name → import path
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				local := filepath.Base(ip)
				if imp.Name != nil {
					local = imp.Name.Name
				}
				aliases[local] = ip
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				ip := aliases[id.Name]
				if fns := dialFuncs[filepath.Base(ip)]; fns != nil && (ip == "net" || ip == "crypto/tls") && fns[sel.Sel.Name] {
					t.Errorf("%s/%s uses %s.%s: only internal/outbound opens connections to destinations", p.dir, name, id.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
}

// TestExamplesAreLoaded: every config in examples/ is loaded by a test
// (examples_test.go), so none can rot.
func TestExamplesAreListed(t *testing.T) {
	entries, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && !exampleTested[e.Name()] {
			t.Errorf("examples/%s is not loaded by any test: add it to exampleTested and test it", e.Name())
		}
	}
}
