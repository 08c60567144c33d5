package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
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

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
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
// Region, size, image, SSH keys and user data change in place: the hosts
// built from other values are replaced one at a time (rolling_update), the
// group and everything that refers to it stay.
func hostGroupAttributes(countDesc string, countValidators []validator.Int64) map[string]schema.Attribute {
	rolls := " Changing it replaces the hosts one at a time (see `rolling_update`); the group stays."
	return map[string]schema.Attribute{
		"count":  schema.Int64Attribute{Required: true, MarkdownDescription: countDesc, Validators: countValidators},
		"cloud":  groupCloudAttribute(),
		"region": schema.StringAttribute{Required: true, MarkdownDescription: "Portable or vendor region (see `haddock_host`)." + rolls},
		"size":   schema.StringAttribute{Required: true, MarkdownDescription: "Portable size class or vendor size." + rolls},
		"image":  schema.StringAttribute{Required: true, MarkdownDescription: "Portable image or vendor image." + rolls},
		"ssh_keys": schema.ListAttribute{
			ElementType: types.StringType, Optional: true,
			MarkdownDescription: "SSH keys installed for root: DigitalOcean key ids or fingerprints, an AWS key pair name." + rolls,
		},
		"user_data": schema.StringAttribute{
			Optional: true, Sensitive: true,
			MarkdownDescription: "Your own cloud-init user data, merged into Haddock's (see `haddock_host`)." + rolls,
			Validators:          []validator.String{userDataValidator{}},
		},
		"labels": schema.MapAttribute{
			ElementType: types.StringType, Optional: true,
			MarkdownDescription: "Swarm node labels of every node (`node.labels.<key>` in placement constraints). Updated in place; Haddock sets exactly these.",
		},
		"load_balancer_ids": schema.SetAttribute{
			ElementType: types.StringType, Optional: true,
			MarkdownDescription: "`haddock_load_balancer` ids (of the group's `cloud`) whose targets the group's hosts are. Membership belongs to the group: " +
				"a host is registered once its node is ready and the tasks placed on it run, and deregistered — the deregistration waited for " +
				"(AWS: the target leaves the target group; DigitalOcean, which reports no target state: the health check's interval × unhealthy threshold) — " +
				"before it is drained or deleted, on scale-in, rolling replacement, migration and destroy. After each apply the load balancers' targets " +
				"among the group's hosts are its ready hosts; other targets are left alone. Removing an id takes the group's hosts out of that load balancer. Updated in place.",
			Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(loadBalancerIDRE, "must be a haddock_load_balancer id such as digitalocean/4de7ac8b-495b-4884-9a69-1050c6793cd6"))},
		},
		"rolling_update": schema.SingleNestedAttribute{
			Optional: true,
			MarkdownDescription: "How hosts built from another `region`, `size`, `image`, `ssh_keys` or `user_data` are replaced. Each batch: " +
				"the replacements are created (with the old hosts' names), joined and wait until their nodes are ready (a manager: " +
				"reachable in Raft) and the tasks placed on them run; floating IPs assigned to the old hosts move to them; the old " +
				"nodes are drained (their tasks run elsewhere first), watched for `monitor`, demoted (managers, the leader last), " +
				"removed and their hosts deleted. A step that cannot complete stops the apply, naming the host and the step, with " +
				"nothing still serving removed; the next apply resumes from the hosts' tags.",
			Attributes: map[string]schema.Attribute{
				"max_surge": schema.Int64Attribute{
					Optional: true, MarkdownDescription: "How many hosts are replaced at once (default 1; at most the group's count). Managers always go one at a time: Raft changes membership one by one.",
					Validators: []validator.Int64{int64validator.AtLeast(1)},
				},
				"monitor": schema.StringAttribute{
					Optional: true, MarkdownDescription: "How long the group must stay healthy after a batch is drained before its old hosts are removed (default `0s`).",
					Validators: []validator.String{durationValidator{allowZero: true}},
				},
			},
		},
	}
}

// rollingUpdateAttrTypes is rolling_update's object type.
var rollingUpdateAttrTypes = map[string]attr.Type{"max_surge": types.Int64Type, "monitor": types.StringType}

type rollingUpdateModel struct {
	MaxSurge types.Int64  `tfsdk:"max_surge"`
	Monitor  types.String `tfsdk:"monitor"`
}

// rollingUpdate reads a rolling_update object (null: the defaults).
func rollingUpdate(ctx context.Context, o types.Object, diags *diag.Diagnostics) cluster.RollingUpdate {
	var u cluster.RollingUpdate
	if o.IsNull() || o.IsUnknown() {
		return u
	}
	var m rollingUpdateModel
	diags.Append(o.As(ctx, &m, basetypes.ObjectAsOptions{})...)
	u.MaxSurge = int(m.MaxSurge.ValueInt64())
	if m.Monitor.ValueString() != "" {
		u.Monitor, _ = time.ParseDuration(m.Monitor.ValueString())
	}
	return u
}

// rolloutAttrTypes is one host a rolling update replaces.
var rolloutAttrTypes = map[string]attr.Type{"name": types.StringType, "host_id": types.StringType, "changes": types.ListType{ElemType: types.StringType}}

