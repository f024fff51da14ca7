package config

// Config is one Janus configuration file, decoded and checked. Build it with
// Load or Parse; the zero value is not valid.
type Config struct {
	Log       Log                 `yaml:"log"`
	Users     Users               `yaml:"users"`
	Resolver  Resolver            `yaml:"resolver"`
	Outbound  Outbound            `yaml:"outbound"`
	Listeners []Listener          `yaml:"listeners"`
	Policies  map[string]Policy   `yaml:"policies"`
	Upstreams map[string]Upstream `yaml:"upstreams"`
	Shutdown  Shutdown            `yaml:"shutdown"`
	Admin     *Admin              `yaml:"admin"`   // nil: no admin API
	Cache     *Cache              `yaml:"cache"`   // the HTTP cache; none without this section (docs/caching.md)
	Limits    map[string]Limit    `yaml:"limits"`  // named request-rate limits
	Quotas    *Quotas             `yaml:"quotas"`  // traffic quotas per user or group
	Cluster   *Cluster            `yaml:"cluster"` // limits and quotas shared with other instances

	// File is the path the config was read from ("<default>" for the
	// embedded one); relative paths inside it are relative to its directory.
	File string `yaml:"-"`
	// Source is the text the config was parsed from (the admin API shows
	// it, secrets redacted).
	Source []byte `yaml:"-"`

	compiled compiled // filled by validate: the runtime values it checked
}

// Log configures the application log and the access log.
type Log struct {
	Level  string    `yaml:"level"`  // debug, info (default), warn, error
	Format string    `yaml:"format"` // text (default) or json; the application log goes to stderr
	Access AccessLog `yaml:"access"`
}

// AccessLog configures the access log: one line per request, tunnel and
// SOCKS session.
type AccessLog struct {
	Format string `yaml:"format"` // json (default) or combined
	Output string `yaml:"output"` // stdout (default), stderr, off, or a file path (reopened on SIGUSR1)
}

// Users is the user database for proxy authentication.
type Users struct {
	File     string              `yaml:"file"`      // htpasswd-style: name:bcrypt[:group,group]
	Inline   []InlineUser        `yaml:"inline"`    // users written in the config itself
	Groups   map[string][]string `yaml:"groups"`    // group → user names, added to each user's groups
	CacheTTL Duration            `yaml:"cache_ttl"` // how long a verified password is remembered; default 5m
}

// InlineUser is a user defined in the config file.
type InlineUser struct {
	Name   string   `yaml:"name"`
	Hash   string   `yaml:"hash"` // bcrypt, from `janus hash-password`
	Groups []string `yaml:"groups"`
}

// Resolver configures name resolution for destinations.
type Resolver struct {
	// Hosts answers these names without DNS, like /etc/hosts.
	Hosts   map[string][]string `yaml:"hosts"`
	Timeout Duration            `yaml:"timeout"` // per lookup; default 5s
}

// Outbound configures connections to destinations.
type Outbound struct {
	DialTimeout Duration `yaml:"dial_timeout"` // per connection attempt; default 10s
}

// Listener is one listening address and what it serves.
type Listener struct {
	Name   string `yaml:"name"`
	Listen string `yaml:"listen"` // host:port

	// Protocols restricts what the listener accepts: http, connect, socks5,
	// socks4. Default: all of them.
	Protocols      []string `yaml:"protocols"`
	MaxConnections int      `yaml:"max_connections"` // concurrent client connections; default 10000
	// MaxConnectionsPerClient bounds one client address's connections
	// (nginx's limit_conn); 0: no bound.
	MaxConnectionsPerClient int      `yaml:"max_connections_per_client"`
	MaxHeaderBytes          Size     `yaml:"max_header_bytes"` // request head limit (431); default 64KiB
	Timeouts                Timeouts `yaml:"timeouts"`
	TLS                     *TLS     `yaml:"tls"`
	// HTTP2 offers HTTP/2 through ALPN on a TLS listener with a reverse
	// face (default true); H2C accepts HTTP/2 with prior knowledge on a
	// plain one (default false).
	HTTP2 *bool `yaml:"http2"`
	H2C   bool  `yaml:"h2c"`
	// HTTP3 serves HTTP/3 (QUIC, RFC 9114) on a UDP socket at the same
	// address and port, advertised with Alt-Svc; default true on a TLS
	// listener with a reverse face and no PROXY protocol.
	HTTP3 *bool `yaml:"http3"`
	// ProxyProtocol accepts a PROXY protocol v1/v2 header from load
	// balancers in front of Janus; the client's address then comes from it.
	ProxyProtocol *ProxyProtocol `yaml:"proxy_protocol"`
	Forward       *Forward       `yaml:"forward"`
	Reverse       *Reverse       `yaml:"reverse"`
}

