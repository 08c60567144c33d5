package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/hostboot"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Schema pieces more than one resource shares: the cloud attribute, a group
// of hosts, the observed nodes, the docker connection, and the validators.

// groupNameRE is a cluster's or node group's name: it prefixes host names
// and goes into tags.
var groupNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// cloudAttribute is every resource's cloud: which vendor, fixed for life.
func cloudAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Required:            true,
		MarkdownDescription: "The vendor: " + backtickList(cloudNames()) + ".",
		Validators:          []validator.String{stringvalidator.OneOf(cloudNames()...)},
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
	}
}

// hostGroupAttributes are the attributes every group of hosts shares.
func hostGroupAttributes(countDesc string, countValidators []validator.Int64) map[string]schema.Attribute {
	replace := []planmodifier.String{replaceStringUnlessImported()}
	return map[string]schema.Attribute{
		"count":  schema.Int64Attribute{Required: true, MarkdownDescription: countDesc, Validators: countValidators},
		"cloud":  cloudAttribute(),
		"region": schema.StringAttribute{Required: true, MarkdownDescription: "Portable or vendor region (see `haddock_host`).", PlanModifiers: replace},
		"size":   schema.StringAttribute{Required: true, MarkdownDescription: "Portable size class or vendor size.", PlanModifiers: replace},
		"image":  schema.StringAttribute{Required: true, MarkdownDescription: "Portable image or vendor image.", PlanModifiers: replace},
		"ssh_keys": schema.ListAttribute{
			ElementType: types.StringType, Optional: true,
			MarkdownDescription: "SSH keys installed for root: DigitalOcean key ids or fingerprints, an AWS key pair name.",
			PlanModifiers:       []planmodifier.List{replaceListUnlessImported()},
		},
		"user_data": schema.StringAttribute{
			Optional: true, Sensitive: true,
			MarkdownDescription: "Your own cloud-init user data, merged into Haddock's (see `haddock_host`).",
			Validators:          []validator.String{userDataValidator{}},
			PlanModifiers:       replace,
		},
		"labels": schema.MapAttribute{
			ElementType: types.StringType, Optional: true,
			MarkdownDescription: "Swarm node labels of every node (`node.labels.<key>` in placement constraints). Updated in place; Haddock sets exactly these.",
		},
	}
}

// privateImportedKey marks, in a resource's private state, a resource
// imported and not applied since: import could not read back every input
// (the configuration's spelling of region, size and image, user data, SSH
// keys), so the first plan after it adopts the configuration's values
// instead of replacing the resource, and the resource's ModifyPlan decides
// what really needs a replacement.
const privateImportedKey = "imported"

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// imported reports the privateImportedKey mark.
func imported(ctx context.Context, p privateGetter) bool {
	b, _ := p.GetKey(ctx, privateImportedKey)
	return len(b) > 0
}

const replaceUnlessImportedDesc = "Changing this replaces the resource, except on the first apply after an import, which adopts the configuration's value."

// replaceStringUnlessImported is RequiresReplace, except while the
// resource carries the privateImportedKey mark.
func replaceStringUnlessImported() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

