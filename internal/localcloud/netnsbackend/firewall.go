package netnsbackend

import (
	"context"
	"slices"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

var _ localcloud.FirewallBackend = (*Backend)(nil)

// SetHostFirewall implements localcloud.FirewallBackend with a packet
// filter on the droplet's host (netns.Manager.SetFirewall): what arrives
// on the host's link is dropped unless rules admit it or it answers the
// host's own connections, before Docker's published ports and for its
// reserved IPs too. The Manager keeps the rules across power cycles and
// restarts. Rules for a droplet whose host does not exist yet wait for
// its Provision; a host already destroyed is not an error.
func (b *Backend) SetHostFirewall(ctx context.Context, hostID int, rules []localcloud.FirewallRule) error {
	var fw []netns.FirewallRule
	if rules != nil {
		fw = make([]netns.FirewallRule, 0, len(rules))
		for _, r := range rules {
			fw = append(fw, netns.FirewallRule{
				Protocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort, ICMPType: r.ICMPType, ICMPCode: r.ICMPCode,
				Sources: slices.Clone(r.Sources),
			})
		}
	}
	return b.m.SetFirewall(ctx, HostID(hostID), fw)
}
