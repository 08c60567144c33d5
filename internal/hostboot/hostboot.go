// Package hostboot is one place for a host's identity and boot: the TLS
// material that names a host (a CA, the engine's server certificate, the
// provider's client certificate), the cloud-init document the host boots
// with, and the wait from "created" to "active" to "its Docker Engine
// answers over mutual TLS". haddock_host and the cluster engine both use it.
package hostboot

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Validity of the TLS material Haddock issues, and the client
// certificate's subject.
const (
	CAValidity       = 10 * 365 * 24 * time.Hour
	CertValidity     = 5 * 365 * 24 * time.Hour
	ClientCommonName = "haddock"
)

// Credentials are a CA and the client certificate the provider presents to
// every engine the CA vouches for, PEM encoded. CAKeyPEM and ClientKeyPEM
// are secret: String and GoString redact the whole value.
type Credentials struct {
	CACertPEM     string
	CAKeyPEM      string
	ClientCertPEM string
	ClientKeyPEM  string
}

// NewCredentials creates a CA named caCommonName and a client certificate
// it signs.
func NewCredentials(caCommonName string) (Credentials, error) {
	ca, err := pki.NewCA(caCommonName, CAValidity)
	if err != nil {
		return Credentials{}, fmt.Errorf("creating the CA: %w", err)
	}
	client, err := ca.IssueClient(ClientCommonName, CertValidity)
	if err != nil {
		return Credentials{}, fmt.Errorf("issuing the client certificate: %w", err)
	}
	return Credentials{
		CACertPEM:     string(ca.CertPEM()),
		CAKeyPEM:      string(ca.KeyPEM()),
		ClientCertPEM: string(client.CertPEM),
		ClientKeyPEM:  string(client.KeyPEM),
	}, nil
}

