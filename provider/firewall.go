package provider

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// haddock_swarm_cluster's `firewall`: the cluster's firewall policy. The
// cluster keeps it at the managers' vendor; node groups get it through
// the cluster's credentials and keep it at theirs; stacks open what they
// publish through it (internal/cluster/firewall.go).

var (
	firewallRuleAttrTypes = map[string]attr.Type{"protocol": types.StringType, "ports": types.StringType, "sources": types.ListType{ElemType: types.StringType}}
	firewallAttrTypes     = map[string]attr.Type{
		"enabled":                  types.BoolType,
		"docker_api_allowed_cidrs": types.ListType{ElemType: types.StringType},
		"ssh_allowed_cidrs":        types.ListType{ElemType: types.StringType},
		"inbound_rules":            types.ListType{ElemType: types.ObjectType{AttrTypes: firewallRuleAttrTypes}},
	}
)

type firewallModel struct {
	Enabled               types.Bool `tfsdk:"enabled"`
	DockerAPIAllowedCIDRs types.List `tfsdk:"docker_api_allowed_cidrs"`
	SSHAllowedCIDRs       types.List `tfsdk:"ssh_allowed_cidrs"`
	InboundRules          types.List `tfsdk:"inbound_rules"`
}

type firewallRuleModel struct {
	Protocol types.String `tfsdk:"protocol"`
	Ports    types.String `tfsdk:"ports"`
	Sources  types.List   `tfsdk:"sources"`
}

func anywhereList() types.List {
	return types.ListValueMust(types.StringType, []attr.Value{types.StringValue("0.0.0.0/0"), types.StringValue("::/0")})
}

// firewallObject is a `firewall` value with p's sources and no inbound
// rules of the owner's.
func firewallObject(enabled bool, p cluster.FirewallPolicy) types.Object {
	list := func(ps []netip.Prefix) types.List {
		vs := make([]attr.Value, len(ps))
		for i, x := range ps {
			vs[i] = types.StringValue(x.String())
		}
		return types.ListValueMust(types.StringType, vs)
	}
	docker, ssh := list(p.DockerAPI), list(p.SSH)
	if !enabled {
		docker, ssh = anywhereList(), anywhereList()
	}
	return types.ObjectValueMust(firewallAttrTypes, map[string]attr.Value{
		"enabled":                  types.BoolValue(enabled),
		"docker_api_allowed_cidrs": docker,
		"ssh_allowed_cidrs":        ssh,
		"inbound_rules":            types.ListValueMust(types.ObjectType{AttrTypes: firewallRuleAttrTypes}, nil),
	})
}

func defaultFirewall() types.Object {
	return types.ObjectValueMust(firewallAttrTypes, map[string]attr.Value{
		"enabled":                  types.BoolValue(true),
		"docker_api_allowed_cidrs": anywhereList(),
		"ssh_allowed_cidrs":        anywhereList(),
		"inbound_rules":            types.ListValueMust(types.ObjectType{AttrTypes: firewallRuleAttrTypes}, nil),
	})
}

