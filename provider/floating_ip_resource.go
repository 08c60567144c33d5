package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
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
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/failover"
)

var (
	_ resource.ResourceWithConfigure      = (*floatingIPResource)(nil)
	_ resource.ResourceWithImportState    = (*floatingIPResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*floatingIPResource)(nil)
	_ resource.ResourceWithValidateConfig = (*floatingIPResource)(nil)
)

const floatingIPTimeout = 5 * time.Minute

// privateAgentSecretKey keeps, in the private state, the name of the swarm
// secret of the agent's configuration last deployed (failover.SecretName):
// a configuration that would differ now (the provider's credentials or
// endpoint changed) plans a new deployment.
const privateAgentSecretKey = "agent_secret"

// agentRemoveTimeout bounds the wait for the agent's tasks to let go of its
// secrets when the agent is removed.
const agentRemoveTimeout = 2 * time.Minute

var hostIDRE = regexp.MustCompile(`^(digitalocean|aws)/[^/]+(/[^/]+)?$`)

// NewFloatingIPResource is the haddock_floating_ip constructor.
func NewFloatingIPResource() resource.Resource { return &floatingIPResource{} }

type floatingIPResource struct {
	data *providerData
}

func (r *floatingIPResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_floating_ip"
}

func (r *floatingIPResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A public address that moves between hosts: a DigitalOcean reserved IP or an AWS Elastic IP. " +
			"Either it stays on one host (`host_id`: changing it moves the address in place, removing it leaves the address reserved and unassigned), " +
			"or it follows a swarm's managers (`cluster_id` and `cluster_credentials`): Haddock puts it on a Ready manager and deploys a failover " +
			"agent on the managers that moves it to another Ready manager when its holder stops being one, without Terraform running.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<cloud>/<vendor id>`: `digitalocean/<ip>`, `aws/<allocation id>`. Import takes the same form (`aws/<region>/<allocation id>` for another region than the provider's).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"cloud": cloudAttribute(),
			"region": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Portable or vendor region of the address; a host it is assigned to must be in the same region.",
			},
			"host_id": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The `id` of the host holding the address. Set it to keep the address on that host: changing it moves the address; " +
					"removing it unassigns it. Leave it out with `cluster_id`: it is then the manager the address is on now, which the failover agent " +
					"changes on its own — not drift, it never shows in a plan.",
				Validators: []validator.String{stringvalidator.RegexMatches(hostIDRE, "must be a haddock_host id such as digitalocean/3164444 or aws/i-0abc123")},
			},
			"cluster_id": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The `id` of a `haddock_swarm_cluster` whose managers the address follows (with `cluster_credentials`; not with `host_id`). " +
					"Setting it deploys the failover agent on the cluster's managers, removing it removes the agent; the address stays.",
			},
			"cluster_credentials": schema.StringAttribute{
				Optional: true, Sensitive: true,
				MarkdownDescription: "The cluster's `credentials` (`haddock_swarm_cluster.<name>.credentials`), with `cluster_id`.",
			},
			"agent_poll_interval": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(failover.DefaultPollInterval.String()),
				MarkdownDescription: "With `cluster_id`: how often the failover agent reads the swarm's node list (only the copy on the Raft leader acts), " +
					"a duration between `100ms` and `1m`; default `" + failover.DefaultPollInterval.String() + "`. The address moves at most one interval after the swarm marks its holder down " +
					"(the cluster's `heartbeat_period` sets that delay: about 3 × (period + 0.5 s)). Shorter moves sooner and costs one local " +
					"Docker API call per manager per interval; the cloud's API is read only every 30 s while nothing needs doing, and before every move. " +
					"Changing it deploys the agent again.",
				Validators: []validator.String{durationBetween{min: 100 * time.Millisecond, max: time.Minute}},
			},
			"agent_image": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "With `cluster_id`: the failover agent's image when it was last deployed (the provider's `failover_agent_image`). " +
					"A plan shows it changing when that setting changed: the apply deploys the agent again with the new image.",
			},
			"agent_service_id": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "With `cluster_id`: the failover agent's swarm service (`haddock-agent`). A plan shows it changing when the " +
					"service was removed outside Haddock: the apply deploys it again.",
			},
			"ip_address": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The address.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"vendor_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The vendor's id: the address on DigitalOcean, the allocation id on AWS.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"vendor_region": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The vendor's region, resolved from `region` at plan time.",
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *floatingIPResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig asks for exactly one way of holding the address at most:
// host_id, or cluster_id with cluster_credentials.
func (r *floatingIPResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg floatingIPModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	host, id, creds := !cfg.HostID.IsNull(), !cfg.ClusterID.IsNull(), !cfg.ClusterCredentials.IsNull()
	switch {
	case host && (id || creds):
		at := path.Root("cluster_id")
		if !id {
			at = path.Root("cluster_credentials")
		}
		resp.Diagnostics.AddAttributeError(at, "Conflicting floating IP holders",
			"host_id and cluster_id cannot both be set: set host_id to keep the address on one host, or cluster_id and cluster_credentials "+
				"to have it follow the cluster's managers (host_id is then computed: the manager holding it).")
	case id && !creds:
		resp.Diagnostics.AddAttributeError(path.Root("cluster_credentials"), "Missing cluster credentials",
			"cluster_id needs cluster_credentials = haddock_swarm_cluster.<name>.credentials: the failover agent is deployed through a manager's Docker Engine.")
	case creds && !id:
		resp.Diagnostics.AddAttributeError(path.Root("cluster_id"), "Missing cluster id",
			"cluster_credentials goes with cluster_id = haddock_swarm_cluster.<name>.id (and without host_id): the cluster whose managers the address follows.")
	}
}