// String keeps the keys out of logs and error messages: fmt prints this for
// Credentials, and for any struct holding them.
func (c Credentials) String() string { return "credentials (redacted)" }

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// LoadCA checks the credentials — the CA with its key, the client
// certificate with its key, signed by the CA — and loads the CA. Errors
// never carry key bytes.
func (c Credentials) LoadCA() (*pki.CA, error) {
	ca, err := pki.LoadCA([]byte(c.CACertPEM), []byte(c.CAKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("the CA in state is unusable: %w", err)
	}
	if err := c.checkClient(ca.Certificate()); err != nil {
		return nil, err
	}
	return ca, nil
}

// CheckClient checks credentials without the CA key (client credentials,
// which reach the engines but cannot sign hosts): the client certificate
// is usable and signed by the CA certificate.
func (c Credentials) CheckClient() error {
	caCert, err := pki.ParseCertPEM([]byte(c.CACertPEM))
	if err != nil {
		return fmt.Errorf("the CA certificate in state is unusable: %w", err)
	}
	return c.checkClient(caCert)
}

// checkClient checks the client certificate with its key, signed by caCert.
func (c Credentials) checkClient(caCert *x509.Certificate) error {
	if _, err := pki.ClientTLSConfig([]byte(c.CACertPEM), []byte(c.ClientCertPEM), []byte(c.ClientKeyPEM), pki.HostIdentity("check")); err != nil {
		return fmt.Errorf("the client certificate in state is unusable: %w", err)
	}
	client, err := pki.ParseCertPEM([]byte(c.ClientCertPEM))
	if err == nil {
		roots := x509.NewCertPool()
		roots.AddCert(caCert)
		_, err = client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	}
	if err != nil {
		return fmt.Errorf("the client certificate in state is unusable: it is not signed by the CA in state: %w", err)
	}
	return nil
}

// Endpoint is how to reach the engine at address (tcp://address:2376),
// verified by the CA and by identity (pki.HostIdentity of the host's uid),
// never by the address.
func (c Credentials) Endpoint(address, identity string) swarm.Endpoint {
	return swarm.Endpoint{
		Host:      "tcp://" + net.JoinHostPort(address, strconv.Itoa(swarm.EnginePort)),
		CACertPEM: []byte(c.CACertPEM),
		CertPEM:   []byte(c.ClientCertPEM),
		KeyPEM:    []byte(c.ClientKeyPEM),
		Identity:  identity,
	}
}

// NewUID returns 16 random lower-case hex characters: a DNS label (so
// pki.HostIdentity accepts it) and a valid tag on every vendor.
func NewUID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a uid: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Boot is what one new host boots with.
type Boot struct {
	Hostname string
	// Identity is the name the engine's server certificate carries,
	// pki.HostIdentity(uid).
	Identity string
	// EngineLabels are "key=value" labels for daemon.json; may be empty.
	EngineLabels []string
	// UserData is the user's own user data, merged in.
	UserData string
}

// UserData issues the engine's server certificate (its own key pair,
// signed by ca, naming b.Identity) and renders the cloud-init document the
// host boots with: Docker Engine on 2376 with mutual TLS, that material,
// the engine labels and the user's user data merged in (cloudinit.Render).
// The result holds the host's private key: it is secret.
func UserData(ca *pki.CA, b Boot, validity time.Duration) (string, error) {
	server, err := ca.IssueServer(b.Identity, nil, nil, validity)
	if err != nil {
		return "", fmt.Errorf("issuing the engine's server certificate for %s: %w", b.Hostname, err)
	}
	return render(ca, server, b)
}

func render(ca *pki.CA, server *pki.KeyPair, b Boot) (string, error) {
	p := cloudinit.Params{
		Hostname:      b.Hostname,
		CACertPEM:     ca.CertPEM(),
		ServerCertPEM: server.CertPEM,
		ServerKeyPEM:  server.KeyPEM,
		UserData:      b.UserData,
	}
	if len(b.EngineLabels) > 0 {
		p.DaemonExtra = map[string]any{"labels": b.EngineLabels}
	}
	return cloudinit.Render(p)
}

// validation is throwaway material, made once, to check user data at plan
// time with the very renderer UserData uses.
var validation = sync.OnceValues(func() (*validationTLS, error) {
	ca, err := pki.NewCA("haddock validation CA", CAValidity)
	if err != nil {
		return nil, fmt.Errorf("creating the validation CA: %w", err)
	}
	server, err := ca.IssueServer(pki.HostIdentity("validation"), nil, nil, CertValidity)
	if err != nil {
		return nil, fmt.Errorf("issuing the validation certificate: %w", err)
	}
	return &validationTLS{ca: ca, server: server}, nil
})

type validationTLS struct {
	ca     *pki.CA
	server *pki.KeyPair
}

// ValidateUserData reports whether the user's user data can be merged into
// the document a host boots with: the plan-time check of what UserData
// does at create time.
func ValidateUserData(user string) error {
	v, err := validation()
	if err != nil {
		return err
	}
	_, err = render(v.ca, v.server, Boot{Hostname: "validation", UserData: user})
	return err
}

// The steps of WaitEngine, as StepError.Step.
const (
	StepActive  = "waiting for the host to become active"
	StepConnect = "connecting to the host's Docker Engine"
	StepReady   = "waiting for the host's Docker Engine to answer over mutual TLS"
)

// StepError is WaitEngine's error: the step that failed (StepActive,
// StepConnect or StepReady) and why.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Pinger is an engine connection WaitEngine waits on (*swarm.Client).
type Pinger interface {
	WaitReady(ctx context.Context, interval time.Duration) error
}

var _ Pinger = (*swarm.Client)(nil)

// WaitEngine waits until h is active — through w, whose list calls are
// shared by every host waited for (never a GET per host), when h is not
// active or has no address yet — then until its engine answers over mutual
// TLS, dialled with connect (which the caller keeps and closes). It returns
// the host as last listed. Errors are *StepError, naming the step that
// failed.
func WaitEngine(ctx context.Context, w *cloud.HostWatcher, h cloud.Host, connect func(context.Context, cloud.Host) (Pinger, error), interval time.Duration) (cloud.Host, error) {
	if h.Status != cloud.HostActive || (h.PublicIPv4 == "" && h.PrivateIPv4 == "") {
		if w == nil {
			return h, &StepError{Step: StepActive, Err: errors.New("no host watcher")}
		}
		got, err := w.WaitActive(ctx, h.ID)
		if got != nil {
			h = *got
		}
		if err != nil {
			return h, &StepError{Step: StepActive, Err: err}
		}
	}
	p, err := connect(ctx, h)
	if err != nil {
		return h, &StepError{Step: StepConnect, Err: err}
	}
	if err := p.WaitReady(ctx, interval); err != nil {
		return h, &StepError{Step: StepReady, Err: err}
	}
	return h, nil
}
