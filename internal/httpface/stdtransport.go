package httpface

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Upstreams spoken to in HTTP/2 (h2c or over TLS) or in HTTP/1.1 over TLS
// go through net/http's and x/net/http2's transports, which pool and
// multiplex connections themselves; every connection they open is dialed
// through the outbound dialer to exactly the address the pool picked.
// Plain HTTP/1.1 upstreams keep the faster http1 engine.

// UpstreamTransport is the round tripper of an upstream spoken to through
// net/http or x/net/http2. It knows each target's host name, so that TLS
// verifies the name configured rather than the address dialed.
type UpstreamTransport struct {
	rt    http.RoundTripper
	names sync.Map // "ip:port" → the target's host name, for SNI
}

// CloseIdleConnections closes the transport's idle connections, when an
// upstream is retired.
func (t *UpstreamTransport) CloseIdleConnections() {
	if ci, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// RoundTrip sends req through the transport.
func (t *UpstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.rt.RoundTrip(req)
}

// TransportOptions describe an upstream's round-tripper.
type TransportOptions struct {
	Protocol    string      // "h2c", "h2" or "http1"
	TLS         *tls.Config // spoken to the targets; nil for plain TCP
	MaxIdle     int         // idle connections kept per target (HTTP/1.1 over TLS); 0: 64
	IdleTimeout time.Duration
}

// NewUpstreamTransport returns the transport for an upstream that speaks
// HTTP/2 or HTTP/1.1 over TLS, or nil when the http1 engine serves it
// (plain HTTP/1.1).
func NewUpstreamTransport(o TransportOptions, d Dialer) *UpstreamTransport {
	protocol, tlsCfg := o.Protocol, o.TLS
	idle := cmp.Or(o.IdleTimeout, 90*time.Second)
	t := &UpstreamTransport{}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("upstream address %q: %w", addr, err)
		}
		c, err := d.DialTCP(ctx, ap.Addr().String(), ap.Port(), nil)
		if err != nil {
			// Nothing was sent: any request may try another target.
			return nil, &connectError{err}
		}
		return c, nil
	}
	dialTLS := func(ctx context.Context, addr string, cfg *tls.Config) (net.Conn, error) {
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			if name, ok := t.names.Load(addr); ok {
				cfg.ServerName = name.(string)
			} else if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		c, err := dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, &connectError{fmt.Errorf("TLS to upstream %s: %w", addr, err)}
		}
		return tc, nil
	}
	switch {
	case protocol == "h2c":
		t.rt = &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, _, addr string, _ *tls.Config) (net.Conn, error) {
				return dial(ctx, addr)
			},
			ReadIdleTimeout: 30 * time.Second,
			IdleConnTimeout: idle,
		}
	case protocol == "h2":
		t.rt = &http2.Transport{
			TLSClientConfig: withALPN(tlsCfg, "h2"),
			DialTLSContext: func(ctx context.Context, _, addr string, cfg *tls.Config) (net.Conn, error) {
				return dialTLS(ctx, addr, cfg)
			},
			ReadIdleTimeout: 30 * time.Second,
			IdleConnTimeout: idle,
		}
	case tlsCfg != nil:
		alpn := withALPN(tlsCfg, "http/1.1")
		t.rt = &http.Transport{
			DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialTLS(ctx, addr, alpn)
			},
			MaxIdleConnsPerHost: cmp.Or(o.MaxIdle, 64),
			IdleConnTimeout:     idle,
			DisableCompression:  true,
		}
	default:
		return nil
	}
	return t
}

func withALPN(cfg *tls.Config, proto string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{proto}
	return cfg
}