func (r *floatingIPResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan, cfg floatingIPModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *floatingIPModel
	if !req.State.Raw.IsNull() {
		state = &floatingIPModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	stale := false
	if state != nil && state.following() != "" && !plan.ClusterCredentials.IsUnknown() {
		got, d := req.Private.GetKey(ctx, privateAgentSecretKey)
		resp.Diagnostics.Append(d...)
		if _, cc, err := decodeClusterCredentials(plan.ClusterCredentials.ValueString()); err == nil {
			// What would be deployed now: the state's address with the
			// planned interval.
			next := *state
			next.AgentPollInterval = plan.AgentPollInterval
			want, err := privateAgentSecret(r.agentConfig(&next, cc.UID))
			stale = err != nil || string(got) != string(want)
		}
	}
	r.planHolder(&plan, cfg, state, stale)
	defer func() { resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...) }()
	if plan.Cloud.IsUnknown() || plan.Region.IsUnknown() {
		return
	}
	if !plan.HostID.IsNull() && !plan.HostID.IsUnknown() && plan.following() == "" {
		if c, _, _, err := parseCloudID(plan.HostID.ValueString()); err == nil && c != plan.Cloud.ValueString() {
			resp.Diagnostics.AddAttributeError(path.Root("host_id"), "Host on another cloud",
				fmt.Sprintf("host_id %q is a %s host, but this floating IP is on %s: an address can only be assigned to a host of its own vendor.", plan.HostID.ValueString(), c, plan.Cloud.ValueString()))
			return
		}
	}
	_, region, ok := r.data.planRegion(ctx, plan.Cloud.ValueString(), plan.Region.ValueString(), &resp.Diagnostics)
	if !ok {
		return
	}
	if !plan.ClusterCredentials.IsNull() && !plan.ClusterCredentials.IsUnknown() {
		_, cc, err := decodeClusterCredentials(plan.ClusterCredentials.ValueString())
		switch {
		case err != nil:
			resp.Diagnostics.AddAttributeError(path.Root("cluster_credentials"), "Invalid cluster credentials", err.Error())
			return
		case cc.Cloud != plan.Cloud.ValueString() || cc.Region != region:
			resp.Diagnostics.AddAttributeError(path.Root("cluster_id"), "Cluster in another region",
				fmt.Sprintf("The cluster's managers are on %s in %s, but this floating IP is on %s in %s: an address can only be assigned to hosts of its own vendor and region.",
					cc.Cloud, cc.Region, plan.Cloud.ValueString(), region))
			return
		}
		ac, ok := r.data.agentCredentials[cloud.Name(cc.Cloud)]
		if !ok {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_id"), "No credentials for the failover agent",
				fmt.Sprintf("The failover agent gets the provider's own %s credentials, and none are configured.", cc.Cloud))
			return
		}
		if u, err := url.Parse(ac.APIEndpoint); err == nil && ac.APIEndpoint != "" && isLoopback(u.Hostname()) {
			resp.Diagnostics.AddAttributeWarning(path.Root("cluster_id"), "Failover agent cannot reach the API",
				fmt.Sprintf("The failover agent runs on the managers and gets the provider's %s endpoint %s, a loopback address: from the managers it names the managers themselves, so the agent will not be able to move the address. Configure the provider with an endpoint the managers reach.", cc.Cloud, ac.APIEndpoint))
		}
	}
	if state != nil && region != state.VendorRegion.ValueString() {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("region"))
		plan.ID, plan.IPAddress, plan.VendorID = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
		if plan.following() != "" {
			plan.HostID, plan.AgentServiceID = types.StringUnknown(), types.StringUnknown()
		}
	}
	plan.VendorRegion = types.StringValue(region)
}

