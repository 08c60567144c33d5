package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/hostboot"
)

// The codec of haddock_swarm_cluster's sensitive `credentials` attribute,
// which node groups and stacks take as `cluster_credentials`, and the
// check import makes of it.

// clusterCredentials is the cluster state a node group needs, carried in
// the cluster's sensitive `credentials` attribute.
type clusterCredentials struct {
	Cloud  string `json:"cloud"`  // the managers' vendor
	Region string `json:"region"` // and vendor region
	// Advertise is "public" when the nodes advertise public addresses
	// (omitted for private, the default), so that a change reaches the node
	// groups' plans: their nodes are then replaced too.
	Advertise string `json:"advertise,omitempty"`
	// Firewall is the cluster's firewall policy, which node groups keep
	// at their vendor and stacks open their ports through; omitted in
	// credentials from before firewalls (the firewalls are left alone).
	Firewall      *credFirewall `json:"firewall,omitempty"`
	UID           string        `json:"uid"`
	SwarmID       string        `json:"swarm_id"`
	CACertPEM     string        `json:"ca_cert"`
	CAKeyPEM      string        `json:"ca_key,omitempty"` // not in client credentials
	ClientCertPEM string        `json:"client_cert"`
	ClientKeyPEM  string        `json:"client_key"`
}

func encodeCredentials(st cluster.State, cloudName, region, advertise string) string {
	return encodeCredentialsWith(st, cloudName, region, advertise, nil)
}

// encodeCredentialsWith is encodeCredentials carrying the firewall policy.
func encodeCredentialsWith(st cluster.State, cloudName, region, advertise string, fw *credFirewall) string {
	if advertise != string(cluster.AddressPublic) {
		advertise = ""
	}
	b, _ := json.Marshal(clusterCredentials{
		Cloud: cloudName, Region: region, Advertise: advertise, Firewall: fw,
		UID: st.UID, SwarmID: st.SwarmID,
		CACertPEM: st.Credentials.CACertPEM, CAKeyPEM: st.Credentials.CAKeyPEM,
		ClientCertPEM: st.Credentials.ClientCertPEM, ClientKeyPEM: st.Credentials.ClientKeyPEM,
	})
	return string(b)
}

// encodeClientCredentials is encodeCredentials without the CA key: what
// haddock_swarm_cluster's client_credentials carries for stacks and
// following floating IPs, which reach the engines but create no host.
func encodeClientCredentials(st cluster.State, cloudName, region, advertise string, fw *credFirewall) string {
	st.Credentials.CAKeyPEM = ""
	return encodeCredentialsWith(st, cloudName, region, advertise, fw)
}

func decodeCredentials(s string) (cluster.State, error) {
	st, _, err := decodeClusterCredentials(s)
	return st, err
}

// decodeClusterCredentials also returns the managers' cloud and region.
func decodeClusterCredentials(s string) (cluster.State, clusterCredentials, error) {
	var c clusterCredentials
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.UID == "" || c.ClientKeyPEM == "" {
		return cluster.State{}, c, fmt.Errorf("not a haddock_swarm_cluster's credentials: pass haddock_swarm_cluster.<name>.credentials (or .client_credentials where no host is created) as it is")
	}
	return cluster.State{UID: c.UID, SwarmID: c.SwarmID, Credentials: cluster.Credentials{
		CACertPEM: c.CACertPEM, CAKeyPEM: c.CAKeyPEM, ClientCertPEM: c.ClientCertPEM, ClientKeyPEM: c.ClientKeyPEM,
	}}, c, nil
}

// clusterID is a cluster's id: the swarm's id, or pending-<uid> until the
// swarm has been initialised.
func clusterID(st cluster.State) string {
	if st.SwarmID != "" {
		return st.SwarmID
	}
	return "pending-" + st.UID
}

// importCredentialsEnv names the variable haddock_swarm_cluster's import
// reads the cluster's credentials from.
const importCredentialsEnv = "HADDOCK_IMPORT_CLUSTER_CREDENTIALS"

// errImportCredentialsMissing explains why import needs the credentials
// and how to supply them.
var errImportCredentialsMissing = errors.New("importing a haddock_swarm_cluster needs its credentials in the environment variable " + importCredentialsEnv + ". " +
	"The cluster's CA key and client key live only in Terraform state — no manager holds them (a host keeps only its own server key) — " +
	"so they cannot be read back from the cluster. Take them from the state that created the cluster, for example " +
	"`terraform output -raw <output of haddock_swarm_cluster.<name>.credentials>` there, and run:\n\n" +
	"  " + importCredentialsEnv + "=\"$(terraform output -raw cluster_credentials)\" terraform import haddock_swarm_cluster.<name> <cluster id>")

// importCredentials reads and checks the credentials for importing the
// cluster with the given id: the CA loads with its key, the client
// certificate is the CA's and matches its key (hostboot's check), and the credentials are the
// cluster's (their swarm id, or pending-<uid>, is id).
func importCredentials(id string) (string, clusterCredentials, error) {
	raw := strings.TrimSpace(os.Getenv(importCredentialsEnv))
	if raw == "" {
		return "", clusterCredentials{}, errImportCredentialsMissing
	}
	st, cc, err := decodeClusterCredentials(raw)
	if err != nil {
		return "", cc, fmt.Errorf("%s: %w", importCredentialsEnv, err)
	}
	if err := cluster.ValidateClusterUID(st.UID); err != nil {
		return "", cc, fmt.Errorf("%s: %w", importCredentialsEnv, err)
	}
	if cc.Cloud == "" {
		return "", cc, fmt.Errorf("%s: the credentials do not say which cloud the managers run on; they predate import support: pass them as the cluster's credentials attribute shows them now (terraform apply the original configuration once)", importCredentialsEnv)
	}
	// The CA with its key, the client certificate with its key, signed by
	// the CA.
	if _, err := hostboot.Credentials(st.Credentials).LoadCA(); err != nil {
		return "", cc, fmt.Errorf("%s: %w", importCredentialsEnv, err)
	}
	if got := clusterID(st); got != id {
		return "", cc, fmt.Errorf("%s holds the credentials of cluster %s, not of %s: import with the id of the cluster the credentials belong to, or pass that cluster's credentials", importCredentialsEnv, got, id)
	}
	return encodeCredentialsWith(st, cc.Cloud, cc.Region, cc.Advertise, cc.Firewall), cc, nil
}
