package cluster

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Validity of the TLS material, as for a single haddock_host.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 5 * 365 * 24 * time.Hour
)

// clientCommonName is the client certificate's subject.
const clientCommonName = "haddock"

// NewCredentials creates a cluster's TLS material: a CA of its own and the
// client certificate the provider presents to every engine.
func NewCredentials(clusterUID string) (Credentials, error) {
	ca, err := pki.NewCA("haddock cluster CA "+clusterUID, caValidity)
	if err != nil {
		return Credentials{}, fmt.Errorf("creating the cluster's CA: %w", err)
	}
	client, err := ca.IssueClient(clientCommonName, certValidity)
	if err != nil {
		return Credentials{}, fmt.Errorf("issuing the cluster's client certificate: %w", err)
	}
	return Credentials{
		CACertPEM:     string(ca.CertPEM()),
		CAKeyPEM:      string(ca.KeyPEM()),
		ClientCertPEM: string(client.CertPEM),
		ClientKeyPEM:  string(client.KeyPEM),
	}, nil
}

// String keeps the keys out of logs and error messages: fmt prints this
// for Credentials, and for a State holding them.
func (c Credentials) String() string { return "cluster credentials (redacted)" }

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// loadCA checks the credentials and loads the CA. Errors never carry key
// bytes.
func (c Credentials) loadCA() (*pki.CA, error) {
	ca, err := pki.LoadCA([]byte(c.CACertPEM), []byte(c.CAKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("the cluster's CA in state is unusable: %w", err)
	}
	if _, err := pki.ClientTLSConfig([]byte(c.CACertPEM), []byte(c.ClientCertPEM), []byte(c.ClientKeyPEM), Identity("check")); err != nil {
		return nil, fmt.Errorf("the cluster's client certificate in state is unusable: %w", err)
	}
	return ca, nil
}

// endpoint is how to reach the engine of the host with uid at address.
func (c Credentials) endpoint(address, uid string) swarm.Endpoint {
	return swarm.Endpoint{
		Host:      "tcp://" + net.JoinHostPort(address, strconv.Itoa(swarm.EnginePort)),
		CACertPEM: []byte(c.CACertPEM),
		CertPEM:   []byte(c.ClientCertPEM),
		KeyPEM:    []byte(c.ClientKeyPEM),
		Identity:  Identity(uid),
	}
}

// hostBoot is what a new host boots with.
type hostBoot struct {
	ClusterUID string
	Group      string
	HostUID    string
	Hostname   string
	UserData   string // the user's
}

// userData renders the host's user data: Docker Engine on 2376 with mutual
// TLS, a server certificate naming the host's identity (its own key pair,
// signed by the cluster CA), engine labels tying its swarm node to the host
// and the group, and the user's user data merged in. The result holds the
// host's private key: it is secret.
func userData(ca *pki.CA, b hostBoot, validity time.Duration) (string, error) {
	server, err := ca.IssueServer(Identity(b.HostUID), nil, nil, validity)
	if err != nil {
		return "", fmt.Errorf("issuing the engine's server certificate for %s: %w", b.Hostname, err)
	}
	return cloudinit.Render(cloudinit.Params{
		Hostname:      b.Hostname,
		CACertPEM:     ca.CertPEM(),
		ServerCertPEM: server.CertPEM,
		ServerKeyPEM:  server.KeyPEM,
		DaemonExtra: map[string]any{"labels": []string{
			EngineLabelCluster + "=" + b.ClusterUID,
			EngineLabelGroup + "=" + b.Group,
			EngineLabelUID + "=" + b.HostUID,
		}},
		UserData: b.UserData,
	})
}
