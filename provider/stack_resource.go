package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/stack"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

var (
	_ resource.ResourceWithConfigure      = (*stackResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*stackResource)(nil)
	_ resource.ResourceWithImportState    = (*stackResource)(nil)
	_ resource.ResourceWithValidateConfig = (*stackResource)(nil)
)

// privateDriftKey holds, in the resource's private state, what the last
// refresh found different from the file.
const privateDriftKey = "drift"

const (
	stackDeployTimeout = 15 * time.Minute
	stackDeleteTimeout = 10 * time.Minute
)

var serviceAttrTypes = map[string]attr.Type{
	"name":             types.StringType,
	"image":            types.StringType,
	"mode":             types.StringType,
	"replicas_running": types.Int64Type,
	"replicas_desired": types.Int64Type,
	"published_ports":  types.ListType{ElemType: types.StringType},
}

// NewStackResource is the haddock_stack constructor.
func NewStackResource() resource.Resource { return &stackResource{} }

type stackResource struct {
	data *providerData
}

func (r *stackResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_stack"
}

func (r *stackResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A compose file deployed to a Haddock swarm with `docker stack deploy` semantics — the same code " +
			"(docker/cli's compose loader and converter), so services, networks, configs and secrets get the CLI's names, labels " +
			"and defaults. Create and update wait until every service has converged; a failed update says which service and task " +
			"failed and why, and follows the file's `update_config.failure_action`. A service changed or removed by hand shows in " +
			"the plan and the apply repairs it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "`<cluster_id>/<name>`; import takes the same form.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"cluster_id": schema.StringAttribute{
				Required: true, MarkdownDescription: "The `id` of the `haddock_swarm_cluster`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"cluster_credentials": schema.StringAttribute{
				Required: true, Sensitive: true,
				MarkdownDescription: "The cluster's `credentials` (`haddock_swarm_cluster.<name>.credentials`).",
			},
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "The stack's namespace: services are named `<name>_<service>`.",
				Validators:    []validator.String{stackNameValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"compose": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The compose file's content: `file(\"compose.yaml\")` or `templatefile(...)`. Checked at plan time " +
					"(YAML, the compose schema, what swarm supports), errors with the file's line.",
			},
			"env": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, Sensitive: true,
				MarkdownDescription: "Variables for `${VAR}` interpolation in the file (the process environment is never read).",
			},
			"files": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, Sensitive: true,
				MarkdownDescription: "Content of the files the compose file names (`file:` of configs and secrets, `env_file`), by the path as " +
					"written in the file: `{ \"nginx.conf\" = file(\"nginx.conf\") }`. Nothing is read from disk. Sensitive: secrets live here.",
			},
			"files_wo": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "Like `files`, write-only (Terraform 1.11+): never in the plan or the state, so it takes ephemeral values — a " +
					"database's connection from `haddock_database_credentials`, handed to a service as a swarm secret. Where a path is in both, " +
					"`files_wo` wins. Terraform cannot see it change: bump `files_wo_version` to deploy new content.",
			},
			"files_wo_version": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Bump it to deploy `files_wo` again (a new secret's content is a new secret: the services are updated).",
			},
			"prune": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Remove the stack's services (and unused networks, configs, secrets) that are no longer in the file.",
			},
			"with_registry_auth": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Send the logins of `registry_auth` to the swarm agents with each service whose image is in one of those registries, " +
					"so that the nodes can pull private images (as `docker stack deploy --with-registry-auth` does with the CLI's logins).",
			},
			"registry_auth": schema.ListNestedAttribute{
				Optional: true, Sensitive: true,
				MarkdownDescription: "Registry logins sent with `with_registry_auth = true`. The swarm keeps each service's login with the service " +
					"(any manager's API shows it to whoever may inspect services, as with the CLI). Kept in the state, marked sensitive.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"address":        schema.StringAttribute{Required: true, MarkdownDescription: "The registry, as image names start with: `registry.example.com`, `10.0.0.5:5000`; `docker.io` for Docker Hub."},
					"username":       schema.StringAttribute{Optional: true, MarkdownDescription: "User name, with `password`."},
					"password":       schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Password or access token, with `username`."},
					"identity_token": schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "An identity token instead of `username` and `password`, for registries that issue them."},
				}},
			},
			"services": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The stack's services as they run.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":             schema.StringAttribute{Computed: true, MarkdownDescription: "Service name in the file."},
					"image":            schema.StringAttribute{Computed: true, MarkdownDescription: "Image, with the digest the swarm pinned."},
					"mode":             schema.StringAttribute{Computed: true, MarkdownDescription: "`replicated` or `global` (or a job mode)."},
					"replicas_running": schema.Int64Attribute{Computed: true, MarkdownDescription: "Tasks running."},
					"replicas_desired": schema.Int64Attribute{Computed: true, MarkdownDescription: "Tasks that should run."},
					"published_ports":  schema.ListAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "`published:target/protocol (mode)`."},
				}},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *stackResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (r *stackResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan stackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	// Write-only: in the configuration only (an ephemeral value may not be
	// known before the apply).
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("files_wo"), &plan.FilesWO)...)
	if resp.Diagnostics.HasError() || plan.Compose.IsUnknown() || plan.Env.IsUnknown() || plan.Files.IsUnknown() || plan.Name.IsUnknown() || plan.FilesWO.IsUnknown() {
		return
	}
	p := plan.load(ctx, &resp.Diagnostics)
	plan.FilesWO = types.MapNull(types.StringType) // never in the plan
	if p == nil {
		return
	}
	if !plan.ClusterID.IsUnknown() {
		plan.ID = types.StringValue(plan.ClusterID.ValueString() + "/" + plan.Name.ValueString())
	}
	if req.State.Raw.IsNull() || r.data == nil || plan.ClusterCredentials.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	var state stackModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	// The file unchanged and the swarm as the file says: nothing to do.
	// Otherwise (file edited, or a service changed or removed by hand) the
	// services are redeployed.
	if plan.Compose.Equal(state.Compose) && plan.Env.Equal(state.Env) && plan.Files.Equal(state.Files) && plan.Prune.Equal(state.Prune) && plan.FilesWOVersion.Equal(state.FilesWOVersion) {
		// What the refresh found (Read records it): the swarm as the file
		// says, or a service changed or removed by hand to repair.
		var changes []string
		if b, d := req.Private.GetKey(ctx, privateDriftKey); !d.HasError() && len(b) > 0 {
			_ = json.Unmarshal(b, &changes)
		}
		if len(changes) == 0 {
			plan.Services = state.Services
		} else {
			plan.Services = types.ListUnknown(types.ObjectType{AttrTypes: serviceAttrTypes})
			resp.Diagnostics.AddWarning("Stack drifted", fmt.Sprintf("Stack %s differs from its file; the apply repairs it:\n- %s", plan.Name.ValueString(), strings.Join(changes, "\n- ")))
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *stackResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.apply(ctx, req.Plan, req.Config, func(m *stackModel) timeoutFunc { return m.Timeouts.Create }, &resp.State, resp.Private, &resp.Diagnostics)
}

func (r *stackResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state stackModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.ClusterCredentials.IsNull() {
		resp.Diagnostics.AddWarning("Stack imported without credentials", "The stack is read on the next apply, once cluster_credentials is known from the configuration.")
		return
	}
	e, closeFn, err := r.engine(ctx, &state)
	if err != nil {
		resp.Diagnostics.AddWarning("Cluster unreachable", fmt.Sprintf("The stack could not be read: %s. It is kept in the state as it was.", err))
		return
	}
	defer closeFn()
	st, err := stack.Observe(ctx, e, state.Name.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Error reading stack", err.Error())
		return
	}
	if len(st.Services) == 0 && len(st.Networks) == 0 && len(st.Configs) == 0 && len(st.Secrets) == 0 {
		tflog.Warn(ctx, "stack not found, removing from state", map[string]any{"stack": state.Name.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	state.Services = servicesValue(st, nil)
	// Record the drift for the plan (ModifyPlan), without a second trip to
	// the swarm.
	changes := []string{}
	var ld diag.Diagnostics
	if p := state.load(ctx, &ld); p != nil {
		for _, c := range stack.Diff(p, st) {
			changes = append(changes, c.String())
		}
	}
	b, _ := json.Marshal(changes)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateDriftKey, b)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *stackResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.apply(ctx, req.Plan, req.Config, func(m *stackModel) timeoutFunc { return m.Timeouts.Update }, &resp.State, resp.Private, &resp.Diagnostics)
}

func (r *stackResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state stackModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, stackDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	e, closeFn, err := r.engine(ctx, &state)
	if err != nil {
		resp.Diagnostics.AddError("Cluster unreachable", fmt.Sprintf("reaching a manager to remove stack %s: %s", state.Name.ValueString(), err))
		return
	}
	defer closeFn()
	if err := stack.Remove(ctx, e, state.Name.ValueString()); err != nil {
		resp.Diagnostics.AddError("Error removing stack", err.Error())
		return
	}
	if err := r.syncFirewall(ctx, &state); err != nil {
		resp.Diagnostics.AddError("Error closing the stack's ports", err.Error())
	}
}

// syncFirewall has the cluster's firewall admit exactly what the swarm's
// services publish, now that the stack's are deployed or removed.
func (r *stackResource) syncFirewall(ctx context.Context, m *stackModel) error {
	_, cc, err := decodeClusterCredentials(m.ClusterCredentials.ValueString())
	if err != nil || cc.Firewall == nil {
		return nil //nolint:nilerr // the credentials were checked by engine; none from before firewalls
	}
	c, _, d := r.data.openCluster(m.ClusterCredentials.ValueString(), "", "")
	if d.HasError() {
		return fmt.Errorf("%s", d.Errors()[0].Detail())
	}
	if err := c.SyncFirewall(ctx, cc.Firewall.policy()); err != nil {
		return fmt.Errorf("opening the stack's published ports in the cluster's firewall: %w", err)
	}
	return nil
}

func (r *stackResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	clusterID, name, ok := strings.Cut(req.ID, "/")
	if !ok || clusterID == "" || stack.ValidateName(name) != nil {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q is not a stack id: use <cluster_id>/<stack name>", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster_id"), clusterID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

// engine connects to a ready manager of the cluster, the leader first (the
// cluster's rule), over mutual TLS.
func (r *stackResource) engine(ctx context.Context, m *stackModel) (stack.Engine, func(), error) {
	c, _, d := r.data.openCluster(m.ClusterCredentials.ValueString(), "", "")
	if d.HasError() {
		return nil, nil, fmt.Errorf("%s", d.Errors()[0].Detail())
	}
	e, _, err := c.Manager(ctx)
	if err != nil {
		return nil, nil, err
	}
	sc, ok := e.(*swarm.Client)
	if !ok {
		_ = e.Close()
		return nil, nil, fmt.Errorf("the cluster handed out a %T, not a Docker Engine client. This is a bug in the provider; please report it", e)
	}
	se, err := stack.EngineOf(sc)
	if err != nil {
		_ = sc.Close()
		return nil, nil, err
	}
	return se, func() { _ = sc.Close() }, nil
}

// timeoutFunc is one of the timeouts attribute's methods (Create, Update).
type timeoutFunc = func(context.Context, time.Duration) (time.Duration, diag.Diagnostics)

// apply is Create and Update: deploy the planned stack within its timeout;
// deployed as the file says, there is no drift until a refresh finds some.
func (r *stackResource) apply(ctx context.Context, planned tfsdk.Plan, config tfsdk.Config, timeout func(*stackModel) timeoutFunc, state *tfsdk.State, private interface {
	SetKey(context.Context, string, []byte) diag.Diagnostics
}, diags *diag.Diagnostics) {
	var plan stackModel
	diags.Append(planned.Get(ctx, &plan)...)
	diags.Append(config.GetAttribute(ctx, path.Root("files_wo"), &plan.FilesWO)...) // write-only: the configuration's
	if diags.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, timeout(&plan), stackDeployTimeout, diags)
	defer cancel()
	if diags.HasError() {
		return
	}
	r.deploy(ctx, &plan, state, diags)
	diags.Append(private.SetKey(ctx, privateDriftKey, []byte("[]"))...)
}

// deploy deploys the file, waits until every service has converged and
// records what runs. The state is saved even when the wait fails, so the
// next plan shows what is left to do.
func (r *stackResource) deploy(ctx context.Context, plan *stackModel, state interface {
	Set(context.Context, any) diag.Diagnostics
}, diags *diag.Diagnostics) {
	p := plan.load(ctx, diags)
	plan.FilesWO = types.MapNull(types.StringType) // never in the state
	if p == nil {
		return
	}
	e, closeFn, err := r.engine(ctx, plan)
	if err != nil {
		diags.AddError("Cluster unreachable", fmt.Sprintf("reaching a manager of cluster %s: %s", plan.ClusterID.ValueString(), err))
		return
	}
	defer closeFn()
	logins, d := plan.registryLogins(ctx)
	if diags.Append(d...); diags.HasError() {
		return
	}
	res, err := stack.Deploy(ctx, e, p, stack.DeployOptions{Prune: plan.Prune.ValueBool(), WithRegistryAuth: plan.WithRegistryAuth.ValueBool(), RegistryAuth: logins})
	if res != nil {
		for _, w := range res.Warnings {
			diags.AddWarning("Stack deploy warning", w)
		}
		for _, s := range res.Services {
			tflog.Info(ctx, "stack service", map[string]any{"service": s.FullName, "action": s.Action})
		}
	}
	plan.ID = types.StringValue(plan.ClusterID.ValueString() + "/" + plan.Name.ValueString())
	if err == nil {
		err = r.syncFirewall(ctx, plan)
	}
	if err != nil {
		plan.Services = types.ListNull(types.ObjectType{AttrTypes: serviceAttrTypes})
		diags.Append(state.Set(ctx, plan)...)
		diags.AddError("Error deploying stack", err.Error())
		return
	}
	werr := stack.WaitConverged(ctx, e, p, 0)
	observed, oerr := stack.Observe(ctx, e, plan.Name.ValueString())
	plan.Services = servicesValue(observed, oerr)
	diags.Append(state.Set(ctx, plan)...)
	if werr != nil {
		diags.AddError("Stack did not converge", werr.Error())
	}
}

func servicesValue(st *stack.StackState, err error) types.List {
	t := types.ObjectType{AttrTypes: serviceAttrTypes}
	if err != nil || st == nil {
		return types.ListNull(t)
	}
	elems := make([]attr.Value, 0, len(st.Services))
	for _, s := range st.Services {
		ports := make([]attr.Value, 0, len(s.Ports))
		for _, p := range s.Ports {
			ports = append(ports, types.StringValue(p.String()))
		}
		o, _ := types.ObjectValue(serviceAttrTypes, map[string]attr.Value{
			"name":             types.StringValue(s.Name),
			"image":            types.StringValue(s.Image),
			"mode":             types.StringValue(s.Mode),
			"replicas_running": types.Int64Value(int64(s.RunningTasks)),
			"replicas_desired": types.Int64Value(int64(s.DesiredTasks)),
			"published_ports":  types.ListValueMust(types.StringType, ports),
		})
		elems = append(elems, o)
	}
	return types.ListValueMust(t, elems)
}

type stackNameValidator struct{}

func (stackNameValidator) Description(context.Context) string {
	return "must be a valid stack name (letters, digits, '-' and '_', as docker stack deploy accepts)"
}

func (v stackNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (stackNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := stack.ValidateName(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid stack name", err.Error())
	}
}

type stackModel struct {
	ID                 types.String   `tfsdk:"id"`
	ClusterID          types.String   `tfsdk:"cluster_id"`
	ClusterCredentials types.String   `tfsdk:"cluster_credentials"`
	Name               types.String   `tfsdk:"name"`
	Compose            types.String   `tfsdk:"compose"`
	Env                types.Map      `tfsdk:"env"`
	Files              types.Map      `tfsdk:"files"`
	FilesWO            types.Map      `tfsdk:"files_wo"`
	FilesWOVersion     types.Int64    `tfsdk:"files_wo_version"`
	Prune              types.Bool     `tfsdk:"prune"`
	WithRegistryAuth   types.Bool     `tfsdk:"with_registry_auth"`
	RegistryAuth       types.List     `tfsdk:"registry_auth"`
	Services           types.List     `tfsdk:"services"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// load reads the compose file; errors land on the compose attribute with
// the file's line.
func (m *stackModel) load(ctx context.Context, diags *diag.Diagnostics) *stack.Project {
	env := map[string]string{}
	if !m.Env.IsNull() && !m.Env.IsUnknown() {
		diags.Append(m.Env.ElementsAs(ctx, &env, false)...)
	}
	files := map[string]string{}
	if !m.Files.IsNull() && !m.Files.IsUnknown() {
		diags.Append(m.Files.ElementsAs(ctx, &files, false)...)
	}
	if !m.FilesWO.IsNull() && !m.FilesWO.IsUnknown() {
		wo := map[string]string{}
		diags.Append(m.FilesWO.ElementsAs(ctx, &wo, false)...)
		maps.Copy(files, wo)
	}
	content := make(map[string][]byte, len(files))
	for k, v := range files {
		content[k] = []byte(v)
	}
	p, err := stack.LoadWithOptions(m.Name.ValueString(), []byte(m.Compose.ValueString()), stack.LoadOptions{Env: env, Files: content})
	if err != nil {
		diags.AddAttributeError(path.Root("compose"), "Invalid compose file", err.Error())
		return nil
	}
	return p
}
