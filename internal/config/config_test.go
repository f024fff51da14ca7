package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/janus-proxy/janus/internal/gate"
)

// aliceHash is bcrypt("wonderland").
const aliceHash = "$2a$10$1XmjluOo0OK0qGnxx6zce.cb/BTleTYGrFxoK1G4or7gcW74CQvCm"

func TestDefaultConfigIsSafe(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	if len(c.Listeners) != 1 {
		t.Fatalf("want one listener, got %d", len(c.Listeners))
	}
	l := c.Listeners[0]
	ap, err := netip.ParseAddrPort(l.Listen)
	if err != nil || !ap.Addr().IsLoopback() || ap.Port() != 8080 {
		t.Errorf("default listener %q: want loopback:8080", l.Listen)
	}
	if l.Forward == nil {
		t.Fatal("default listener has no forward face")
	}
	g := &gate.Gate{Policy: c.Policy(l.Forward.Policy)}
	for _, tc := range []struct {
		desc   string
		client string
		dest   string
		allow  bool
	}{
		{"public destination from this machine", "127.0.0.1", "93.184.215.14", true},
		{"loopback destination", "127.0.0.1", "127.0.0.1", false},
		{"loopback alias", "127.0.0.1", "127.0.0.2", false},
		{"cloud metadata", "127.0.0.1", "169.254.169.254", false},
		{"private 10/8", "127.0.0.1", "10.1.2.3", false},
		{"CGNAT", "127.0.0.1", "100.64.0.1", false},
		{"unique local v6", "127.0.0.1", "fd00::1", false},
		{"v6 loopback", "127.0.0.1", "::1", false},
		{"v4-mapped loopback", "127.0.0.1", "::ffff:127.0.0.1", false},
		{"NAT64 of loopback", "127.0.0.1", "64:ff9b::7f00:1", false},
		{"remote client (not an open proxy)", "203.0.113.9", "93.184.215.14", false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			r := &gate.Request{Client: netip.MustParseAddr(tc.client), Protocol: gate.HTTP, Method: "GET", Host: "example.com", Port: 80}
			got := g.CheckAddr(r, netip.MustParseAddr(tc.dest)) == nil
			if got != tc.allow {
				t.Errorf("allow = %v, want %v", got, tc.allow)
			}
		})
	}
}