// planHolder plans host_id and the agent's attributes. Following a
// cluster, host_id is whatever manager holds the address: the state's (a
// move by the agent is not a change), unknown when the apply starts
// following. The agent's service is unknown when the apply (re)deploys it:
// when the address starts following, its cluster, credentials or the
// provider's agent image changed, the agent's configuration would differ
// (stale), or the service went missing.
func (r *floatingIPResource) planHolder(plan *floatingIPModel, cfg floatingIPModel, state *floatingIPModel, stale bool) {
	if plan.following() == "" {
		plan.HostID = cfg.HostID
		plan.AgentServiceID, plan.AgentImage = types.StringNull(), types.StringNull()
		return
	}
	plan.AgentImage = types.StringValue(r.data.agentImage)
	same := state != nil && state.following() == plan.following() && !plan.ClusterID.IsUnknown()
	if !same {
		plan.HostID, plan.AgentServiceID = types.StringUnknown(), types.StringUnknown()
		return
	}
	plan.HostID = state.HostID
	if stale || state.AgentServiceID.ValueString() == "" || !plan.ClusterCredentials.Equal(state.ClusterCredentials) || !plan.AgentImage.Equal(state.AgentImage) {
		plan.AgentServiceID = types.StringUnknown()
	} else {
		plan.AgentServiceID = state.AgentServiceID
	}
}

