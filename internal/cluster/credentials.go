package cluster

import (
	"fmt"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/hostboot"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// certValidity is the default validity of the hosts' server certificates.
const certValidity = hostboot.CertValidity

// Credentials (types.go) has hostboot.Credentials' fields and converts to
// it: a type of its own so that it prints as the cluster's, and so that the
// cluster's State stays a plain value the provider fills field by field.

// NewCredentials creates a cluster's TLS material: a CA of its own and the
// client certificate the provider presents to every engine.
func NewCredentials(clusterUID string) (Credentials, error) {
	c, err := hostboot.NewCredentials("haddock cluster CA " + clusterUID)
	if err != nil {
		return Credentials{}, fmt.Errorf("the cluster's credentials: %w", err)
	}
	return Credentials(c), nil
}

// String keeps the keys out of logs and error messages: fmt prints this
// for Credentials, and for a State holding them.
func (c Credentials) String() string { return "cluster credentials (redacted)" }

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// LoadCA is hostboot.Credentials.LoadCA.
func (c Credentials) LoadCA() (*pki.CA, error) { return hostboot.Credentials(c).LoadCA() }

// Endpoint is hostboot.Credentials.Endpoint.
func (c Credentials) Endpoint(address, identity string) swarm.Endpoint {
	return hostboot.Credentials(c).Endpoint(address, identity)
}

// loadCA checks the cluster's credentials and loads the CA. Errors never
// carry key bytes.
func (c Credentials) loadCA() (*pki.CA, error) {
	ca, err := c.LoadCA()
	if err != nil {
		return nil, fmt.Errorf("the cluster's credentials: %w", err)
	}
	return ca, nil
}

// endpoint is how to reach the engine of the host with uid at address.
func (c Credentials) endpoint(address, uid string) swarm.Endpoint {
	return c.Endpoint(address, Identity(uid))
}

// hostBoot is what a new host of the cluster boots with.
type hostBoot struct {
	ClusterUID string
	Group      string
	HostUID    string
	Hostname   string
	UserData   string // the user's
}

// userData renders the host's user data (hostboot.UserData): its server
// certificate names the host's identity, and engine labels tie its swarm
// node to the host and the group. The result holds the host's private key:
// it is secret.
func userData(ca *pki.CA, b hostBoot, validity time.Duration) (string, error) {
	return hostboot.UserData(ca, hostboot.Boot{
		Hostname: b.Hostname,
		Identity: Identity(b.HostUID),
		EngineLabels: []string{
			EngineLabelCluster + "=" + b.ClusterUID,
			EngineLabelGroup + "=" + b.Group,
			EngineLabelUID + "=" + b.HostUID,
		},
		UserData: b.UserData,
	}, validity)
}
