package config

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	"github.com/janus-proxy/janus/internal/certs"
)

// DefaultHSTSMaxAge is one year, as most preload lists ask.
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// TLSConfig returns listener i's server TLS config, nil for a plain
// listener.
func (c *Config) TLSConfig(i int) *tls.Config {
	if i < len(c.compiled.tls) {
		return c.compiled.tls[i]
	}
	return nil
}

// HSTSValue returns the Strict-Transport-Security value for a listener's
// responses, "" when none is configured.
func (t *TLS) HSTSValue() string {
	if t == nil || t.HSTS == nil {
		return ""
	}
	v := "max-age=" + strconv.FormatInt(int64(t.HSTS.MaxAge.Or(DefaultHSTSMaxAge)/time.Second), 10)
	if t.HSTS.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if t.HSTS.Preload {
		v += "; preload"
	}
	return v
}

// checkTLS loads listener i's certificates, so that a missing or broken
// file is reported at its line.
func (v *validator) checkTLS(i int, key string, l *Listener) {
	t := l.TLS
	for len(v.c.compiled.tls) <= i {
		v.c.compiled.tls = append(v.c.compiled.tls, nil)
	}
	o := certs.Options{ClientCA: v.resolvePathOpt(t.ClientCA)}
	if l.ServesHTTP2() {
		o.NextProtos = []string{"h2", "http/1.1"}
	}
	switch t.MinVersion {
	case "", "1.2":
		o.MinVersion = tls.VersionTLS12
	case "1.3":
		o.MinVersion = tls.VersionTLS13
	default:
		v.fail(key+".min_version", "unknown version %q (want 1.2 or 1.3)", t.MinVersion)
	}
	switch t.ClientAuth {
	case "", "none":
	case "verify_if_given":
		o.ClientAuth = certs.VerifyIfGiven
	case "require":
		o.ClientAuth = certs.RequireClientCert
	default:
		v.fail(key+".client_auth", "unknown mode %q (want none, verify_if_given or require)", t.ClientAuth)
	}
	if o.ClientAuth != certs.NoClientCert && t.ClientCA == "" {
		v.fail(key+".client_ca", "client certificates need a CA file")
		return
	}
	if len(t.Certificates) == 0 {
		v.fail(key+".certificates", "no certificates: want at least one {cert, key}")
		return
	}
	for j, p := range t.Certificates {
		if p.Cert == "" || p.Key == "" {
			v.fail(fmt.Sprintf("%s.certificates[%d]", key, j), "want both cert and key")
			return
		}
		o.Pairs = append(o.Pairs, certs.Pair{Cert: v.resolvePath(p.Cert), Key: v.resolvePath(p.Key)})
	}
	cfg, err := certs.Load(o)
	if err != nil {
		v.fail(key, "%v", err)
		return
	}
	v.c.compiled.tls[i] = cfg
}

func (v *validator) resolvePathOpt(p string) string {
	if p == "" {
		return ""
	}
	return v.resolvePath(p)
}

// ServesHTTP2 reports whether a TLS listener offers HTTP/2: it has a
// reverse face and http2 is not turned off. (HTTP/2 to the forward face is
// not served: proxy clients speak HTTP/1.1.)
func (l *Listener) ServesHTTP2() bool {
	return l.TLS != nil && l.Reverse != nil && (l.HTTP2 == nil || *l.HTTP2)
}

// ServesHTTP3 reports whether a TLS listener with a reverse face also
// serves HTTP/3 over QUIC on UDP. It is on unless http3 is false, except
// behind a PROXY protocol load balancer, where it must be asked for: QUIC
// carries no PROXY header, so its clients would be served with whatever
// address reaches the UDP socket.
func (l *Listener) ServesHTTP3() bool {
	if l.TLS == nil || l.Reverse == nil || !l.Allows("http") {
		return false
	}
	if l.HTTP3 != nil {
		return *l.HTTP3
	}
	return l.ProxyProtocol == nil
}