func (r *floatingIPResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer r.data.snapshots.Invalidate() // what later reads list must include this write
	var plan floatingIPModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, floatingIPTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	fips, c, err := r.floatingIPs(&plan)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error creating floating IP", err.Error())
		return
	}
	host := hostVendorID(plan.HostID)
	var fc *followedCluster
	if plan.following() != "" {
		// Reach the cluster first: an address must not be made for a
		// cluster the agent cannot be deployed on.
		if fc = r.openFollowed(ctx, &plan, "", &resp.Diagnostics); fc == nil {
			return
		}
		defer fc.close()
		host = fc.readyManager(ctx)
	}
	f, saved, err := r.create(ctx, fips, c, plan.VendorRegion.ValueString(), host, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// The state holds the address as Create returns, however it returns
	// (one that exists with an error is recorded too): only then does it
	// stop being a leftover.
	defer saved(&resp.Diagnostics)
	if err != nil {
		if f != nil {
			// The address exists (its assignment could not be confirmed):
			// record it, so that it is not leaked; Terraform keeps it as
			// tainted and the next apply replaces it.
			plan.setObserved(c, f)
			plan.HostID = holderID(c, f.HostID) // where it really is
			if plan.VendorRegion.IsUnknown() {
				plan.VendorRegion = types.StringValue(plan.Region.ValueString())
			}
			if plan.AgentServiceID.IsUnknown() {
				plan.AgentServiceID = types.StringValue("")
			}
			resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		}
		resp.Diagnostics.AddError("Error creating floating IP", fmt.Sprintf("creating a floating IP in %s on %s: %s", plan.VendorRegion.ValueString(), c, err))
		return
	}
	plan.setObserved(c, f)
	if fc != nil {
		plan.AgentServiceID = types.StringValue("")
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...) // the address exists whatever happens next
		plan.AgentServiceID = r.deployAgent(ctx, fc, &plan, resp.Private, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// create makes the address. Where addresses take tags it is marked
// unsaved, and saved (the mark removed) by the function it returns, which
// Create defers; the addresses interrupted applies left marked are released
// first (see cloud.UnsavedFloatingIPs). diags gets only what stops the
// create before anything is made, and warnings.
func (r *floatingIPResource) create(ctx context.Context, fips cloud.FloatingIPs, c cloud.Name, region, host string, diags *diag.Diagnostics) (*cloud.FloatingIP, func(*diag.Diagnostics), error) {
	nothing := func(*diag.Diagnostics) {}
	u, marks := fips.(cloud.UnsavedFloatingIPs)
	if !marks {
		tflog.Info(ctx, "creating floating IP", map[string]any{"cloud": c, "region": region, "host": host})
		f, err := fips.CreateFloatingIP(ctx, region, host)
		return f, nothing, err
	}
	released, err := r.data.leftovers.releaseFloatingIPs(ctx, fips, c, region, time.Now())
	reportReleased(diags, released)
	if err != nil {
		diags.AddError("Error creating floating IP", fmt.Sprintf("creating a floating IP in %s on %s: %s. Nothing was created; apply again.", region, c, err))
		return nil, nothing, nil
	}
	until := unsavedUntilFor(ctx, floatingIPTimeout)
	tflog.Info(ctx, "creating floating IP", map[string]any{"cloud": c, "region": region, "host": host, "unsaved_until": until})
	f, err := u.CreateUnsavedFloatingIP(ctx, region, host, until)
	if f == nil {
		return nil, nothing, err
	}
	// A failure to save is repaired by the next refresh (Read).
	saved := func(diags *diag.Diagnostics) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), savedTimeout)
		defer cancel()
		if err := u.MarkFloatingIPSaved(sctx, f.ID); err != nil {
			diags.AddWarning("Floating IP still marked unsaved", fmt.Sprintf("Floating IP %s (%s) is saved, but removing its tag %s failed: %s. The next refresh removes it.", f.Address, f.ID, cloud.UnsavedTag, err))
		}
	}
	return f, saved, err
}