func firewallSchema() schema.SingleNestedAttribute {
	cidrs := listvalidator.ValueStringsAre(cidrValidator{})
	return schema.SingleNestedAttribute{
		Optional: true, Computed: true, Default: objectdefault.StaticValue(defaultFirewall()),
		MarkdownDescription: "The cluster's firewall, on by default: a vendor firewall (a DigitalOcean cloud firewall; on AWS a security group " +
			"beside `haddock-hosts`) that every host of the cluster is in, managers and node groups alike, kept as hosts come and go. It admits " +
			"Swarm's ports (2377/tcp, 7946/tcp+udp, 4789/udp) from the cluster's own hosts only, the Docker API (2376/tcp, mutual TLS) from " +
			"`docker_api_allowed_cidrs`, SSH from `ssh_allowed_cidrs`, every port a service of the swarm publishes from anywhere (opened when a " +
			"`haddock_stack` deploys), ICMP, and `inbound_rules`; nothing else reaches the hosts from the network. Outbound traffic is open. " +
			"Changes apply in place; node groups pick them up through `credentials` on their next apply. " +
			"On AWS, security groups add up and `haddock-hosts` keeps SSH and the Docker API open, so there the firewall opens what stacks " +
			"publish but cannot narrow those two. On the local cloud the firewall is a packet filter on each host.",
		Attributes: map[string]schema.Attribute{
			"enabled": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "`false` deletes the cluster's firewalls: its hosts then admit what the vendor's defaults admit (on DigitalOcean, everything).",
			},
			"docker_api_allowed_cidrs": schema.ListAttribute{
				ElementType: types.StringType, Optional: true, Computed: true, Default: listdefault.StaticValue(anywhereList()),
				MarkdownDescription: "Where the Docker API (2376/tcp) may be reached from: the addresses Terraform and your operators connect from " +
					"(CIDRs or single addresses). Terraform must be among them, or it cannot manage the cluster. Default: anywhere — only holders of the " +
					"cluster's client certificate get in, but the plan warns; narrow it.",
				Validators: []validator.List{cidrs},
			},
			"ssh_allowed_cidrs": schema.ListAttribute{
				ElementType: types.StringType, Optional: true, Computed: true, Default: listdefault.StaticValue(anywhereList()),
				MarkdownDescription: "Where SSH (22/tcp) may be reached from; `[]` closes it. Default: anywhere.",
				Validators:          []validator.List{cidrs},
			},
			"inbound_rules": schema.ListNestedAttribute{
				Optional: true, Computed: true, Default: listdefault.StaticValue(types.ListValueMust(types.ObjectType{AttrTypes: firewallRuleAttrTypes}, nil)),
				MarkdownDescription: "More traffic to admit: a port the hosts serve outside the swarm, a load balancer's health check on a port no service publishes.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"protocol": schema.StringAttribute{Required: true, MarkdownDescription: "`tcp`, `udp` or `icmp`.", Validators: []validator.String{stringvalidator.OneOf("tcp", "udp", "icmp")}},
					"ports": schema.StringAttribute{
						Optional: true, MarkdownDescription: "A port (`8080`) or a range (`8000-8100`); omitted: every port (and for `icmp`, the only choice).",
						Validators: []validator.String{portRangeValidator{}},
					},
					"sources": schema.ListAttribute{
						ElementType: types.StringType, Required: true, MarkdownDescription: "CIDRs or single addresses to admit.",
						Validators: []validator.List{listvalidator.SizeAtLeast(1), cidrs},
					},
				}},
			},
		},
	}
}

// firewallPolicy is the engine's policy of a `firewall` object; nil for a
// null or unknown one (a state from before firewalls), which leaves the
// firewalls alone.
func firewallPolicy(ctx context.Context, o types.Object, diags *diag.Diagnostics) *cluster.FirewallPolicy {
	if o.IsNull() || o.IsUnknown() {
		return nil
	}
	var m firewallModel
	diags.Append(o.As(ctx, &m, basetypes.ObjectAsOptions{})...)
	if !m.Enabled.ValueBool() {
		return &cluster.FirewallPolicy{Off: true}
	}
	p := &cluster.FirewallPolicy{DockerAPI: prefixes(ctx, m.DockerAPIAllowedCIDRs, diags), SSH: prefixes(ctx, m.SSHAllowedCIDRs, diags)}
	var rules []firewallRuleModel
	if !m.InboundRules.IsNull() && !m.InboundRules.IsUnknown() {
		diags.Append(m.InboundRules.ElementsAs(ctx, &rules, false)...)
	}
	for _, r := range rules {
		ports, _ := cloud.ParsePortRange(r.Ports.ValueString())
		p.Inbound = append(p.Inbound, cloud.FirewallRule{Protocol: r.Protocol.ValueString(), Ports: ports, CIDRs: prefixes(ctx, r.Sources, diags), Description: "the cluster's inbound_rules"})
	}
	return p
}

