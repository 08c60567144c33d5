package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
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
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var (
	_ resource.ResourceWithConfigure   = (*loadBalancerResource)(nil)
	_ resource.ResourceWithImportState = (*loadBalancerResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*loadBalancerResource)(nil)
)

const loadBalancerTimeout = 10 * time.Minute

// loadBalancerIDRE matches a haddock_load_balancer id: the vendor id (a
// uuid on DigitalOcean, an ARN on AWS) behind its cloud.
var loadBalancerIDRE = regexp.MustCompile(`^(digitalocean|aws)/\S+$`)

// NewLoadBalancerResource is the haddock_load_balancer constructor.
func NewLoadBalancerResource() resource.Resource { return &loadBalancerResource{} }

type loadBalancerResource struct {
	data *providerData
}

type loadBalancerModel struct {
	ID                  types.String   `tfsdk:"id"`
	Cloud               types.String   `tfsdk:"cloud"`
	Name                types.String   `tfsdk:"name"`
	Region              types.String   `tfsdk:"region"`
	Type                types.String   `tfsdk:"type"`
	ForwardingRules     []fwdRuleModel `tfsdk:"forwarding_rules"`
	HealthCheck         types.Object   `tfsdk:"health_check"`
	StickySessions      *stickyModel   `tfsdk:"sticky_sessions"`
	RedirectHTTPToHTTPS types.Bool     `tfsdk:"redirect_http_to_https"`
	DeregistrationDelay types.Int64    `tfsdk:"deregistration_delay_seconds"`
	Address             types.String   `tfsdk:"address"`
	Status              types.String   `tfsdk:"status"`
	VendorID            types.String   `tfsdk:"vendor_id"`
	VendorRegion        types.String   `tfsdk:"vendor_region"`
	Targets             types.List     `tfsdk:"targets"`
	Timeouts            timeouts.Value `tfsdk:"timeouts"`
}

type fwdRuleModel struct {
	EntryProtocol  types.String `tfsdk:"entry_protocol"`
	EntryPort      types.Int64  `tfsdk:"entry_port"`
	TargetProtocol types.String `tfsdk:"target_protocol"`
	TargetPort     types.Int64  `tfsdk:"target_port"`
	CertificateID  types.String `tfsdk:"certificate_id"`
	TLSPassthrough types.Bool   `tfsdk:"tls_passthrough"`
}

type healthCheckModel struct {
	Protocol           types.String `tfsdk:"protocol"`
	Port               types.Int64  `tfsdk:"port"`
	Path               types.String `tfsdk:"path"`
	Interval           types.Int64  `tfsdk:"check_interval_seconds"`
	Timeout            types.Int64  `tfsdk:"response_timeout_seconds"`
	HealthyThreshold   types.Int64  `tfsdk:"healthy_threshold"`
	UnhealthyThreshold types.Int64  `tfsdk:"unhealthy_threshold"`
}

type stickyModel struct {
	CookieName       types.String `tfsdk:"cookie_name"`
	CookieTTLSeconds types.Int64  `tfsdk:"cookie_ttl_seconds"`
}

var healthCheckAttrTypes = map[string]attr.Type{
	"protocol": types.StringType, "port": types.Int64Type, "path": types.StringType,
	"check_interval_seconds": types.Int64Type, "response_timeout_seconds": types.Int64Type,
	"healthy_threshold": types.Int64Type, "unhealthy_threshold": types.Int64Type,
}

// The health check's defaults are DigitalOcean's API's. The official
// DigitalOcean provider's differ (healthy_threshold 5, unhealthy_threshold
// 3): a configuration moved from it should set both.
const (
	defaultHCProtocol  = "http"
	defaultHCPort      = 80
	defaultHCPath      = "/"
	defaultHCInterval  = 10
	defaultHCTimeout   = 5
	defaultHCHealthy   = 3
	defaultHCUnhealthy = 5
)