func (r *floatingIPResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state floatingIPModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	fips, c, err := r.floatingIPs(&state)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error reading floating IP", err.Error())
		return
	}
	f, err := r.data.snapshots.FloatingIP(ctx, c, fips, state.VendorID.ValueString())
	if cloud.IsNotFound(err) {
		tflog.Warn(ctx, "floating IP not found, removing from state", map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error reading floating IP", fmt.Sprintf("reading floating IP %s: %s", state.ID.ValueString(), err))
		return
	}
	if u, ok := fips.(cloud.UnsavedFloatingIPs); ok && !f.UnsavedUntil.IsZero() {
		// Its Create could not mark it saved; it is in the state now.
		if err := u.MarkFloatingIPSaved(ctx, f.ID); err != nil {
			tflog.Warn(ctx, "removing the unsaved mark of a saved floating IP", map[string]any{"id": f.ID, "error": err.Error()})
		}
	}
	// Keep the configuration's spelling of the host id (it may carry an
	// AWS region) while it names the same host.
	if hostVendorID(state.HostID) != f.HostID {
		state.HostID = holderID(c, f.HostID)
	}
	if state.Region.IsNull() { // import
		state.Region = types.StringValue(f.Region)
	}
	if state.AgentPollInterval.IsNull() { // import, or state from before the attribute
		state.AgentPollInterval = types.StringValue(failover.DefaultPollInterval.String())
	}
	state.setObserved(c, f)
	if state.following() != "" {
		state.AgentServiceID = r.readAgent(ctx, &state)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *floatingIPResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer r.data.snapshots.Invalidate() // what later reads list must include this write
	var plan, state floatingIPModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, floatingIPTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	fips, c, err := r.floatingIPs(&state)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error updating floating IP", err.Error())
		return
	}
	id := state.VendorID.ValueString()
	// No longer following this cluster: its agent goes first, so that it
	// does not move the address back.
	if old := state.following(); old != "" && old != plan.following() {
		if !r.removeAgent(ctx, &state, &resp.Diagnostics) {
			return
		}
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateAgentSecretKey, nil)...)
	}
	from, to := hostVendorID(state.HostID), hostVendorID(plan.HostID)
	var fc *followedCluster
	if plan.following() != "" {
		if fc = r.openFollowed(ctx, &plan, id, &resp.Diagnostics); fc == nil {
			return
		}
		defer fc.close()
		// Starting to follow: the address goes to a Ready manager now
		// unless it is on one (the agent would move it, a little later).
		to = from
		if from == "" || !fc.isReadyManager(ctx, from) {
			to = fc.readyManager(ctx)
		}
	}
	if from != to && to != "" || (from != "" && to == "" && fc == nil) {
		if to == "" {
			err = fips.UnassignFloatingIP(ctx, id)
		} else {
			err = fips.AssignFloatingIP(ctx, id, to)
		}
		if err != nil {
			resp.Diagnostics.AddError("Error updating floating IP", fmt.Sprintf("moving floating IP %s from host %q to host %q: %s", state.ID.ValueString(), from, to, err))
			return
		}
		tflog.Info(ctx, "moved floating IP", map[string]any{"id": state.ID.ValueString(), "from": from, "to": to})
	}
	f, err := fips.GetFloatingIP(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Error reading floating IP", fmt.Sprintf("reading floating IP %s after update: %s", state.ID.ValueString(), err))
		return
	}
	// A planned holder stays as planned (the agent may have moved the
	// address since: the next refresh reads it).
	plan.setObserved(c, f)
	if fc != nil && plan.AgentServiceID.IsUnknown() {
		plan.AgentServiceID = r.deployAgent(ctx, fc, &plan, resp.Private, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *floatingIPResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	defer r.data.snapshots.Invalidate() // what later reads list must include this write
	var state floatingIPModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, floatingIPTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	fips, _, err := r.floatingIPs(&state)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error deleting floating IP", err.Error())
		return
	}
	if state.following() != "" && !r.removeAgent(ctx, &state, &resp.Diagnostics) {
		return
	}
	id := state.VendorID.ValueString()
	if err := fips.UnassignFloatingIP(ctx, id); err != nil && !cloud.IsNotFound(err) {
		resp.Diagnostics.AddError("Error deleting floating IP", fmt.Sprintf("unassigning floating IP %s: %s", state.ID.ValueString(), err))
		return
	}
	if err := fips.DeleteFloatingIP(ctx, id); err != nil {
		resp.Diagnostics.AddError("Error deleting floating IP", fmt.Sprintf("releasing floating IP %s: %s", state.ID.ValueString(), err))
	}
}

func (r *floatingIPResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	c, region, vid, err := parseCloudID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", strings.Replace(err.Error(), "host id", "floating IP id", 1)+"; a floating IP id is digitalocean/<ip> or aws/<allocation id>")
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), c+"/"+vid)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cloud"), c)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_id"), vid)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_region"), region)...)
}

// followedCluster is the cluster a floating IP follows, reached through
// one of its managers.
type followedCluster struct {
	c    *cluster.Cluster
	eng  cluster.Engine
	view *cluster.ClusterView
}

func (fc *followedCluster) close() {
	if fc.eng != nil {
		_ = fc.eng.Close()
	}
}

// reach opens the cluster m follows and reaches one of its managers: nil
// when the credentials are unusable (diags say why), the cluster and the
// error when no manager answers.
func (r *floatingIPResource) reach(ctx context.Context, m *floatingIPModel, diags *diag.Diagnostics) (*followedCluster, error) {
	c, _, d := r.data.openCluster(m.ClusterCredentials.ValueString(), "", "")
	diags.Append(d...)
	if d.HasError() {
		return nil, nil
	}
	eng, _, err := c.Manager(ctx)
	return &followedCluster{c: c, eng: eng}, err
}

