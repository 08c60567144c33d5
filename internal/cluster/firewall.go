package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// The cluster's firewall: one vendor firewall per place the cluster has
// hosts (DigitalOcean's are account-wide, so one serves every region),
// named FirewallName, applying to every host carrying the cluster tag. Its
// inbound rules admit
//
//   - Swarm's ports (2377/tcp, 7946/tcp+udp, 4789/udp) from the cluster's
//     own hosts: by tag at the place, and by address (the swarm's node
//     addresses, and hosts about to join, added before they join when
//     they are on another vendor or the cluster advertises public
//     addresses: an AWS group reference admits private addresses only);
//   - the Docker API (2376/tcp) from FirewallPolicy.DockerAPI only;
//   - SSH (22/tcp) from FirewallPolicy.SSH only;
//   - every port the swarm's services publish, from anywhere;
//   - ICMP from anywhere (path MTU discovery needs it);
//   - the user's own rules (FirewallPolicy.Inbound).
//
// It is kept at the start of every apply (so a new host is filtered from
// its first boot on vendors that apply firewalls by tag), before hosts of
// another vendor, or advertising public addresses, join, and after the apply settles (the services' ports,
// the node list); stacks call SyncFirewall after a deploy. A place's
// firewall is deleted when the cluster has no host left there.

// Swarm's ports.
const (
	portSwarmManagement = 2377
	portSwarmGossip     = 7946
	portSwarmOverlay    = 4789
	portDockerAPI       = 2376
	portSSH             = 22
)

// FirewallPolicy is the cluster's firewall as its owner wants it.
type FirewallPolicy struct {
	// Off removes the cluster's firewalls: its hosts admit what their
	// vendor's defaults admit.
	Off bool
	// DockerAPI are the sources admitted to the Docker API (mutual TLS on
	// 2376): where Terraform and the operators connect from.
	DockerAPI []netip.Prefix
	// SSH are the sources admitted to SSH (22); none closes it.
	SSH []netip.Prefix
	// Inbound are more rules of the owner's (a port the hosts serve
	// outside the swarm, a health check's).
	Inbound []cloud.FirewallRule
}

// FirewallName is the name of cluster uid's firewalls.
func FirewallName(clusterUID string) string { return "haddock-" + clusterUID }

// FirewallRules are the inbound rules of the cluster's firewall: peers
// are the addresses of the cluster's hosts elsewhere than the firewall's
// place, ports what the services publish.
func FirewallRules(p FirewallPolicy, peers []netip.Prefix, ports []swarm.PublishedPort) []cloud.FirewallRule {
	peers = sortedPrefixes(peers)
	var out []cloud.FirewallRule
	for _, sp := range []struct {
		proto string
		port  int
		what  string
	}{
		{cloud.ProtocolTCP, portSwarmManagement, "Swarm cluster management"},
		{cloud.ProtocolTCP, portSwarmGossip, "Swarm node gossip"},
		{cloud.ProtocolUDP, portSwarmGossip, "Swarm node gossip"},
		{cloud.ProtocolUDP, portSwarmOverlay, "Swarm overlay networks (VXLAN)"},
	} {
		out = append(out, cloud.FirewallRule{Protocol: sp.proto, Ports: cloud.Port(sp.port), FromTargets: true, CIDRs: peers, Description: sp.what + ", from the cluster's hosts"})
	}
	out = append(out, cloud.FirewallRule{Protocol: cloud.ProtocolTCP, Ports: cloud.Port(portDockerAPI), CIDRs: sortedPrefixes(p.DockerAPI), Description: "Docker API (mutual TLS)"})
	if len(p.SSH) > 0 {
		out = append(out, cloud.FirewallRule{Protocol: cloud.ProtocolTCP, Ports: cloud.Port(portSSH), CIDRs: sortedPrefixes(p.SSH), Description: "SSH"})
	}
	out = append(out, cloud.FirewallRule{Protocol: cloud.ProtocolICMP, CIDRs: cloud.Anywhere(), Description: "ICMP"})
	for _, pp := range ports {
		proto := pp.Protocol
		if proto != cloud.ProtocolTCP && proto != cloud.ProtocolUDP {
			continue // sctp: no vendor firewall here takes it
		}
		out = append(out, cloud.FirewallRule{Protocol: proto, Ports: cloud.Port(int(pp.Port)), CIDRs: cloud.Anywhere(), Description: "published by service " + pp.Service})
	}
	return append(out, p.Inbound...)
}

func sortedPrefixes(ps []netip.Prefix) []netip.Prefix {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out)
}

