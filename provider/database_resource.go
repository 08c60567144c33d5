package provider

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var (
	_ resource.ResourceWithConfigure   = (*databaseResource)(nil)
	_ resource.ResourceWithImportState = (*databaseResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*databaseResource)(nil)
)

const databaseTimeout = 40 * time.Minute

// databaseSizes are the portable size classes, per vendor.
var databaseSizes = map[string]map[cloud.Name]string{
	"small":  {cloud.DigitalOcean: "db-s-1vcpu-1gb", cloud.AWS: "db.t4g.micro"},
	"medium": {cloud.DigitalOcean: "db-s-1vcpu-2gb", cloud.AWS: "db.t4g.small"},
	"large":  {cloud.DigitalOcean: "db-s-2vcpu-4gb", cloud.AWS: "db.t4g.medium"},
	"xlarge": {cloud.DigitalOcean: "db-s-4vcpu-8gb", cloud.AWS: "db.t4g.large"},
}

var (
	databaseEngines  = map[string][]string{"postgres": {"13", "14", "15", "16", "17"}, "mysql": {"8"}}
	defaultDBVersion = map[string]string{"postgres": "15", "mysql": "8"}
	// RDS's identifier rules, which DigitalOcean's names also meet.
	databaseNameRE = regexp.MustCompile(`^[a-z](?:[a-z0-9]|-[a-z0-9]){2,62}$`)
	// RDS's master password characters: printable ASCII but space / ' " @.
	dbPasswordRE = regexp.MustCompile(`^[!#-&(-.0-?A-~]{8,128}$`)
	hostTagRE    = regexp.MustCompile(`^haddock-(group|cluster):[a-z0-9:-]+$`)
)

// resolveDatabaseSize maps a portable class or a vendor size.
func resolveDatabaseSize(c cloud.Name, v string) (string, error) {
	if m, ok := databaseSizes[v]; ok {
		return m[c], nil
	}
	switch {
	case c == cloud.DigitalOcean && strings.HasPrefix(v, "db-s-"), c == cloud.AWS && strings.HasPrefix(v, "db."):
		return v, nil
	}
	classes := make([]string, 0, len(databaseSizes))
	for k := range databaseSizes {
		classes = append(classes, k)
	}
	slices.Sort(classes)
	return "", fmt.Errorf("size %q is neither a portable class (%s) nor a %s database size (%s)", v, strings.Join(classes, ", "), c,
		map[cloud.Name]string{cloud.DigitalOcean: "db-s-1vcpu-1gb, ...", cloud.AWS: "db.t4g.micro, ..."}[c])
}

// parseTrustedSource reads one trusted_sources entry: an address or CIDR,
// a group's or cluster's host_tag, or a haddock_host id.
func parseTrustedSource(v string) (cloud.TrustedSource, error) {
	if hostTagRE.MatchString(v) {
		return cloud.TrustedSource{Kind: cloud.TrustedTag, Value: v}, nil
	}
	if _, _, vid, err := parseCloudID(v); err == nil {
		return cloud.TrustedSource{Kind: cloud.TrustedHost, Value: vid}, nil
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		return cloud.TrustedSource{Kind: cloud.TrustedCIDR, Value: p.Masked().String()}, nil
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return cloud.TrustedSource{Kind: cloud.TrustedCIDR, Value: a.String()}, nil
	}
	return cloud.TrustedSource{}, fmt.Errorf("%q is not a trusted source: use an address or CIDR range (203.0.113.0/24), a node group's host_tag (haddock_node_group.<name>.host_tag), or a haddock_host id (digitalocean/3164444)", v)
}

// NewDatabaseResource is the haddock_database constructor.
func NewDatabaseResource() resource.Resource { return &databaseResource{} }

type databaseResource struct {
	data *providerData
}

