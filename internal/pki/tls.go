package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ClientTLSConfig returns the TLS configuration the provider uses to reach a
// host's Docker Engine. The server's chain is verified against caPEM only
// (never the system roots), and the leaf must carry identity as a DNS SAN
// (see HostIdentity) — whatever address was dialled. ServerName is set to
// identity, so Go's verifier checks the identity rather than the address;
// http.Transport keeps a non-empty ServerName. VerifyConnection re-checks
// the identity so a caller who overwrites ServerName cannot silently fall
// back to address verification.
//
// The client presents certPEM/keyPEM (an IssueClient pair). keyPEM is
// secret.
func ClientTLSConfig(caPEM, certPEM, keyPEM []byte, identity string) (*tls.Config, error) {
	if err := ValidateIdentity(identity); err != nil {
		return nil, fmt.Errorf("client TLS config: %w", err)
	}
	pool, err := caPool(caPEM)
	if err != nil {
		return nil, fmt.Errorf("client TLS config: %w", err)
	}
	pair, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client TLS config: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      pool,
		Certificates: []tls.Certificate{pair},
		ServerName:   identity,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server presented no certificate")
			}
			if err := cs.PeerCertificates[0].VerifyHostname(identity); err != nil {
				return fmt.Errorf("server is not host %s: %w", identity, err)
			}
			return nil
		},
	}, nil
}

// ServerTLSConfig returns a TLS configuration that presents certPEM/keyPEM
// and requires a client certificate signed by caPEM, the way dockerd runs
// with tlsverify. The provider never serves TLS; tests and the local cloud
// use this.
func ServerTLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	pool, err := caPool(caPEM)
	if err != nil {
		return nil, fmt.Errorf("server TLS config: %w", err)
	}
	pair, err := keyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server TLS config: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		Certificates: []tls.Certificate{pair},
	}, nil
}

func caPool(caPEM []byte) (*x509.CertPool, error) {
	certs, err := ParseCertsPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("CA certificate: %q is not a CA", c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	return pool, nil
}

func keyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return tls.Certificate{}, errors.New("certificate and key are required")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// tls.X509KeyPair never echoes key bytes in its errors.
		return tls.Certificate{}, fmt.Errorf("certificate/key pair: %w", err)
	}
	return pair, nil
}
