// Package pki generates and loads the TLS material Haddock uses to drive the
// Docker Engine on every host over mutual TLS (tcp 2376, tlsverify).
//
// One CA per cluster signs a server certificate per host and client
// certificates for the provider. A host is verified by the CA and by its own
// identity (a DNS SAN built by HostIdentity), never by the address that was
// dialled: hosts are reached via a public address, a private address or a
// floating IP that moves between hosts, and the address is not who the host
// is (Docker Machine broke on exactly this, docker/machine#3136).
//
// Key material is secret. Every KeyPEM returned or accepted by this package
// is an unencrypted private key: callers must store it only in attributes
// marked Sensitive and must never log it. Errors from this package never
// include key bytes.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// IdentityDomain is the DNS suffix of every host identity. It is never
// resolved; it only names hosts inside certificates.
const IdentityDomain = "hosts.haddock.internal"

// clockSkew backdates NotBefore so a host whose clock is slightly behind
// accepts a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// HostIdentity returns the identity a host's server certificate carries as a
// DNS SAN and that clients verify: "<host-id>.hosts.haddock.internal", in
// lower case. hostID must be usable as a DNS label (letters, digits and
// hyphens); IssueServer and ClientTLSConfig reject identities that are not
// valid DNS names.
func HostIdentity(hostID string) string {
	return strings.ToLower(hostID) + "." + IdentityDomain
}

// CA is a certificate authority: a self-signed ECDSA P-256 certificate that
// may sign only leaf certificates (MaxPathLen 0).
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte

	now func() time.Time // tests move the clock
}

// KeyPair is a leaf certificate and its private key, both PEM encoded
// (CERTIFICATE and PKCS#8 PRIVATE KEY). KeyPEM is secret.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA creates a self-signed CA valid for validity from now.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	return newCA(commonName, validity, time.Now)
}

func newCA(commonName string, validity time.Duration, now func() time.Time) (*CA, error) {
	if strings.TrimSpace(commonName) == "" {
		return nil, errors.New("creating CA: common name is empty")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("creating CA: validity must be positive, got %s", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("creating CA: generating key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Haddock"}},
		NotBefore:             t.Add(-clockSkew),
		NotAfter:              t.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating CA: signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	return &CA{cert: cert, key: key, certPEM: EncodeCertPEM(der), keyPEM: keyPEM, now: now}, nil
}

// LoadCA loads a CA created by NewCA (or any CA certificate with an ECDSA
// key). It checks that the certificate is a CA allowed to sign certificates
// and that the key belongs to it.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("loading CA: certificate is not a CA allowed to sign certificates")
	}
	signer, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	key, ok := signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("loading CA: key is %T, want an ECDSA key", signer)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("loading CA: key does not match certificate")
	}
	// Normalise the key to PKCS#8 so KeyPEM always has one format.
	normKey, err := EncodeKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	return &CA{cert: cert, key: key, certPEM: EncodeCertPEM(cert.Raw), keyPEM: normKey, now: time.Now}, nil
}

// CertPEM returns the CA certificate, PEM encoded. It is public.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// KeyPEM returns the CA private key, PKCS#8 PEM encoded. It is secret.
func (ca *CA) KeyPEM() []byte { return append([]byte(nil), ca.keyPEM...) }

// Certificate returns the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// IssueServer issues a server certificate (ExtKeyUsageServerAuth) for a host.
// Its SANs are identity (see HostIdentity) as a DNS name, then ips and
// dnsNames. Clients verify the identity, so ips and dnsNames are only a
// convenience for other tools (the docker CLI, curl).
func (ca *CA) IssueServer(identity string, ips []net.IP, dnsNames []string, validity time.Duration) (*KeyPair, error) {
	if err := ValidateIdentity(identity); err != nil {
		return nil, fmt.Errorf("issuing server certificate: %w", err)
	}
	names := []string{identity}
	for _, n := range dnsNames {
		if n == "" || strings.EqualFold(n, identity) {
			continue
		}
		names = append(names, n)
	}
	var addrs []net.IP
	for _, ip := range ips {
		if ip == nil {
			continue
		}
		addrs = append(addrs, ip)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: identity, Organization: []string{"Haddock"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    names,
		IPAddresses: addrs,
	}
	kp, err := ca.issue(tmpl, validity)
	if err != nil {
		return nil, fmt.Errorf("issuing server certificate for %s: %w", identity, err)
	}
	return kp, nil
}

// IssueClient issues a client certificate (ExtKeyUsageClientAuth) the
// provider presents to every engine.
func (ca *CA) IssueClient(commonName string, validity time.Duration) (*KeyPair, error) {
	if strings.TrimSpace(commonName) == "" {
		return nil, errors.New("issuing client certificate: common name is empty")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName, Organization: []string{"Haddock"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	kp, err := ca.issue(tmpl, validity)
	if err != nil {
		return nil, fmt.Errorf("issuing client certificate for %s: %w", commonName, err)
	}
	return kp, nil
}

func (ca *CA) issue(tmpl *x509.Certificate, validity time.Duration) (*KeyPair, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("validity must be positive, got %s", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	t := ca.now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = t.Add(-clockSkew)
	tmpl.NotAfter = t.Add(validity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		// A leaf must not outlive its CA; verification would fail anyway.
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = false
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	keyPEM, err := EncodeKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{CertPEM: EncodeCertPEM(der), KeyPEM: keyPEM}, nil
}

// ValidateIdentity reports whether identity can name a host: a DNS name (not
// an IP address, not a wildcard) of at most 253 characters whose labels are
// 1-63 letters, digits or hyphens, not starting or ending with a hyphen.
func ValidateIdentity(identity string) error {
	if identity == "" {
		return errors.New("identity is empty")
	}
	if net.ParseIP(identity) != nil {
		return fmt.Errorf("identity %q is an IP address; hosts are identified by name (see HostIdentity), never by address", identity)
	}
	if len(identity) > 253 {
		return fmt.Errorf("identity %q is longer than 253 characters", identity)
	}
	for _, label := range strings.Split(identity, ".") {
		if !validLabel(label) {
			return fmt.Errorf("identity %q is not a valid DNS name (label %q)", identity, label)
		}
	}
	return nil
}

func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // never zero
}