// replaceListUnlessImported is replaceStringUnlessImported for lists.
func replaceListUnlessImported() planmodifier.List {
	return listplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

// replaceInt64UnlessImported is replaceStringUnlessImported for numbers.
func replaceInt64UnlessImported() planmodifier.Int64 {
	return int64planmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

// hostGroupModel is the value of hostGroupAttributes.
type hostGroupModel struct {
	Count    types.Int64  `tfsdk:"count"`
	Cloud    types.String `tfsdk:"cloud"`
	Region   types.String `tfsdk:"region"`
	Size     types.String `tfsdk:"size"`
	Image    types.String `tfsdk:"image"`
	SSHKeys  types.List   `tfsdk:"ssh_keys"`
	UserData types.String `tfsdk:"user_data"`
	Labels   types.Map    `tfsdk:"labels"`
}

func (g *hostGroupModel) values(at path.Path) hostValues {
	return hostValues{at: at, region: g.Region, size: g.Size, image: g.Image, vcpus: types.Int64Null(), memoryGB: types.Float64Null()}
}

func (g *hostGroupModel) hostsSpec(ctx context.Context, res resolved, diags *diag.Diagnostics) cluster.HostsSpec {
	labels := map[string]string{}
	if !g.Labels.IsNull() && !g.Labels.IsUnknown() {
		diags.Append(g.Labels.ElementsAs(ctx, &labels, false)...)
	}
	return cluster.HostsSpec{
		Count: int(g.Count.ValueInt64()), Region: res.region, Size: res.size, Image: res.image,
		SSHKeys: stringList(ctx, g.SSHKeys, diags), UserData: g.UserData.ValueString(), Labels: labels,
	}
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
			hid = cloudID(m.Cloud, m.HostID)
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

// nodeModel is one element of nodesSchema.
type nodeModel struct {
	HostID       string `tfsdk:"host_id"`
	Name         string `tfsdk:"name"`
	IPv4Address  string `tfsdk:"ipv4_address"`
	IPv4Private  string `tfsdk:"ipv4_private"`
	NodeID       string `tfsdk:"node_id"`
	Role         string `tfsdk:"role"`
	Leader       bool   `tfsdk:"leader"`
	State        string `tfsdk:"state"`
	Availability string `tfsdk:"availability"`
}

func nodeModels(ctx context.Context, l types.List) []nodeModel {
	var out []nodeModel
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	_ = l.ElementsAs(ctx, &out, false)
	return out
}

// nodesNeedRepair reports a group the last refresh found broken (a host
// deleted outside Haddock, a node not ready, fewer or more nodes than
// wanted): the plan then shows the nodes changing, and apply repairs them.
func nodesNeedRepair(ctx context.Context, nodes types.List, want types.Int64) bool {
	ns := nodeModels(ctx, nodes)
	if int64(len(ns)) != want.ValueInt64() {
		return true
	}
	for _, n := range ns {
		if n.HostID == "" || n.State != "ready" {
			return true
		}
	}
	return false
}

// dockerAttrTypes is a docker attribute: how to reach an engine over mutual
// TLS (haddock_host's own, a cluster's leader).
var dockerAttrTypes = map[string]attr.Type{
	"endpoint":    types.StringType,
	"server_name": types.StringType,
	"ca_pem":      types.StringType,
	"cert_pem":    types.StringType,
	"key_pem":     types.StringType,
}

type dockerModel struct {
	Endpoint   types.String `tfsdk:"endpoint"`
	ServerName types.String `tfsdk:"server_name"`
	CAPEM      types.String `tfsdk:"ca_pem"`
	CertPEM    types.String `tfsdk:"cert_pem"`
	KeyPEM     types.String `tfsdk:"key_pem"`
}

// dockerValue is the docker attribute of the engine at address whose
// certificate names identity, reached with creds.
func dockerValue(address, identity string, creds hostboot.Credentials) types.Object {
	return dockerObject(dockerEndpoint(address), identity, creds.CACertPEM, creds.ClientCertPEM, creds.ClientKeyPEM)
}

func dockerObject(endpoint, serverName, ca, cert, key string) types.Object {
	v, _ := types.ObjectValue(dockerAttrTypes, map[string]attr.Value{
		"endpoint":    types.StringValue(endpoint),
		"server_name": types.StringValue(serverName),
		"ca_pem":      types.StringValue(ca),
		"cert_pem":    types.StringValue(cert),
		"key_pem":     types.StringValue(key),
	})
	return v
}

// dockerEndpoint is tcp://address:2376, "" without an address.
func dockerEndpoint(address string) string {
	if address == "" {
		return ""
	}
	return hostboot.Credentials{}.Endpoint(address, "").Host
}

// withEndpoint returns the docker object with the endpoint moved to address
// (a host whose address changed still verifies: the certificate names the
// host, not the address).
func withEndpoint(ctx context.Context, obj types.Object, address string, diags *diag.Diagnostics) types.Object {
	if obj.IsNull() || obj.IsUnknown() {
		return obj
	}
	var d dockerModel
	diags.Append(obj.As(ctx, &d, basetypes.ObjectAsOptions{})...)
	return dockerObject(dockerEndpoint(address), d.ServerName.ValueString(), d.CAPEM.ValueString(), d.CertPEM.ValueString(), d.KeyPEM.ValueString())
}

// userDataValidator checks user_data with the renderer Create uses, so a
// document that cannot be merged fails at plan time.
type userDataValidator struct{}

func (userDataValidator) Description(context.Context) string {
	return "must be user data cloud-init accepts: a #cloud-config YAML document, a script, or a multipart document"
}

func (v userDataValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (userDataValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := hostboot.ValidateUserData(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid user data", err.Error())
	}
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

// durationValidator accepts Go durations such as "90s" or "10m".
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return `must be a duration such as "90s", "10m" or "1h"`
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), durationValidator{}.Description(context.Background())))
	}
}
