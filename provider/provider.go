// Package provider is Haddock's Terraform surface: schemas, plan logic and
// diagnostics. It reaches vendors only through internal/cloud.
package provider

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/failover"
)

// Address is the provider's registry address.
const Address = "registry.terraform.io/haddockhq/haddock"

// Environment variables the provider reads.
const (
	EnvDigitalOceanToken  = "DIGITALOCEAN_TOKEN"
	EnvDigitalOceanURL    = "DIGITALOCEAN_API_URL"
	EnvFailoverAgentImage = "HADDOCK_FAILOVER_AGENT_IMAGE"
	// The endpoints the failover agent calls from the managers, when they
	// differ from the provider's own (a local cloud on loopback).
	EnvAgentDigitalOceanURL = "HADDOCK_AGENT_DIGITALOCEAN_API_URL"
	EnvAgentAWSEC2URL       = "HADDOCK_AGENT_AWS_ENDPOINT_URL_EC2"
)

// DefaultFailoverAgentImageRepository is where the failover agent's image
// is taken from when failover_agent_image is not set: tagged with the
// provider's version.
const DefaultFailoverAgentImageRepository = "ghcr.io/haddockhq/haddock-agent"

var (
	_ provider.Provider                       = (*haddockProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*haddockProvider)(nil)
)

// New returns the provider factory for providerserver.Serve and tests.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &haddockProvider{version: version} }
}

type haddockProvider struct {
	version string
}

func (p *haddockProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "haddock"
	resp.Version = p.version
}

func (p *haddockProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Haddock runs Docker Swarm on rented hosts: cloud-portable hosts on DigitalOcean or AWS, " +
			"floating IPs, swarm clusters and stacks, in one `terraform apply`. Without an account, point " +
			"`digitalocean.api_endpoint` at Haddock's local cloud (`make localcloud`).",
		Attributes: map[string]schema.Attribute{
			"insecure_http": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Allow `http://` API endpoints (`digitalocean.api_endpoint`, `aws.endpoints`) on hosts other than loopback. " +
					"Requests to them carry the API token (or AWS's signed requests and session token) unencrypted over the network, " +
					"so the provider refuses them unless this is `true`. Loopback addresses (`127.0.0.1`, `::1`, `localhost`) are always allowed. Defaults to `false`.",
			},
			"failover_agent_image": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The image of the failover agent a `haddock_floating_ip` following a cluster deploys on its managers. " +
					"Defaults to the `" + EnvFailoverAgentImage + "` environment variable, then `" + DefaultFailoverAgentImageRepository + ":<provider version>`. " +
					"The managers pull it, so it must be in a registry they reach; to use your own build, push it with " +
					"`go run ./cmd/haddock-image build-push -pkg ./cmd/haddock-agent -tag <registry>/haddock-agent:<version>` from the provider's source " +
					"and set this to that reference.",
			},
		},
		Blocks: map[string]schema.Block{
			"aws": awsBlockSchema(),
			"digitalocean": schema.SingleNestedBlock{
				MarkdownDescription: "DigitalOcean access. Needed only by resources with `cloud = \"digitalocean\"`.",
				Attributes: map[string]schema.Attribute{
					"token": schema.StringAttribute{
						Optional:  true,
						Sensitive: true,
						MarkdownDescription: "API token. Defaults to the `" + EnvDigitalOceanToken + "` environment variable. " +
							"Against the public API it must look like a DigitalOcean token (64 hexadecimal characters, optionally prefixed `dop_v1_`).",
					},
					"api_endpoint": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Base URL of the API. Defaults to `" + EnvDigitalOceanURL + "`, then `" + digitalocean.DefaultAPIEndpoint + "`. " +
							"Set it to a local cloud's URL (for example `http://127.0.0.1:9080`) to work offline.",
					},
					"agent_api_endpoint": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Base URL of the API as the failover agent on the managers reaches it (see `haddock_floating_ip`'s `cluster_id`). " +
							"Defaults to `" + EnvAgentDigitalOceanURL + "`, then `api_endpoint`. Set it when the provider reaches the API at an address the managers do not: " +
							"a local cloud on `127.0.0.1` (`localcloud serve` prints the address its hosts use).",
					},
					"requests_per_second": schema.Float64Attribute{
						Optional:            true,
						MarkdownDescription: "Client-side rate limit for API requests. `0` (the default) means no limit.",
						Validators:          []validator.Float64{float64validator.AtLeast(0)},
					},
					"http_retry_max": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: "How many times a request is retried on 429, 5xx and connection errors. Defaults to `4`; `0` disables retries.",
						Validators:          []validator.Int64{int64validator.Between(0, 20)},
					},
					"http_retry_wait_min": schema.Float64Attribute{
						Optional:            true,
						MarkdownDescription: "Shortest wait between retries, in seconds. Defaults to `1`.",
						Validators:          []validator.Float64{float64validator.Between(0, 300)},
					},
					"http_retry_wait_max": schema.Float64Attribute{
						Optional:            true,
						MarkdownDescription: "Longest wait between retries, in seconds (a server's `Retry-After` is capped by it too). Defaults to `30`.",
						Validators:          []validator.Float64{float64validator.Between(0, 3600)},
					},
					"poll_interval": schema.Float64Attribute{
						Optional:            true,
						MarkdownDescription: "How often waiters poll the API, in seconds. Defaults to `2`.",
						Validators:          []validator.Float64{float64validator.Between(0.05, 60)},
					},
				},
			},
		},
	}
}