func rolloutSchema() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Computed: true,
		MarkdownDescription: "The hosts a rolling update replaces, and what differs (`size s-1vcpu-2gb → s-2vcpu-4gb`): in a plan, the hosts " +
			"out of date that the apply replaces; in the state, those the last apply that replaced hosts replaced. Out-of-date hosts are found from " +
			"the spec each host was built from (recorded in its tags) and from what the vendor reports, so a host resized outside " +
			"Haddock shows here too.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"name":    schema.StringAttribute{Computed: true, MarkdownDescription: "Host name (the replacement takes it)."},
			"host_id": schema.StringAttribute{Computed: true, MarkdownDescription: "`<cloud>/<vendor id>` of the host replaced."},
			"changes": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "What differs."},
		}},
	}
}

// emptyRollout is a rollout list with nothing in it.
func emptyRollout() types.List {
	return types.ListValueMust(types.ObjectType{AttrTypes: rolloutAttrTypes}, []attr.Value{})
}

// planRollout lists the hosts of the last observation (nodes) that are out
// of date for spec, in the order a rollout replaces them.
func planRollout(ctx context.Context, nodes types.List, spec cluster.HostsSpec) (types.List, int) {
	v := &cluster.View{}
	for _, n := range nodeModels(ctx, nodes) {
		m := cluster.Member{HostID: n.HostID, Name: n.Name, NodeID: n.NodeID, Leader: n.Leader, State: swarm.NodeState(n.State),
			Region: n.Region, Size: n.Size, Image: n.Image, SpecHash: n.Spec}
		if c, _, _, err := parseCloudID(n.HostID); err == nil {
			m.Cloud = cloud.Name(c)
		}
		if m.HostID != "" {
			m.Status = cloud.HostActive
		}
		v.Members = append(v.Members, m)
	}
	stale := v.OutdatedMembers(spec)
	elems := make([]attr.Value, 0, len(stale))
	for _, s := range stale {
		changes, _ := types.ListValueFrom(ctx, types.StringType, s.Diff)
		elems = append(elems, types.ObjectValueMust(rolloutAttrTypes, map[string]attr.Value{
			"name": types.StringValue(s.Name), "host_id": types.StringValue(s.HostID), "changes": changes,
		}))
	}
	return types.ListValueMust(types.ObjectType{AttrTypes: rolloutAttrTypes}, elems), len(stale)
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

// replaceListUnlessImported is RequiresReplace, except while the resource
// carries the privateImportedKey mark.
func replaceListUnlessImported() planmodifier.List {
	return listplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !imported(ctx, req.Private)
	}, replaceUnlessImportedDesc, replaceUnlessImportedDesc)
}

// replaceInt64UnlessImported is replaceListUnlessImported for numbers.
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
	// LoadBalancerIDs are haddock_load_balancer ids.
	LoadBalancerIDs types.Set `tfsdk:"load_balancer_ids"`
	// RollingUpdate is a rolling_update object (rollingUpdateAttrTypes).
	RollingUpdate types.Object `tfsdk:"rolling_update"`
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
		Count: int(g.Count.ValueInt64()), Cloud: cloud.Name(g.Cloud.ValueString()), Region: res.region, Size: res.size, Image: res.image,
		SSHKeys: stringList(ctx, g.SSHKeys, diags), UserData: g.UserData.ValueString(), Labels: labels,
		LoadBalancers: lbRefs(ctx, g.LoadBalancerIDs, diags),
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
	"region":       types.StringType,
	"size":         types.StringType,
	"image":        types.StringType,
	"spec":         types.StringType,
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
			"region":       schema.StringAttribute{Computed: true, MarkdownDescription: "Vendor region of the host."},
			"size":         schema.StringAttribute{Computed: true, MarkdownDescription: "Vendor size of the host."},
			"image":        schema.StringAttribute{Computed: true, MarkdownDescription: "Vendor image of the host."},
			"spec":         schema.StringAttribute{Computed: true, MarkdownDescription: "Hash of the spec (region, size, image, SSH keys, user data) the host was built from; empty for hosts created before Haddock recorded it."},
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
			"region":       types.StringValue(m.Region),
			"size":         types.StringValue(m.Size),
			"image":        types.StringValue(m.Image),
			"spec":         types.StringValue(m.SpecHash),
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
	Region       string `tfsdk:"region"`
	Size         string `tfsdk:"size"`
	Image        string `tfsdk:"image"`
	Spec         string `tfsdk:"spec"`
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

// durationValidator accepts Go durations such as "90s" or "10m"; zero
// ("0s") only with allowZero.
type durationValidator struct{ allowZero bool }

func (v durationValidator) Description(context.Context) string {
	if v.allowZero {
		return `must be a duration such as "0s", "30s" or "5m"`
	}
	return `must be a duration such as "90s", "10m" or "1h"`
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d < 0 || (d == 0 && !v.allowZero) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

// durationBetween accepts Go durations from min to max.
type durationBetween struct{ min, max time.Duration }

func (v durationBetween) Description(context.Context) string {
	return fmt.Sprintf(`must be a duration between %s and %s, such as "%s"`, v.min, v.max, v.min*10)
}

func (v durationBetween) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationBetween) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d < v.min || d > v.max {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%q %s", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}
