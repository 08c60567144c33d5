package digitalocean

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

var _ cloud.Firewalls = (*Driver)(nil)

// Cloud firewalls apply to droplets by tag, in every region: DigitalOcean's
// firewalls are account-wide, so the spec's region is not used and one
// firewall serves a cluster wherever its droplets are. They are found by
// name (DigitalOcean does not require names to be unique: the driver keeps
// one per name and says so when it finds more). Outbound traffic stays
// open: a DigitalOcean firewall without outbound rules would block it.

// fwOutbound admits every outbound connection.
var fwOutbound = []godo.OutboundRule{
	{Protocol: "tcp", PortRange: "all", Destinations: &godo.Destinations{Addresses: []string{"0.0.0.0/0", "::/0"}}},
	{Protocol: "udp", PortRange: "all", Destinations: &godo.Destinations{Addresses: []string{"0.0.0.0/0", "::/0"}}},
	{Protocol: "icmp", PortRange: "0", Destinations: &godo.Destinations{Addresses: []string{"0.0.0.0/0", "::/0"}}},
}

// EnsureFirewall creates the firewall or puts it in line with spec. A
// create the server may have acted on before failing is found again by
// name rather than repeated.
func (d *Driver) EnsureFirewall(ctx context.Context, spec cloud.FirewallSpec) (*cloud.Firewall, error) {
	req, err := fwRequest(spec)
	if err != nil {
		return nil, err
	}
	cur, err := d.findFirewall(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	if cur != nil {
		if fwSame(cur, req) {
			return toFirewall(cur), nil
		}
		var out struct {
			Firewall godo.Firewall `json:"firewall"`
		}
		if err := d.sendFirewall(ctx, http.MethodPut, "v2/firewalls/"+cur.ID, req, &out); err != nil {
			return nil, fmt.Errorf("updating firewall %s: %w", spec.Name, apiError(err))
		}
		tflog.SubsystemInfo(ctx, logSubsystem, "firewall updated", map[string]any{"firewall": cur.ID, "name": spec.Name, "inbound_rules": len(req.InboundRules)})
		return toFirewall(&out.Firewall), nil
	}
	// The tag may name no droplet yet (the firewall comes before the
	// cluster's first host): it must exist for the firewall to name it.
	if _, _, err := d.client.Tags.Create(ctx, &godo.TagCreateRequest{Name: spec.TargetTag}); err != nil && !isStatus(err, http.StatusConflict) {
		return nil, fmt.Errorf("creating tag %s for firewall %s: %w", spec.TargetTag, spec.Name, apiError(err))
	}
	for attempt := 0; ; attempt++ {
		var out struct {
			Firewall godo.Firewall `json:"firewall"`
		}
		err := d.sendFirewall(ctx, http.MethodPost, "v2/firewalls", req, &out)
		if err == nil {
			tflog.SubsystemInfo(ctx, logSubsystem, "firewall created", map[string]any{"firewall": out.Firewall.ID, "name": spec.Name, "tag": spec.TargetTag})
			return toFirewall(&out.Firewall), nil
		}
		if !maybeCreated(ctx, err) || attempt >= d.cfg.HTTPRetryMax {
			return nil, fmt.Errorf("creating firewall %s: %w", spec.Name, apiError(err))
		}
		if serr := wait.Sleep(ctx, backoff(d.cfg.RetryWaitMin, d.cfg.RetryWaitMax, attempt, nil)); serr != nil {
			return nil, apiError(err)
		}
		made, lerr := d.findFirewall(ctx, spec.Name)
		if lerr != nil {
			return nil, fmt.Errorf("creating firewall %s: %w (and listing firewalls to find one it may have made: %v)", spec.Name, apiError(err), lerr)
		}
		if made != nil {
			tflog.SubsystemWarn(ctx, logSubsystem, "found the firewall a failed create made", map[string]any{"firewall": made.ID, "error": err.Error()})
			return d.EnsureFirewall(ctx, spec)
		}
	}
}

// GetFirewall finds the firewall by name.
func (d *Driver) GetFirewall(ctx context.Context, _ string, name string) (*cloud.Firewall, error) {
	fw, err := d.findFirewall(ctx, name)
	if err != nil {
		return nil, err
	}
	if fw == nil {
		return nil, cloud.NotFoundError(cloud.DigitalOcean, "firewall", name)
	}
	return toFirewall(fw), nil
}

// DeleteFirewall deletes every firewall of that name.
func (d *Driver) DeleteFirewall(ctx context.Context, _ string, name string) error {
	fws, err := d.listFirewalls(ctx)
	if err != nil {
		return err
	}
	for _, fw := range fws {
		if fw.Name != name {
			continue
		}
		if _, err := d.client.Firewalls.Delete(ctx, fw.ID); err != nil && !isStatus(err, http.StatusNotFound) {
			return fmt.Errorf("deleting firewall %s (%s): %w", name, fw.ID, apiError(err))
		}
		tflog.SubsystemInfo(ctx, logSubsystem, "firewall deleted", map[string]any{"firewall": fw.ID, "name": name})
	}
	return nil
}

// findFirewall returns the firewall named name, nil when there is none.
func (d *Driver) findFirewall(ctx context.Context, name string) (*godo.Firewall, error) {
	fws, err := d.listFirewalls(ctx)
	if err != nil {
		return nil, err
	}
	var found []godo.Firewall
	for _, fw := range fws {
		if fw.Name == name {
			found = append(found, fw)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	default:
		ids := make([]string, len(found))
		for i, fw := range found {
			ids[i] = fw.ID
		}
		return nil, fmt.Errorf("%d DigitalOcean firewalls are named %s (%s): delete all but one (doctl compute firewall delete <id>) and apply again", len(found), name, strings.Join(ids, ", "))
	}
}

func (d *Driver) listFirewalls(ctx context.Context) ([]godo.Firewall, error) {
	fws, err := allPages(func(opt *godo.ListOptions) ([]godo.Firewall, *godo.Response, error) {
		return d.client.Firewalls.List(ctx, opt)
	})
	if err != nil {
		return nil, fmt.Errorf("listing firewalls: %w", err)
	}
	return fws, nil
}

// sendFirewall sends the request body as fwRequest built it, through
// godo's plumbing (auth, retries, errors).
func (d *Driver) sendFirewall(ctx context.Context, method, path string, body *godo.FirewallRequest, out any) error {
	req, err := d.client.NewRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	_, err = d.client.Do(ctx, req, out)
	return err
}

// fwRequest is the firewall as DigitalOcean takes it.
func fwRequest(spec cloud.FirewallSpec) (*godo.FirewallRequest, error) {
	if spec.Name == "" || spec.TargetTag == "" {
		return nil, fmt.Errorf("firewall: a name and a target tag are required")
	}
	req := &godo.FirewallRequest{Name: spec.Name, DropletIDs: []int{}, Tags: []string{spec.TargetTag}, OutboundRules: fwOutbound}
	for _, r := range spec.Inbound {
		src := &godo.Sources{}
		for _, p := range r.CIDRs {
			src.Addresses = append(src.Addresses, fwAddress(p))
		}
		if r.FromTargets {
			src.Tags = []string{spec.TargetTag}
		}
		if len(src.Addresses) == 0 && len(src.Tags) == 0 {
			continue // admits nobody: DigitalOcean refuses a rule without sources
		}
		in := godo.InboundRule{Protocol: r.Protocol, Sources: src}
		switch r.Protocol {
		case cloud.ProtocolTCP, cloud.ProtocolUDP:
			in.PortRange = r.Ports.String()
		case cloud.ProtocolICMP:
			in.PortRange = "0" // the spec requires ports; DigitalOcean ignores them for icmp
		default:
			return nil, fmt.Errorf("firewall %s: protocol %q is not tcp, udp or icmp", spec.Name, r.Protocol)
		}
		req.InboundRules = append(req.InboundRules, in)
	}
	if len(req.InboundRules) == 0 {
		// DigitalOcean needs a rule; this one admits only the firewall's
		// own droplets' pings.
		req.InboundRules = []godo.InboundRule{{Protocol: "icmp", PortRange: "0", Sources: &godo.Sources{Tags: []string{spec.TargetTag}}}}
	}
	return req, nil
}

// fwAddress is a prefix as DigitalOcean reports it: a single address
// without its length.
func fwAddress(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.Masked().String()
}

// fwSame reports whether the firewall already is what req asks for.
func fwSame(cur *godo.Firewall, req *godo.FirewallRequest) bool {
	if len(cur.DropletIDs) != 0 || !slices.Equal(sorted(cur.Tags), sorted(req.Tags)) {
		return false
	}
	return slices.Equal(inboundKeys(cur.InboundRules), inboundKeys(req.InboundRules)) &&
		len(cur.OutboundRules) == len(req.OutboundRules)
}

// inboundKeys are the rules one per source, sorted; "0" and "all" are
// the same port range, and icmp has none.
func inboundKeys(rules []godo.InboundRule) []string {
	var out []string
	for _, r := range rules {
		ports := r.PortRange
		if ports == "0" || ports == "" {
			ports = "all"
		}
		if r.Protocol == "icmp" {
			ports = ""
		}
		if r.Sources == nil {
			continue
		}
		for _, a := range r.Sources.Addresses {
			if p, err := netip.ParsePrefix(a); err == nil && p.IsSingleIP() {
				a = p.Addr().String()
			}
			out = append(out, r.Protocol+" "+ports+" addr "+a)
		}
		for _, t := range r.Sources.Tags {
			out = append(out, r.Protocol+" "+ports+" tag "+t)
		}
		for _, id := range r.Sources.DropletIDs {
			out = append(out, fmt.Sprintf("%s %s droplet %d", r.Protocol, ports, id))
		}
		for _, id := range r.Sources.LoadBalancerUIDs {
			out = append(out, r.Protocol+" "+ports+" lb "+id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// toFirewall is the neutral firewall: the target tag is its first tag,
// and a tag source that is that tag is FromTargets.
func toFirewall(fw *godo.Firewall) *cloud.Firewall {
	out := &cloud.Firewall{ID: fw.ID, Name: fw.Name}
	if len(fw.Tags) > 0 {
		out.TargetTag = fw.Tags[0]
	}
	for _, r := range fw.InboundRules {
		rule := cloud.FirewallRule{Protocol: r.Protocol}
		if r.Protocol != "icmp" {
			rule.Ports, _ = cloud.ParsePortRange(r.PortRange)
		}
		if r.Sources != nil {
			for _, a := range r.Sources.Addresses {
				if p, err := netip.ParsePrefix(a); err == nil {
					rule.CIDRs = append(rule.CIDRs, p)
				} else if ip, err := netip.ParseAddr(a); err == nil {
					rule.CIDRs = append(rule.CIDRs, netip.PrefixFrom(ip, ip.BitLen()))
				}
			}
			rule.FromTargets = slices.Contains(r.Sources.Tags, out.TargetTag)
		}
		out.Inbound = append(out.Inbound, rule)
	}
	return out
}
