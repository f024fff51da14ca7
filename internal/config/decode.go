package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a config file.
type Error struct {
	File string
	Line int    // 0 when the problem has no single place
	Key  string // dotted path, e.g. listeners[0].forward.policy
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// decoder walks a YAML node tree into typed structs. It is strict (unknown
// and duplicate keys are errors), collects every error with its line rather
// than stopping at the first, and remembers the line of every key so that
// validation can point at it too.
type decoder struct {
	file  string
	errs  Errors
	lines map[string]int // key path → line
}

func (d *decoder) errorf(line int, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// maxDepth bounds recursion on hostile input (aliases can nest deeply).
const maxDepth = 64

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	if depth > maxDepth {
		d.errorf(n.Line, path, "nested too deeply")
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errorf(n.Line, path, "unresolved alias")
			return
		}
		d.decode(n.Alias, v, path, depth+1)
		return
	}
	if d.lines != nil {
		if _, seen := d.lines[path]; !seen {
			d.lines[path] = n.Line
		}
	}
	if v.Kind() == reflect.Pointer {
		if n.Tag == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, depth+1)
		return
	}
	if s, ok := v.Addr().Interface().(scalar); ok {
		if n.Kind != yaml.ScalarNode {
			d.errorf(n.Line, path, "want a single value, got %s", kindName(n))
			return
		}
		if err := s.parseScalar(n.Value); err != nil {
			d.errorf(n.Line, path, "%v", err)
		}
		return
	}
	if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
		nd.decodeNode(d, n, path, depth)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the zero value
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n.Line, path, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path, depth)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n.Line, path, "want a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			d.errorf(n.Line, path, "want true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || err != nil || v.OverflowInt(i) {
			d.errorf(n.Line, path, "want a whole number, got %q", n.Value)
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", v.Type(), path))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "want a mapping of keys, got %s", kindName(n))
		return
	}
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := joinKey(path, k.Value)
		if seen[k.Value] {
			d.errorf(k.Line, key, "duplicate key")
			continue
		}
		seen[k.Value] = true
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			d.errorf(k.Line, key, "unknown key (known: %s)", strings.Join(knownKeys(t), ", "))
			continue
		}
		if d.lines != nil {
			d.lines[key] = k.Line
		}
		d.decode(val, v.FieldByIndex(f.Index), key, depth+1)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "want a mapping, got %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic("config: map keys must be strings")
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := joinKey(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "map keys must be plain strings")
			continue
		}
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.errorf(k.Line, key, "duplicate key")
			continue
		}
		if d.lines != nil {
			d.lines[key] = k.Line
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, key, depth+1)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}

// nodeDecoder is a config value with a shape of its own (a rule is
// `allow: {...}` or `deny: {...}`; a target is "host:port" or a mapping).
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string, depth int)
}

// decodeNode reads `allow: {...}` or `deny: {...}`.
func (r *Rule) decodeNode(d *decoder, n *yaml.Node, path string, depth int) {
	r.Line = n.Line
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		d.errorf(n.Line, path, "want a rule: `allow: {...}` or `deny: {...}`")
		return
	}
	k, val := n.Content[0], n.Content[1]
	switch k.Value {
	case "allow":
		r.Allow = true
	case "deny":
	default:
		d.errorf(k.Line, joinKey(path, k.Value), "unknown key: a rule is `allow: {...}` or `deny: {...}`")
		return
	}
	d.decode(val, reflect.ValueOf(&r.Match).Elem(), joinKey(path, k.Value), depth+1)
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == key && tag != "-" && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func knownKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// parseYAML reads one YAML document into a node tree; a syntax error is
// reported with its line.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{syntaxError(file, err)}
	}
	if doc.Kind == 0 {
		return nil, nil // empty file
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, Errors{{File: file, Line: 1, Msg: "want one YAML document"}}
	}
	return doc.Content[0], nil
}

// syntaxError turns yaml.v3's "yaml: line 3: ..." into file:3: ...
func syntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, tail, found := strings.Cut(rest, ":")
		if n, perr := strconv.Atoi(num); perr == nil && found {
			line, msg = n, strings.TrimSpace(tail)
		}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	return &Error{File: file, Line: line, Msg: "YAML syntax: " + msg}
}