type databaseModel struct {
	ID                     types.String   `tfsdk:"id"`
	Cloud                  types.String   `tfsdk:"cloud"`
	Name                   types.String   `tfsdk:"name"`
	Region                 types.String   `tfsdk:"region"`
	Engine                 types.String   `tfsdk:"engine"`
	Version                types.String   `tfsdk:"version"`
	Size                   types.String   `tfsdk:"size"`
	NodeCount              types.Int64    `tfsdk:"node_count"`
	StorageGiB             types.Int64    `tfsdk:"storage_gib"`
	TrustedSources         types.Set      `tfsdk:"trusted_sources"`
	AdminPasswordWO        types.String   `tfsdk:"admin_password_wo"`
	AdminPasswordWOVersion types.Int64    `tfsdk:"admin_password_wo_version"`
	FinalSnapshot          types.Bool     `tfsdk:"final_snapshot"`
	Host                   types.String   `tfsdk:"host"`
	PrivateHost            types.String   `tfsdk:"private_host"`
	Port                   types.Int64    `tfsdk:"port"`
	Database               types.String   `tfsdk:"database"`
	User                   types.String   `tfsdk:"user"`
	CACertificate          types.String   `tfsdk:"ca_certificate"`
	Status                 types.String   `tfsdk:"status"`
	VendorID               types.String   `tfsdk:"vendor_id"`
	VendorRegion           types.String   `tfsdk:"vendor_region"`
	VendorSize             types.String   `tfsdk:"vendor_size"`
	Timeouts               timeouts.Value `tfsdk:"timeouts"`
}

func (r *databaseResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database"
}

func (r *databaseResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A managed database: a DigitalOcean database cluster or an AWS RDS instance (PostgreSQL or MySQL). " +
			"The admin password never lands in Terraform's state: set it write-only (`admin_password_wo`, AWS) or let the vendor make it, " +
			"and hand it to what needs it with the `haddock_database_credentials` ephemeral resource. On the local cloud each database is a real " +
			"PostgreSQL 15 with TLS on, its firewall enforced.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				MarkdownDescription: "`<cloud>/<vendor id>`: `digitalocean/<uuid>`, `aws/<DB instance identifier>`. Import takes the same form (`aws/<region>/<identifier>` for another region than the provider's)."},
			"cloud": cloudAttribute(),
			"name": schema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "Name: 3 to 63 lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen (RDS's identifier rules). Changing it replaces the database.",
				Validators:          []validator.String{stringvalidator.RegexMatches(databaseNameRE, "must be 3 to 63 lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen")}},
			"region": schema.StringAttribute{Required: true,
				MarkdownDescription: "Portable or vendor region. Changing the vendor region it resolves to replaces the database."},
			"engine": schema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "`postgres` or `mysql` (the local cloud runs `postgres`). Changing it replaces the database.",
				Validators:          []validator.String{stringvalidator.OneOf("postgres", "mysql")}},
			"version": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
				MarkdownDescription: "Major version: postgres 13 to 17 (default 15), mysql 8. **Changing it replaces the database** (and its data): " +
					"the plan says so; upgrade in place with the vendor's own tools, then set the new version and import."},
			"size": schema.StringAttribute{Required: true,
				MarkdownDescription: "`small`, `medium`, `large` or `xlarge` (DigitalOcean `db-s-1vcpu-1gb` … `db-s-4vcpu-8gb`; AWS `db.t4g.micro` … `db.t4g.large`), or a vendor size. Changes in place (a resize)."},
			"node_count": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				MarkdownDescription: "Nodes: on DigitalOcean the primary and its standbys (1 to 3); on AWS more than one is a Multi-AZ instance (one standby), so 1 or 2. Changes in place.",
				Validators:          []validator.Int64{int64validator.Between(1, 3)}},
			"storage_gib": schema.Int64Attribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
				MarkdownDescription: "Storage in GiB: DigitalOcean storage beyond the size's own (0 = none), AWS allocated storage (default 20). Grows in place; it cannot shrink.",
				Validators:          []validator.Int64{int64validator.Between(0, 65536)}},
			"trusted_sources": schema.SetAttribute{ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Who may connect, nobody else: addresses or CIDR ranges, node groups' `host_tag` (their hosts as they come and go; on AWS the hosts at apply time), " +
					"`haddock_host` ids. Unset: DigitalOcean lets anyone with the password connect; AWS nobody. Changes in place.",
				Validators: []validator.Set{trustedSourcesValidator{}}},
			"admin_password_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "AWS: the admin password, write-only (Terraform 1.11+): never in the plan or the state. Unset, AWS manages it in Secrets Manager. " +
					"DigitalOcean generates its passwords and takes none. Change `admin_password_wo_version` to apply a new one.",
				Validators: []validator.String{stringvalidator.RegexMatches(dbPasswordRE, "must be 8 to 128 printable ASCII characters other than space, /, ', \" and @ (RDS's rule; MySQL allows 41 at most)")}},
			"admin_password_wo_version": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "Bump it to apply `admin_password_wo` again (AWS), or to have DigitalOcean generate a new admin password."},
			"final_snapshot": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "AWS: take a final snapshot (`<name>-final-<time>`) when the database is destroyed (default true). DigitalOcean takes none."},
			"host":         schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "Public host name (an address on the local cloud)."},
			"private_host": schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "Host name on the vendor's private network."},
			"port":         schema.Int64Attribute{Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}, MarkdownDescription: "Port."},
			"database":     schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The default database (`defaultdb`)."},
			"user":         schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The admin user."},
			"ca_certificate": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				MarkdownDescription: "PEM of the CA the server's certificate chains to, for `sslmode=verify-full` (DigitalOcean; empty on AWS, whose CA bundles are per region)."},
			"status":        schema.StringAttribute{Computed: true, MarkdownDescription: "`creating`, `online`, `resizing`, `migrating`, `deleting` or `error`."},
			"vendor_id":     schema.StringAttribute{Computed: true, PlanModifiers: keep, MarkdownDescription: "The vendor's id."},
			"vendor_region": schema.StringAttribute{Computed: true, MarkdownDescription: "The vendor region `region` resolves to."},
			"vendor_size":   schema.StringAttribute{Computed: true, MarkdownDescription: "The vendor size `size` resolves to."},
			"timeouts":      timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