// firewallDiagnostics warns, at plan time, where the policy leaves the
// Docker API open to the whole internet or cannot narrow it (AWS).
func firewallDiagnostics(ctx context.Context, o types.Object, managersCloud string, at path.Path, diags *diag.Diagnostics) {
	if o.IsNull() || o.IsUnknown() {
		return
	}
	var m firewallModel
	diags.Append(o.As(ctx, &m, basetypes.ObjectAsOptions{UnhandledUnknownAsEmpty: true})...)
	if !m.Enabled.ValueBool() || m.DockerAPIAllowedCIDRs.IsUnknown() {
		return
	}
	var d diag.Diagnostics
	ps := prefixes(ctx, m.DockerAPIAllowedCIDRs, &d)
	wide := false
	for _, p := range ps {
		if p.Bits() == 0 {
			wide = true
		}
	}
	switch {
	case wide:
		diags.AddAttributeWarning(at.AtName("docker_api_allowed_cidrs"), "Docker API open to the whole internet",
			"The cluster's firewall admits the Docker API (2376/tcp) from anywhere. Only holders of the cluster's client certificate get in, "+
				"but every scanner can reach the port. Set firewall.docker_api_allowed_cidrs to the addresses Terraform and your operators connect from.")
	case managersCloud == string(cloud.AWS):
		diags.AddAttributeWarning(at.AtName("docker_api_allowed_cidrs"), "Docker API not narrowed on AWS",
			"On AWS, security groups add up, and every host is also in haddock-hosts, which admits the Docker API (mutual TLS) from anywhere: "+
				"docker_api_allowed_cidrs cannot narrow it there. The cluster's firewall still admits Swarm's ports from the cluster only and opens what stacks publish.")
	}
}

// prefixes reads a validated list of CIDRs or addresses.
func prefixes(ctx context.Context, l types.List, diags *diag.Diagnostics) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range stringList(ctx, l, diags) {
		if p, err := parseCIDR(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseCIDR reads "10.0.0.0/8", "2001:db8::/32" or a single address.
func parseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set: did you mean %s?", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR (203.0.113.0/24, 2001:db8::/32) nor an address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// cidrValidator checks one CIDR or address.
type cidrValidator struct{}

func (cidrValidator) Description(context.Context) string {
	return "must be a CIDR (203.0.113.0/24, 2001:db8::/32) or a single address"
}

func (v cidrValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (cidrValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseCIDR(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid CIDR", err.Error())
	}
}

// portRangeValidator checks a port or a range.
type portRangeValidator struct{}

func (portRangeValidator) Description(context.Context) string {
	return `must be a port ("8080") or a range ("8000-8100")`
}

func (v portRangeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (portRangeValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := cloud.ParsePortRange(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid port range", err.Error()+`: want a port ("8080") or a range ("8000-8100")`)
	}
}

// credFirewall is the policy as the cluster's credentials carry it to
// node groups and stacks.
type credFirewall struct {
	Off       bool          `json:"off,omitempty"`
	DockerAPI []string      `json:"docker_api,omitempty"`
	SSH       []string      `json:"ssh,omitempty"`
	Inbound   []credFwRules `json:"inbound,omitempty"`
}

type credFwRules struct {
	Protocol string   `json:"protocol"`
	Ports    string   `json:"ports,omitempty"`
	Sources  []string `json:"sources"`
}

func encodeFirewall(p *cluster.FirewallPolicy) *credFirewall {
	if p == nil {
		return nil
	}
	str := func(ps []netip.Prefix) []string {
		out := make([]string, len(ps))
		for i, x := range ps {
			out[i] = x.String()
		}
		return out
	}
	c := &credFirewall{Off: p.Off, DockerAPI: str(p.DockerAPI), SSH: str(p.SSH)}
	for _, r := range p.Inbound {
		ports := ""
		if !r.Ports.All() {
			ports = r.Ports.String()
		}
		c.Inbound = append(c.Inbound, credFwRules{Protocol: r.Protocol, Ports: ports, Sources: str(r.CIDRs)})
	}
	return c
}

func (c *credFirewall) policy() *cluster.FirewallPolicy {
	if c == nil {
		return nil
	}
	parse := func(ss []string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			if p, err := parseCIDR(s); err == nil {
				out = append(out, p)
			}
		}
		return out
	}
	p := &cluster.FirewallPolicy{Off: c.Off, DockerAPI: parse(c.DockerAPI), SSH: parse(c.SSH)}
	for _, r := range c.Inbound {
		ports, _ := cloud.ParsePortRange(r.Ports)
		p.Inbound = append(p.Inbound, cloud.FirewallRule{Protocol: r.Protocol, Ports: ports, CIDRs: parse(r.Sources), Description: "the cluster's inbound_rules"})
	}
	return p
}