type providerModel struct {
	InsecureHTTP       types.Bool         `tfsdk:"insecure_http"`
	FailoverAgentImage types.String       `tfsdk:"failover_agent_image"`
	DigitalOcean       *digitalOceanModel `tfsdk:"digitalocean"`
	AWS                *awsModel          `tfsdk:"aws"`
}

type digitalOceanModel struct {
	Token             types.String  `tfsdk:"token"`
	APIEndpoint       types.String  `tfsdk:"api_endpoint"`
	AgentAPIEndpoint  types.String  `tfsdk:"agent_api_endpoint"`
	RequestsPerSecond types.Float64 `tfsdk:"requests_per_second"`
	HTTPRetryMax      types.Int64   `tfsdk:"http_retry_max"`
	HTTPRetryWaitMin  types.Float64 `tfsdk:"http_retry_wait_min"`
	HTTPRetryWaitMax  types.Float64 `tfsdk:"http_retry_wait_max"`
	PollInterval      types.Float64 `tfsdk:"poll_interval"`
}

func (p *haddockProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	do := cfg.DigitalOcean
	if do == nil {
		do = &digitalOceanModel{}
	}
	if do.Token.IsUnknown() || do.APIEndpoint.IsUnknown() || do.AgentAPIEndpoint.IsUnknown() || cfg.AWS.unknown() {
		// Values from resources not yet created: configure on apply.
		return
	}
	data := newProviderData(p.version)
	data.agentImage = stringOr(cfg.FailoverAgentImage, cmp.Or(os.Getenv(EnvFailoverAgentImage), DefaultFailoverAgentImageRepository+":"+p.version))

	token := stringOr(do.Token, os.Getenv(EnvDigitalOceanToken))
	endpoint := stringOr(do.APIEndpoint, os.Getenv(EnvDigitalOceanURL))
	if endpoint == "" {
		endpoint = digitalocean.DefaultAPIEndpoint
	}
	tokenPath := path.Root("digitalocean").AtName("token")
	endpointPath := path.Root("digitalocean").AtName("api_endpoint")
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		resp.Diagnostics.AddAttributeError(endpointPath, "Invalid DigitalOcean API endpoint",
			fmt.Sprintf("%q is not an http(s) URL. Set digitalocean.api_endpoint (or %s) to a URL such as %s or http://127.0.0.1:9080 for the local cloud.", endpoint, EnvDigitalOceanURL, digitalocean.DefaultAPIEndpoint))
		return
	}
	insecure := cfg.InsecureHTTP.ValueBool()
	if cleartext(u) && !insecure {
		resp.Diagnostics.AddAttributeError(endpointPath, "Unencrypted DigitalOcean API endpoint",
			fmt.Sprintf("%q (from digitalocean.api_endpoint or %s) is plain http to a host that is not loopback: the API token would cross the network in clear. %s", endpoint, EnvDigitalOceanURL, insecureHTTPFix))
		return
	}
	switch {
	case token == "":
		data.unconfigured[cloud.DigitalOcean] = "no DigitalOcean token is configured: set digitalocean.token or the " + EnvDigitalOceanToken + " environment variable"
	case isPublicDigitalOcean(u):
		if err := digitalocean.ValidateToken(token); err != nil {
			resp.Diagnostics.AddAttributeError(tokenPath, "Malformed DigitalOcean token",
				fmt.Sprintf("The DigitalOcean token (from digitalocean.token or %s) is malformed: %s. Create a personal access token at https://cloud.digitalocean.com/account/api/tokens and set it again.", EnvDigitalOceanToken, err))
			return
		}
		fallthrough
	default:
		if strings.ContainsAny(token, " \t\r\n") {
			resp.Diagnostics.AddAttributeError(tokenPath, "Malformed DigitalOcean token", "The token contains white space; copy it again without spaces or line breaks.")
			return
		}
		dcfg := digitalocean.Config{
			Token:             token,
			APIEndpoint:       endpoint,
			RequestsPerSecond: do.RequestsPerSecond.ValueFloat64(),
			RetryWaitMin:      seconds(do.HTTPRetryWaitMin),
			RetryWaitMax:      seconds(do.HTTPRetryWaitMax),
			PollInterval:      seconds(do.PollInterval),
			UserAgent:         "terraform-provider-haddock/" + p.version + " (+" + req.TerraformVersion + ")",
			HTTPRetryMax:      int(do.HTTPRetryMax.ValueInt64()),
		}
		if !do.HTTPRetryMax.IsNull() && do.HTTPRetryMax.ValueInt64() == 0 {
			dcfg.HTTPRetryMax = -1
		}
		drv, err := digitalocean.New(dcfg)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("digitalocean"), "Invalid DigitalOcean configuration", err.Error())
			return
		}
		if dcfg.PollInterval > 0 {
			data.poll = dcfg.PollInterval
		}
		data.add(drv, nil)
		agentURL, ok := agentEndpoint(do.AgentAPIEndpoint, EnvAgentDigitalOceanURL, endpoint, path.Root("digitalocean").AtName("agent_api_endpoint"), insecure, &resp.Diagnostics)
		if !ok {
			return
		}
		data.agentCredentials[cloud.DigitalOcean] = failover.Config{Cloud: cloud.DigitalOcean, Token: token, APIEndpoint: agentURL}
		tflog.Debug(ctx, "configured DigitalOcean", map[string]any{"api_endpoint": endpoint})
	}
	configureAWS(ctx, cfg.AWS, data, insecure, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, ok := data.vendors[cloud.AWS]; ok {
		c := awsAgentCredentials(ctx, cfg.AWS)
		var v types.String
		if cfg.AWS != nil {
			v = cfg.AWS.AgentEC2Endpoint
		}
		var ok bool
		if c.APIEndpoint, ok = agentEndpoint(v, EnvAgentAWSEC2URL, c.APIEndpoint, path.Root("aws").AtName("agent_ec2_endpoint"), insecure, &resp.Diagnostics); !ok {
			return
		}
		data.agentCredentials[cloud.AWS] = c
	}
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.EphemeralResourceData = data
}

