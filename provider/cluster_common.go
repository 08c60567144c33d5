package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// clusterCredentials is the cluster state a node group needs, carried in
// the cluster's sensitive `credentials` attribute.
type clusterCredentials struct {
	Cloud         string `json:"cloud"`  // the managers' vendor
	Region        string `json:"region"` // and vendor region
	UID           string `json:"uid"`
	SwarmID       string `json:"swarm_id"`
	CACertPEM     string `json:"ca_cert"`
	CAKeyPEM      string `json:"ca_key"`
	ClientCertPEM string `json:"client_cert"`
	ClientKeyPEM  string `json:"client_key"`
}

func encodeCredentials(st cluster.State, cloudName, region string) string {
	b, _ := json.Marshal(clusterCredentials{
		Cloud: cloudName, Region: region,
		UID: st.UID, SwarmID: st.SwarmID,
		CACertPEM: st.Credentials.CACertPEM, CAKeyPEM: st.Credentials.CAKeyPEM,
		ClientCertPEM: st.Credentials.ClientCertPEM, ClientKeyPEM: st.Credentials.ClientKeyPEM,
	})
	return string(b)
}

func decodeCredentials(s string) (cluster.State, error) {
	st, _, err := decodeClusterCredentials(s)
	return st, err
}

// decodeClusterCredentials also returns the managers' cloud and region.
func decodeClusterCredentials(s string) (cluster.State, clusterCredentials, error) {
	var c clusterCredentials
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.UID == "" || c.CAKeyPEM == "" || c.ClientKeyPEM == "" {
		return cluster.State{}, c, fmt.Errorf("not a haddock_swarm_cluster's credentials: pass haddock_swarm_cluster.<name>.credentials as it is")
	}
	return cluster.State{UID: c.UID, SwarmID: c.SwarmID, Credentials: cluster.Credentials{
		CACertPEM: c.CACertPEM, CAKeyPEM: c.CAKeyPEM, ClientCertPEM: c.ClientCertPEM, ClientKeyPEM: c.ClientKeyPEM,
	}}, c, nil
}

// nodeAttrTypes is one member of a group as the resources show it.
var nodeAttrTypes = map[string]attr.Type{
	"host_id":      types.StringType,
	"name":         types.StringType,
	"ipv4_address": types.StringType,
	"ipv4_private": types.StringType,
	"node_id":      types.StringType,
	"role":         types.StringType,
	"leader":       types.BoolType,
	"state":        types.StringType,
	"availability": types.StringType,
}

func nodesSchema(what string) schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Computed:            true,
		MarkdownDescription: "The " + what + " as observed: each host with its swarm node. `host_id` is empty for a node whose host was deleted outside Haddock (the next apply replaces it).",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"host_id":      schema.StringAttribute{Computed: true, MarkdownDescription: "`<cloud>/<vendor id>` of the host."},
			"name":         schema.StringAttribute{Computed: true, MarkdownDescription: "Host name."},
			"ipv4_address": schema.StringAttribute{Computed: true, MarkdownDescription: "Public IPv4 address."},
			"ipv4_private": schema.StringAttribute{Computed: true, MarkdownDescription: "Private IPv4 address."},
			"node_id":      schema.StringAttribute{Computed: true, MarkdownDescription: "Swarm node id."},
			"role":         schema.StringAttribute{Computed: true, MarkdownDescription: "`manager` or `worker`."},
			"leader":       schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the node is the Raft leader."},
			"state":        schema.StringAttribute{Computed: true, MarkdownDescription: "Node state: `ready`, `down`, ..."},
			"availability": schema.StringAttribute{Computed: true, MarkdownDescription: "`active`, `pause` or `drain`."},
		}},
	}
}

func nodesValue(v *cluster.View) types.List {
	elems := make([]attr.Value, 0, len(v.Members))
	for _, m := range v.Members {
		hid := ""
		if m.HostID != "" {
			hid = string(m.Cloud) + "/" + m.HostID
		}
		o, _ := types.ObjectValue(nodeAttrTypes, map[string]attr.Value{
			"host_id":      types.StringValue(hid),
			"name":         types.StringValue(firstNonEmpty(m.Name, m.Hostname)),
			"ipv4_address": types.StringValue(m.PublicIPv4),
			"ipv4_private": types.StringValue(m.PrivateIPv4),
			"node_id":      types.StringValue(m.NodeID),
			"role":         types.StringValue(string(m.Role)),
			"leader":       types.BoolValue(m.Leader),
			"state":        types.StringValue(string(m.State)),
			"availability": types.StringValue(string(m.Availability)),
		})
		elems = append(elems, o)
	}
	l, _ := types.ListValue(types.ObjectType{AttrTypes: nodeAttrTypes}, elems)
	return l
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// viewProblems turns what is wrong with a group into one warning.
func viewProblems(what string, v *cluster.View, diags *diag.Diagnostics) {
	if p := v.Problems(); len(p) > 0 {
		diags.AddWarning(what+" needs repair", strings.Join(p, "\n")+"\n\nThe next apply repairs it.")
	}
}

// addClusterError reports an orchestration error, one line per host.
func addClusterError(diags *diag.Diagnostics, summary string, err error) {
	detail := err.Error()
	if hes := cluster.HostErrors(err); len(hes) > 0 {
		var b strings.Builder
		for _, he := range hes {
			fmt.Fprintf(&b, "- %s\n", he.Error())
		}
		detail = b.String()
	}
	diags.AddError(summary, detail)
}

// managerCountValidator explains why a swarm wants 1, 3, 5 or 7 managers.
type managerCountValidator struct{}

func (managerCountValidator) Description(context.Context) string {
	return "must be 1, 3, 5 or 7: Raft needs a majority of managers (an even count adds no fault tolerance)"
}

func (v managerCountValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (managerCountValidator) ValidateInt64(_ context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := swarm.ValidManagerCount(int(req.ConfigValue.ValueInt64())); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid manager count", err.Error())
	}
}
