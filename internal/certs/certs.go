// Package certs turns a listener's TLS settings into a *tls.Config:
// certificate pairs from PEM files (several per listener, chosen by the
// client's SNI, wildcards included), protocol versions, ALPN, and client
// certificate authentication against a CA file.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Pair is one certificate chain and its key, as PEM files.
type Pair struct {
	Cert, Key string
}

// ClientAuth says whether clients must present a certificate.
type ClientAuth uint8

// Client-certificate modes.
const (
	NoClientCert      ClientAuth = iota // do not ask
	VerifyIfGiven                       // ask; verify one if given
	RequireClientCert                   // require one that verifies (mTLS)
)

// Options configure a TLS listener.
type Options struct {
	Pairs      []Pair
	MinVersion uint16   // tls.VersionTLS12 (default) or tls.VersionTLS13
	NextProtos []string // ALPN, in preference order; nil means http/1.1
	ClientCA   string   // PEM bundle of CAs for client certificates
	ClientAuth ClientAuth
}

// Load reads the files and builds the server config. With several pairs
// the certificate is chosen by the client's SNI among each certificate's
// names (crypto/tls matches exact and wildcard names); a client without SNI,
// or with a name no certificate has, gets the first pair.
func Load(o Options) (*tls.Config, error) {
	if len(o.Pairs) == 0 {
		return nil, errors.New("no certificates")
	}
	cfg := &tls.Config{
		MinVersion: o.MinVersion,
		NextProtos: o.NextProtos,
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"http/1.1"}
	}
	for _, p := range o.Pairs {
		c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", p.Cert, p.Key, err)
		}
		if c.Leaf == nil && len(c.Certificate) > 0 {
			if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return nil, fmt.Errorf("certificate %s: %w", p.Cert, err)
			}
		}
		cfg.Certificates = append(cfg.Certificates, c)
	}
	if o.ClientAuth != NoClientCert {
		if o.ClientCA == "" {
			return nil, errors.New("client certificates need a CA file")
		}
		pem, err := os.ReadFile(o.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate in it", o.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if o.ClientAuth == RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}