// hostPrefix is the address a host is reached at as a single-address
// prefix; false when it has none.
func hostPrefix(addr string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		ap, perr := netip.ParseAddrPort(addr)
		if perr != nil {
			return netip.Prefix{}, false
		}
		a = ap.Addr()
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// fwPlace is one place whose firewall a run keeps.
type fwPlace struct {
	driver cloud.Driver
	region string // "" when no host there tells it: the driver's own
	former bool   // a place a migration leaves
}

// firewallPlaces are the places this run keeps the firewall at: the
// group's own, the managers', and the places a migration of either
// leaves (whose hosts must still admit the new ones until they go).
func (r *groupRun) firewallPlaces(region string) []fwPlace {
	out := []fwPlace{{driver: r.g.driver, region: region}}
	add := func(d cloud.Driver, former bool, hosts []cloud.Host, ref *groupRef) {
		for _, p := range out {
			if p.driver == d {
				return
			}
		}
		reg := ""
		for _, h := range live(hosts) {
			if ref.placeOf(h.ID).driver == d {
				reg = h.Region
				break
			}
		}
		out = append(out, fwPlace{driver: d, region: reg, former: former})
	}
	if !r.manager() {
		add(r.mg.driver, false, r.managers, r.mg)
	}
	for _, p := range r.g.former {
		add(p.driver, true, r.hosts, r.g)
	}
	if !r.manager() {
		for _, p := range r.mg.former {
			add(p.driver, true, r.managers, r.mg)
		}
	}
	return out
}

// syncFirewall keeps the cluster's firewall at the run's places (see the
// top of the file); joining are hosts about to join, whose addresses the
// firewalls must admit first. A nil policy
// leaves the firewalls alone.
func (r *groupRun) syncFirewall(ctx context.Context, p *FirewallPolicy, region string, joining []cloud.Host) error {
	if p == nil {
		return nil
	}
	var ports []swarm.PublishedPort
	if !p.Off && r.op != nil {
		var err error
		if ports, err = r.op.PublishedPorts(ctx); err != nil {
			return fmt.Errorf("the cluster's firewall: reading the services' published ports from %s: %w", r.opHost.Name, err)
		}
	}
	var errs []error
	for _, fp := range r.firewallPlaces(region) {
		if fp.former {
			// A place the migration has left entirely keeps no firewall.
			gone, err := deleteFirewallIfEmpty(ctx, fp.driver, r.s.clusterUID, fp.region)
			if err != nil {
				errs = append(errs, err)
			}
			if gone || err != nil {
				continue
			}
		}
		if err := r.syncFirewallAt(ctx, fp, *p, ports, joining); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *groupRun) syncFirewallAt(ctx context.Context, fp fwPlace, p FirewallPolicy, ports []swarm.PublishedPort, joining []cloud.Host) error {
	fws, ok := fp.driver.(cloud.Firewalls)
	if !ok {
		logWarn(ctx, "this vendor's driver keeps no firewalls: the cluster's hosts there admit what the vendor's defaults admit", map[string]any{"cloud": string(fp.driver.Cloud())})
		return nil
	}
	name := FirewallName(r.s.clusterUID)
	if p.Off {
		if err := fws.DeleteFirewall(ctx, fp.region, name); err != nil {
			return fmt.Errorf("deleting the cluster's firewall on %s: %w", fp.driver.Cloud(), err)
		}
		return nil
	}
	// Peers: every node of the swarm by address (the same list whichever
	// group's run keeps the firewall, so runs do not undo each other), and
	// hosts about to join, by the address they will advertise. The tag
	// (FromTargets) does not cover those here: an AWS group reference
	// admits members' private addresses only, not a public one they
	// advertise.
	var peers []netip.Prefix
	for _, n := range r.nodes {
		if pr, ok := hostPrefix(n.Addr); ok {
			peers = append(peers, pr)
		}
	}
	for _, h := range joining {
		if pr, ok := hostPrefix(r.adv.of(h, AddressPrivate)); ok {
			peers = append(peers, pr)
		}
	}
	spec := cloud.FirewallSpec{Name: name, Region: fp.region, TargetTag: ClusterTag(r.s.clusterUID), Inbound: FirewallRules(p, peers, ports)}
	if _, err := fws.EnsureFirewall(ctx, spec); err != nil {
		return fmt.Errorf("the cluster's firewall on %s: %w", fp.driver.Cloud(), err)
	}
	return nil
}

// deleteFirewallIfEmpty deletes the cluster's firewall at a place where
// the cluster has no host left, and reports whether it did.
func deleteFirewallIfEmpty(ctx context.Context, d cloud.Driver, clusterUID, region string) (bool, error) {
	fws, ok := d.(cloud.Firewalls)
	if !ok {
		return false, nil
	}
	left, err := d.ListHosts(ctx, ClusterTag(clusterUID))
	if err != nil {
		return false, fmt.Errorf("listing the cluster's hosts on %s before deleting its firewall there: %w", d.Cloud(), err)
	}
	if len(live(left)) > 0 {
		return false, nil
	}
	if err := fws.DeleteFirewall(ctx, region, FirewallName(clusterUID)); err != nil {
		return false, fmt.Errorf("deleting the cluster's firewall on %s: %w", d.Cloud(), err)
	}
	return true, nil
}

// AdmitsMembersOnly reports whether hosts on vendor c admit Swarm's ports
// only from their own vendor network when the cluster keeps no firewall:
// an AWS host's security group (haddock-hosts) admits them from its
// members, by their private addresses, so a host on another vendor is
// dropped. DigitalOcean's droplets admit everything without a cloud
// firewall. The provider's plan checks ask the same.
func AdmitsMembersOnly(c cloud.Name) bool { return c == cloud.AWS }

// Kept reports whether p keeps the cluster's firewall: not off, and not a
// state from before firewalls (nil).
func (p *FirewallPolicy) Kept() bool { return p != nil && !p.Off }

// checkVendorsReach refuses, before anything changes, a run whose hosts
// span places (a vendor's region) while the cluster keeps no firewall (off,
// or a state from before firewalls) and one of the places admits its
// members only: hosts elsewhere could not reach the hosts there, and a join
// would time out halfway through a migration. That is another vendor, and
// as much another region of AWS: a security group admits members of its
// own region only. The cluster's firewall admits the other places' hosts
// by address.
func (r *groupRun) checkVendorsReach(p *FirewallPolicy, region string) error {
	if p.Kept() {
		return nil
	}
	places := r.firewallPlaces(region)
	closed := ""
	for _, fp := range places {
		if AdmitsMembersOnly(fp.driver.Cloud()) {
			closed = string(fp.driver.Cloud())
		}
	}
	if len(places) < 2 || closed == "" {
		return nil
	}
	return fmt.Errorf("the cluster's hosts span %s, but the cluster keeps no firewall, and hosts on %s then admit Swarm's ports "+
		"(2377/tcp, 7946/tcp+udp, 4789/udp) only from their own security group, which hosts on another vendor or in another region are not in: they could not join. "+
		"Nothing was changed. Turn the cluster's firewall on (firewall { enabled = true } on the cluster) and apply, then run this change again: "+
		"its rules admit the other places' hosts by address", placeNames(places), closed)
}

// placeNames names places for a message: by vendor ("aws and
// digitalocean"), and by region too where a vendor has several.
func placeNames(places []fwPlace) string {
	per := map[cloud.Name]int{}
	for _, fp := range places {
		per[fp.driver.Cloud()]++
	}
	var names []string
	for _, fp := range places {
		n := string(fp.driver.Cloud())
		if per[fp.driver.Cloud()] > 1 {
			reg := fp.region
			if reg == "" {
				reg = "another region"
			}
			n += " " + reg
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return strings.Join(names, " and ")
}

// keepFirewall records the run's firewall policy and keeps the firewall
// before anything is created: a failure stops the run, nothing changed.
func (r *groupRun) keepFirewall(ctx context.Context, d desired) error {
	r.fw, r.fwRegion = d.firewall, d.Region
	return r.syncFirewall(ctx, r.fw, r.fwRegion, nil)
}

// SyncFirewall keeps the cluster's firewall at the managers' place: what
// a stack calls after a deploy or removal changed the published ports.
// Node groups at other places open them on their next apply.
func (c *Cluster) SyncFirewall(ctx context.Context, p *FirewallPolicy) error {
	if p == nil {
		return nil
	}
	ctx = logCtx(ctx)
	s := c.session()
	defer s.close()
	r, err := c.newGroupRun(ctx, s, ManagersGroup, c.driver)
	if err != nil {
		return err
	}
	if err := r.connect(ctx, nil); err != nil {
		return fmt.Errorf("the cluster's firewall: %w", err)
	}
	region := ""
	for _, h := range live(r.hosts) {
		region = h.Region
		break
	}
	return r.syncFirewall(ctx, p, region, nil)
}

// ManagersFirewall reads the cluster's firewall at the managers' place
// (a refresh's drift check, an import's read): nil when there is none;
// known is false when their vendor's driver keeps no firewalls.
func (c *Cluster) ManagersFirewall(ctx context.Context) (fw *cloud.Firewall, known bool, err error) {
	fws, ok := c.driver.(cloud.Firewalls)
	if !ok {
		return nil, false, nil
	}
	fw, err = fws.GetFirewall(logCtx(ctx), "", FirewallName(c.UID()))
	switch {
	case cloud.IsNotFound(err):
		return nil, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading the cluster's firewall: %w", err)
	}
	return fw, true, nil
}

// PolicyOf reads back the policy a firewall was kept with: the Docker
// API's and SSH's sources. Rules of the owner's own cannot be told from
// the published ports' and are not read.
func PolicyOf(fw *cloud.Firewall) FirewallPolicy {
	p := FirewallPolicy{DockerAPI: []netip.Prefix{}, SSH: []netip.Prefix{}}
	for _, r := range fw.Inbound {
		if r.Protocol != cloud.ProtocolTCP || r.FromTargets {
			continue
		}
		switch r.Ports {
		case cloud.Port(portDockerAPI):
			p.DockerAPI = append(p.DockerAPI, r.CIDRs...)
		case cloud.Port(portSSH):
			p.SSH = append(p.SSH, r.CIDRs...)
		}
	}
	p.DockerAPI, p.SSH = sortedPrefixes(p.DockerAPI), sortedPrefixes(p.SSH)
	return p
}
