package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var (
	_ resource.ResourceWithConfigure   = (*floatingIPResource)(nil)
	_ resource.ResourceWithImportState = (*floatingIPResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*floatingIPResource)(nil)
)

const floatingIPTimeout = 5 * time.Minute

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
			"Changing `host_id` moves the address to the other host in place — the way to fail over or to roll a host without " +
			"changing the address clients use; removing it leaves the address reserved and unassigned.",
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
				Optional:            true,
				MarkdownDescription: "The `id` of the `haddock_host` holding the address. Changing it moves the address; removing it unassigns it.",
				Validators:          []validator.String{stringvalidator.RegexMatches(hostIDRE, "must be a haddock_host id such as digitalocean/3164444 or aws/i-0abc123")},
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

func (r *floatingIPResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan floatingIPModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Cloud.IsUnknown() || plan.Region.IsUnknown() {
		return
	}
	if !plan.HostID.IsNull() && !plan.HostID.IsUnknown() {
		if c, _, _, err := parseCloudID(plan.HostID.ValueString()); err == nil && c != plan.Cloud.ValueString() {
			resp.Diagnostics.AddAttributeError(path.Root("host_id"), "Host on another cloud",
				fmt.Sprintf("host_id %q is a %s host, but this floating IP is on %s: an address can only be assigned to a host of its own vendor.", plan.HostID.ValueString(), c, plan.Cloud.ValueString()))
			return
		}
	}
	cat, diags := r.data.catalog(plan.Cloud.ValueString(), path.Root("cloud"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	off, err := cat.Offerings(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Error reading the vendor catalog", fmt.Sprintf("listing %s regions: %s", cat.Cloud(), err))
		return
	}
	region, err := cloud.ResolveRegion(cat.Cloud(), plan.Region.ValueString(), off)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("region"), "Invalid region", err.Error())
		return
	}
	if !req.State.Raw.IsNull() {
		var state floatingIPModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if region != state.VendorRegion.ValueString() {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("region"))
			plan.ID, plan.IPAddress, plan.VendorID = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
		}
	}
	plan.VendorRegion = types.StringValue(region)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *floatingIPResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
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
	tflog.Info(ctx, "creating floating IP", map[string]any{"cloud": c, "region": plan.VendorRegion.ValueString(), "host": host})
	f, err := fips.CreateFloatingIP(ctx, plan.VendorRegion.ValueString(), host)
	if err != nil {
		resp.Diagnostics.AddError("Error creating floating IP", fmt.Sprintf("creating a floating IP in %s on %s: %s", plan.VendorRegion.ValueString(), c, err))
		return
	}
	plan.setObserved(c, f)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
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
	f, err := fips.GetFloatingIP(ctx, state.VendorID.ValueString())
	if cloud.IsNotFound(err) {
		tflog.Warn(ctx, "floating IP not found, removing from state", map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error reading floating IP", fmt.Sprintf("reading floating IP %s: %s", state.ID.ValueString(), err))
		return
	}
	// Keep the configuration's spelling of the host id (it may carry an
	// AWS region) while it names the same host.
	if hostVendorID(state.HostID) != f.HostID {
		if f.HostID == "" {
			state.HostID = types.StringNull()
		} else {
			state.HostID = types.StringValue(cloudID(c, f.HostID))
		}
	}
	if state.Region.IsNull() { // import
		state.Region = types.StringValue(f.Region)
	}
	state.setObserved(c, f)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *floatingIPResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
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
	from, to := hostVendorID(state.HostID), hostVendorID(plan.HostID)
	if from != to {
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
	plan.setObserved(c, f)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *floatingIPResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
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

// floatingIPs returns the vendor's floating IP capability for a region.
func (r *floatingIPResource) floatingIPs(m *floatingIPModel) (cloud.FloatingIPs, cloud.Name, error) {
	drv, _, diags := r.data.driver(m.Cloud.ValueString(), m.VendorRegion.ValueString(), path.Root("cloud"))
	if diags.HasError() {
		return nil, "", fmt.Errorf("%s", diags[0].Detail())
	}
	f, ok := drv.(cloud.FloatingIPs)
	if !ok {
		return nil, "", fmt.Errorf("the %s driver has no floating IPs", drv.Cloud())
	}
	return f, drv.Cloud(), nil
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
	ID           types.String   `tfsdk:"id"`
	Cloud        types.String   `tfsdk:"cloud"`
	Region       types.String   `tfsdk:"region"`
	HostID       types.String   `tfsdk:"host_id"`
	IPAddress    types.String   `tfsdk:"ip_address"`
	VendorID     types.String   `tfsdk:"vendor_id"`
	VendorRegion types.String   `tfsdk:"vendor_region"`
	Timeouts     timeouts.Value `tfsdk:"timeouts"`
}

func (m *floatingIPModel) setObserved(c cloud.Name, f *cloud.FloatingIP) {
	m.ID = types.StringValue(string(c) + "/" + f.ID)
	m.VendorID = types.StringValue(f.ID)
	m.IPAddress = types.StringValue(f.Address)
	if f.Region != "" {
		m.VendorRegion = types.StringValue(f.Region)
	}
}
