package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// Migration between vendors (and between regions of one vendor): a group's
// `cloud` or region changes in place, and the engine replaces its hosts one
// batch at a time on the new vendor. While hosts remain where the group
// was, the resource's private state remembers those places, so that every
// later Read, apply or destroy still finds them (an interrupted migration
// resumes; a destroy leaves no orphan there).

// groupCloudAttribute is the cloud of a group of hosts (managers, node
// groups): changing it migrates the group.
func groupCloudAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Required: true,
		MarkdownDescription: "The vendor: " + backtickList(cloudNames()) + ". Changing it migrates the group: hosts on the new " +
			"vendor are created and join, and the old ones are drained and deleted, one batch at a time as `rolling_update` " +
			"says (managers one at a time, quorum kept, the leader last); portable `region`, `size` and `image` resolve anew " +
			"for the new vendor. The swarm's nodes must reach each other across vendors: the cluster must advertise public " +
			"addresses (`advertise_address = \"public\"`) unless the vendors' private networks are joined (VPN, peering). " +
			"Floating IPs cannot follow a host to another vendor.",
		Validators: []validator.String{stringvalidator.OneOf(cloudNames()...)},
	}
}

// privateMovingKey holds, in a group's private state, the places (vendor
// and vendor region) its hosts are moving from.
const privateMovingKey = "moving_from"

type formerPlace struct {
	Cloud  string `json:"cloud"`
	Region string `json:"region"`
}