// trustedSourcesValidator checks each entry's form, with its path.
type trustedSourcesValidator struct{}

func (trustedSourcesValidator) Description(context.Context) string {
	return "addresses, CIDR ranges, host tags or host ids"
}
func (v trustedSourcesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (trustedSourcesValidator) ValidateSet(ctx context.Context, req validator.SetRequest, resp *validator.SetResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var vals []types.String
	resp.Diagnostics.Append(req.ConfigValue.ElementsAs(ctx, &vals, false)...)
	for _, v := range vals {
		if v.IsNull() || v.IsUnknown() {
			continue
		}
		if _, err := parseTrustedSource(v.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(req.Path, "Invalid trusted source", err.Error())
		}
	}
}

func (r *databaseResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan resolves region and size, fills the version, and refuses
// what the vendor cannot do, each at its attribute.
func (r *databaseResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan, cfg databaseModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() || plan.Cloud.IsUnknown() || plan.Region.IsUnknown() || plan.Engine.IsUnknown() {
		return
	}
	var state *databaseModel
	if !req.State.Raw.IsNull() {
		state = &databaseModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	c := cloud.Name(plan.Cloud.ValueString())
	engine := plan.Engine.ValueString()
	if plan.Version.IsUnknown() && state == nil {
		plan.Version = types.StringValue(defaultDBVersion[engine])
	}
	if plan.StorageGiB.IsUnknown() && state == nil {
		// DigitalOcean: no storage beyond the size's; AWS: RDS's smallest.
		plan.StorageGiB = types.Int64Value(map[cloud.Name]int64{cloud.AWS: 20}[c])
	}
	if !plan.Version.IsUnknown() && !slices.Contains(databaseEngines[engine], plan.Version.ValueString()) {
		resp.Diagnostics.AddAttributeError(path.Root("version"), "Unknown version",
			fmt.Sprintf("%s %s is not offered: use one of %s.", engine, plan.Version.ValueString(), strings.Join(databaseEngines[engine], ", ")))
	}
	if state != nil && !plan.Version.IsUnknown() && !plan.Version.Equal(state.Version) && !state.Version.IsNull() {
		resp.Diagnostics.AddAttributeWarning(path.Root("version"), "Changing the version replaces the database",
			fmt.Sprintf("%s %s → %s creates a new database and destroys this one with its data (AWS: a final snapshot is taken unless final_snapshot = false). "+
				"To keep the data, upgrade in place with the vendor's tools, then set version to match.", engine, state.Version.ValueString(), plan.Version.ValueString()))
	}
	if c == cloud.DigitalOcean && !cfg.AdminPasswordWO.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("admin_password_wo"), "DigitalOcean generates database passwords",
			"DigitalOcean cannot be given an admin password: remove admin_password_wo; read the generated one with the haddock_database_credentials ephemeral resource, and bump admin_password_wo_version to have a new one generated.")
	}
	if c == cloud.AWS && engine == "mysql" && len(cfg.AdminPasswordWO.ValueString()) > 41 {
		resp.Diagnostics.AddAttributeError(path.Root("admin_password_wo"), "Password too long for MySQL", "RDS takes MySQL admin passwords of 41 characters at most.")
	}
	if c == cloud.AWS && !plan.StorageGiB.IsUnknown() && !plan.StorageGiB.IsNull() && plan.StorageGiB.ValueInt64() < 20 {
		resp.Diagnostics.AddAttributeError(path.Root("storage_gib"), "Too little storage for RDS", "RDS allocates 20 to 65536 GiB: set storage_gib to 20 or more (or leave it out for 20).")
	}
	if c == cloud.AWS && !plan.NodeCount.IsUnknown() && plan.NodeCount.ValueInt64() > 2 {
		resp.Diagnostics.AddAttributeError(path.Root("node_count"), "AWS Multi-AZ has one standby", "On AWS node_count is 1, or 2 for a Multi-AZ instance (one standby).")
	}
	if c == cloud.DigitalOcean && plan.Size.ValueString() == "small" && plan.NodeCount.ValueInt64() > 1 {
		resp.Diagnostics.AddAttributeError(path.Root("node_count"), "Standby nodes need a larger size", "DigitalOcean's db-s-1vcpu-1gb (small) has one node: use medium or larger for standbys.")
	}
	if state != nil && !plan.StorageGiB.IsUnknown() && !state.StorageGiB.IsNull() && plan.StorageGiB.ValueInt64() < state.StorageGiB.ValueInt64() {
		resp.Diagnostics.AddAttributeError(path.Root("storage_gib"), "Storage cannot shrink",
			fmt.Sprintf("storage_gib %d is less than the database's %d GiB: storage only grows.", plan.StorageGiB.ValueInt64(), state.StorageGiB.ValueInt64()))
	}
	if !plan.Size.IsUnknown() {
		size, err := resolveDatabaseSize(c, plan.Size.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("size"), "Invalid size", err.Error())
		} else {
			plan.VendorSize = types.StringValue(size)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	cat, region, ok := r.data.planRegion(ctx, string(c), plan.Region.ValueString(), &resp.Diagnostics)
	if !ok {
		return
	}
	if _, ok := cat.(cloud.Databases); !ok {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "No databases", fmt.Sprintf("The %s driver has no managed databases.", cat.Cloud()))
		return
	}
	if state != nil && region != state.VendorRegion.ValueString() {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("region"))
	}
	plan.VendorRegion = types.StringValue(region)
	r.checkTrustedHosts(ctx, c, region, plan.TrustedSources, &resp.Diagnostics)
	if state != nil && (!plan.Size.Equal(state.Size) || !plan.NodeCount.Equal(state.NodeCount) || !plan.StorageGiB.Equal(state.StorageGiB)) {
		plan.Status = types.StringUnknown()
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// checkTrustedHosts refuses, at plan time, trusted_sources host ids that
// are not hosts of the database's vendor and region (a typo, or a host
// deleted since). Tags name groups whose hosts may not exist yet: not
// checked.
func (r *databaseResource) checkTrustedHosts(ctx context.Context, c cloud.Name, region string, set types.Set, diags *diag.Diagnostics) {
	if set.IsNull() || set.IsUnknown() {
		return
	}
	var vals []types.String
	diags.Append(set.ElementsAs(ctx, &vals, false)...)
	for _, v := range vals {
		if v.IsUnknown() || v.IsNull() {
			continue
		}
		hc, _, vid, err := parseCloudID(v.ValueString())
		if err != nil || hostTagRE.MatchString(v.ValueString()) {
			continue // not a host id
		}
		if hc != string(c) {
			diags.AddAttributeError(path.Root("trusted_sources"), "Host on another cloud",
				fmt.Sprintf("%s is a %s host, but the database is on %s: its firewall can only name hosts of its own vendor (use the host's address instead).", v.ValueString(), hc, c))
			continue
		}
		drv, _, ds := r.data.driver(string(c), region, path.Root("trusted_sources"))
		if ds.HasError() {
			return
		}
		if _, err := drv.GetHost(ctx, vid); cloud.IsNotFound(err) {
			diags.AddAttributeError(path.Root("trusted_sources"), "Unknown host",
				fmt.Sprintf("Host %s does not exist on %s: check the id, or refer to the haddock_host's id attribute.", v.ValueString(), c))
		}
	}
}

func (r *databaseResource) dbs(m *databaseModel) (cloud.Databases, cloud.Name, error) {
	return capability[cloud.Databases](r.data, m.Cloud.ValueString(), m.VendorRegion.ValueString(), "managed databases")
}

// trusted are the model's trusted sources as the driver takes them.
func (m *databaseModel) trusted(ctx context.Context, diags *diag.Diagnostics) []cloud.TrustedSource {
	if m.TrustedSources.IsNull() || m.TrustedSources.IsUnknown() {
		return nil
	}
	var vals []string
	diags.Append(m.TrustedSources.ElementsAs(ctx, &vals, false)...)
	slices.Sort(vals)
	out := make([]cloud.TrustedSource, 0, len(vals))
	for _, v := range vals {
		if ts, err := parseTrustedSource(v); err == nil {
			out = append(out, ts)
		}
	}
	return out
}

// readTrusted records the vendor's firewall as trusted_sources when it
// differs from what the state says (drift), in the configuration's forms.
func (m *databaseModel) readTrusted(ctx context.Context, c cloud.Name, got []cloud.TrustedSource, diags *diag.Diagnostics) {
	norm := func(ts []cloud.TrustedSource) []string {
		out := make([]string, 0, len(ts))
		for _, t := range ts {
			out = append(out, t.Kind+"="+t.Value)
		}
		slices.Sort(out)
		return out
	}
	if slices.Equal(norm(m.trusted(ctx, diags)), norm(got)) {
		return
	}
	vals := make([]string, 0, len(got))
	for _, t := range got {
		switch t.Kind {
		case cloud.TrustedHost:
			vals = append(vals, string(c)+"/"+t.Value)
		default:
			vals = append(vals, t.Value)
		}
	}
	if len(vals) == 0 {
		m.TrustedSources = types.SetNull(types.StringType)
		return
	}
	var d diag.Diagnostics
	m.TrustedSources, d = types.SetValueFrom(ctx, types.StringType, vals)
	diags.Append(d...)
}

// setObserved records what the vendor reports; never a password.
func (m *databaseModel) setObserved(c cloud.Name, db *cloud.Database) {
	m.ID = types.StringValue(string(c) + "/" + db.ID)
	m.VendorID = types.StringValue(db.ID)
	m.Host, m.PrivateHost = types.StringValue(db.Host), types.StringValue(db.PrivateHost)
	m.Port = types.Int64Value(int64(db.Port))
	m.Database, m.User = types.StringValue(db.Database), types.StringValue(db.User)
	m.CACertificate = types.StringValue(db.CACertificate)
	m.Status = types.StringValue(string(db.Status))
	if db.Spec.Version != "" {
		m.Version = types.StringValue(db.Spec.Version)
	}
	if m.StorageGiB.IsUnknown() || m.StorageGiB.IsNull() {
		m.StorageGiB = types.Int64Value(int64(db.Spec.StorageGiB))
	}
	if m.VendorRegion.IsUnknown() || m.VendorRegion.IsNull() || m.VendorRegion.ValueString() == "" {
		m.VendorRegion = types.StringValue(db.Spec.Region)
	}
}

func (r *databaseResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan databaseModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var password types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("admin_password_wo"), &password)...) // write-only: in the config only
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, databaseTimeout, &resp.Diagnostics)
	defer cancel()
	dbs, c, err := r.dbs(&plan)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error creating database", err.Error())
		return
	}
	spec := cloud.DatabaseSpec{
		Name: plan.Name.ValueString(), Region: plan.VendorRegion.ValueString(), Engine: plan.Engine.ValueString(), Version: plan.Version.ValueString(),
		Size: plan.VendorSize.ValueString(), NodeCount: int(plan.NodeCount.ValueInt64()), StorageGiB: int(plan.StorageGiB.ValueInt64()),
		TrustedSources: plan.trusted(ctx, &resp.Diagnostics), AdminPassword: password.ValueString(), Tags: []string{cloud.ManagedTag},
	}
	tflog.Info(ctx, "creating database (this takes minutes on a vendor)", map[string]any{"cloud": c, "name": spec.Name, "engine": spec.Engine, "size": spec.Size})
	db, err := dbs.CreateDatabase(ctx, spec)
	if db != nil {
		plan.setObserved(c, db)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		resp.Diagnostics.AddError("Error creating database", fmt.Sprintf("creating database %s on %s: %s", spec.Name, c, err))
	}
}

