package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

var (
	_ resource.ResourceWithConfigure  = (*swarmClusterResource)(nil)
	_ resource.ResourceWithModifyPlan = (*swarmClusterResource)(nil)
)

const (
	clusterCreateTimeout = 30 * time.Minute
	clusterUpdateTimeout = 30 * time.Minute
	clusterDeleteTimeout = 20 * time.Minute
)

var groupNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// NewSwarmClusterResource is the haddock_swarm_cluster constructor.
func NewSwarmClusterResource() resource.Resource { return &swarmClusterResource{} }

type swarmClusterResource struct {
	data *providerData
}

func (r *swarmClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_swarm_cluster"
}

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
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	return map[string]schema.Attribute{
		"count":  schema.Int64Attribute{Required: true, MarkdownDescription: countDesc, Validators: countValidators},
		"cloud":  cloudAttribute(),
		"region": schema.StringAttribute{Required: true, MarkdownDescription: "Portable or vendor region (see `haddock_host`).", PlanModifiers: replace},
		"size":   schema.StringAttribute{Required: true, MarkdownDescription: "Portable size class or vendor size.", PlanModifiers: replace},
		"image":  schema.StringAttribute{Required: true, MarkdownDescription: "Portable image or vendor image.", PlanModifiers: replace},
		"ssh_keys": schema.ListAttribute{
			ElementType: types.StringType, Optional: true,
			MarkdownDescription: "SSH keys installed for root: DigitalOcean key ids or fingerprints, an AWS key pair name.",
			PlanModifiers:       []planmodifier.List{listplanmodifier.RequiresReplace()},
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

func (r *swarmClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A Docker Swarm: its manager group. Managers are created at once; the first runs `swarm init` advertising its " +
			"private address, the others join one at a time. Changing `managers.count` adds managers one at a time, or demotes, " +
			"removes and deletes them one at a time, never below quorum and the leader last; a change that would lose quorum is " +
			"refused at plan time. Workers come in `haddock_node_group`s. Every engine is reached over mutual TLS with the " +
			"cluster's own CA; join tokens are read from a manager when a node joins and never stored.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The swarm's ID.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "Cluster name: managers are named `<name>-manager-<n>`. Lower-case letters, digits and hyphens.",
				Validators:    []validator.String{stringvalidator.RegexMatches(groupNameRE, "must be 1 to 32 lower-case letters, digits and hyphens, starting and ending with a letter or digit")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"managers": schema.SingleNestedAttribute{
				Required:            true,
				MarkdownDescription: "The manager group.",
				Attributes: hostGroupAttributes("How many managers: 1, 3, 5 or 7. Raft needs a majority (quorum) of managers to agree, "+
					"so an even count adds no fault tolerance: 3 managers survive the loss of 1, 5 of 2, 7 of 3.", []validator.Int64{managerCountValidator{}}),
			},
			"default_address_pool": schema.ListAttribute{
				ElementType: types.StringType, Optional: true,
				MarkdownDescription: "CIDRs overlay networks' subnets come from (Docker's default `10.0.0.0/8`). Fixed at creation.",
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.RegexMatches(regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+/\d+$`), "must be an IPv4 CIDR"))},
				PlanModifiers:       []planmodifier.List{listplanmodifier.RequiresReplace()},
			},
			"subnet_size": schema.Int64Attribute{
				Optional: true, MarkdownDescription: "Prefix length of each overlay network's subnet (Docker's default 24). Fixed at creation.",
				Validators:    []validator.Int64{int64validator.Between(8, 29)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"autolock": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Encrypt the managers' Raft keys at rest; a restarted manager must then be unlocked with the swarm's unlock key.",
			},
			"task_history_limit": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(5),
				MarkdownDescription: "Finished tasks kept per service slot.", Validators: []validator.Int64{int64validator.Between(1, 1000)},
			},
			"encrypt_overlay_by_default": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Create the overlay networks of `haddock_stack`s encrypted (IPsec) unless a stack says otherwise. Docker has no swarm-wide setting for this; Haddock applies it to the networks it creates.",
			},
			"advertise_address": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("private"),
				MarkdownDescription: "Which address nodes advertise to the swarm: `private` (the vendor's private network) or `public` (for node groups on another vendor without a VPN).",
				Validators:          []validator.String{stringvalidator.OneOf("private", "public")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"vendor_region": schema.StringAttribute{Computed: true, MarkdownDescription: "The managers' vendor region."},
			"vendor_size":   schema.StringAttribute{Computed: true, MarkdownDescription: "The managers' vendor size."},
			"vendor_image":  schema.StringAttribute{Computed: true, MarkdownDescription: "The managers' vendor image."},
			"nodes":         nodesSchema("managers"),
			"leader":        schema.StringAttribute{Computed: true, MarkdownDescription: "Name of the leader's host."},
			"docker": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: "A manager's Docker Engine (the leader's): endpoint, the name its certificate carries, and mutual TLS material.",
				Attributes: map[string]schema.Attribute{
					"endpoint":    schema.StringAttribute{Computed: true, MarkdownDescription: "`tcp://<address>:2376`."},
					"server_name": schema.StringAttribute{Computed: true, MarkdownDescription: "Verify the server by this name, whatever address you dial."},
					"ca_pem":      schema.StringAttribute{Computed: true, MarkdownDescription: "The cluster CA certificate."},
					"cert_pem":    schema.StringAttribute{Computed: true, MarkdownDescription: "Client certificate."},
					"key_pem":     schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Client private key."},
				},
			},
			"credentials": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "The cluster's TLS credentials and identity, for `haddock_node_group.cluster_credentials` and `haddock_stack`. Secret.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *swarmClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

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

type swarmClusterModel struct {
	ID                      types.String   `tfsdk:"id"`
	Name                    types.String   `tfsdk:"name"`
	Managers                hostGroupModel `tfsdk:"managers"`
	DefaultAddressPool      types.List     `tfsdk:"default_address_pool"`
	SubnetSize              types.Int64    `tfsdk:"subnet_size"`
	Autolock                types.Bool     `tfsdk:"autolock"`
	TaskHistoryLimit        types.Int64    `tfsdk:"task_history_limit"`
	EncryptOverlayByDefault types.Bool     `tfsdk:"encrypt_overlay_by_default"`
	AdvertiseAddress        types.String   `tfsdk:"advertise_address"`
	VendorRegion            types.String   `tfsdk:"vendor_region"`
	VendorSize              types.String   `tfsdk:"vendor_size"`
	VendorImage             types.String   `tfsdk:"vendor_image"`
	Nodes                   types.List     `tfsdk:"nodes"`
	Leader                  types.String   `tfsdk:"leader"`
	Docker                  types.Object   `tfsdk:"docker"`
	Credentials             types.String   `tfsdk:"credentials"`
	Timeouts                timeouts.Value `tfsdk:"timeouts"`
}

func (m *swarmClusterModel) resolvedValues() resolved {
	return resolved{region: m.VendorRegion.ValueString(), size: m.VendorSize.ValueString(), image: m.VendorImage.ValueString()}
}

func (m *swarmClusterModel) spec(ctx context.Context, diags *diag.Diagnostics) cluster.ClusterSpec {
	pool := stringList(ctx, m.DefaultAddressPool, diags)
	return cluster.ClusterSpec{
		Name:     m.Name.ValueString(),
		Managers: m.Managers.hostsSpec(ctx, m.resolvedValues(), diags),
		Settings: cluster.Settings{
			DefaultAddrPool:         pool,
			SubnetSize:              uint32(m.SubnetSize.ValueInt64()),
			Autolock:                m.Autolock.ValueBool(),
			TaskHistoryLimit:        m.TaskHistoryLimit.ValueInt64(),
			EncryptOverlayByDefault: m.EncryptOverlayByDefault.ValueBool(),
			Advertise:               cluster.AddressKind(m.AdvertiseAddress.ValueString()),
		},
	}
}

// setView records what was observed.
func (m *swarmClusterModel) setView(c *cluster.Cluster, v *cluster.ClusterView) {
	st := c.State()
	m.Credentials = types.StringValue(encodeCredentials(st, m.Managers.Cloud.ValueString(), m.VendorRegion.ValueString()))
	if st.SwarmID != "" {
		m.ID = types.StringValue(st.SwarmID)
	}
	if v == nil {
		return
	}
	m.Nodes = nodesValue(&v.View)
	m.Leader = types.StringValue(v.Leader)
	m.Docker = types.ObjectNull(dockerAttrTypes)
	for _, mem := range v.Members {
		if mem.HostID != "" && (mem.Leader || m.Docker.IsNull()) {
			m.Docker = dockerObject(dockerEndpoint(mem.PublicIPv4), mem.Identity, st.Credentials.CACertPEM, st.Credentials.ClientCertPEM, st.Credentials.ClientKeyPEM)
		}
	}
}

func (r *swarmClusterResource) options() cluster.Options {
	return cluster.Options{PollInterval: r.data.poll, EnginePollInterval: min(r.data.poll, time.Second)}
}

func (r *swarmClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan swarmClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Managers.Cloud.IsUnknown() || plan.Managers.Region.IsUnknown() || plan.Managers.Size.IsUnknown() || plan.Managers.Image.IsUnknown() {
		return
	}
	at := path.Root("managers")
	cat, diags := r.data.catalog(plan.Managers.Cloud.ValueString(), at.AtName("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	var state *swarmClusterModel
	var prior *priorResolution
	if !req.State.Raw.IsNull() {
		state = &swarmClusterModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		prior = &priorResolution{image: state.Managers.Image, resolved: state.resolvedValues()}
	}
	res, diags := resolveHostValues(ctx, r.data, cat, plan.Managers.values(at), prior)
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	plan.VendorRegion, plan.VendorSize, plan.VendorImage = types.StringValue(res.region), types.StringValue(res.size), types.StringValue(res.image)
	if state != nil {
		// Refuse a manager change that would lose quorum, with the arithmetic.
		want := int(plan.Managers.Count.ValueInt64())
		if !plan.Managers.Count.IsUnknown() && want != int(state.Managers.Count.ValueInt64()) {
			if _, err := swarm.PlanManagerChange(observedManagers(ctx, state), want); err != nil {
				resp.Diagnostics.AddAttributeError(at.AtName("count"), "Manager change refused", err.Error())
				return
			}
		}
		if !plan.Managers.Count.Equal(state.Managers.Count) || !plan.Managers.Labels.Equal(state.Managers.Labels) ||
			!plan.Autolock.Equal(state.Autolock) || !plan.TaskHistoryLimit.Equal(state.TaskHistoryLimit) || nodesNeedRepair(ctx, state.Nodes, state.Managers.Count) {
			plan.Nodes, plan.Leader, plan.Docker = types.ListUnknown(types.ObjectType{AttrTypes: nodeAttrTypes}), types.StringUnknown(), types.ObjectUnknown(dockerAttrTypes)
		} else {
			plan.Nodes, plan.Leader, plan.Docker = state.Nodes, state.Leader, state.Docker
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// observedManagers reads the managers from the state's last observation.
func observedManagers(ctx context.Context, m *swarmClusterModel) []swarm.ManagerNode {
	var out []swarm.ManagerNode
	for _, n := range nodeModels(ctx, m.Nodes) {
		if n.NodeID == "" {
			continue
		}
		out = append(out, swarm.ManagerNode{ID: n.NodeID, Hostname: n.Name, Leader: n.Leader, Reachable: n.State == "ready"})
	}
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

func (r *swarmClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan swarmClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, clusterCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	drv, _, diags := r.data.driver(plan.Managers.Cloud.ValueString(), plan.VendorRegion.ValueString(), path.Root("managers").AtName("cloud"))
	resp.Diagnostics.Append(diags...)
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	c, view, err := cluster.Create(ctx, drv, spec, r.options())
	if c != nil {
		plan.setView(c, view)
		if plan.ID.IsUnknown() {
			plan.ID = types.StringValue("pending-" + c.UID())
		}
		finishUnknowns(&plan)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addClusterError(&resp.Diagnostics, "Error creating swarm cluster", err)
	}
}

// finishUnknowns makes sure no computed value stays unknown in the state.
func finishUnknowns(m *swarmClusterModel) {
	if m.Nodes.IsUnknown() {
		m.Nodes = types.ListValueMust(types.ObjectType{AttrTypes: nodeAttrTypes}, []attr.Value{})
	}
	if m.Leader.IsUnknown() {
		m.Leader = types.StringValue("")
	}
	if m.Docker.IsUnknown() {
		m.Docker = types.ObjectNull(dockerAttrTypes)
	}
}

func (r *swarmClusterResource) open(m *swarmClusterModel, diags *diag.Diagnostics) *cluster.Cluster {
	drv, _, d := r.data.driver(m.Managers.Cloud.ValueString(), m.VendorRegion.ValueString(), path.Root("managers").AtName("cloud"))
	diags.Append(d...)
	if d.HasError() {
		return nil
	}
	st, err := decodeCredentials(m.Credentials.ValueString())
	if err != nil {
		diags.AddError("Cluster state unreadable", err.Error())
		return nil
	}
	c, err := cluster.Open(drv, st, r.options())
	if err != nil {
		diags.AddError("Cluster state unreadable", err.Error())
		return nil
	}
	return c
}

func (r *swarmClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state swarmClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := r.open(&state, &resp.Diagnostics)
	if c == nil {
		return
	}
	view, err := c.Observe(ctx)
	if err != nil {
		addClusterError(&resp.Diagnostics, "Error reading swarm cluster", err)
		return
	}
	if len(view.Hosts()) == 0 {
		resp.Diagnostics.AddWarning("Swarm cluster gone", fmt.Sprintf("No manager host of cluster %s exists any more; it is removed from the state and the next apply creates it again.", state.Name.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	viewProblems("Swarm cluster "+state.Name.ValueString(), &view.View, &resp.Diagnostics)
	state.setView(c, view)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *swarmClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state swarmClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, clusterUpdateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	plan.Credentials = state.Credentials
	c := r.open(&plan, &resp.Diagnostics)
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	view, err := c.Apply(ctx, spec)
	plan.setView(c, view)
	finishUnknowns(&plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if err != nil {
		addClusterError(&resp.Diagnostics, "Error updating swarm cluster", err)
	}
}

func (r *swarmClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state swarmClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, clusterDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	c := r.open(&state, &resp.Diagnostics)
	if c == nil {
		return
	}
	if err := c.Destroy(ctx, cluster.DestroyOptions{}); err != nil && !cloud.IsNotFound(err) {
		addClusterError(&resp.Diagnostics, "Error deleting swarm cluster", err)
	}
}
