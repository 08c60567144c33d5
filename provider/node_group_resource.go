package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

var (
	_ resource.ResourceWithConfigure   = (*nodeGroupResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*nodeGroupResource)(nil)
	_ resource.ResourceWithImportState = (*nodeGroupResource)(nil)
)

// Default timeouts of haddock_node_group.
const (
	nodeGroupCreateTimeout = 30 * time.Minute
	nodeGroupUpdateTimeout = 30 * time.Minute
	nodeGroupDeleteTimeout = 20 * time.Minute
)

// NewNodeGroupResource is the haddock_node_group constructor.
func NewNodeGroupResource() resource.Resource { return &nodeGroupResource{} }

type nodeGroupResource struct {
	data *providerData
}

func (r *nodeGroupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node_group"
}

func (r *nodeGroupResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := hostGroupAttributes("How many workers. Growing creates and joins only the new hosts; shrinking drains the newest "+
		"nodes (their tasks are rescheduled elsewhere first), removes them from the swarm and deletes their hosts.",
		[]validator.Int64{int64validator.Between(0, 1000)})
	// count is a Terraform meta-argument, so the group's size is node_count.
	attrs["node_count"] = attrs["count"]
	delete(attrs, "count")
	attrs["id"] = schema.StringAttribute{
		Computed: true, MarkdownDescription: "`<cluster_id>/<name>`; import takes the same form.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["cluster_id"] = schema.StringAttribute{
		Required: true, MarkdownDescription: "The `id` of the `haddock_swarm_cluster` the workers join.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
	}
	attrs["cluster_credentials"] = schema.StringAttribute{
		Required: true, Sensitive: true,
		MarkdownDescription: "The cluster's `credentials` (`haddock_swarm_cluster.<name>.credentials`): how the group reaches the managers and signs its hosts' certificates.",
	}
	attrs["name"] = schema.StringAttribute{
		Required: true, MarkdownDescription: "Group name, unique in the cluster: hosts are named `<name>-<n>`. Lower-case letters, digits and hyphens; not `manager`.",
		Validators: []validator.String{
			stringvalidator.RegexMatches(groupNameRE, "must be 1 to 32 lower-case letters, digits and hyphens, starting and ending with a letter or digit"),
			stringvalidator.NoneOf("manager"),
		},
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
	}
	attrs["availability"] = schema.StringAttribute{
		Optional: true, Computed: true, Default: stringdefault.StaticString("active"),
		MarkdownDescription: "Scheduling availability of every node: `active`, `pause` or `drain`.",
		Validators:          []validator.String{stringvalidator.OneOf("active", "pause", "drain")},
	}
	attrs["drain_timeout"] = schema.StringAttribute{
		Optional: true, Computed: true, Default: stringdefault.StaticString("10m"),
		MarkdownDescription: "How long a scale-down, a rolling update or a destroy waits for the drained nodes' tasks to run elsewhere. A scale-down or a rolling update then gives up and removes nothing; a destroy goes on, and the tasks that fit nowhere else stop with the group.",
		Validators:          []validator.String{durationValidator{}},
	}
	attrs["vendor_region"] = schema.StringAttribute{Computed: true, MarkdownDescription: "The workers' vendor region."}
	attrs["vendor_size"] = schema.StringAttribute{Computed: true, MarkdownDescription: "The workers' vendor size."}
	attrs["vendor_image"] = schema.StringAttribute{Computed: true, MarkdownDescription: "The workers' vendor image."}
	attrs["host_tag"] = schema.StringAttribute{
		Computed: true, MarkdownDescription: "The vendor tag every host of the group carries (`haddock-group:<cluster uid>:<name>`): give it to a " +
			"`haddock_database`'s `trusted_sources` to let the group's hosts in, as they come and go.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["nodes"] = nodesSchema("workers")
	attrs["rollout"] = rolloutSchema()
	attrs["timeouts"] = timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})
	resp.Schema = schema.Schema{
		MarkdownDescription: "A group of swarm workers, the way node pools are modelled for GKE or EKS. The group may run on another " +
			"vendor than the managers (how a cluster migrates between vendors). Hosts are created concurrently and join as workers " +
			"with a token read from a manager at that moment.",
		Attributes: attrs,
	}
}

