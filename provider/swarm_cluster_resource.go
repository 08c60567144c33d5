package provider

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
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
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

var (
	_ resource.ResourceWithConfigure   = (*swarmClusterResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*swarmClusterResource)(nil)
	_ resource.ResourceWithImportState = (*swarmClusterResource)(nil)
)

const (
	clusterCreateTimeout = 30 * time.Minute
	clusterUpdateTimeout = 30 * time.Minute
	clusterDeleteTimeout = 20 * time.Minute
)

// managerNameRE is a manager's host name: <cluster name>-manager-<n>.
var managerNameRE = regexp.MustCompile(`^(.+)-` + cluster.ManagersGroup + `-\d+$`)

// Docker's defaults for the swarm's address pool, which a configuration
// leaves out.
var dockerDefaultAddrPool = []string{"10.0.0.0/8"}

// The swarm's dispatcher heartbeat: Docker's default and what
// heartbeat_period accepts.
const (
	defaultHeartbeatPeriod = "5s"
	minHeartbeatPeriod     = time.Second
	maxHeartbeatPeriod     = time.Minute
)

const dockerDefaultSubnetSize = 24

// NewSwarmClusterResource is the haddock_swarm_cluster constructor.
func NewSwarmClusterResource() resource.Resource { return &swarmClusterResource{} }

type swarmClusterResource struct {
	data *providerData
}