func defaultHealthCheck() types.Object {
	return types.ObjectValueMust(healthCheckAttrTypes, map[string]attr.Value{
		"protocol": types.StringValue(defaultHCProtocol), "port": types.Int64Value(defaultHCPort), "path": types.StringValue(defaultHCPath),
		"check_interval_seconds": types.Int64Value(defaultHCInterval), "response_timeout_seconds": types.Int64Value(defaultHCTimeout),
		"healthy_threshold": types.Int64Value(defaultHCHealthy), "unhealthy_threshold": types.Int64Value(defaultHCUnhealthy),
	})
}

func (r *loadBalancerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_load_balancer"
}

func (r *loadBalancerResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	protocols := []string{"http", "https", "http2", "tcp", "udp"}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A load balancer: a DigitalOcean load balancer (`http`: REGIONAL, `network`: REGIONAL_NETWORK) or an AWS Application / Network Load Balancer " +
			"with its target group and listeners. Its targets are not set here: `haddock_node_group` and `haddock_swarm_cluster` managers list it in " +
			"`load_balancer_ids`, and register their hosts once their nodes are ready and deregister them, the deregistration waited for, before they are drained " +
			"or deleted — so scaling in, rolling replacement and migration drop no request. On the local cloud each load balancer is a real HAProxy.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<cloud>/<vendor id>`: `digitalocean/<uuid>`, `aws/<load balancer ARN>`. Import takes the same form.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"cloud": cloudAttribute(),
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "Name; letters, digits and hyphens, at most 32 characters (AWS's limit). Changing it replaces the load balancer.",
				Validators:    []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,31}$`), "must be 1 to 32 letters, digits and hyphens, starting with a letter or digit")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"region": schema.StringAttribute{
				Required: true, MarkdownDescription: "Portable or vendor region; its targets must be there. Changing the vendor region it resolves to replaces the load balancer.",
			},
			"type": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(string(cloud.LoadBalancerHTTP)),
				MarkdownDescription: "`http` (layer 7; default) or `network` (layer 4, `tcp` rules only). Changing it replaces the load balancer.",
				Validators:          []validator.String{stringvalidator.OneOf(string(cloud.LoadBalancerHTTP), string(cloud.LoadBalancerNetwork))},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"forwarding_rules": schema.ListNestedAttribute{
				Required: true, MarkdownDescription: "What the load balancer forwards, one entry port each. Updated in place.",
				Validators: []validator.List{listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"entry_protocol": schema.StringAttribute{Required: true, MarkdownDescription: "One of " + backtickList(protocols) + ".", Validators: []validator.String{stringvalidator.OneOf(protocols...)}},
					"entry_port":     schema.Int64Attribute{Required: true, MarkdownDescription: "Port clients connect to.", Validators: []validator.Int64{int64validator.Between(1, 65535)}},
					"target_protocol": schema.StringAttribute{Required: true, MarkdownDescription: "One of " + backtickList(protocols) + ".",
						Validators: []validator.String{stringvalidator.OneOf(protocols...)}},
					"target_port":    schema.Int64Attribute{Required: true, MarkdownDescription: "Port on the hosts (publish it in host mode: `mode: host` in the stack).", Validators: []validator.Int64{int64validator.Between(1, 65535)}},
					"certificate_id": schema.StringAttribute{Optional: true, MarkdownDescription: "Certificate terminating TLS: a DigitalOcean certificate id, an ACM ARN. The local cloud has none: use `tls_passthrough` there."},
					"tls_passthrough": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
						MarkdownDescription: "Pass TLS through to the hosts (`https` on both sides)."},
				}},
			},
			"health_check": schema.SingleNestedAttribute{
				Optional: true, Computed: true, Default: objectdefault.StaticValue(defaultHealthCheck()),
				MarkdownDescription: "How a host is judged to serve. Defaults are DigitalOcean's API's: `http` on port 80, path `/`, every 10 s, 5 s timeout, " +
					"3 successes to become healthy, 5 failures to be taken out. **The official DigitalOcean provider's defaults differ** (healthy 5, unhealthy 3): " +
					"set both when moving a configuration from it. On DigitalOcean, which reports no target state, a deregistration is waited for as " +
					"`check_interval_seconds` × `unhealthy_threshold`.",
				Attributes: map[string]schema.Attribute{
					"protocol": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultHCProtocol), MarkdownDescription: "`http`, `https` or `tcp`.",
						Validators: []validator.String{stringvalidator.OneOf("http", "https", "tcp")}},
					"port": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultHCPort), MarkdownDescription: "Port checked on the hosts.",
						Validators: []validator.Int64{int64validator.Between(1, 65535)}},
					"path": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultHCPath), MarkdownDescription: "Path of an `http(s)` check."},
					"check_interval_seconds": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultHCInterval),
						MarkdownDescription: "Seconds between checks, 3 to 300.", Validators: []validator.Int64{int64validator.Between(3, 300)}},
					"response_timeout_seconds": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultHCTimeout),
						MarkdownDescription: "Seconds a check may take, 3 to 300.", Validators: []validator.Int64{int64validator.Between(3, 300)}},
					"healthy_threshold": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultHCHealthy),
						MarkdownDescription: "Consecutive successes that make a host healthy, 2 to 10.", Validators: []validator.Int64{int64validator.Between(2, 10)}},
					"unhealthy_threshold": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(defaultHCUnhealthy),
						MarkdownDescription: "Consecutive failures that take a host out, 2 to 10.", Validators: []validator.Int64{int64validator.Between(2, 10)}},
				},
			},
			"sticky_sessions": schema.SingleNestedAttribute{
				Optional: true, MarkdownDescription: "Pin a client to a host with a cookie the load balancer sets (`http` only). Leave it out for none.",
				Attributes: map[string]schema.Attribute{
					"cookie_name":        schema.StringAttribute{Required: true, MarkdownDescription: "The cookie's name (DigitalOcean; AWS names its own)."},
					"cookie_ttl_seconds": schema.Int64Attribute{Required: true, MarkdownDescription: "How long the cookie pins the client.", Validators: []validator.Int64{int64validator.Between(1, 604800)}},
				},
			},
			"redirect_http_to_https": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Answer `http` on port 80 with a redirect to `https`.",
			},
			"deregistration_delay_seconds": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(300),
				MarkdownDescription: "AWS: how long a deregistered host's connections may finish (the target group's `deregistration_delay`, default 300). DigitalOcean has none.",
				Validators:          []validator.Int64{int64validator.Between(0, 3600)},
			},
			"address": schema.StringAttribute{Computed: true, MarkdownDescription: "What clients reach: an IP address (DigitalOcean) or a DNS name (AWS).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"status":        schema.StringAttribute{Computed: true, MarkdownDescription: "`new`, `active` or `errored`."},
			"vendor_id":     schema.StringAttribute{Computed: true, MarkdownDescription: "The vendor's id.", PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"vendor_region": schema.StringAttribute{Computed: true, MarkdownDescription: "The vendor's region, resolved from `region` at plan time."},
			"targets": schema.ListAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Vendor ids of the hosts registered now, sorted (set by the groups that list this load balancer: not drift)."},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *loadBalancerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan resolves the region and checks the rules against the type.
func (r *loadBalancerResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan loadBalancerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *loadBalancerModel
	if !req.State.Raw.IsNull() {
		state = &loadBalancerModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	for i, fr := range plan.ForwardingRules {
		at := path.Root("forwarding_rules").AtListIndex(i)
		ep, tp := fr.EntryProtocol.ValueString(), fr.TargetProtocol.ValueString()
		switch {
		case plan.Type.ValueString() == string(cloud.LoadBalancerNetwork) && (ep == "http" || ep == "https" || ep == "http2"):
			resp.Diagnostics.AddAttributeError(at.AtName("entry_protocol"), "Protocol not offered by a network load balancer", "A network load balancer forwards tcp (or udp): use type = \"http\" for "+ep+".")
		case fr.TLSPassthrough.ValueBool() && (ep != "https" || tp != "https"):
			resp.Diagnostics.AddAttributeError(at.AtName("tls_passthrough"), "TLS passthrough needs https", "tls_passthrough passes TLS through: set entry_protocol and target_protocol to https.")
		case (ep == "https" || ep == "http2") && !fr.TLSPassthrough.ValueBool() && fr.CertificateID.ValueString() == "" && !fr.CertificateID.IsUnknown():
			resp.Diagnostics.AddAttributeError(at.AtName("certificate_id"), "Missing certificate", "An "+ep+" entry terminates TLS: set certificate_id, or tls_passthrough = true to pass TLS to the hosts.")
		}
	}
	if plan.Cloud.ValueString() == string(cloud.AWS) {
		awsRuleChecks(ctx, plan, &resp.Diagnostics)
	}
	if plan.StickySessions != nil && plan.Type.ValueString() == string(cloud.LoadBalancerNetwork) {
		resp.Diagnostics.AddAttributeError(path.Root("sticky_sessions"), "Sticky sessions need an http load balancer", "Cookies are set by a layer-7 load balancer: remove sticky_sessions or use type = \"http\".")
	}
	if resp.Diagnostics.HasError() || plan.Cloud.IsUnknown() || plan.Region.IsUnknown() {
		return
	}
	cat, region, ok := r.data.planRegion(ctx, plan.Cloud.ValueString(), plan.Region.ValueString(), &resp.Diagnostics)
	if !ok {
		return
	}
	if _, ok := cat.(cloud.LoadBalancers); !ok {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "No load balancers", fmt.Sprintf("The %s driver has no load balancers.", cat.Cloud()))
		return
	}
	if state != nil && region != state.VendorRegion.ValueString() {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("region"))
		plan.ID, plan.Address, plan.VendorID = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
	}
	plan.VendorRegion = types.StringValue(region)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// awsRuleChecks refuses what the AWS driver cannot build: one target
// group serves every rule, and an Application Load Balancer neither
// passes TLS through nor speaks http2 to its listeners' clients as a rule.
func awsRuleChecks(ctx context.Context, plan loadBalancerModel, diags *diag.Diagnostics) {
	var hc healthCheckModel
	if !plan.HealthCheck.IsUnknown() && !plan.HealthCheck.IsNull() {
		diags.Append(plan.HealthCheck.As(ctx, &hc, basetypes.ObjectAsOptions{})...)
		if !hc.Timeout.IsUnknown() && !hc.Interval.IsUnknown() && hc.Timeout.ValueInt64() >= hc.Interval.ValueInt64() {
			diags.AddAttributeError(path.Root("health_check").AtName("response_timeout_seconds"), "Health check timeout not below the interval",
				fmt.Sprintf("AWS wants the health check's timeout (%d s) below its interval (%d s): lower response_timeout_seconds or raise check_interval_seconds.", hc.Timeout.ValueInt64(), hc.Interval.ValueInt64()))
		}
	}
	for i, fr := range plan.ForwardingRules {
		at := path.Root("forwarding_rules").AtListIndex(i)
		first := plan.ForwardingRules[0]
		if i > 0 && (!fr.TargetProtocol.Equal(first.TargetProtocol) || !fr.TargetPort.Equal(first.TargetPort)) {
			diags.AddAttributeError(at.AtName("target_port"), "One target per AWS load balancer",
				"On AWS every forwarding rule goes to the load balancer's one target group: give every rule the first rule's target_protocol and target_port.")
		}
		if plan.Type.ValueString() == string(cloud.LoadBalancerHTTP) && (fr.TLSPassthrough.ValueBool() || fr.EntryProtocol.ValueString() == "http2") {
			diags.AddAttributeError(at.AtName("entry_protocol"), "Not offered by an AWS Application Load Balancer",
				"An Application Load Balancer terminates TLS itself (https with certificate_id) and has no http2 or pass-through rule: use type = \"network\" with tcp rules to pass TLS through.")
		}
	}
}

// spec is the model as the driver takes it.
func (m *loadBalancerModel) spec(ctx context.Context, diags *diag.Diagnostics) cloud.LoadBalancerSpec {
	var hc healthCheckModel
	diags.Append(m.HealthCheck.As(ctx, &hc, basetypes.ObjectAsOptions{})...)
	s := cloud.LoadBalancerSpec{
		Name: m.Name.ValueString(), Region: m.VendorRegion.ValueString(), Type: cloud.LoadBalancerType(m.Type.ValueString()),
		HealthCheck: cloud.HealthCheck{
			Protocol: hc.Protocol.ValueString(), Port: int(hc.Port.ValueInt64()), Path: hc.Path.ValueString(),
			Interval: time.Duration(hc.Interval.ValueInt64()) * time.Second, Timeout: time.Duration(hc.Timeout.ValueInt64()) * time.Second,
			HealthyThreshold: int(hc.HealthyThreshold.ValueInt64()), UnhealthyThreshold: int(hc.UnhealthyThreshold.ValueInt64()),
		},
		RedirectHTTPToHTTPS: m.RedirectHTTPToHTTPS.ValueBool(),
		DeregistrationDelay: time.Duration(m.DeregistrationDelay.ValueInt64()) * time.Second,
		Tags:                []string{cloud.ManagedTag},
	}
	for _, fr := range m.ForwardingRules {
		s.ForwardingRules = append(s.ForwardingRules, cloud.ForwardingRule{
			EntryProtocol: fr.EntryProtocol.ValueString(), EntryPort: int(fr.EntryPort.ValueInt64()),
			TargetProtocol: fr.TargetProtocol.ValueString(), TargetPort: int(fr.TargetPort.ValueInt64()),
			CertificateID: fr.CertificateID.ValueString(), TLSPassthrough: fr.TLSPassthrough.ValueBool(),
		})
	}
	if m.StickySessions != nil {
		s.StickyCookie, s.StickyTTL = m.StickySessions.CookieName.ValueString(), time.Duration(m.StickySessions.CookieTTLSeconds.ValueInt64())*time.Second
	}
	return s
}

// setObserved records what the vendor reports.
func (m *loadBalancerModel) setObserved(ctx context.Context, c cloud.Name, lb *cloud.LoadBalancer, diags *diag.Diagnostics) {
	m.ID = types.StringValue(string(c) + "/" + lb.ID)
	m.VendorID = types.StringValue(lb.ID)
	m.Address = types.StringValue(lb.Address)
	m.Status = types.StringValue(string(lb.Status))
	targets := lb.Targets
	if targets == nil {
		targets = []string{}
	}
	var d diag.Diagnostics
	m.Targets, d = types.ListValueFrom(ctx, types.StringType, targets)
	diags.Append(d...)
	if m.VendorRegion.IsNull() || m.VendorRegion.IsUnknown() || m.VendorRegion.ValueString() == "" {
		m.VendorRegion = types.StringValue(lb.Spec.Region)
	}
}

// readBack fills the configuration's attributes from the vendor (import
// and drift): what the vendor reports replaces what the state says.
func (m *loadBalancerModel) readBack(lb *cloud.LoadBalancer) {
	s := lb.Spec
	m.Name = types.StringValue(s.Name)
	m.Type = types.StringValue(string(s.Type))
	if m.Region.IsNull() {
		m.Region = types.StringValue(s.Region)
	}
	rules := make([]fwdRuleModel, len(s.ForwardingRules))
	for i, fr := range s.ForwardingRules {
		cert := types.StringNull()
		if fr.CertificateID != "" {
			cert = types.StringValue(fr.CertificateID)
		}
		rules[i] = fwdRuleModel{EntryProtocol: types.StringValue(fr.EntryProtocol), EntryPort: types.Int64Value(int64(fr.EntryPort)),
			TargetProtocol: types.StringValue(fr.TargetProtocol), TargetPort: types.Int64Value(int64(fr.TargetPort)),
			CertificateID: cert, TLSPassthrough: types.BoolValue(fr.TLSPassthrough)}
	}
	m.ForwardingRules = rules
	hc := s.HealthCheck
	path := types.StringValue(hc.Path)
	if hc.Protocol == "tcp" && hc.Path == "" {
		path = types.StringValue(defaultHCPath)
	}
	m.HealthCheck = types.ObjectValueMust(healthCheckAttrTypes, map[string]attr.Value{
		"protocol": types.StringValue(hc.Protocol), "port": types.Int64Value(int64(hc.Port)), "path": path,
		"check_interval_seconds": types.Int64Value(int64(hc.Interval / time.Second)), "response_timeout_seconds": types.Int64Value(int64(hc.Timeout / time.Second)),
		"healthy_threshold": types.Int64Value(int64(hc.HealthyThreshold)), "unhealthy_threshold": types.Int64Value(int64(hc.UnhealthyThreshold)),
	})
	m.StickySessions = nil
	if s.StickyCookie != "" {
		m.StickySessions = &stickyModel{CookieName: types.StringValue(s.StickyCookie), CookieTTLSeconds: types.Int64Value(int64(s.StickyTTL / time.Second))}
	}
	m.RedirectHTTPToHTTPS = types.BoolValue(s.RedirectHTTPToHTTPS)
	if m.DeregistrationDelay.IsNull() {
		m.DeregistrationDelay = types.Int64Value(int64(s.DeregistrationDelay / time.Second))
	}
}

func (r *loadBalancerResource) lbs(m *loadBalancerModel) (cloud.LoadBalancers, cloud.Name, error) {
	return capability[cloud.LoadBalancers](r.data, m.Cloud.ValueString(), m.VendorRegion.ValueString(), "load balancers")
}

func (r *loadBalancerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan loadBalancerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, loadBalancerTimeout, &resp.Diagnostics)
	defer cancel()
	lbs, c, err := r.lbs(&plan)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error creating load balancer", err.Error())
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	lb, saved, err := r.create(ctx, lbs, c, spec, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	defer saved(&resp.Diagnostics)
	if lb != nil {
		// It exists, even when the call failed: record it, so it is not
		// leaked (Terraform keeps it tainted and replaces it next time).
		plan.setObserved(ctx, c, lb, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		resp.Diagnostics.AddError("Error creating load balancer", fmt.Sprintf("creating load balancer %s on %s: %s", spec.Name, c, err))
	}
}

// create makes the load balancer. Where the vendor cannot tell a killed
// create's load balancer from any other (DigitalOcean), it is marked unsaved
// and saved (the mark removed) by the function it returns, which Create
// defers; those interrupted applies left marked in the region are deleted
// first (see cloud.UnsavedLoadBalancers). diags gets only what stops the
// create before anything is made, and warnings.
func (r *loadBalancerResource) create(ctx context.Context, lbs cloud.LoadBalancers, c cloud.Name, spec cloud.LoadBalancerSpec, diags *diag.Diagnostics) (*cloud.LoadBalancer, func(*diag.Diagnostics), error) {
	nothing := func(*diag.Diagnostics) {}
	u, marks := lbs.(cloud.UnsavedLoadBalancers)
	if !marks {
		tflog.Info(ctx, "creating load balancer", map[string]any{"cloud": c, "region": spec.Region, "name": spec.Name})
		lb, err := lbs.CreateLoadBalancer(ctx, spec)
		return lb, nothing, err
	}
	deleted, err := r.data.leftovers.releaseLoadBalancers(ctx, lbs, c, spec.Region, time.Now())
	reportLeftLoadBalancers(diags, deleted)
	if err != nil {
		diags.AddError("Error creating load balancer", fmt.Sprintf("creating load balancer %s in %s on %s: %s. Nothing was created; apply again.", spec.Name, spec.Region, c, err))
		return nil, nothing, nil
	}
	until := unsavedUntilFor(ctx, loadBalancerTimeout)
	tflog.Info(ctx, "creating load balancer", map[string]any{"cloud": c, "region": spec.Region, "name": spec.Name, "unsaved_until": until})
	lb, err := u.CreateUnsavedLoadBalancer(ctx, spec, until)
	if lb == nil || lb.UnsavedUntil.IsZero() {
		return lb, nothing, err
	}
	// A failure to save is repaired by the next refresh (Read).
	saved := func(diags *diag.Diagnostics) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), savedTimeout)
		defer cancel()
		if err := u.MarkLoadBalancerSaved(sctx, lb.ID); err != nil {
			diags.AddWarning("Load balancer still marked unsaved", fmt.Sprintf("Load balancer %s (%s) is saved, but removing its unsaved mark failed: %s. The next refresh removes it.", spec.Name, lb.ID, err))
		}
	}
	return lb, saved, err
}

func (r *loadBalancerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state loadBalancerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	lbs, c, err := r.lbs(&state)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error reading load balancer", err.Error())
		return
	}
	lb, ok := readOrForget(ctx, "load balancer", state.ID.ValueString(), func() (*cloud.LoadBalancer, error) { return lbs.GetLoadBalancer(ctx, state.VendorID.ValueString()) }, &resp.State, &resp.Diagnostics)
	if !ok {
		return
	}
	if u, ok := lbs.(cloud.UnsavedLoadBalancers); ok && !lb.UnsavedUntil.IsZero() {
		// Its Create could not mark it saved; it is in the state now.
		if err := u.MarkLoadBalancerSaved(ctx, lb.ID); err != nil {
			tflog.Warn(ctx, "removing the unsaved mark of a saved load balancer", map[string]any{"id": lb.ID, "error": err.Error()})
		}
	}
	state.readBack(lb)
	state.setObserved(ctx, c, lb, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *loadBalancerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state loadBalancerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, loadBalancerTimeout, &resp.Diagnostics)
	defer cancel()
	lbs, c, err := r.lbs(&plan)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error updating load balancer", err.Error())
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	lb, err := lbs.UpdateLoadBalancer(ctx, state.VendorID.ValueString(), spec)
	if err != nil {
		resp.Diagnostics.AddError("Error updating load balancer", fmt.Sprintf("updating load balancer %s: %s", state.ID.ValueString(), err))
		return
	}
	plan.setObserved(ctx, c, lb, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *loadBalancerResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state loadBalancerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, loadBalancerTimeout, &resp.Diagnostics)
	defer cancel()
	lbs, _, err := r.lbs(&state)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cloud"), "Error deleting load balancer", err.Error())
		return
	}
	if err := lbs.DeleteLoadBalancer(ctx, state.VendorID.ValueString()); err != nil {
		resp.Diagnostics.AddError("Error deleting load balancer", fmt.Sprintf("deleting load balancer %s: %s", state.ID.ValueString(), err))
	}
}

func (r *loadBalancerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	c, vid, ok := strings.Cut(req.ID, "/")
	if !ok || !cloud.ValidCloud(c) || vid == "" {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q is not a load balancer id: use digitalocean/<uuid> or aws/<load balancer ARN>", req.ID))
		return
	}
	region := ""
	if c == string(cloud.AWS) {
		// arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/...
		if parts := strings.Split(vid, ":"); len(parts) > 3 {
			region = parts[3]
		}
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cloud"), c)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_id"), vid)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vendor_region"), region)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("health_check"), defaultHealthCheck())...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("targets"), types.ListValueMust(types.StringType, nil))...)
}

// lbRefs are the ids of a load_balancer_ids set, sorted: the engine takes
// them as they are (<cloud>/<vendor id>).
func lbRefs(ctx context.Context, set types.Set, diags *diag.Diagnostics) []string {
	if set.IsNull() || set.IsUnknown() {
		return nil
	}
	var ids []types.String
	diags.Append(set.ElementsAs(ctx, &ids, false)...)
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id.IsUnknown() || id.IsNull() {
			continue // known at apply time
		}
		out = append(out, id.ValueString())
	}
	slices.Sort(out)
	return out
}

// formerLBs are the load balancers of prior that next no longer lists.
func formerLBs(ctx context.Context, prior, next types.Set, diags *diag.Diagnostics) []string {
	keep := lbRefs(ctx, next, diags)
	return slices.DeleteFunc(lbRefs(ctx, prior, diags), func(id string) bool { return slices.Contains(keep, id) })
}

// checkLBClouds reports load_balancer_ids of another cloud than the
// group's, at plan time.
func checkLBClouds(ctx context.Context, set types.String, ids types.Set, at path.Path, diags *diag.Diagnostics) {
	if ids.IsNull() || ids.IsUnknown() || set.IsUnknown() {
		return
	}
	var list []types.String
	diags.Append(ids.ElementsAs(ctx, &list, false)...)
	for _, v := range list {
		if v.IsUnknown() || v.IsNull() {
			continue
		}
		id := v.ValueString()
		if c, _, _ := strings.Cut(id, "/"); c != set.ValueString() {
			diags.AddAttributeError(at, "Load balancer on another cloud",
				fmt.Sprintf("%s is a %s load balancer, but the group's hosts are on %s: a load balancer takes hosts of its own vendor only. Use a load balancer on %s.", id, c, set.ValueString(), set.ValueString()))
		}
	}
}
