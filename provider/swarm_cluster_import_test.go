package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/hostboot"
)

// Import without the credentials says what to supply and why; with them,
// they are checked before anything is read.
func TestSwarmClusterImportState_credentials(t *testing.T) {
	st := testClusterState(t, "0123456789abcdef", "swarm-1")
	other := testClusterState(t, "fedcba9876543210", "swarm-2")
	good := encodeCredentials(st, "digitalocean", "fra1", "")
	mixed := st
	mixed.Credentials.ClientCertPEM, mixed.Credentials.ClientKeyPEM = other.Credentials.ClientCertPEM, other.Credentials.ClientKeyPEM
	pending := st
	pending.SwarmID = ""
	tests := []struct {
		name, id, env string
		want          []string // in the error; none: accepted
	}{
		{name: "no variable", id: "swarm-1", want: []string{importCredentialsEnv, "live only in Terraform state", "no manager holds them", "terraform output -raw", "terraform import haddock_swarm_cluster.<name> <cluster id>"}},
		{name: "not credentials", id: "swarm-1", env: `{"uid":""}`, want: []string{importCredentialsEnv, "not a haddock_swarm_cluster's credentials"}},
		{name: "no cloud", id: "swarm-1", env: encodeCredentials(st, "", "", ""), want: []string{"which cloud the managers run on"}},
		{name: "bad uid", id: "swarm-1", env: encodeCredentials(cluster.State{UID: "X", SwarmID: "swarm-1", Credentials: st.Credentials}, "digitalocean", "fra1", ""), want: []string{"cluster uid"}},
		{name: "client of another CA", id: "swarm-1", env: encodeCredentials(mixed, "digitalocean", "fra1", ""), want: []string{"client certificate", "not signed by the CA"}},
		{name: "another cluster", id: "swarm-2", env: good, want: []string{"credentials of cluster swarm-1, not of swarm-2"}},
		{name: "ok", id: "swarm-1", env: good},
		{name: "ok before the swarm", id: "pending-0123456789abcdef", env: encodeCredentials(pending, "digitalocean", "fra1", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(importCredentialsEnv, tt.env)
			creds, cc, err := importCredentials(tt.id)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("importCredentials: %v", err)
				}
				if cc.Cloud != "digitalocean" || cc.Region != "fra1" || creds != tt.env {
					t.Fatalf("got cloud %q region %q, credentials re-encoded differently", cc.Cloud, cc.Region)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error carries key material")
			}
		})
	}
}

// The diagnostic itself, as Terraform shows it, without the variable.
func TestSwarmClusterImportState_noVariable(t *testing.T) {
	t.Setenv(importCredentialsEnv, "")
	r := &swarmClusterResource{}
	var sr resource.SchemaResponse
	r.Schema(context.Background(), resource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(context.Background())
	resp := resource.ImportStateResponse{State: tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(typ, nil)}}
	r.ImportState(context.Background(), resource.ImportStateRequest{ID: "swarm-1"}, &resp)
	if resp.Diagnostics.ErrorsCount() != 1 {
		t.Fatalf("diagnostics %v, want one error", resp.Diagnostics)
	}
	d := resp.Diagnostics.Errors()[0]
	if d.Summary() != "Cannot import swarm cluster" || !strings.Contains(d.Detail(), "importing swarm cluster swarm-1: importing a haddock_swarm_cluster needs its credentials in the environment variable "+importCredentialsEnv) {
		t.Fatalf("diagnostic %q: %q", d.Summary(), d.Detail())
	}
	if !resp.State.Raw.IsNull() {
		t.Fatal("state set without credentials")
	}
}

func testClusterState(t *testing.T, uid, swarmID string) cluster.State {
	t.Helper()
	creds, err := hostboot.NewCredentials("haddock cluster CA " + uid)
	if err != nil {
		t.Fatal(err)
	}
	return cluster.State{UID: uid, SwarmID: swarmID, Credentials: cluster.Credentials(creds)}
}