// openFollowed reaches a manager of the cluster m follows and checks that
// the cluster's agent, if it runs, keeps no other floating IP (ours: the
// vendor id, "" before it exists): there is one agent per cluster.
func (r *floatingIPResource) openFollowed(ctx context.Context, m *floatingIPModel, ours string, diags *diag.Diagnostics) *followedCluster {
	fc, err := r.reach(ctx, m, diags)
	if fc == nil {
		return nil
	}
	if err != nil {
		diags.AddAttributeError(path.Root("cluster_id"), "Cluster unreachable", fmt.Sprintf("reaching a manager of cluster %s to deploy the failover agent: %s", m.ClusterID.ValueString(), err))
		return nil
	}
	kept, found, err := failover.KeepingOn(ctx, fc.eng)
	if err == nil && found && kept.FloatingIPID != "" && kept.FloatingIPID != ours && !r.keptIPGone(ctx, kept) {
		err = fmt.Errorf("its failover agent already keeps floating IP %s: a cluster's managers are followed by one floating IP", kept.FloatingIPID)
	}
	if err != nil {
		fc.close()
		diags.AddAttributeError(path.Root("cluster_id"), "Cannot follow cluster", fmt.Sprintf("cluster %s: %s", m.ClusterID.ValueString(), err))
		return nil
	}
	return fc
}

// keptIPGone reports an agent left keeping a floating IP that no longer
// exists — its cluster moved to another vendor, and the old address was
// destroyed with credentials that reached no manager any more —, which a
// new floating IP then takes over.
func (r *floatingIPResource) keptIPGone(ctx context.Context, k failover.Kept) bool {
	if k.Cloud == "" {
		// An agent deployed before the labels: a reserved IP's id is its
		// address, an Elastic IP's an allocation id (default region).
		switch {
		case net.ParseIP(k.FloatingIPID) != nil:
			k.Cloud = cloud.DigitalOcean
		case strings.HasPrefix(k.FloatingIPID, "eipalloc-"):
			k.Cloud = cloud.AWS
		default:
			return false
		}
	}
	drv, _, diags := r.data.driver(string(k.Cloud), k.Region, path.Root("cluster_id"))
	if diags.HasError() {
		return false
	}
	fips, ok := drv.(cloud.FloatingIPs)
	if !ok {
		return false
	}
	if _, err := fips.GetFloatingIP(ctx, k.FloatingIPID); !cloud.IsNotFound(err) {
		return false
	}
	tflog.Info(ctx, "the cluster's failover agent keeps a floating IP that no longer exists: taking it over", map[string]any{"ip": k.FloatingIPID, "cloud": string(k.Cloud)})
	return true
}

