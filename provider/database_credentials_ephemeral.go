package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var _ ephemeral.EphemeralResourceWithConfigure = (*databaseCredentialsEphemeral)(nil)

// NewDatabaseCredentialsEphemeral is the haddock_database_credentials
// constructor.
func NewDatabaseCredentialsEphemeral() ephemeral.EphemeralResource {
	return &databaseCredentialsEphemeral{}
}

type databaseCredentialsEphemeral struct {
	data *providerData
}

type databaseCredentialsModel struct {
	DatabaseID  types.String `tfsdk:"database_id"`
	Region      types.String `tfsdk:"vendor_region"`
	Host        types.String `tfsdk:"host"`
	PrivateHost types.String `tfsdk:"private_host"`
	Port        types.Int64  `tfsdk:"port"`
	Database    types.String `tfsdk:"database"`
	User        types.String `tfsdk:"user"`
	Password    types.String `tfsdk:"password"`
	URI         types.String `tfsdk:"uri"`
}

func (e *databaseCredentialsEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database_credentials"
}

func (e *databaseCredentialsEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A `haddock_database`'s connection details, its admin password included, read from the vendor during a run and " +
			"never stored in the plan or the state (Terraform 1.10+ ephemeral resource). Pass them to what needs them during the same run: a write-only " +
			"attribute, a provider configuration, or a `haddock_stack` swarm secret (see the database guide).",
		Attributes: map[string]schema.Attribute{
			"database_id": schema.StringAttribute{Required: true, MarkdownDescription: "The `haddock_database`'s `id`.",
				Validators: []validator.String{stringvalidator.RegexMatches(loadBalancerIDRE, "must be a haddock_database id such as digitalocean/9cc10173-e9ea-4176-9dbc-a4cee4c4ff30")}},
			"vendor_region": schema.StringAttribute{Optional: true, MarkdownDescription: "AWS: the database's vendor region (`haddock_database.<name>.vendor_region`) when it is not the provider's."},
			"host":          schema.StringAttribute{Computed: true, MarkdownDescription: "Public host."},
			"private_host":  schema.StringAttribute{Computed: true, MarkdownDescription: "Private host."},
			"port":          schema.Int64Attribute{Computed: true, MarkdownDescription: "Port."},
			"database":      schema.StringAttribute{Computed: true, MarkdownDescription: "Default database."},
			"user":          schema.StringAttribute{Computed: true, MarkdownDescription: "Admin user."},
			"password": schema.StringAttribute{Computed: true, Sensitive: true,
				MarkdownDescription: "Admin password: DigitalOcean's generated one; on AWS the one Secrets Manager manages (empty when you set `admin_password_wo`: you have it)."},
			"uri": schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "Connection string with the password and `sslmode=require`."},
		},
	}
}

func (e *databaseCredentialsEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (e *databaseCredentialsEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m databaseCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if e.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "The provider's configuration was not passed to haddock_database_credentials: this is a bug in the provider.")
		return
	}
	c, vid, _ := strings.Cut(m.DatabaseID.ValueString(), "/")
	drv, _, diags := e.data.driver(c, m.Region.ValueString(), path.Root("database_id"))
	resp.Diagnostics.Append(diags...)
	if diags.HasError() {
		return
	}
	dbs, ok := drv.(cloud.Databases)
	if !ok {
		resp.Diagnostics.AddAttributeError(path.Root("database_id"), "No databases", fmt.Sprintf("The %s driver has no managed databases.", drv.Cloud()))
		return
	}
	cr, err := dbs.Credentials(ctx, vid)
	if err != nil {
		resp.Diagnostics.AddError("Error reading database credentials", fmt.Sprintf("reading the credentials of database %s: %s", m.DatabaseID.ValueString(), err))
		return
	}
	m.Host, m.PrivateHost = types.StringValue(cr.Host), types.StringValue(cr.PrivateHost)
	m.Port = types.Int64Value(int64(cr.Port))
	m.Database, m.User = types.StringValue(cr.Database), types.StringValue(cr.User)
	m.Password, m.URI = types.StringValue(cr.Password), types.StringValue(cr.URI)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
