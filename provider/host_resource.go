package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/hostboot"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

var (
	_ resource.ResourceWithConfigure        = (*hostResource)(nil)
	_ resource.ResourceWithImportState      = (*hostResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*hostResource)(nil)
	_ resource.ResourceWithConfigValidators = (*hostResource)(nil)
)

// Default timeouts of haddock_host.
const (
	hostCreateTimeout = 10 * time.Minute
	hostUpdateTimeout = 5 * time.Minute
	hostDeleteTimeout = 10 * time.Minute
)

var (
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$`)
	tagRE      = regexp.MustCompile(`^[a-zA-Z0-9_:\-]{1,255}$`)
)

// legacyPrivateCAKey is where earlier versions kept the host's CA
// (certificate and key) in the resource's private state. Nothing reads it:
// the CA key is needed only to sign the host's certificates at creation, so
// it is no longer kept anywhere, and Read removes it from older states.
const legacyPrivateCAKey = "docker_ca"

// NewHostResource is the haddock_host constructor.
func NewHostResource() resource.Resource { return &hostResource{} }

type hostResource struct {
	data *providerData
}

func (r *hostResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_host"
}

func (r *hostResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A machine on DigitalOcean (a droplet) or AWS (an EC2 instance), described once for both. " +
			"`region`, `size` and `image` take portable names (see the `haddock_catalog` data source) or the vendor's own values. " +
			"Changing `name` or `tags` updates the host in place; any other change replaces it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<cloud>/<vendor id>`, for example `digitalocean/3164444`. Import takes the same form.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"cloud": cloudAttribute(),
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Host name: letters, digits, dots and dashes, starting and ending with a letter or digit. Updated in place.",
				Validators:          []validator.String{stringvalidator.RegexMatches(hostnameRE, "must be a valid host name: letters, digits, '.' and '-', starting and ending with a letter or digit, at most 253 characters")},
			},
			"region": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Portable region (" + backtickList(portableNames(cloud.PortableRegions, func(r cloud.PortableRegion) string { return r.Name })) + ") or the vendor's own (for example `nyc3`, `us-east-1`). " +
					"Spelling the same vendor region another way does not replace the host.",
			},
			"size": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Portable size class (" + backtickList(portableNames(cloud.PortableSizes, func(s cloud.PortableSize) string { return s.Name })) + ") or the vendor's own size (for example `s-2vcpu-4gb`, `t3.medium`). " +
					"Conflicts with `vcpus` and `memory_gb`.",
			},
			"vcpus": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Instead of `size`: the least vCPUs the host needs; the cheapest vendor size offered in the region with at least `vcpus` and `memory_gb` is chosen.",
				Validators:          []validator.Int64{int64validator.Between(1, 448)},
			},
			"memory_gb": schema.Float64Attribute{
				Optional:            true,
				MarkdownDescription: "Instead of `size`: the least memory the host needs, in GB (see `vcpus`).",
				Validators:          []validator.Float64{float64validator.Between(0.5, 24576)},
			},
			"image": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Portable image (" + backtickList(portableNames(cloud.PortableImages, func(i cloud.PortableImage) string { return i.Name })) + ") or the vendor's own (a DigitalOcean image slug or id, an AWS AMI id).",
			},
			"ssh_keys": schema.ListAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "SSH keys installed for root: DigitalOcean key ids or fingerprints, AWS key pair names.",
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
				PlanModifiers:       []planmodifier.List{listplanmodifier.RequiresReplace()},
			},
			"tags": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Tags: letters, digits, `:`, `-` and `_`, up to 255 characters. Updated in place. " +
					"The tags `" + cloud.ManagedTag + "` and `" + cloud.UnsavedTag + "` are reserved: Haddock puts the first on every host it manages, " +
					"the second on a host until its Create has saved it in the state (a host still carrying it in a later apply was left by a killed apply, and is deleted when its resource creates it again).",
				Validators: []validator.Set{setvalidator.ValueStringsAre(
					stringvalidator.RegexMatches(tagRE, "must be 1 to 255 letters, digits, ':', '-' or '_'"),
					stringvalidator.NoneOf(cloud.ManagedTag, cloud.UnsavedTag),
				)},
			},
			"user_data": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "Your own cloud-init user data. Haddock boots every host with a cloud-config that installs Docker Engine with TLS; " +
					"yours is merged into it (a `#cloud-config` is merged key by key, anything else — a shell script, say — becomes another part " +
					"of a multipart document), never dropped. Sensitive: it often carries secrets. Changing it replaces the host.",
				Validators:    []validator.String{stringvalidator.LengthAtMost(48 * 1024), userDataValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"vendor_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The vendor's id for the host (droplet id, instance id).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"vendor_region": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The vendor's region the host runs in, resolved from `region` at plan time.",
			},
			"vendor_size": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The vendor's size, resolved from `size` (or `vcpus` and `memory_gb`) at plan time.",
			},
			"vendor_image": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The vendor's image, resolved from `image` at plan time.",
			},
			"ipv4_address": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Public IPv4 address.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"ipv4_address_private": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Private IPv4 address, if the host has one.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"status": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Portable status: `pending`, `active`, `off`, `deleting` or `error`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"wait_for_docker": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "Create waits until Docker Engine answers on port 2376 over mutual TLS (the default). Set `false` when the machine " +
					"running Terraform cannot reach the host's port 2376; `docker` is filled all the same.",
			},
			"docker": schema.SingleNestedAttribute{
				Computed: true,
				MarkdownDescription: "How to reach the host's Docker Engine: over TCP 2376 with mutual TLS. Haddock makes a CA for each host, " +
					"a server certificate naming the host by `server_name` (not by address, so it verifies through a floating IP or after an " +
					"address change), and a client certificate for itself. Null after import: the key material cannot be read back from a host.",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				Attributes: map[string]schema.Attribute{
					"endpoint":    schema.StringAttribute{Computed: true, MarkdownDescription: "`tcp://<ipv4_address>:2376`."},
					"server_name": schema.StringAttribute{Computed: true, MarkdownDescription: "The name the engine's certificate carries: verify the server by it (TLS server name), whatever address you dial."},
					"ca_pem":      schema.StringAttribute{Computed: true, MarkdownDescription: "The host's CA certificate, PEM."},
					"cert_pem":    schema.StringAttribute{Computed: true, MarkdownDescription: "Client certificate, PEM."},
					"key_pem":     schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Client private key, PEM (PKCS#8)."},
				},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *hostResource) ConfigValidators(_ context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.AtLeastOneOf(path.MatchRoot("size"), path.MatchRoot("vcpus"), path.MatchRoot("memory_gb")),
		resourcevalidator.Conflicting(path.MatchRoot("size"), path.MatchRoot("vcpus")),
		resourcevalidator.Conflicting(path.MatchRoot("size"), path.MatchRoot("memory_gb")),
	}
}