func (r *databaseResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state databaseModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	dbs, c, err := r.dbs(&state)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error reading database", err.Error())
		return
	}
	db, ok := readOrForget(ctx, "database", state.ID.ValueString(), func() (*cloud.Database, error) { return dbs.GetDatabase(ctx, state.VendorID.ValueString()) }, &resp.State, &resp.Diagnostics)
	if !ok {
		return
	}
	// Drift: what the vendor reports replaces the state's record.
	if state.Name.IsNull() { // import
		state.Name, state.Region, state.Engine = types.StringValue(db.Spec.Name), types.StringValue(db.Spec.Region), types.StringValue(db.Spec.Engine)
		state.Size = types.StringValue(db.Spec.Size)
	}
	if db.Spec.Size != "" && db.Spec.Size != state.VendorSize.ValueString() {
		state.Size, state.VendorSize = types.StringValue(db.Spec.Size), types.StringValue(db.Spec.Size)
	}
	if db.Spec.NodeCount > 0 {
		state.NodeCount = types.Int64Value(int64(db.Spec.NodeCount))
	}
	state.StorageGiB = types.Int64Value(int64(db.Spec.StorageGiB))
	state.readTrusted(ctx, c, db.Spec.TrustedSources, &resp.Diagnostics)
	state.setObserved(c, db)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *databaseResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state databaseModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	var password types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("admin_password_wo"), &password)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, databaseTimeout, &resp.Diagnostics)
	defer cancel()
	dbs, c, err := r.dbs(&plan)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error updating database", err.Error())
		return
	}
	id := state.VendorID.ValueString()
	fail := func(step string, err error) {
		resp.Diagnostics.AddError("Error updating database", fmt.Sprintf("%s of database %s: %s", step, state.ID.ValueString(), err))
	}
	if !plan.VendorSize.Equal(state.VendorSize) || !plan.NodeCount.Equal(state.NodeCount) || (!plan.StorageGiB.IsUnknown() && !plan.StorageGiB.Equal(state.StorageGiB)) {
		tflog.Info(ctx, "resizing database", map[string]any{"id": id, "size": plan.VendorSize.ValueString(), "nodes": plan.NodeCount.ValueInt64(), "storage_gib": plan.StorageGiB.ValueInt64()})
		if _, err := dbs.ResizeDatabase(ctx, id, plan.VendorSize.ValueString(), int(plan.NodeCount.ValueInt64()), int(plan.StorageGiB.ValueInt64())); err != nil {
			fail("resizing", err)
			return
		}
	}
	if !plan.TrustedSources.Equal(state.TrustedSources) {
		if err := dbs.SetTrustedSources(ctx, id, plan.trusted(ctx, &resp.Diagnostics)); err != nil {
			fail("changing the trusted sources", err)
			return
		}
	}
	if !plan.AdminPasswordWOVersion.Equal(state.AdminPasswordWOVersion) {
		var err error
		if rot, ok := dbs.(cloud.AdminPasswordRotator); ok && password.IsNull() {
			err = rot.RotateAdminPassword(ctx, id)
		} else if !password.IsNull() {
			err = dbs.SetAdminPassword(ctx, id, password.ValueString())
		}
		if err != nil {
			fail("changing the admin password", err)
			return
		}
	}
	db, err := dbs.GetDatabase(ctx, id)
	if err != nil {
		fail("reading back", err)
		return
	}
	plan.setObserved(c, db)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *databaseResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state databaseModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, databaseTimeout, &resp.Diagnostics)
	defer cancel()
	dbs, _, err := r.dbs(&state)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error deleting database", err.Error())
		return
	}
	snapshot := ""
	if state.FinalSnapshot.ValueBool() {
		snapshot = fmt.Sprintf("%s-final-%s", state.Name.ValueString(), time.Now().UTC().Format("20060102-150405"))
	}
	tflog.Info(ctx, "deleting database", map[string]any{"id": state.ID.ValueString(), "final_snapshot": snapshot})
	if err := dbs.DeleteDatabase(ctx, state.VendorID.ValueString(), snapshot); err != nil {
		resp.Diagnostics.AddError("Error deleting database", fmt.Sprintf("deleting database %s: %s", state.ID.ValueString(), err))
	}
}

func (r *databaseResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	c, region, vid, err := parseCloudID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q is not a database id: use digitalocean/<uuid> or aws/<DB instance identifier> (aws/<region>/<identifier> for another region than the provider's)", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), c+"/"+vid)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cloud"), c)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_id"), vid)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_region"), region)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("final_snapshot"), true)...)
}