// awsAgentCredentials are the AWS credentials the failover agent gets: the
// provider's keys, else those of the environment (AWS_ACCESS_KEY_ID, ...),
// else none (the SDK's chain on the hosts: an instance profile). A profile
// is not passed on: its keys are in a file on this machine.
func awsAgentCredentials(ctx context.Context, m *awsModel) failover.Config {
	c := failover.Config{Cloud: cloud.AWS}
	if m != nil {
		c.AccessKey, c.SecretKey, c.SessionToken = m.AccessKey.ValueString(), m.SecretKey.ValueString(), m.Token.ValueString()
		if !m.Endpoints.IsNull() && !m.Endpoints.IsUnknown() {
			var e awsEndpointsModel
			_ = m.Endpoints.As(ctx, &e, basetypes.ObjectAsOptions{})
			c.APIEndpoint = e.EC2.ValueString()
		}
	}
	if c.AccessKey == "" {
		c.AccessKey, c.SecretKey, c.SessionToken = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
	}
	return c
}

func isPublicDigitalOcean(u *url.URL) bool {
	h := u.Hostname()
	return h == "digitalocean.com" || strings.HasSuffix(h, ".digitalocean.com")
}

// cleartext reports whether requests to u would cross a network
// unencrypted: http:// to a host that is not loopback. Host names other
// than localhost count as remote: they are not resolved here.
func cleartext(u *url.URL) bool {
	if !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return false
	}
	ip := net.ParseIP(h)
	return ip == nil || !ip.IsLoopback()
}