func (r *hostResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan resolves region, size and image against the vendor's catalog,
// so bad values fail at plan time with the attribute and the choices, and
// replaces the host only when the resolved vendor value really changes.
func (r *hostResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return // destroy, or validation before the provider is configured
	}
	var plan hostModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !plan.resolvable() {
		return
	}
	drv, diags := r.data.catalog(plan.Cloud.ValueString(), path.Root("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	var state *hostModel
	if !req.State.Raw.IsNull() {
		state = &hostModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	res, diags := resolveHostValues(ctx, r.data, drv, plan.hostValues(path.Empty()), stateResolved(state))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	if state != nil {
		if res.region != state.VendorRegion.ValueString() {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("region"))
		}
		if res.image != state.VendorImage.ValueString() {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("image"))
		}
		if res.size != state.VendorSize.ValueString() {
			// A vendor that resizes in place (power off, resize, power
			// on) keeps the host, its addresses and its disk.
			if _, ok := drv.(cloud.Resizer); !ok {
				resp.RequiresReplace = append(resp.RequiresReplace, sizePaths(&plan)...)
			}
		}
	}
	plan.VendorRegion = types.StringValue(res.region)
	plan.VendorSize = types.StringValue(res.size)
	plan.VendorImage = types.StringValue(res.image)
	if len(resp.RequiresReplace) > 0 {
		for _, p := range []*types.String{&plan.ID, &plan.VendorID, &plan.IPv4Address, &plan.IPv4AddressPrivate, &plan.Status} {
			*p = types.StringUnknown()
		}
		plan.Docker = types.ObjectUnknown(dockerAttrTypes)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *hostResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	defer r.data.snapshots.Invalidate() // what later reads list must include this write
	var plan hostModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, hostCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	if plan.VendorRegion.IsUnknown() || plan.VendorSize.IsUnknown() || plan.VendorImage.IsUnknown() {
		// The plan had unknown inputs; resolve now that they are known.
		cat, diags := r.data.catalog(plan.Cloud.ValueString(), path.Root("cloud"))
		resp.Diagnostics.Append(diags...)
		if diags.HasError() {
			return
		}
		res, diags := resolveHostValues(ctx, r.data, cat, plan.hostValues(path.Empty()), nil)
		resp.Diagnostics.Append(diags...)
		if diags.HasError() {
			return
		}
		plan.VendorRegion, plan.VendorSize, plan.VendorImage = types.StringValue(res.region), types.StringValue(res.size), types.StringValue(res.image)
	}
	drv, watcher, diags := r.data.driver(plan.Cloud.ValueString(), plan.VendorRegion.ValueString(), path.Root("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	creds, err := hostboot.NewCredentials("haddock host CA " + plan.Name.ValueString())
	var ca *pki.CA
	if err == nil {
		ca, err = creds.LoadCA()
	}
	uid, uerr := hostboot.NewUID()
	if err = errors.Join(err, uerr); err != nil {
		resp.Diagnostics.AddError("Error creating host", fmt.Sprintf("creating TLS material for host %q: %s", plan.Name.ValueString(), err))
		return
	}
	identity := pki.HostIdentity(uid)
	userData, err := hostboot.UserData(ca, hostboot.Boot{Hostname: plan.Name.ValueString(), Identity: identity, UserData: plan.UserData.ValueString()}, hostboot.CertValidity)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("user_data"), "Invalid user data", fmt.Sprintf("merging user_data into the host's cloud-init document: %s", err))
		return
	}
	spec := cloud.HostSpec{
		Name:     plan.Name.ValueString(),
		Region:   plan.VendorRegion.ValueString(),
		Size:     plan.VendorSize.ValueString(),
		Image:    plan.VendorImage.ValueString(),
		SSHKeys:  stringList(ctx, plan.SSHKeys, &resp.Diagnostics),
		Tags:     append(stringSet(ctx, plan.Tags, &resp.Diagnostics), cloud.UnsavedTag),
		UserData: userData,
	}
	if resp.Diagnostics.HasError() {
		return
	}
	// A host of this name an apply killed mid-create left is deleted: it
	// never reached a state and nothing can reach it.
	left, err := r.data.leftovers.claim(ctx, drv, spec.Region, func(h cloud.Host) bool {
		return h.Name == spec.Name && h.Region == spec.Region && h.Size == spec.Size && h.Image == spec.Image
	})
	if err != nil {
		resp.Diagnostics.AddError("Error creating host", fmt.Sprintf("creating host %q on %s: %s. Nothing was created; apply again.", spec.Name, drv.Cloud(), err))
		return
	}
	var removed []string
	for _, l := range left {
		tflog.Warn(ctx, "deleting a host an interrupted apply left", map[string]any{"name": l.Name, "id": l.ID})
		if err := drv.DeleteHost(ctx, l.ID); err != nil {
			resp.Diagnostics.AddError("Error creating host", fmt.Sprintf("deleting host %s (%s), which an interrupted apply left, before creating %q again: %s. Nothing was created; apply again.", l.Name, l.ID, spec.Name, err))
			return
		}
		removed = append(removed, fmt.Sprintf("%s (%s)", l.Name, l.ID))
	}
	reportRemoved(&resp.Diagnostics, "host "+spec.Name, removed)
	tflog.Info(ctx, "creating host", map[string]any{"cloud": drv.Cloud(), "name": spec.Name, "region": spec.Region, "size": spec.Size, "image": spec.Image})
	hosts, err := drv.CreateHosts(ctx, []cloud.HostSpec{spec})
	if err != nil {
		resp.Diagnostics.AddError("Error creating host", fmt.Sprintf("creating host %q on %s: %s", spec.Name, drv.Cloud(), err))
		return
	}
	if len(hosts) != 1 {
		resp.Diagnostics.AddError("Error creating host", fmt.Sprintf("creating host %q on %s: the vendor returned %d hosts for one request", spec.Name, drv.Cloud(), len(hosts)))
		return
	}
	h := hosts[0]
	plan.ID = types.StringValue(cloudID(drv.Cloud(), h.ID))
	plan.VendorID = types.StringValue(h.ID)
	plan.setObserved(&h)
	plan.Docker = dockerValue(h.PublicIPv4, identity, creds)
	// Record the host before waiting: if the wait fails, Terraform keeps it
	// (tainted) and the next apply replaces it instead of leaking it.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	// The state is saved as Create returns, however it returns: only then
	// does the host stop being a leftover for a later Create. A failure is
	// repaired by the next refresh (Read).
	defer func() {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), savedTimeout)
		defer scancel()
		if err := drv.TagHost(sctx, h.ID, nil, []string{cloud.UnsavedTag}); err != nil {
			resp.Diagnostics.AddWarning("Host still marked unsaved", fmt.Sprintf("Host %s (%s) is saved, but removing its tag %s failed: %s. The next refresh removes it.", spec.Name, h.ID, cloud.UnsavedTag, err))
		}
	}()

	// Active, then (unless wait_for_docker is false) the engine answering
	// over mutual TLS, verified by the host's CA and identity: the wait
	// every cluster host goes through too.
	var engine cluster.Engine
	got, err := hostboot.WaitEngine(ctx, watcher, h, func(ctx context.Context, h cloud.Host) (hostboot.Pinger, error) {
		if !plan.WaitForDocker.ValueBool() {
			return activeOnly{}, nil
		}
		e, err := cluster.DialEngine(ctx, creds.Endpoint(h.PublicIPv4, identity))
		engine = e
		return e, err
	}, r.data.poll)
	if engine != nil {
		_ = engine.Close()
	}
	plan.setObserved(&got)
	plan.Docker = dockerValue(got.PublicIPv4, identity, creds)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	var step *hostboot.StepError
	switch {
	case err == nil:
	case errors.As(err, &step) && step.Step == hostboot.StepActive:
		resp.Diagnostics.AddError("Error waiting for host", fmt.Sprintf("waiting for host %s (%s) to become active: %s. It is kept in the state as tainted; the next apply replaces it.", plan.ID.ValueString(), spec.Name, step.Err))
	default:
		if step != nil {
			err = step.Err
		}
		resp.Diagnostics.AddError("Error waiting for Docker Engine", fmt.Sprintf("host %s (%s) is active but its Docker Engine did not answer over mutual TLS on %s: %s. "+
			"It is kept in the state as tainted; the next apply replaces it. If Terraform runs where port 2376 of the host cannot be reached, set wait_for_docker = false.",
			plan.ID.ValueString(), spec.Name, dockerEndpoint(got.PublicIPv4), err))
	}
}