func (r *nodeGroupResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (r *nodeGroupResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan nodeGroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Cloud.IsUnknown() || plan.Region.IsUnknown() || plan.Size.IsUnknown() || plan.Image.IsUnknown() {
		return
	}
	checkLBClouds(ctx, plan.Cloud, plan.LoadBalancerIDs, path.Root("load_balancer_ids"), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.ClusterCredentials.IsUnknown() && !plan.ClusterID.IsUnknown() {
		st, err := decodeCredentials(plan.ClusterCredentials.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_credentials"), "Invalid cluster credentials", err.Error())
			return
		}
		if st.Credentials.CAKeyPEM == "" {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_credentials"), "Credentials cannot sign hosts",
				"These are a cluster's client_credentials, without the CA key: a node group creates hosts, whose certificates the cluster's CA signs. Pass haddock_swarm_cluster.<name>.credentials.")
			return
		}
		if st.SwarmID != "" && st.SwarmID != plan.ClusterID.ValueString() {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_credentials"), "Credentials of another cluster",
				fmt.Sprintf("cluster_credentials belong to swarm %s, but cluster_id is %s: pass the same cluster's id and credentials.", st.SwarmID, plan.ClusterID.ValueString()))
			return
		}
		if !plan.Name.IsUnknown() {
			plan.HostTag = types.StringValue(cluster.GroupTag(st.UID, plan.Name.ValueString()))
		}
	}
	cat, diags := r.data.catalog(plan.Cloud.ValueString(), path.Root("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	var state *nodeGroupModel
	var prior *priorResolution
	if !req.State.Raw.IsNull() {
		state = &nodeGroupModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if state.Cloud.Equal(plan.Cloud) {
			prior = &priorResolution{image: state.Image, resolved: resolved{region: state.VendorRegion.ValueString(), size: state.VendorSize.ValueString(), image: state.VendorImage.ValueString()}}
		} else {
			// A migration: nothing of the old vendor's resolution applies.
			noFirewall := false
			if !plan.ClusterCredentials.IsUnknown() {
				if _, cc, err := decodeClusterCredentials(plan.ClusterCredentials.ValueString()); err == nil {
					noFirewall = !cc.Firewall.policy().Kept()
				}
			}
			migrationPlanDiagnostics("Node group "+plan.Name.ValueString(), state.Cloud.ValueString(), plan.Cloud.ValueString(), "", noFirewall, path.Root("cloud"), &resp.Diagnostics)
		}
	}
	g := plan.group()
	res, diags := resolveHostValues(ctx, r.data, cat, g.values(path.Empty()), prior)
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	plan.VendorRegion, plan.VendorSize, plan.VendorImage = types.StringValue(res.region), types.StringValue(res.size), types.StringValue(res.image)
	if !plan.ClusterCredentials.IsUnknown() {
		if _, cc, err := decodeClusterCredentials(plan.ClusterCredentials.ValueString()); err == nil {
			places := []formerPlace{{plan.Cloud.ValueString(), res.region}, {cc.Cloud, cc.Region}}
			if state != nil {
				places = append(places, formerPlace{state.Cloud.ValueString(), state.VendorRegion.ValueString()})
			}
			spanPlanDiagnostics("Node group "+plan.Name.ValueString(), places, !cc.Firewall.policy().Kept(), path.Root("region"), &resp.Diagnostics)
			if resp.Diagnostics.HasError() {
				return
			}
		}
	}
	if !plan.ClusterID.IsUnknown() && !plan.Name.IsUnknown() {
		plan.ID = types.StringValue(plan.ClusterID.ValueString() + "/" + plan.Name.ValueString())
	}
	if u := rollingUpdate(ctx, plan.RollingUpdate, &resp.Diagnostics); !plan.Count.IsUnknown() && u.MaxSurge > int(plan.Count.ValueInt64()) && plan.Count.ValueInt64() > 0 {
		resp.Diagnostics.AddAttributeError(path.Root("rolling_update").AtName("max_surge"), "Invalid max_surge",
			fmt.Sprintf("max_surge is %d, more than the group's %d hosts: at most node_count hosts can be replaced at once.", u.MaxSurge, plan.Count.ValueInt64()))
		return
	}
	if state == nil {
		plan.Rollout = emptyRollout()
	}
	if state != nil {
		// Hosts built from another spec are replaced, max_surge at a time.
		rolls := false
		if plan.SSHKeys.IsUnknown() || plan.UserData.IsUnknown() {
			plan.Rollout, rolls = types.ListUnknown(types.ObjectType{AttrTypes: rolloutAttrTypes}), true
		} else if l, n := planRollout(ctx, state.Nodes, g.hostsSpec(ctx, res, &resp.Diagnostics)); n > 0 {
			plan.Rollout, rolls = l, true
		} else if plan.Rollout = state.Rollout; plan.Rollout.IsNull() {
			plan.Rollout = emptyRollout() // a state from before rollouts were recorded
		}
		if moving := movingFrom(ctx, req.Private); (len(moving) > 0 || advertiseChanges(plan.ClusterCredentials, state.ClusterCredentials)) && !rolls {
			// An interrupted migration left hosts where the group was, or
			// the cluster's nodes advertise another kind of address now
			// (or may: its credentials are not known yet), which the
			// group's nodes follow.
			plan.Rollout, rolls = types.ListUnknown(types.ObjectType{AttrTypes: rolloutAttrTypes}), true
		}
		changed := rolls || !plan.Count.Equal(state.Count) || !plan.Labels.Equal(state.Labels) || !plan.Availability.Equal(state.Availability) || nodesNeedRepair(ctx, state.Nodes, state.Count)
		if changed {
			plan.Nodes = types.ListUnknown(types.ObjectType{AttrTypes: nodeAttrTypes})
		} else {
			plan.Nodes = state.Nodes
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *nodeGroupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan nodeGroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, nodeGroupCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	r.apply(ctx, &plan, nil, "creating", &resp.State, &resp.Diagnostics, types.SetNull(types.StringType))
}

func (r *nodeGroupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state nodeGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.ClusterCredentials.IsNull() || state.Cloud.IsNull() {
		// Just imported: the cluster's credentials come with the
		// configuration, on the next apply, which adopts the group's hosts.
		resp.Diagnostics.AddWarning("Node group imported without credentials",
			"The group's hosts are read on the next apply, once cluster_credentials is known from the configuration; hosts already in the group are kept, not created again.")
		return
	}
	g := r.open(&state, movingFrom(ctx, req.Private), &resp.Diagnostics)
	if g == nil {
		return
	}
	view, err := g.Observe(ctx)
	if err != nil {
		addClusterError(&resp.Diagnostics, "Error reading node group", err)
		return
	}
	viewProblems("Node group "+state.Name.ValueString(), view, &resp.Diagnostics)
	state.Nodes = nodesValue(view)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *nodeGroupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan nodeGroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, nodeGroupUpdateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	var state nodeGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	former := formerPlaces(ctx, req.Private, formerPlace{plan.Cloud.ValueString(), plan.VendorRegion.ValueString()},
		formerPlace{state.Cloud.ValueString(), state.VendorRegion.ValueString()})
	view := r.apply(ctx, &plan, former, "updating", &resp.State, &resp.Diagnostics, state.LoadBalancerIDs)
	if len(former) > 0 || len(movingFrom(ctx, req.Private)) > 0 {
		saveMovingFrom(ctx, resp.Private, former, view, &resp.Diagnostics)
	}
}

func (r *nodeGroupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state nodeGroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, nodeGroupDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	g := r.open(&state, movingFrom(ctx, req.Private), &resp.Diagnostics)
	if g == nil {
		return
	}
	drain, _ := time.ParseDuration(state.DrainTimeout.ValueString())
	if err := g.Destroy(ctx, cluster.GroupDestroyOptions{DrainTimeout: drain, LoadBalancers: lbRefs(ctx, state.LoadBalancerIDs, &resp.Diagnostics)}); err != nil {
		addClusterError(&resp.Diagnostics, "Error deleting node group "+state.Name.ValueString(), err)
	}
}

func (r *nodeGroupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	clusterID, name, ok := strings.Cut(req.ID, "/")
	if !ok || clusterID == "" || !groupNameRE.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q is not a node group id: use <cluster_id>/<group name>, for example 3x2kqz9wq8y6mbd1r0xj5yq7c/web", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster_id"), clusterID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

// advertiseChanges reports a change of what the cluster's nodes advertise
// between the state's credentials and the plan's, or a plan whose
// credentials are not known yet (the cluster changes in the same apply).
func advertiseChanges(plan, state types.String) bool {
	if plan.IsUnknown() {
		return true
	}
	_, p, perr := decodeClusterCredentials(plan.ValueString())
	_, s, serr := decodeClusterCredentials(state.ValueString())
	return perr == nil && serr == nil && p.Advertise != s.Advertise
}

// open reaches the group: the cluster through its credentials and the
// managers' driver, the group through its own driver, and the places a
// migration under way is leaving (former).
func (r *nodeGroupResource) open(m *nodeGroupModel, former []formerPlace, diags *diag.Diagnostics) *cluster.NodeGroup {
	c, drv, d := r.data.openCluster(m.ClusterCredentials.ValueString(), m.Cloud.ValueString(), m.VendorRegion.ValueString())
	diags.Append(d...)
	if d.HasError() {
		return nil
	}
	g, err := c.NodeGroup(drv, m.Name.ValueString())
	if err != nil {
		diags.AddAttributeError(path.Root("name"), "Invalid node group", err.Error())
		return nil
	}
	drvs, d := r.data.formerDrivers(former, path.Root("cloud"))
	diags.Append(d...)
	if d.HasError() {
		return nil
	}
	g.MovingFrom(drvs...)
	return g
}

func (r *nodeGroupResource) apply(ctx context.Context, plan *nodeGroupModel, former []formerPlace, verb string, state interface {
	Set(context.Context, any) diag.Diagnostics
}, diags *diag.Diagnostics, priorLBs types.Set) *cluster.View {
	g := r.open(plan, former, diags)
	plan.HostTag = types.StringValue("")
	if st, err := decodeCredentials(plan.ClusterCredentials.ValueString()); err == nil {
		plan.HostTag = types.StringValue(cluster.GroupTag(st.UID, plan.Name.ValueString()))
	}
	spec := plan.spec(ctx, diags)
	spec.FormerLoadBalancers = formerLBs(ctx, priorLBs, plan.LoadBalancerIDs, diags)
	if _, cc, err := decodeClusterCredentials(plan.ClusterCredentials.ValueString()); err == nil {
		spec.Firewall = cc.Firewall.policy()
	}
	if diags.HasError() {
		return nil
	}
	view, err := g.Apply(ctx, spec)
	recordApply(ctx, plan, view, err, verb, state, diags)
	return view
}

// recordApply saves what an apply of the group left and reports its error.
// A Create that failed part-way, with some of the group's hosts created, is
// saved without an error: an error would make Terraform taint the group and
// destroy those hosts on the next apply. The failure is a warning naming
// each host and what to do instead, and the next plan updates the group
// (its nodes are fewer than node_count or not all ready), which resumes
// from what exists: the hosts are kept, failed joins retried and missing
// hosts created. A Create with no host to show saves nothing: the group
// does not exist. An Update's error stays an error (Terraform does not
// taint on update).
func recordApply(ctx context.Context, plan *nodeGroupModel, view *cluster.View, err error, verb string, state interface {
	Set(context.Context, any) diag.Diagnostics
}, diags *diag.Diagnostics) {
	creating := verb == "creating"
	if creating && err != nil && (view == nil || len(view.Hosts()) == 0) {
		addClusterError(diags, "Error creating node group "+plan.Name.ValueString(), err)
		return
	}
	if view != nil {
		plan.Nodes = nodesValue(view)
	} else if plan.Nodes.IsUnknown() {
		plan.Nodes = types.ListNull(types.ObjectType{AttrTypes: nodeAttrTypes})
	}
	plan.ID = types.StringValue(plan.ClusterID.ValueString() + "/" + plan.Name.ValueString())
	if plan.Rollout.IsUnknown() || plan.Rollout.IsNull() {
		plan.Rollout = emptyRollout()
	}
	diags.Append(state.Set(ctx, plan)...)
	if err == nil {
		return
	}
	if !creating {
		addClusterError(diags, "Error "+verb+" node group "+plan.Name.ValueString(), err)
		return
	}
	var partial diag.Diagnostics
	addClusterError(&partial, "Node group "+plan.Name.ValueString()+" created in part", err)
	for _, d := range partial {
		diags.AddWarning(d.Summary(), fmt.Sprintf("%d of %d hosts are in the swarm. The group is saved with the hosts that exist, so that they are kept: "+
			"run terraform apply again and it completes the group (failed joins are retried, missing hosts created). What failed:\n%s",
			view.Ready(), plan.Count.ValueInt64(), d.Detail()))
	}
}

type nodeGroupModel struct {
	ID                 types.String   `tfsdk:"id"`
	ClusterID          types.String   `tfsdk:"cluster_id"`
	ClusterCredentials types.String   `tfsdk:"cluster_credentials"`
	Name               types.String   `tfsdk:"name"`
	Count              types.Int64    `tfsdk:"node_count"`
	Cloud              types.String   `tfsdk:"cloud"`
	Region             types.String   `tfsdk:"region"`
	Size               types.String   `tfsdk:"size"`
	Image              types.String   `tfsdk:"image"`
	SSHKeys            types.List     `tfsdk:"ssh_keys"`
	UserData           types.String   `tfsdk:"user_data"`
	Labels             types.Map      `tfsdk:"labels"`
	Availability       types.String   `tfsdk:"availability"`
	DrainTimeout       types.String   `tfsdk:"drain_timeout"`
	VendorRegion       types.String   `tfsdk:"vendor_region"`
	VendorSize         types.String   `tfsdk:"vendor_size"`
	VendorImage        types.String   `tfsdk:"vendor_image"`
	RollingUpdate      types.Object   `tfsdk:"rolling_update"`
	LoadBalancerIDs    types.Set      `tfsdk:"load_balancer_ids"`
	HostTag            types.String   `tfsdk:"host_tag"`
	Nodes              types.List     `tfsdk:"nodes"`
	Rollout            types.List     `tfsdk:"rollout"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

func (m *nodeGroupModel) group() hostGroupModel {
	return hostGroupModel{Count: m.Count, Cloud: m.Cloud, Region: m.Region, Size: m.Size, Image: m.Image, SSHKeys: m.SSHKeys, UserData: m.UserData, Labels: m.Labels, RollingUpdate: m.RollingUpdate, LoadBalancerIDs: m.LoadBalancerIDs}
}

func (m *nodeGroupModel) spec(ctx context.Context, diags *diag.Diagnostics) cluster.GroupSpec {
	g := m.group()
	d, _ := time.ParseDuration(m.DrainTimeout.ValueString())
	return cluster.GroupSpec{
		Name:          m.Name.ValueString(),
		HostsSpec:     g.hostsSpec(ctx, resolved{region: m.VendorRegion.ValueString(), size: m.VendorSize.ValueString(), image: m.VendorImage.ValueString()}, diags),
		Availability:  swarm.Availability(m.Availability.ValueString()),
		DrainTimeout:  d,
		RollingUpdate: rollingUpdate(ctx, m.RollingUpdate, diags),
	}
}