// TLS makes a listener speak TLS: Janus terminates it and serves what is
// inside as it would on a plain listener.
type TLS struct {
	// Certificates are PEM pairs; the client's SNI picks among their
	// names (wildcards too); the first is the default.
	Certificates []CertPair `yaml:"certificates"`
	MinVersion   string     `yaml:"min_version"` // "1.2" (default) or "1.3"
	// ClientCA and ClientAuth ask clients for certificates (mTLS):
	// none (default), verify_if_given or require.
	ClientCA   string `yaml:"client_ca"`
	ClientAuth string `yaml:"client_auth"`
	// HSTS adds Strict-Transport-Security to the reverse face's responses.
	HSTS *HSTS `yaml:"hsts"`
}

// CertPair is a certificate chain and its private key, PEM files relative
// to the config file.
type CertPair struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// HSTS is the Strict-Transport-Security policy (RFC 6797).
type HSTS struct {
	MaxAge            Duration `yaml:"max_age"` // default 1 year
	IncludeSubdomains bool     `yaml:"include_subdomains"`
	Preload           bool     `yaml:"preload"`
}

// Timeouts bound how long a client may take. Zero values take the defaults.
type Timeouts struct {
	Header     Duration `yaml:"header"`      // to send a request head or finish a SOCKS handshake; default 10s
	Idle       Duration `yaml:"idle"`        // keep-alive wait between requests; default 60s
	TunnelIdle Duration `yaml:"tunnel_idle"` // CONNECT and SOCKS tunnels with no traffic; default 5m
	Response   Duration `yaml:"response"`    // wait for an origin's response head; default 60s
	UDPIdle    Duration `yaml:"udp_idle"`    // SOCKS5 UDP association with no datagram; default 5m
}

// Forward configures the forward face on a listener.
type Forward struct {
	Auth         string     `yaml:"auth"`          // none (default) or required
	Policy       string     `yaml:"policy"`        // a name under policies; default: the built-in safe policy
	Anonymity    string     `yaml:"anonymity"`     // transparent, anonymous (default) or elite
	ConnectPorts []PortSpec `yaml:"connect_ports"` // ports CONNECT may reach; default [443]
	Via          string     `yaml:"via"`           // pseudonym in Via headers; default "janus"
	Cache        CacheUse   `yaml:"cache"`         // on (or rules of its own): http:// requests go through the cache section's cache; default off
	Limits       []string   `yaml:"limits"`        // names under limits: each request, tunnel and SOCKS session counts
}

// Policy is an ordered list of access rules: the first that matches decides,
// and a request no rule matches is denied.
type Policy []Rule

// Rule is one entry of a policy: `allow: {...}` or `deny: {...}`.
type Rule struct {
	Allow bool
	Match Match
	Line  int
}

// Match is the conditions of a rule. All given conditions must hold; within
// a list, any entry may match.
type Match struct {
	Name            string     `yaml:"name"`            // shown in logs; default policy#N
	Clients         []string   `yaml:"clients"`         // client CIDRs, addresses or set names
	Users           []string   `yaml:"users"`           // user names; "*" for any authenticated user
	Groups          []string   `yaml:"groups"`          // group names
	To              []string   `yaml:"to"`              // destination names (exact, *.suffix), CIDRs, addresses or set names
	Ports           []PortSpec `yaml:"ports"`           // destination ports or ranges
	Protocols       []string   `yaml:"protocols"`       // http, connect, socks5, socks4
	Methods         []string   `yaml:"methods"`         // HTTP methods (CONNECT for tunnels)
	Unauthenticated bool       `yaml:"unauthenticated"` // also applies to clients that did not authenticate where auth is required
}

// Shutdown configures how Janus stops on SIGTERM or SIGINT.
type Shutdown struct {
	Drain Duration `yaml:"drain"` // how long requests and tunnels in flight may finish; default 30s
}

// ProxyProtocol is a listener's PROXY protocol policy (HAProxy's spec).
type ProxyProtocol struct {
	// Trusted are the peers whose header is believed (required).
	Trusted []string `yaml:"trusted"`
	// Optional lets trusted peers connect without a header and untrusted
	// ones be served with their own address; by default every connection
	// must start with a header from a trusted peer (the spec's model).
	Optional bool     `yaml:"optional"`
	Timeout  Duration `yaml:"timeout"` // for the header; default 5s
}