func (r *hostResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state hostModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	drv, _, diags := r.data.driver(state.Cloud.ValueString(), state.VendorRegion.ValueString(), path.Root("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	h, err := r.data.snapshots.Host(ctx, drv, state.VendorID.ValueString())
	if cloud.IsNotFound(err) {
		tflog.Warn(ctx, "host not found, removing from state", map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error reading host", fmt.Sprintf("reading host %s: %s", state.ID.ValueString(), err))
		return
	}
	if cloud.Unsaved(*h) {
		// Its Create could not mark it saved; it is in the state now.
		if err := drv.TagHost(ctx, h.ID, nil, []string{cloud.UnsavedTag}); err != nil {
			tflog.Warn(ctx, "removing the unsaved mark of a saved host", map[string]any{"id": h.ID, "error": err.Error()})
		}
	}
	state.Name = types.StringValue(h.Name)
	state.Tags = userTags(h.Tags, state.Tags)
	state.setObserved(h)
	state.Docker = withEndpoint(ctx, state.Docker, h.PublicIPv4, &resp.Diagnostics)
	if state.WaitForDocker.IsNull() {
		state.WaitForDocker = types.BoolValue(true)
	}
	if state.Docker.IsUnknown() {
		state.Docker = types.ObjectNull(dockerAttrTypes)
	}
	if state.Region.IsNull() { // import: the vendor's values stand for the configuration's
		state.Region, state.Size, state.Image = types.StringValue(h.Region), types.StringValue(h.Size), types.StringValue(h.Image)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	if resp.Private != nil {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, legacyPrivateCAKey, nil)...)
	}
}

func (r *hostResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	defer r.data.snapshots.Invalidate() // what later reads list must include this write
	var plan, state hostModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, hostUpdateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	drv, _, diags := r.data.driver(state.Cloud.ValueString(), state.VendorRegion.ValueString(), path.Root("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	id := state.VendorID.ValueString()
	if plan.VendorSize.ValueString() != state.VendorSize.ValueString() {
		if !r.resize(ctx, drv, &plan, &state, &resp.Diagnostics) {
			return
		}
	}
	if !plan.Name.Equal(state.Name) {
		if err := drv.RenameHost(ctx, id, plan.Name.ValueString()); err != nil {
			resp.Diagnostics.AddError("Error updating host", fmt.Sprintf("renaming host %s to %q: %s", state.ID.ValueString(), plan.Name.ValueString(), err))
			return
		}
	}
	if !plan.Tags.Equal(state.Tags) {
		want := stringSet(ctx, plan.Tags, &resp.Diagnostics)
		have := stringSet(ctx, state.Tags, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		add, remove := diffStrings(have, want)
		if err := drv.TagHost(ctx, id, add, remove); err != nil {
			resp.Diagnostics.AddError("Error updating host", fmt.Sprintf("tagging host %s (add %v, remove %v): %s", state.ID.ValueString(), add, remove, err))
			return
		}
	}
	h, err := drv.GetHost(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Error reading host", fmt.Sprintf("reading host %s after update: %s", state.ID.ValueString(), err))
		return
	}
	plan.setObserved(h)
	plan.Docker = withEndpoint(ctx, state.Docker, h.PublicIPv4, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// resize changes the host's size in place through the vendor (power off,
// resize, power on) and, unless wait_for_docker is false, waits until its
// engine answers again. It reports whether the update may go on.
func (r *hostResource) resize(ctx context.Context, drv cloud.Driver, plan, state *hostModel, diags *diag.Diagnostics) bool {
	rz, ok := drv.(cloud.Resizer)
	if !ok {
		diags.AddError("Error resizing host", fmt.Sprintf("%s cannot resize hosts in place: this is a bug in the provider's plan, which should have replaced host %s.", drv.Cloud(), state.ID.ValueString()))
		return false
	}
	tflog.Info(ctx, "resizing host in place: power off, resize, power on", map[string]any{"host": state.ID.ValueString(), "from": state.VendorSize.ValueString(), "to": plan.VendorSize.ValueString()})
	h, err := rz.ResizeHost(ctx, state.VendorID.ValueString(), plan.VendorSize.ValueString())
	if err != nil {
		diags.AddError("Error resizing host", fmt.Sprintf("resizing host %s from %s to %s: %s", state.ID.ValueString(), state.VendorSize.ValueString(), plan.VendorSize.ValueString(), err))
		return false
	}
	if !plan.WaitForDocker.ValueBool() || state.Docker.IsNull() {
		return true
	}
	var d dockerModel
	diags.Append(state.Docker.As(ctx, &d, basetypes.ObjectAsOptions{})...)
	e, err := cluster.DialEngine(ctx, hostboot.Credentials{CACertPEM: d.CAPEM.ValueString(), ClientCertPEM: d.CertPEM.ValueString(), ClientKeyPEM: d.KeyPEM.ValueString()}.
		Endpoint(h.PublicIPv4, d.ServerName.ValueString()))
	if err == nil {
		defer func() { _ = e.Close() }()
		err = e.WaitReady(ctx, r.data.poll)
	}
	if err != nil {
		diags.AddError("Error waiting for Docker Engine", fmt.Sprintf("host %s was resized to %s but its Docker Engine did not answer again over mutual TLS on %s: %s. "+
			"If Terraform runs where port 2376 of the host cannot be reached, set wait_for_docker = false.", state.ID.ValueString(), plan.VendorSize.ValueString(), dockerEndpoint(h.PublicIPv4), err))
		return false
	}
	return true
}

func (r *hostResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	defer r.data.snapshots.Invalidate() // what later reads list must include this write
	var state hostModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, hostDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	drv, watcher, diags := r.data.driver(state.Cloud.ValueString(), state.VendorRegion.ValueString(), path.Root("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	id := state.VendorID.ValueString()
	if err := drv.DeleteHost(ctx, id); err != nil {
		resp.Diagnostics.AddError("Error deleting host", fmt.Sprintf("deleting host %s: %s", state.ID.ValueString(), err))
		return
	}
	if err := watcher.WaitGone(ctx, id); err != nil {
		resp.Diagnostics.AddError("Error deleting host", fmt.Sprintf("waiting for host %s to be deleted: %s", state.ID.ValueString(), err))
	}
}

func (r *hostResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	c, region, vid, err := parseCloudID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), cloudID(cloud.Name(c), vid))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cloud"), c)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_id"), vid)...)
	if region != "" {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_region"), region)...)
	}
}

func sizePaths(m *hostModel) []path.Path {
	if !m.Size.IsNull() {
		return []path.Path{path.Root("size")}
	}
	var out []path.Path
	if !m.VCPUs.IsNull() {
		out = append(out, path.Root("vcpus"))
	}
	if !m.MemoryGB.IsNull() {
		out = append(out, path.Root("memory_gb"))
	}
	return out
}

// activeOnly is the engine wait of a host created with wait_for_docker =
// false: none.
type activeOnly struct{}

func (activeOnly) WaitReady(context.Context, time.Duration) error { return nil }

// userTags returns the vendor's tags less the managed one, keeping null when
// the configuration had none.
func userTags(vendor []string, prior types.Set) types.Set {
	var tags []string
	for _, t := range vendor {
		if t != cloud.ManagedTag && t != cloud.UnsavedTag {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 && prior.IsNull() {
		return types.SetNull(types.StringType)
	}
	sort.Strings(tags)
	v, _ := types.SetValueFrom(context.Background(), types.StringType, tags)
	return v
}

// stateResolved is what a host was resolved to, nil without a state.
func stateResolved(m *hostModel) *priorResolution {
	if m == nil {
		return nil
	}
	return &priorResolution{image: m.Image, resolved: resolved{region: m.VendorRegion.ValueString(), size: m.VendorSize.ValueString(), image: m.VendorImage.ValueString()}}
}

type hostModel struct {
	ID                 types.String   `tfsdk:"id"`
	Cloud              types.String   `tfsdk:"cloud"`
	Name               types.String   `tfsdk:"name"`
	Region             types.String   `tfsdk:"region"`
	Size               types.String   `tfsdk:"size"`
	VCPUs              types.Int64    `tfsdk:"vcpus"`
	MemoryGB           types.Float64  `tfsdk:"memory_gb"`
	Image              types.String   `tfsdk:"image"`
	SSHKeys            types.List     `tfsdk:"ssh_keys"`
	Tags               types.Set      `tfsdk:"tags"`
	UserData           types.String   `tfsdk:"user_data"`
	VendorID           types.String   `tfsdk:"vendor_id"`
	VendorRegion       types.String   `tfsdk:"vendor_region"`
	VendorSize         types.String   `tfsdk:"vendor_size"`
	VendorImage        types.String   `tfsdk:"vendor_image"`
	IPv4Address        types.String   `tfsdk:"ipv4_address"`
	IPv4AddressPrivate types.String   `tfsdk:"ipv4_address_private"`
	Status             types.String   `tfsdk:"status"`
	WaitForDocker      types.Bool     `tfsdk:"wait_for_docker"`
	Docker             types.Object   `tfsdk:"docker"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// resolvable reports whether every input resolution needs is known.
func (m *hostModel) resolvable() bool {
	for _, v := range []interface{ IsUnknown() bool }{m.Cloud, m.Region, m.Size, m.VCPUs, m.MemoryGB, m.Image} {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

// hostValues is what resolution needs from the model; at is where the
// attributes sit (the root for haddock_host).
func (m *hostModel) hostValues(at path.Path) hostValues {
	return hostValues{
		at:     at,
		region: m.Region, size: m.Size, image: m.Image,
		vcpus: m.VCPUs, memoryGB: m.MemoryGB,
	}
}

// setObserved copies what the vendor reports into the model.
func (m *hostModel) setObserved(h *cloud.Host) {
	m.Status = types.StringValue(string(h.Status))
	m.IPv4Address = types.StringValue(h.PublicIPv4)
	m.IPv4AddressPrivate = types.StringValue(h.PrivateIPv4)
	if h.Region != "" {
		m.VendorRegion = types.StringValue(h.Region)
	}
	if h.Size != "" {
		m.VendorSize = types.StringValue(h.Size)
	}
	if h.Image != "" {
		m.VendorImage = types.StringValue(h.Image)
	}
}
