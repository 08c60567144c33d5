package provider

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
)

func awsBlockSchema() schema.SingleNestedBlock {
	endpoint := func(svc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: "Base URL replacing the " + svc + " endpoint (for an emulator such as moto)."}
	}
	return schema.SingleNestedBlock{
		MarkdownDescription: "AWS access. Needed only by resources with `cloud = \"aws\"`. Credentials follow the AWS SDK's default chain " +
			"(environment, shared config and credentials files, SSO, instance roles) unless `access_key` and `secret_key` are set.",
		Attributes: map[string]schema.Attribute{
			"region": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Default region, for imports that name none. Defaults to `AWS_REGION`/`AWS_DEFAULT_REGION` or the profile's. Each host runs in the region its `region` attribute resolves to.",
			},
			"access_key": schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Static access key id; set together with `secret_key`."},
			"secret_key": schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Static secret access key."},
			"token":      schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Session token for temporary static credentials."},
			"profile":    schema.StringAttribute{Optional: true, MarkdownDescription: "Shared config profile. Defaults to `AWS_PROFILE`."},
			"retry_mode": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "`standard` (the default) or `adaptive` (client-side rate limiting when AWS throttles).",
				Validators:          []validator.String{stringvalidator.OneOf("standard", "adaptive")},
			},
			"max_attempts": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Attempts per API call, retries included. Defaults to the SDK's (3).",
				Validators:          []validator.Int64{int64validator.Between(1, 25)},
			},
			"agent_ec2_endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The EC2 endpoint as the failover agent on the managers reaches it (see `haddock_floating_ip`'s `cluster_id`). " +
					"Defaults to `HADDOCK_AGENT_AWS_ENDPOINT_URL_EC2`, then `endpoints.ec2`, then the SDK's regional endpoint. Set it when the provider reaches EC2 at an address the managers do not " +
					"(a local cloud on `127.0.0.1`: `localcloud serve` prints the address its hosts use).",
			},
			"endpoints": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Custom service endpoints.",
				Attributes: map[string]schema.Attribute{
					"ec2":            endpoint("EC2"),
					"elbv2":          endpoint("Elastic Load Balancing v2"),
					"rds":            endpoint("RDS"),
					"secretsmanager": endpoint("Secrets Manager (where RDS keeps a database's managed admin password)"),
					"sts":            endpoint("STS"),
				},
			},
		},
	}
}

type awsModel struct {
	Region      types.String `tfsdk:"region"`
	AccessKey   types.String `tfsdk:"access_key"`
	SecretKey   types.String `tfsdk:"secret_key"`
	Token       types.String `tfsdk:"token"`
	Profile     types.String `tfsdk:"profile"`
	RetryMode   types.String `tfsdk:"retry_mode"`
	MaxAttempts types.Int64  `tfsdk:"max_attempts"`
	Endpoints   types.Object `tfsdk:"endpoints"`
	// AgentEC2Endpoint: see agent_ec2_endpoint.
	AgentEC2Endpoint types.String `tfsdk:"agent_ec2_endpoint"`
}

type awsEndpointsModel struct {
	EC2   types.String `tfsdk:"ec2"`
	ELBv2 types.String `tfsdk:"elbv2"`
	RDS   types.String `tfsdk:"rds"`
	// SecretsManager: where RDS keeps managed admin passwords.
	SecretsManager types.String `tfsdk:"secretsmanager"`
	STS            types.String `tfsdk:"sts"`
}

func (m *awsModel) unknown() bool {
	if m == nil {
		return false
	}
	for _, v := range []attr.Value{m.Region, m.AccessKey, m.SecretKey, m.Token, m.Profile, m.Endpoints, m.AgentEC2Endpoint} {
		if v.IsUnknown() {
			return true
		}
	}
	return false
}

// configureAWS sets up the AWS driver. No API call is made: a missing
// region or credentials only make cloud = "aws" unusable, with the reason.
// An http:// endpoint that is not loopback is refused unless insecure
// (the provider's insecure_http).
func configureAWS(ctx context.Context, m *awsModel, data *providerData, insecure bool, diags *diag.Diagnostics) {
	if m == nil {
		m = &awsModel{}
	}
	at := path.Root("aws")
	if (m.AccessKey.ValueString() == "") != (m.SecretKey.ValueString() == "") {
		diags.AddAttributeError(at.AtName("secret_key"), "Incomplete AWS credentials",
			"Set both aws.access_key and aws.secret_key, or neither to use the AWS SDK's default credential chain (environment, shared files, SSO, instance role).")
		return
	}
	cfg := aws.Config{
		Region:       m.Region.ValueString(),
		AccessKey:    m.AccessKey.ValueString(),
		SecretKey:    m.SecretKey.ValueString(),
		SessionToken: m.Token.ValueString(),
		Profile:      m.Profile.ValueString(),
		RetryMode:    m.RetryMode.ValueString(),
		MaxAttempts:  int(m.MaxAttempts.ValueInt64()),
	}
	if !m.Endpoints.IsNull() {
		var e awsEndpointsModel
		diags.Append(m.Endpoints.As(ctx, &e, basetypes.ObjectAsOptions{})...)
		cfg.Endpoints = aws.Endpoints{EC2: e.EC2.ValueString(), ELBv2: e.ELBv2.ValueString(), RDS: e.RDS.ValueString(), SecretsManager: e.SecretsManager.ValueString(), STS: e.STS.ValueString()}
		for name, raw := range map[string]string{"ec2": cfg.Endpoints.EC2, "elbv2": cfg.Endpoints.ELBv2, "rds": cfg.Endpoints.RDS, "secretsmanager": cfg.Endpoints.SecretsManager, "sts": cfg.Endpoints.STS} {
			if u, err := url.Parse(raw); err == nil && raw != "" && cleartext(u) && !insecure {
				diags.AddAttributeError(at.AtName("endpoints").AtName(name), "Unencrypted AWS endpoint",
					fmt.Sprintf("%q is plain http to a host that is not loopback: signed requests and the session token would cross the network in clear. %s", raw, insecureHTTPFix))
			}
		}
		if diags.HasError() {
			return
		}
	}
	if cfg.Region == "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" && cfg.Profile == "" && os.Getenv("AWS_PROFILE") == "" {
		data.unconfigured[cloud.AWS] = "no AWS region is configured: set aws.region, AWS_REGION or a profile with a region"
		return
	}
	drv, err := aws.New(ctx, cfg)
	if err != nil {
		data.unconfigured[cloud.AWS] = fmt.Sprintf("configuring AWS failed: %s", err)
		tflog.Warn(ctx, "AWS not configured", map[string]any{"error": err.Error()})
		return
	}
	data.add(drv, func(region string) cloud.Driver { return drv.ForRegion(region) })
	tflog.Debug(ctx, "configured AWS", map[string]any{"region": drv.Region()})
}