func TestParseReportsFileLineKey(t *testing.T) {
	for _, tc := range []struct {
		desc string
		yaml string
		want []string // substrings, each expected in the error text
	}{
		{
			desc: "unknown key",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    colour: red\n    forward: {}\n",
			want: []string{"t.yaml:3: listeners[0].colour: unknown key"},
		},
		{
			desc: "bad duration",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    timeouts: {idle: 5 parsecs}\n    forward: {}\n",
			want: []string{"t.yaml:3: listeners[0].timeouts.idle: bad duration"},
		},
		{
			desc: "bad CIDR",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    forward: {policy: p}\npolicies:\n  p:\n    - allow: {clients: [10.0.0.0/33]}\n",
			want: []string{"t.yaml:6: policies.p[0].allow.clients[0]: bad CIDR"},
		},
		{
			desc: "undefined policy",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    forward:\n      policy: office\n",
			want: []string{"t.yaml:4: listeners[0].forward.policy: undefined policy \"office\""},
		},
		{
			desc: "missing users file",
			yaml: "users: {file: nope.htpasswd}\nlisteners:\n  - listen: 127.0.0.1:1\n    forward: {}\n",
			want: []string{"t.yaml:1: users.file: cannot read users file"},
		},
		{
			desc: "duplicate listener address",
			yaml: "listeners:\n  - {name: a, listen: '127.0.0.1:8080', forward: {}}\n  - {name: b, listen: '127.0.0.1:8080', forward: {}}\n",
			want: []string{"t.yaml:3: listeners[1].listen: address 127.0.0.1:8080 already used by listeners[0]"},
		},
		{
			desc: "auth required without users",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    forward: {auth: required}\n",
			want: []string{"listeners[0].forward.auth: auth is required but no users"},
		},
		{
			desc: "unknown protocol and anonymity",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    protocols: [gopher]\n    forward: {anonymity: invisible}\n",
			want: []string{"t.yaml:3: listeners[0].protocols[0]: unknown protocol", "t.yaml:4: listeners[0].forward.anonymity: unknown level"},
		},
		{
			desc: "rule that is neither allow nor deny",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    forward: {}\npolicies:\n  p:\n    - permit: {}\n",
			want: []string{"t.yaml:6: policies.p[0].permit: unknown key"},
		},
		{
			desc: "unknown user and group in a rule",
			yaml: "users:\n  inline: [{name: alice, hash: '" + aliceHash + "'}]\nlisteners:\n  - listen: 127.0.0.1:1\n    forward: {policy: p}\npolicies:\n  p:\n    - allow: {users: [mallory], groups: [wheel]}\n",
			want: []string{"t.yaml:8: policies.p[0].allow.users[0]: unknown user \"mallory\"", "policies.p[0].allow.groups[0]: unknown group \"wheel\""},
		},
		{
			desc: "bad port range",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    forward: {connect_ports: ['9-1']}\n",
			want: []string{"t.yaml:3: listeners[0].forward.connect_ports[0]: bad port range"},
		},
		{
			desc: "bad host pattern",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    forward: {policy: p}\npolicies:\n  p:\n    - deny: {to: ['a*b.com']}\n",
			want: []string{"t.yaml:6: policies.p[0].deny.to[0]: bad host"},
		},
		{
			desc: "no listeners",
			yaml: "log: {level: info}\n",
			want: []string{"listeners: no listeners"},
		},
		{
			desc: "YAML syntax error",
			yaml: "listeners:\n  - listen: [\n",
			want: []string{"t.yaml:", "YAML syntax"},
		},
		{
			desc: "wrong type",
			yaml: "listeners: {listen: 1}\n",
			want: []string{"t.yaml:1: listeners: want a list"},
		},
		{
			desc: "bad inline hash",
			yaml: "users:\n  inline: [{name: bob, hash: plaintext}]\nlisteners:\n  - listen: 127.0.0.1:1\n    forward: {}\n",
			want: []string{"t.yaml:2: users.inline[0].hash: not a bcrypt hash"},
		},
		{
			desc: "duplicate key",
			yaml: "listeners:\n  - listen: 127.0.0.1:1\n    listen: 127.0.0.1:2\n    forward: {}\n",
			want: []string{"t.yaml:3: listeners[0].listen: duplicate key"},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("config accepted, want an error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want config.Errors", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestUsersFileAndGroups(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.htpasswd"), []byte("# comment\nalice:"+aliceHash+":ops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "janus.yaml")
	yaml := "users:\n  file: users.htpasswd\n  groups: {staff: [alice]}\nlisteners:\n  - listen: 127.0.0.1:1\n    forward: {auth: required, policy: p}\npolicies:\n  p:\n    - allow: {groups: [staff, ops]}\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	users := c.UserList()
	if len(users) != 1 || users[0].Name != "alice" {
		t.Fatalf("users = %+v", users)
	}
	if got := strings.Join(users[0].Groups, ","); got != "ops,staff" {
		t.Errorf("alice's groups = %q, want ops,staff", got)
	}
}

func TestBadUsersFileLineIsReported(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "u"), []byte("alice:"+aliceHash+"\nbob:{SHA}abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "j.yaml")
	if err := os.WriteFile(path, []byte("users: {file: u}\nlisteners:\n  - listen: 127.0.0.1:1\n    forward: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "users.file: u:2: user \"bob\": not a bcrypt hash") {
		t.Fatalf("err = %v", err)
	}
}

func TestScalars(t *testing.T) {
	for _, tc := range []struct {
		desc string
		in   string
		want int64
		bad  bool
	}{
		{desc: "plain bytes", in: "4096", want: 4096},
		{desc: "KiB", in: "64KiB", want: 64 << 10},
		{desc: "MB", in: "10MB", want: 10e6},
		{desc: "GiB with space", in: "1 GiB", want: 1 << 30},
		{desc: "fraction", in: "1.5KiB", want: 1536},
		{desc: "negative", in: "-1", bad: true},
		{desc: "words", in: "lots", bad: true},
		{desc: "huge", in: "99999999TiB", bad: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var z Size
			err := z.parseScalar(tc.in)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, bad = %v", err, tc.bad)
			}
			if !tc.bad && int64(z) != tc.want {
				t.Errorf("got %d, want %d", z, tc.want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "2w", want: 14 * 24 * time.Hour},
		{in: "1y", want: 365 * 24 * time.Hour},
		{in: "1.5d", bad: true},
		{in: "-5s", bad: true},
		{in: "soon", bad: true},
	} {
		var d Duration
		err := d.parseScalar(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && d.D() != tc.want) {
			t.Errorf("%q: %v, %v", tc.in, d.D(), err)
		}
	}
}

func TestStaticHostsAreLowerCased(t *testing.T) {
	c, err := Parse("t.yaml", []byte("resolver:\n  hosts:\n    App.Test.: [127.0.0.3]\nlisteners:\n  - listen: 127.0.0.1:1\n    forward: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.StaticHosts()["app.test"]; len(got) != 1 || got[0] != netip.MustParseAddr("127.0.0.3") {
		t.Errorf("hosts = %v", c.StaticHosts())
	}
}

// FuzzParse feeds arbitrary bytes to the loader: it must return a config or
// errors, never panic or hang.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("listeners:\n  - listen: 127.0.0.1:1\n    forward: {policy: p}\npolicies:\n  p:\n    - allow: {to: ['*.a.com', 10.0.0.0/8], ports: [80, '1-3']}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("listeners: [{listen: ':1', forward: {auth: required}}]\nusers: {inline: [{name: a, hash: x}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not config.Errors", err, err)
			}
		}
	})
}

func TestCacheSectionErrorsNameFileLineAndKey(t *testing.T) {
	base := "listeners:\n  - listen: 127.0.0.1:0\n    forward: {cache: on}\n"
	for _, c := range []struct {
		desc, yaml, want string
	}{
		{"switch-without-section", base, "t.yaml:3: listeners[0].forward.cache: cache is on but there is no top-level cache section"},
		{"bad-switch", "listeners:\n  - listen: 127.0.0.1:0\n    forward: {cache: maybe}\n", `t.yaml:3: listeners[0].forward.cache: want on or off, got "maybe"`},
		{"tiny-memory", base + "cache:\n  memory: 1KiB\n", "t.yaml:5: cache.memory: want at least 64KiB"},
		{"disk-without-path", base + "cache:\n  disk: {size: 1GiB}\n", "t.yaml:5: cache.disk.path: want a directory"},
		{"post-method", base + "cache:\n  methods: [POST]\n", "t.yaml:5: cache.methods[0]: responses to POST are not cached"},
		{"bad-purge-cidr", base + "cache:\n  purge: {allow: [nowhere]}\n", "t.yaml:5: cache.purge.allow[0]:"},
		{"cache-on-a-redirect", "listeners:\n  - listen: 127.0.0.1:0\n    reverse:\n      routes:\n        - {redirect: {location: /x}, cache: on}\ncache: {}\n",
			"t.yaml:5: listeners[0].reverse.routes[0].cache: only routes to an upstream are cached"},
		{"bad-route-rules", "listeners:\n  - listen: 127.0.0.1:0\n    reverse:\n      routes:\n        - {upstream: a, cache: {key_headers: ['X Y']}}\nupstreams:\n  a: {targets: ['127.0.0.1:1']}\ncache: {}\n",
			`listeners[0].reverse.routes[0].cache.key_headers[0]: not a field name: "X Y"`},
		{"unknown-route-rule", "listeners:\n  - listen: 127.0.0.1:0\n    forward: {cache: {colour: red}}\ncache: {}\n",
			"t.yaml:3: listeners[0].forward.cache.colour: unknown key"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestCacheSectionBuildsOptions(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`
listeners:
  - listen: 127.0.0.1:0
    forward: {cache: on}
cache:
  memory: 1MiB
  disk: {path: /tmp/x, size: 2GiB}
  heuristic: {fraction: 0}
  collapse_wait: off
  status: false
  key_headers: [Accept-Encoding]
  purge: {allow: [loopback]}
`))
	if err != nil {
		t.Fatal(err)
	}
	o, ok := cfg.CacheOptions()
	if !ok || o.MemoryBytes != 1<<20 || o.Dir != "/tmp/x" || o.DiskBytes != 2<<30 || o.Heuristic.Fraction >= 0 ||
		o.CollapseWait >= 0 || o.CacheStatus || len(o.KeyFields) != 1 {
		t.Errorf("options %+v", o)
	}
	if !cfg.Listeners[0].Forward.Cache.On {
		t.Error("forward cache is off")
	}
}