type privateStore interface {
	privateGetter
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// movingFrom reads the places a migration under way is leaving.
func movingFrom(ctx context.Context, p privateGetter) []formerPlace {
	if p == nil {
		return nil
	}
	b, _ := p.GetKey(ctx, privateMovingKey)
	var out []formerPlace
	if len(b) > 0 {
		_ = json.Unmarshal(b, &out)
	}
	return out
}

// formerPlaces are where a group's hosts may be besides (to): the places
// recorded by an unfinished migration, and the state's own when it
// differs from the plan's.
func formerPlaces(ctx context.Context, p privateGetter, to, state formerPlace) []formerPlace {
	out := movingFrom(ctx, p)
	if state.Cloud != "" && state != to {
		out = append(out, state)
	}
	out = slices.DeleteFunc(out, func(f formerPlace) bool { return f == to || f.Cloud == "" })
	slices.SortFunc(out, func(a, b formerPlace) int {
		return cmp.Or(cmp.Compare(a.Cloud, b.Cloud), cmp.Compare(a.Region, b.Region))
	})
	return slices.Compact(out)
}

// formerDrivers returns the drivers of places.
func (d *providerData) formerDrivers(places []formerPlace, at path.Path) ([]cloud.Driver, diag.Diagnostics) {
	var out []cloud.Driver
	var diags diag.Diagnostics
	for _, p := range places {
		drv, _, ds := d.driver(p.Cloud, p.Region, at)
		diags.Append(ds...)
		if ds.HasError() {
			diags.AddAttributeError(at, "Migration cannot continue",
				fmt.Sprintf("Hosts of this group may still be on %s (region %s), where it is moving from, but the provider cannot reach that vendor: configure it in the provider block until the migration has finished.", p.Cloud, p.Region))
			return nil, diags
		}
		out = append(out, drv)
	}
	return out, diags
}

// saveMovingFrom records the places that still hold hosts of the group
// after an apply (view nil: all of them, nothing is known).
func saveMovingFrom(ctx context.Context, p privateStore, places []formerPlace, view *cluster.View, diags *diag.Diagnostics) {
	var left []formerPlace
	for _, f := range places {
		if view == nil || slices.ContainsFunc(view.Members, func(m cluster.Member) bool {
			return m.HostID != "" && string(m.Cloud) == f.Cloud && (f.Region == "" || m.Region == f.Region)
		}) {
			left = append(left, f)
		}
	}
	var b []byte
	if len(left) > 0 {
		b, _ = json.Marshal(left)
		tflog.Info(ctx, "hosts remain where the group is moving from; the next apply continues the migration", map[string]any{"places": string(b)})
	}
	diags.Append(p.SetKey(ctx, privateMovingKey, b)...)
}

// spanPlanDiagnostics refuses, at plan, hosts that would span places (a
// vendor and region: where the group or the managers will be, and where
// they are) while the cluster keeps no firewall, when one place is on AWS:
// its hosts admit Swarm's ports only from their own security group, which
// holds no host of another vendor or region. migrationPlanDiagnostics says
// it for a change of vendor; this covers a change of region and a group
// apart from the managers. Places with an unknown part are left out.
func spanPlanDiagnostics(what string, places []formerPlace, noFirewall bool, at path.Path, diags *diag.Diagnostics) {
	if !noFirewall || diags.HasError() {
		return
	}
	var known []formerPlace
	closed := false
	for _, p := range places {
		if p.Cloud == "" || p.Region == "" || slices.Contains(known, p) {
			continue
		}
		known = append(known, p)
		closed = closed || cluster.AdmitsMembersOnly(cloud.Name(p.Cloud))
	}
	if len(known) < 2 || !closed {
		return
	}
	names := make([]string, len(known))
	for i, p := range known {
		names[i] = p.Cloud + " " + p.Region
	}
	diags.AddAttributeError(at, "Hosts apart need the cluster's firewall",
		fmt.Sprintf("%s would have hosts in %s, but the cluster's firewall is off. Without it, hosts on AWS admit Swarm's ports (2377/tcp, "+
			"7946/tcp+udp, 4789/udp) only from their own security group, which holds no host of another vendor or region: the hosts could not "+
			"join. First set firewall { enabled = true } on the cluster and apply (its rules admit the other places' hosts by address), then "+
			"make this change.", what, strings.Join(names, " and ")))
}

// migrationPlanDiagnostics checks a planned change of a group's vendor:
// refused when the cluster advertises private addresses (a node on one
// vendor cannot reach another's private network) or, to or from AWS,
// keeps no firewall (noFirewall: AWS hosts then admit Swarm's ports from
// their own security group only), and warned about what cannot follow.
func migrationPlanDiagnostics(what string, from, to string, advertise string, noFirewall bool, at path.Path, diags *diag.Diagnostics) {
	if from == "" || from == to {
		return
	}
	if noFirewall && (cluster.AdmitsMembersOnly(cloud.Name(from)) || cluster.AdmitsMembersOnly(cloud.Name(to))) {
		diags.AddAttributeError(at, "Migration needs the cluster's firewall",
			fmt.Sprintf("%s would move from %s to %s, but the cluster's firewall is off. Without it, hosts on AWS admit Swarm's ports (2377/tcp, "+
				"7946/tcp+udp, 4789/udp) only from their own security group, which the hosts on the other vendor are not in: the new hosts could "+
				"not join. First set firewall { enabled = true } on the cluster and apply (its rules admit the other vendor's hosts by address), "+
				"then change cloud.", what, from, to))
		return
	}
	if advertise == string(cluster.AddressPrivate) {
		diags.AddAttributeError(at, "Migration needs public addresses",
			fmt.Sprintf("%s would move from %s to %s, but the cluster's nodes advertise their private addresses, which do not route between vendors: "+
				"the new hosts could not join. First set advertise_address = \"public\" on the cluster and apply (the nodes are replaced one at a "+
				"time, advertising their public addresses), then change cloud. Or join the vendors' private networks and keep the group where it is.", what, from, to))
		return
	}
	diags.AddAttributeWarning(at, "Migrating to another vendor",
		fmt.Sprintf("%s moves from %s to %s: hosts on %s are created and join, then the hosts on %s are drained and deleted, one batch at a time. "+
			"Floating IPs of %s cannot point at hosts on %s: move them with the hosts' service (a new haddock_floating_ip on %s) "+
			"before the last host on %s goes.", what, from, to, to, from, from, to, to, from))
}