// agentEndpoint is the endpoint the failover agent gets: v, else the
// environment variable env, else fallback (the provider's own). Plain http
// is allowed to loopback and to addresses of this machine (a local cloud's
// bridge: the agent's requests never leave the machine), otherwise only
// with insecure_http.
func agentEndpoint(v types.String, env, fallback string, at path.Path, insecure bool, diags *diag.Diagnostics) (string, bool) {
	raw := stringOr(v, os.Getenv(env))
	if raw == "" {
		return fallback, true
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		diags.AddAttributeError(at, "Invalid failover agent endpoint",
			fmt.Sprintf("%q (from %s or %s) is not an http(s) URL: set it to the API's base URL as the managers reach it.", raw, at, env))
		return "", false
	}
	if cleartext(u) && !onThisMachine(u.Hostname()) && !insecure {
		diags.AddAttributeError(at, "Unencrypted failover agent endpoint",
			fmt.Sprintf("%q (from %s or %s) is plain http to a host that is neither loopback nor this machine: the agent's credentials would cross the network in clear. %s", raw, at, env, insecureHTTPFix))
		return "", false
	}
	return raw, true
}

// onThisMachine says whether host is an address of one of this machine's
// interfaces.
func onThisMachine(host string) bool {
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// insecureHTTPFix says what to do about an endpoint cleartext refuses.
const insecureHTTPFix = "Use an https:// URL or a loopback address (127.0.0.1, ::1, localhost), or set insecure_http = true in the provider block to send credentials unencrypted anyway."

func stringOr(v types.String, fallback string) string {
	if v.IsNull() || v.ValueString() == "" {
		return fallback
	}
	return v.ValueString()
}

func seconds(v types.Float64) time.Duration {
	if v.IsNull() || v.IsUnknown() {
		return 0
	}
	return time.Duration(v.ValueFloat64() * float64(time.Second))
}

func (p *haddockProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewHostResource,
		NewFloatingIPResource,
		NewLoadBalancerResource,
		NewDatabaseResource,
		NewSwarmClusterResource,
		NewNodeGroupResource,
		NewStackResource,
	}
}

// EphemeralResources are read during a run and never stored.
func (p *haddockProvider) EphemeralResources(_ context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{
		NewDatabaseCredentialsEphemeral,
	}
}

func (p *haddockProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewCatalogDataSource,
	}
}
