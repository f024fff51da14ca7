package config

import (
	"net/netip"
	"time"

	"github.com/janus-proxy/janus/internal/addrset"
	"github.com/janus-proxy/janus/internal/gate"
)

// DefaultPolicyName names the built-in policy a forward listener uses when
// it names none: refuse every special-purpose destination, then allow clients
// on loopback and private networks (what Squid's default config allows),
// and deny the rest.
const DefaultPolicyName = "default"

// Defaults applied where the config is silent.
const (
	DefaultMaxConnections = 10000
	DefaultMaxHeaderBytes = 64 << 10
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultTunnelIdle     = 5 * time.Minute
	DefaultResponse       = 60 * time.Second
	DefaultUDPIdle        = 5 * time.Minute
	DefaultDialTimeout    = 10 * time.Second
	DefaultResolveTimeout = 5 * time.Second
	DefaultDrain          = 30 * time.Second
	DefaultCredentialsTTL = 5 * time.Minute
)

var builtinPolicy = func() *gate.Policy {
	loopback, _ := addrset.Named("loopback")
	private, _ := addrset.Named("private")
	return &gate.Policy{Name: DefaultPolicyName, Rules: []gate.Rule{
		{Name: "default#special-destinations", Dests: addrset.Special()},
		{Name: "default#local-clients", Allow: true, Clients: addrset.Union(loopback, private)},
	}}
}()

// Policy returns the compiled policy called name; "" gives the built-in one.
func (c *Config) Policy(name string) *gate.Policy {
	if name == "" {
		return builtinPolicy
	}
	return c.compiled.policies[name]
}

// UserList returns every user with its groups (from the file, the inline
// list and the groups map), or nil when none are configured.
func (c *Config) UserList() []gate.User { return c.compiled.users }

// StaticHosts returns resolver.hosts with names lower-cased.
func (c *Config) StaticHosts() map[string][]netip.Addr { return c.compiled.hosts }

// AuthRequired reports whether the forward face demands credentials.
func (f *Forward) AuthRequired() bool { return f.Auth == "required" }

// ConnectPortSet returns the ports CONNECT may reach (nil: the gate's default, 443).
func (f *Forward) ConnectPortSet() gate.PortSet { return portSet(f.ConnectPorts) }

// Allows reports whether the listener accepts protocol p (http, connect,
// socks5, socks4).
func (l *Listener) Allows(p string) bool {
	if len(l.Protocols) == 0 {
		return true
	}
	return oneOf(p, l.Protocols...)
}