func (r *swarmClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_swarm_cluster"
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
				Computed: true, MarkdownDescription: "The swarm's ID. Import takes the same form, with the cluster's `credentials` in the environment variable `" + importCredentialsEnv + "` (see Import).",
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
				PlanModifiers:       []planmodifier.List{replaceListUnlessImported()},
			},
			"subnet_size": schema.Int64Attribute{
				Optional: true, MarkdownDescription: "Prefix length of each overlay network's subnet (Docker's default 24). Fixed at creation.",
				Validators:    []validator.Int64{int64validator.Between(8, 29)},
				PlanModifiers: []planmodifier.Int64{replaceInt64UnlessImported()},
			},
			"autolock": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Encrypt the managers' Raft keys at rest; a restarted manager must then be unlocked with the swarm's unlock key.",
			},
			"task_history_limit": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(5),
				MarkdownDescription: "Finished tasks kept per service slot.", Validators: []validator.Int64{int64validator.Between(1, 1000)},
			},
			"heartbeat_period": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(defaultHeartbeatPeriod),
				MarkdownDescription: "How often every node heartbeats the leader (the swarm's `Dispatcher.HeartbeatPeriod`; Docker's default `5s`), " +
					"a duration between `" + minHeartbeatPeriod.String() + "` and `" + maxHeartbeatPeriod.String() + "`. Updated in place; a change made outside Haddock shows in the plan. " +
					"The leader marks a node down when nothing came from it for three periods (each randomized by ±0.5 s), so a failed node is " +
					"seen within 3 × (period + 0.5 s): 16.5 s with `5s`, 7.5 s with `2s`. A following `haddock_floating_ip` moves only then, so " +
					"`2s` is what gives its 15 s failover target. Shorter detects faster but marks nodes down on shorter network blips or pauses " +
					"(their tasks are rescheduled, a following floating IP moves), and each node sends one heartbeat per period.",
				Validators: []validator.String{heartbeatValidator{}},
			},
			"encrypt_overlay_by_default": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Create the overlay networks of `haddock_stack`s encrypted (IPsec) unless a stack says otherwise. Docker has no swarm-wide setting for this; Haddock applies it to the networks it creates.",
			},
			"advertise_address": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("private"),
				MarkdownDescription: "Which address nodes advertise to the swarm: `private` (the vendor's private network) or `public` (for node groups on another vendor without a VPN, and for moving the cluster to another vendor). " +
					"Swarm cannot change a node's advertised address in place, so changing it replaces the managers one at a time, as `rolling_update` does; node groups replace their hosts on their next apply (their plan shows it, since `credentials` change).",
				Validators: []validator.String{stringvalidator.OneOf("private", "public")},
			},
			"vendor_region": schema.StringAttribute{Computed: true, MarkdownDescription: "The managers' vendor region."},
			"vendor_size":   schema.StringAttribute{Computed: true, MarkdownDescription: "The managers' vendor size."},
			"vendor_image":  schema.StringAttribute{Computed: true, MarkdownDescription: "The managers' vendor image."},
			"nodes":         nodesSchema("managers"),
			"rollout":       rolloutSchema(),
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
				MarkdownDescription: "The cluster's full TLS credentials and identity, the CA key included, for `haddock_node_group.cluster_credentials`: " +
					"a node group signs its hosts' certificates with the CA. Secret.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"client_credentials": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "`credentials` without the CA key: the cluster's identity, the CA certificate and the client certificate and key, " +
					"for `haddock_stack.cluster_credentials` and `haddock_floating_ip.cluster_credentials`, which reach the engines and create no host. " +
					"Pass these there so the CA key stays in the cluster's and node groups' state only. Secret.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"host_tag": schema.StringAttribute{
				Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The vendor tag every host of the cluster carries, managers and node groups alike (`haddock-cluster:<uid>`): give it to a " +
					"`haddock_database`'s `trusted_sources` to let the whole cluster in.",
			},
			"firewall": firewallSchema(),
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *swarmClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
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
	checkLBClouds(ctx, plan.Managers.Cloud, plan.Managers.LoadBalancerIDs, at.AtName("load_balancer_ids"), &resp.Diagnostics)
	firewallDiagnostics(ctx, plan.Firewall, plan.Managers.Cloud.ValueString(), path.Root("firewall"), &resp.Diagnostics)
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
		if state.Managers.Cloud.Equal(plan.Managers.Cloud) {
			prior = &priorResolution{image: state.Managers.Image, resolved: state.resolvedValues()}
		} else if !plan.AdvertiseAddress.IsUnknown() {
			// Nodes must advertise public addresses before the move (the
			// new managers join through the old ones' addresses).
			adv := plan.AdvertiseAddress.ValueString()
			if state.AdvertiseAddress.ValueString() == string(cluster.AddressPrivate) {
				adv = string(cluster.AddressPrivate)
			}
			noFirewall := false
			if !plan.Firewall.IsUnknown() {
				noFirewall = !firewallPolicy(ctx, plan.Firewall, &resp.Diagnostics).Kept()
			}
			migrationPlanDiagnostics("The managers", state.Managers.Cloud.ValueString(), plan.Managers.Cloud.ValueString(), adv, noFirewall, at.AtName("cloud"), &resp.Diagnostics)
			if resp.Diagnostics.HasError() {
				return
			}
		}
	}
	res, diags := resolveHostValues(ctx, r.data, cat, plan.Managers.values(at), prior)
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	plan.VendorRegion, plan.VendorSize, plan.VendorImage = types.StringValue(res.region), types.StringValue(res.size), types.StringValue(res.image)
	if state != nil && !plan.Firewall.IsUnknown() {
		places := []formerPlace{{plan.Managers.Cloud.ValueString(), res.region}, {state.Managers.Cloud.ValueString(), state.VendorRegion.ValueString()}}
		spanPlanDiagnostics("The managers", places, !firewallPolicy(ctx, plan.Firewall, &resp.Diagnostics).Kept(), at.AtName("region"), &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	ru := path.Root("managers").AtName("rolling_update")
	if u := rollingUpdate(ctx, plan.Managers.RollingUpdate, &resp.Diagnostics); u.MaxSurge > 1 {
		resp.Diagnostics.AddAttributeError(ru.AtName("max_surge"), "Invalid max_surge for managers",
			fmt.Sprintf("max_surge is %d, but managers are replaced one at a time: Raft changes its membership one node at a time, and each new manager must be reachable in Raft before the next change. Leave max_surge out (or set it to 1).", u.MaxSurge))
		return
	}
	if state == nil {
		plan.Rollout = emptyRollout()
	}
	if state != nil {
		// Refuse a manager change that would lose quorum, with the arithmetic.
		want := int(plan.Managers.Count.ValueInt64())
		if !plan.Managers.Count.IsUnknown() && want != int(state.Managers.Count.ValueInt64()) {
			if _, err := swarm.PlanManagerChange(observedManagers(ctx, state), want); err != nil {
				resp.Diagnostics.AddAttributeError(at.AtName("count"), "Manager change refused", err.Error())
				return
			}
		}
		// Hosts built from another spec are replaced one at a time: the
		// plan lists them; nodes, leader and docker are known after apply.
		rolls := false
		if plan.Managers.SSHKeys.IsUnknown() || plan.Managers.UserData.IsUnknown() {
			plan.Rollout, rolls = types.ListUnknown(types.ObjectType{AttrTypes: rolloutAttrTypes}), true
		} else if l, n := planRollout(ctx, state.Nodes, plan.Managers.hostsSpec(ctx, res, &resp.Diagnostics)); n > 0 {
			plan.Rollout, rolls = l, true
		} else if plan.Rollout = state.Rollout; plan.Rollout.IsNull() {
			plan.Rollout = emptyRollout() // a state from before rollouts were recorded
		}
		advChanged := !plan.AdvertiseAddress.Equal(state.AdvertiseAddress)
		if moving := movingFrom(ctx, req.Private); (len(moving) > 0 || advChanged) && !rolls {
			// An interrupted migration left managers where they were, or
			// they advertise the other kind of address: replaced.
			plan.Rollout, rolls = types.ListUnknown(types.ObjectType{AttrTypes: rolloutAttrTypes}), true
		}
		if res.region != state.VendorRegion.ValueString() || !plan.Managers.Cloud.Equal(state.Managers.Cloud) || advChanged || !plan.Firewall.Equal(state.Firewall) {
			// The credentials name the managers' vendor and region, what
			// the nodes advertise, and the firewall.
			plan.Credentials, plan.ClientCredentials = types.StringUnknown(), types.StringUnknown()
		}
		if rolls || !plan.Managers.Count.Equal(state.Managers.Count) || !plan.Managers.Labels.Equal(state.Managers.Labels) ||
			!plan.Autolock.Equal(state.Autolock) || !plan.TaskHistoryLimit.Equal(state.TaskHistoryLimit) ||
			!plan.HeartbeatPeriod.Equal(state.HeartbeatPeriod) || nodesNeedRepair(ctx, state.Nodes, state.Managers.Count) {
			plan.Nodes, plan.Leader, plan.Docker = types.ListUnknown(types.ObjectType{AttrTypes: nodeAttrTypes}), types.StringUnknown(), types.ObjectUnknown(dockerAttrTypes)
		} else {
			plan.Nodes, plan.Leader, plan.Docker = state.Nodes, state.Leader, state.Docker
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
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
	c, view, err := cluster.Create(ctx, drv, spec, r.data.clusterOptions())
	if c != nil {
		plan.setView(c, view)
		if plan.ID.IsUnknown() {
			plan.ID = types.StringValue("pending-" + c.UID())
		}
		finishUnknowns(&plan)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		reportRemoved(&resp.Diagnostics, "cluster "+plan.Name.ValueString(), c.Removed())
		// The managers go into the state as Create returns: they stop being
		// leftovers for a later Create. Also when the apply was cancelled.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), savedTimeout)
		if serr := c.Saved(sctx); serr != nil {
			resp.Diagnostics.AddWarning("Managers still marked unsaved", fmt.Sprintf("The cluster is saved, but removing the tag %s from its managers failed: %s. "+
				"The next apply of the cluster removes it; until then a new cluster of the same name would take them for leftovers of an interrupted apply.", cloud.UnsavedTag, serr))
		}
		scancel()
	}
	if err == nil {
		return
	}
	// Managers exist: saved without an error, so that Terraform does not
	// taint the cluster and destroy them on the next apply; the next plan
	// repairs it (nodes missing or not ready), resuming from what exists.
	if c != nil && view != nil && len(view.Hosts()) > 0 {
		var partial diag.Diagnostics
		addClusterError(&partial, "Swarm cluster "+plan.Name.ValueString()+" created in part", err)
		for _, d := range partial {
			resp.Diagnostics.AddWarning(d.Summary(), fmt.Sprintf("%d of %d managers are in the swarm. The cluster is saved with the hosts that exist, so that they are kept: "+
				"run terraform apply again and it completes the managers (failed joins retried, missing hosts created). What failed:\n%s",
				view.Ready(), plan.Managers.Count.ValueInt64(), d.Detail()))
		}
		return
	}
	addClusterError(&resp.Diagnostics, "Error creating swarm cluster", err)
}

func (r *swarmClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state swarmClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := r.open(&state, movingFrom(ctx, req.Private), &resp.Diagnostics)
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
	if state.Name.IsNull() { // just imported: read every input back
		r.readImported(ctx, c, view, &state, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	viewProblems("Swarm cluster "+state.Name.ValueString(), &view.View, &resp.Diagnostics)
	r.readFirewall(ctx, c, &state, &resp.Diagnostics)
	state.setView(c, view)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// readFirewall reads the cluster's firewall at the managers' vendor. Just
// imported (firewall null), the state gets what it finds: the Docker API's
// and SSH's sources, or enabled = false when there is none. Otherwise it
// is the drift check: a firewall deleted outside Haddock shows as
// enabled = false, so the plan puts it back. (Rules edited by hand are
// not compared; the next apply sets them whole.)
func (r *swarmClusterResource) readFirewall(ctx context.Context, c *cluster.Cluster, state *swarmClusterModel, diags *diag.Diagnostics) {
	imported := state.Firewall.IsNull()
	if p := firewallPolicy(ctx, state.Firewall, diags); !imported && p.Off {
		return
	}
	fw, known, err := c.ManagersFirewall(ctx)
	if err != nil {
		diags.AddWarning("Cluster firewall unread", fmt.Sprintf("Reading the firewall of cluster %s failed, so its drift is not checked in this refresh: %s", state.Name.ValueString(), err))
		return
	}
	switch {
	case !known:
		return
	case fw == nil:
		if !imported {
			tflog.Warn(ctx, "the cluster's firewall is missing: the plan adds it back", map[string]any{"cluster": state.Name.ValueString(), "firewall": cluster.FirewallName(c.UID())})
		}
		state.Firewall = firewallObject(false, cluster.FirewallPolicy{})
	case imported:
		state.Firewall = firewallObject(true, cluster.PolicyOf(fw))
	}
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
	former := formerPlaces(ctx, req.Private, formerPlace{plan.Managers.Cloud.ValueString(), plan.VendorRegion.ValueString()},
		formerPlace{state.Managers.Cloud.ValueString(), state.VendorRegion.ValueString()})
	c := r.open(&plan, former, &resp.Diagnostics)
	spec := plan.spec(ctx, &resp.Diagnostics)
	spec.Managers.FormerLoadBalancers = formerLBs(ctx, state.Managers.LoadBalancerIDs, plan.Managers.LoadBalancerIDs, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	view, err := c.Apply(ctx, spec)
	plan.setView(c, view)
	finishUnknowns(&plan)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if len(former) > 0 || len(movingFrom(ctx, req.Private)) > 0 {
		var v *cluster.View
		if view != nil {
			v = &view.View
		}
		saveMovingFrom(ctx, resp.Private, former, v, &resp.Diagnostics)
	}
	if err != nil {
		addClusterError(&resp.Diagnostics, "Error updating swarm cluster", err)
		return
	}
	// Applied: the configuration's values are the cluster's now.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImportedKey, nil)...)
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
	c := r.open(&state, movingFrom(ctx, req.Private), &resp.Diagnostics)
	if c == nil {
		return
	}
	if err := c.Destroy(ctx, cluster.DestroyOptions{}); err != nil && !cloud.IsNotFound(err) {
		addClusterError(&resp.Diagnostics, "Error deleting swarm cluster", err)
	}
}

// ImportState takes the cluster's id and its credentials from the
// environment (importCredentials): the CA key and the client key live only
// in Terraform state, no manager holds them. Read then reads everything
// else from the cloud and the swarm.
func (r *swarmClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	creds, cc, err := importCredentials(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Cannot import swarm cluster", fmt.Sprintf("importing swarm cluster %s: %s", req.ID, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("credentials"), creds)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("managers"), hostGroupModel{
		Count: types.Int64Null(), Cloud: types.StringValue(cc.Cloud),
		Region: types.StringNull(), Size: types.StringNull(), Image: types.StringNull(),
		SSHKeys: types.ListNull(types.StringType), UserData: types.StringNull(), Labels: types.MapNull(types.StringType),
		RollingUpdate: types.ObjectNull(rollingUpdateAttrTypes), LoadBalancerIDs: types.SetNull(types.StringType),
	})...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("rollout"), emptyRollout())...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_region"), cc.Region)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImportedKey, []byte("true"))...)
}

// open reaches the cluster: its managers through their vendor's driver,
// and the places a migration under way is leaving (former).
func (r *swarmClusterResource) open(m *swarmClusterModel, former []formerPlace, diags *diag.Diagnostics) *cluster.Cluster {
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
	c, err := cluster.Open(drv, st, r.data.clusterOptions())
	if err != nil {
		diags.AddError("Cluster state unreadable", err.Error())
		return nil
	}
	drvs, d := r.data.formerDrivers(former, path.Root("managers").AtName("cloud"))
	diags.Append(d...)
	if d.HasError() {
		return nil
	}
	c.MovingFrom(drvs...)
	return c
}

// readImported fills what import could not set from the managers' hosts
// and the swarm: the name, the managers (count, vendor region, size and
// image, labels), the swarm's settings and the advertised address. User
// data and SSH keys cannot be read back; the first apply adopts the
// configuration's (see privateImportedKey).
func (r *swarmClusterResource) readImported(ctx context.Context, c *cluster.Cluster, view *cluster.ClusterView, m *swarmClusterModel, diags *diag.Diagnostics) {
	hosts := view.Hosts()
	if view.Settings == nil {
		diags.AddError("Cannot import swarm cluster", fmt.Sprintf("importing swarm cluster %s: no manager's Docker Engine answered (%v): the swarm's settings are read from a manager. "+
			"Run the import where port 2376 of the managers can be reached, once a manager is ready.", m.ID.ValueString(), view.SwarmError))
		return
	}
	for _, h := range hosts {
		if sm := managerNameRE.FindStringSubmatch(h.Name); sm != nil {
			m.Name = types.StringValue(sm[1])
			break
		}
	}
	if m.Name.IsNull() {
		diags.AddError("Cannot import swarm cluster", fmt.Sprintf("importing swarm cluster %s: no manager host is named <name>-manager-<n>, so the cluster's name cannot be read back.", m.ID.ValueString()))
		return
	}
	h, err := c.Driver().GetHost(ctx, hosts[0].HostID)
	if err != nil {
		diags.AddError("Cannot import swarm cluster", fmt.Sprintf("importing swarm cluster %s: reading manager host %s: %s", m.ID.ValueString(), hosts[0].HostID, err))
		return
	}
	m.Managers.Count = types.Int64Value(int64(len(hosts)))
	m.Managers.Region, m.Managers.Size, m.Managers.Image = types.StringValue(h.Region), types.StringValue(h.Size), types.StringValue(h.Image)
	m.VendorRegion, m.VendorSize, m.VendorImage = m.Managers.Region, m.Managers.Size, m.Managers.Image
	m.Managers.Labels = types.MapNull(types.StringType)
	for _, mem := range hosts {
		if mem.NodeID != "" && len(mem.Labels) > 0 {
			m.Managers.Labels, _ = types.MapValueFrom(ctx, types.StringType, mem.Labels)
			break
		}
	}
	st := view.Settings
	m.DefaultAddressPool = types.ListNull(types.StringType)
	if !slices.Equal(st.DefaultAddrPool, dockerDefaultAddrPool) && len(st.DefaultAddrPool) > 0 {
		m.DefaultAddressPool, _ = types.ListValueFrom(ctx, types.StringType, st.DefaultAddrPool)
	}
	m.SubnetSize = types.Int64Null()
	if st.SubnetSize != 0 && st.SubnetSize != dockerDefaultSubnetSize {
		m.SubnetSize = types.Int64Value(int64(st.SubnetSize))
	}
	m.Autolock = types.BoolValue(st.Autolock)
	m.TaskHistoryLimit = types.Int64Value(st.TaskHistoryLimit)
	m.HeartbeatPeriod = types.StringValue(defaultHeartbeatPeriod) // setView reads the swarm's
	m.EncryptOverlayByDefault = types.BoolValue(false)            // not observable: a default for the networks Haddock creates
	m.AdvertiseAddress = types.StringValue(string(r.advertised(ctx, c, hosts)))
}

// advertised reads which of their addresses the managers advertise in
// Raft: private unless a manager's Raft address is its public one.
func (r *swarmClusterResource) advertised(ctx context.Context, c *cluster.Cluster, hosts []cluster.Member) cluster.AddressKind {
	e, _, err := c.Manager(ctx)
	if err != nil {
		tflog.Warn(ctx, "no manager answered; taking the private address as advertised", map[string]any{"error": err.Error()})
		return cluster.AddressPrivate
	}
	defer func() { _ = e.Close() }()
	nodes, err := e.Nodes(ctx)
	if err != nil {
		tflog.Warn(ctx, "listing nodes failed; taking the private address as advertised", map[string]any{"error": err.Error()})
		return cluster.AddressPrivate
	}
	for _, n := range nodes {
		if n.ManagerStatus == nil {
			continue
		}
		addr, _, err := net.SplitHostPort(n.ManagerStatus.Addr)
		if err != nil {
			continue
		}
		for _, mem := range hosts {
			if mem.NodeID == n.ID && addr == mem.PublicIPv4 && addr != mem.PrivateIPv4 {
				return cluster.AddressPublic
			}
		}
	}
	return cluster.AddressPrivate
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
	if m.Rollout.IsUnknown() || m.Rollout.IsNull() {
		m.Rollout = emptyRollout()
	}
	if m.HostTag.IsUnknown() {
		m.HostTag = types.StringValue("")
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
	HeartbeatPeriod         types.String   `tfsdk:"heartbeat_period"`
	EncryptOverlayByDefault types.Bool     `tfsdk:"encrypt_overlay_by_default"`
	AdvertiseAddress        types.String   `tfsdk:"advertise_address"`
	VendorRegion            types.String   `tfsdk:"vendor_region"`
	VendorSize              types.String   `tfsdk:"vendor_size"`
	VendorImage             types.String   `tfsdk:"vendor_image"`
	Nodes                   types.List     `tfsdk:"nodes"`
	Rollout                 types.List     `tfsdk:"rollout"`
	Leader                  types.String   `tfsdk:"leader"`
	Docker                  types.Object   `tfsdk:"docker"`
	Credentials             types.String   `tfsdk:"credentials"`
	ClientCredentials       types.String   `tfsdk:"client_credentials"`
	HostTag                 types.String   `tfsdk:"host_tag"`
	Firewall                types.Object   `tfsdk:"firewall"`
	Timeouts                timeouts.Value `tfsdk:"timeouts"`
}

func (m *swarmClusterModel) resolvedValues() resolved {
	return resolved{region: m.VendorRegion.ValueString(), size: m.VendorSize.ValueString(), image: m.VendorImage.ValueString()}
}

func (m *swarmClusterModel) spec(ctx context.Context, diags *diag.Diagnostics) cluster.ClusterSpec {
	pool := stringList(ctx, m.DefaultAddressPool, diags)
	return cluster.ClusterSpec{
		Firewall:      firewallPolicy(ctx, m.Firewall, diags),
		Name:          m.Name.ValueString(),
		Managers:      m.Managers.hostsSpec(ctx, m.resolvedValues(), diags),
		RollingUpdate: rollingUpdate(ctx, m.Managers.RollingUpdate, diags),
		Settings: cluster.Settings{
			DefaultAddrPool:         pool,
			SubnetSize:              uint32(m.SubnetSize.ValueInt64()),
			Autolock:                m.Autolock.ValueBool(),
			TaskHistoryLimit:        m.TaskHistoryLimit.ValueInt64(),
			HeartbeatPeriod:         parseDuration(m.HeartbeatPeriod),
			EncryptOverlayByDefault: m.EncryptOverlayByDefault.ValueBool(),
			Advertise:               cluster.AddressKind(m.AdvertiseAddress.ValueString()),
		},
	}
}

// setView records what was observed.
func (m *swarmClusterModel) setView(c *cluster.Cluster, v *cluster.ClusterView) {
	st := c.State()
	var diags diag.Diagnostics
	fw := encodeFirewall(firewallPolicy(context.Background(), m.Firewall, &diags))
	m.Credentials = types.StringValue(encodeCredentialsWith(st, m.Managers.Cloud.ValueString(), m.VendorRegion.ValueString(), m.AdvertiseAddress.ValueString(), fw))
	m.ClientCredentials = types.StringValue(encodeClientCredentials(st, m.Managers.Cloud.ValueString(), m.VendorRegion.ValueString(), m.AdvertiseAddress.ValueString(), fw))
	m.HostTag = types.StringValue(cluster.ClusterTag(st.UID))
	if st.SwarmID != "" {
		m.ID = types.StringValue(st.SwarmID)
	}
	if v == nil {
		return
	}
	m.Nodes = nodesValue(&v.View)
	// The swarm's heartbeat as observed, in the configuration's spelling
	// while it is the same duration ("2000ms" stays).
	if v.Settings != nil && v.Settings.HeartbeatPeriod != 0 && parseDuration(m.HeartbeatPeriod) != v.Settings.HeartbeatPeriod {
		m.HeartbeatPeriod = types.StringValue(v.Settings.HeartbeatPeriod.String())
	}
	m.Leader = types.StringValue(v.Leader)
	m.Docker = types.ObjectNull(dockerAttrTypes)
	for _, mem := range v.Members {
		if mem.HostID != "" && (mem.Leader || m.Docker.IsNull()) {
			m.Docker = dockerObject(dockerEndpoint(mem.PublicIPv4), mem.Identity, st.Credentials.CACertPEM, st.Credentials.ClientCertPEM, st.Credentials.ClientKeyPEM)
		}
	}
}

// parseDuration reads a validated duration attribute; 0 for null, unknown
// or malformed.
func parseDuration(v types.String) time.Duration {
	d, err := time.ParseDuration(v.ValueString())
	if v.IsNull() || v.IsUnknown() || err != nil {
		return 0
	}
	return d
}

// heartbeatValidator accepts a duration between minHeartbeatPeriod and
// maxHeartbeatPeriod.
type heartbeatValidator struct{}

func (heartbeatValidator) Description(context.Context) string {
	return fmt.Sprintf(`must be a duration between %s and %s, such as "2s"`, minHeartbeatPeriod, maxHeartbeatPeriod)
}

func (v heartbeatValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v heartbeatValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil || d < minHeartbeatPeriod || d > maxHeartbeatPeriod {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid heartbeat period", fmt.Sprintf("%q %s: the leader marks a node down after three periods without a heartbeat.", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}