// readyManager is the host a new following address goes on, the way the
// agent picks one (failover.Decide): a Ready follower reachable in Raft,
// the lowest name first, else the leader, else none (""): the agent
// assigns it.
func (fc *followedCluster) readyManager(ctx context.Context) string {
	if fc.view == nil {
		v, err := fc.c.Observe(ctx)
		if err != nil {
			tflog.Warn(ctx, "observing the cluster failed; the failover agent assigns the address", map[string]any{"error": err.Error()})
			return ""
		}
		fc.view = v
	}
	ready := slices.DeleteFunc(slices.Clone(fc.view.Members), func(m cluster.Member) bool { return !m.Healthy() || !m.Reachable })
	slices.SortFunc(ready, func(a, b cluster.Member) int {
		if a.Leader != b.Leader {
			if a.Leader {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(ready) == 0 {
		return ""
	}
	return ready[0].HostID
}

// isReadyManager reports whether host is a Ready manager of the cluster.
func (fc *followedCluster) isReadyManager(ctx context.Context, host string) bool {
	if fc.readyManager(ctx) == "" {
		return false
	}
	for _, m := range fc.view.Members {
		if m.HostID == host {
			return m.Healthy()
		}
	}
	return false
}

// agentConfig is the failover agent's configuration for the address m of
// the cluster with uid: the provider's credentials for the address's
// vendor, and the agent's default intervals.
func (r *floatingIPResource) agentConfig(m *floatingIPModel, uid string) failover.Config {
	cfg := r.data.agentCredentials[cloud.Name(m.Cloud.ValueString())]
	cfg.FloatingIPID, cfg.ClusterUID = m.VendorID.ValueString(), uid
	cfg.PollInterval, cfg.CloudRefresh = failover.Duration(failover.DefaultPollInterval), failover.Duration(failover.DefaultCloudRefresh)
	if d, err := time.ParseDuration(m.AgentPollInterval.ValueString()); err == nil && d > 0 {
		cfg.PollInterval = failover.Duration(d)
		cfg.CloudRefresh = max(cfg.CloudRefresh, cfg.PollInterval)
	}
	if cfg.Cloud == cloud.AWS {
		cfg.Region = m.VendorRegion.ValueString()
	}
	return cfg
}

// deployAgent deploys the failover agent on the cluster's managers for the
// address m, with the provider's credentials for its vendor as the agent's
// secret (its name kept in private), and returns its service id ("" when
// it failed: diags say why).
func (r *floatingIPResource) deployAgent(ctx context.Context, fc *followedCluster, m *floatingIPModel, private privateSetter, diags *diag.Diagnostics) types.String {
	cfg := r.agentConfig(m, fc.c.UID())
	m.AgentImage = types.StringValue(r.data.agentImage)
	id, err := failover.DeployOn(ctx, fc.eng, failover.Service{Image: r.data.agentImage}, cfg)
	if err != nil {
		diags.AddError("Error deploying the failover agent", fmt.Sprintf("deploying the failover agent (%s) for floating IP %s on cluster %s: %s", r.data.agentImage, m.ID.ValueString(), m.ClusterID.ValueString(), err))
		return types.StringValue("")
	}
	if v, err := privateAgentSecret(cfg); err == nil {
		diags.Append(private.SetKey(ctx, privateAgentSecretKey, v)...)
	}
	tflog.Info(ctx, "deployed the failover agent", map[string]any{"id": m.ID.ValueString(), "cluster": m.ClusterID.ValueString(), "service": id, "image": r.data.agentImage})
	return types.StringValue(id)
}

// readAgent reads the agent's service id: "" when the cluster runs no
// agent for this address (the plan deploys it again); the state's value
// when no manager answers.
func (r *floatingIPResource) readAgent(ctx context.Context, m *floatingIPModel) types.String {
	fc, err := r.reach(ctx, m, &diag.Diagnostics{})
	if fc == nil {
		return m.AgentServiceID
	}
	defer fc.close()
	if err != nil {
		tflog.Warn(ctx, "no manager answered; the failover agent is not checked", map[string]any{"cluster": m.ClusterID.ValueString(), "error": err.Error()})
		return m.AgentServiceID
	}
	ip, found, err := failover.FollowingOn(ctx, fc.eng)
	switch {
	case err != nil:
		tflog.Warn(ctx, "reading the failover agent failed", map[string]any{"cluster": m.ClusterID.ValueString(), "error": err.Error()})
		return m.AgentServiceID
	case !found || ip != m.VendorID.ValueString():
		return types.StringValue("")
	}
	return m.AgentServiceID
}

// removeAgent removes the failover agent of the cluster m follows (its
// service and secrets). A cluster without manager hosts has nothing to
// remove; one whose managers do not answer is an error.
func (r *floatingIPResource) removeAgent(ctx context.Context, m *floatingIPModel, diags *diag.Diagnostics) bool {
	fc, err := r.reach(ctx, m, diags)
	if fc == nil {
		return false
	}
	defer fc.close()
	if err != nil {
		if v, oerr := fc.c.Observe(ctx); oerr == nil && len(v.Hosts()) == 0 {
			return true // the cluster is gone, and its agent with it
		}
		diags.AddError("Error removing the failover agent", fmt.Sprintf("reaching a manager of cluster %s to remove the failover agent of floating IP %s: %s", m.ClusterID.ValueString(), m.ID.ValueString(), err))
		return false
	}
	if err := failover.RemoveFrom(ctx, fc.eng, m.VendorID.ValueString(), agentRemoveTimeout); err != nil {
		diags.AddError("Error removing the failover agent", fmt.Sprintf("removing the failover agent of floating IP %s from cluster %s: %s", m.ID.ValueString(), m.ClusterID.ValueString(), err))
		return false
	}
	tflog.Info(ctx, "removed the failover agent", map[string]any{"id": m.ID.ValueString(), "cluster": m.ClusterID.ValueString()})
	return true
}

// privateAgentSecret is privateAgentSecretKey's value for cfg: the secret's
// name as a JSON string (private state holds JSON).
func privateAgentSecret(cfg failover.Config) ([]byte, error) {
	name, err := failover.SecretName(cfg)
	if err != nil {
		return nil, err
	}
	return json.Marshal(name)
}

// privateSetter is a response's private state.
type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// holderID is the host_id of the host holding an address (null for none).
func holderID(c cloud.Name, vendorHostID string) types.String {
	if vendorHostID == "" {
		return types.StringNull()
	}
	return types.StringValue(cloudID(c, vendorHostID))
}

// floatingIPs returns the vendor's floating IP capability for a region.
func (r *floatingIPResource) floatingIPs(m *floatingIPModel) (cloud.FloatingIPs, cloud.Name, error) {
	return capability[cloud.FloatingIPs](r.data, m.Cloud.ValueString(), m.VendorRegion.ValueString(), "floating IPs")
}

// hostVendorID returns the vendor id of a haddock_host id ("" for none).
func hostVendorID(v types.String) string {
	if v.IsNull() || v.IsUnknown() {
		return ""
	}
	_, _, vid, err := parseCloudID(v.ValueString())
	if err != nil {
		return ""
	}
	return vid
}

type floatingIPModel struct {
	ID                 types.String   `tfsdk:"id"`
	Cloud              types.String   `tfsdk:"cloud"`
	Region             types.String   `tfsdk:"region"`
	HostID             types.String   `tfsdk:"host_id"`
	ClusterID          types.String   `tfsdk:"cluster_id"`
	ClusterCredentials types.String   `tfsdk:"cluster_credentials"`
	AgentImage         types.String   `tfsdk:"agent_image"`
	AgentPollInterval  types.String   `tfsdk:"agent_poll_interval"`
	AgentServiceID     types.String   `tfsdk:"agent_service_id"`
	IPAddress          types.String   `tfsdk:"ip_address"`
	VendorID           types.String   `tfsdk:"vendor_id"`
	VendorRegion       types.String   `tfsdk:"vendor_region"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

func (m *floatingIPModel) setObserved(c cloud.Name, f *cloud.FloatingIP) {
	// What a plan made without a configured provider left unknown.
	if m.HostID.IsUnknown() {
		m.HostID = holderID(c, f.HostID)
	}
	if m.following() == "" {
		m.AgentImage, m.AgentServiceID = types.StringNull(), types.StringNull()
	}
	m.ID = types.StringValue(string(c) + "/" + f.ID)
	m.VendorID = types.StringValue(f.ID)
	m.IPAddress = types.StringValue(f.Address)
	if f.Region != "" {
		m.VendorRegion = types.StringValue(f.Region)
	}
}

// following is the cluster the address follows ("" for none): its id, or
// the credentials while the id is unknown.
func (m *floatingIPModel) following() string {
	switch {
	case m.ClusterID.IsNull() && m.ClusterCredentials.IsNull():
		return ""
	case m.ClusterID.IsUnknown() || m.ClusterID.IsNull():
		return "unknown"
	}
	return m.ClusterID.ValueString()
}

// isLoopback reports whether host (a URL's host name) is this machine.
func isLoopback(host string) bool {
	ip, err := netip.ParseAddr(host)
	return strings.EqualFold(host, "localhost") || (err == nil && ip.IsLoopback())
}
