package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// NodeGroup is a handle on one group of workers of a cluster. Its hosts
// are on the vendor of its own driver, which may differ from the managers'.
type NodeGroup struct {
	c      *Cluster
	driver cloud.Driver
	former []cloud.Driver
	name   string
}

// NodeGroup returns a handle on the node group name, whose hosts driver
// manages (it may be another vendor's than the cluster's). It calls
// nothing.
func (c *Cluster) NodeGroup(driver cloud.Driver, name string) (*NodeGroup, error) {
	if driver == nil {
		return nil, fmt.Errorf("node group %s: no cloud driver", name)
	}
	if err := ValidateGroupName(name); err != nil {
		return nil, err
	}
	return &NodeGroup{c: c, driver: driver, name: name}, nil
}

// MovingFrom tells the group its hosts are moving to its driver's vendor
// or region from the places of former (the group's cloud or region
// changed): hosts there are listed with the others, out of date, and
// replaced max_surge at a time by Apply; Destroy deletes them too. Pass
// the former places for as long as hosts may remain there.
func (g *NodeGroup) MovingFrom(former ...cloud.Driver) {
	g.former = slices.DeleteFunc(slices.Clone(former), func(d cloud.Driver) bool { return d == nil || d == g.driver })
}

// Name returns the group's name.
func (g *NodeGroup) Name() string { return g.name }

// Observe reads the group: one tag-filtered list of its hosts (the driver
// reads every page), one list of the managers' hosts (to reach a manager)
// and one node list from a manager that answers, the leader first — never
// a call per host. When no manager answers, the view has the hosts only
// and SwarmError says why.
func (g *NodeGroup) Observe(ctx context.Context) (*View, error) {
	ctx = logCtx(ctx)
	s := g.c.session()
	defer s.close()
	r, err := g.start(ctx, s)
	if err != nil {
		return nil, err
	}
	return r.view(), nil
}

// start lists the group and the managers and reaches a manager.
func (g *NodeGroup) start(ctx context.Context, s *session) (*groupRun, error) {
	r, err := g.c.newGroupRun(ctx, s, g.name, g.driver, g.former...)
	if err != nil {
		return nil, err
	}
	if err := r.connect(ctx, nil); err != nil {
		r.serr = fmt.Errorf("reaching a manager of cluster %s: %w", s.clusterUID, err)
	}
	return r, nil
}

// Apply brings the group to spec, touching nothing else:
//
//   - nodes of hosts deleted outside Haddock (and superseded nodes) are
//     removed from the swarm; hosts the vendor failed are deleted;
//   - hosts not in the swarm yet (an earlier run failed to join them) join,
//     or are deleted when the group has more than it wants;
//   - growing creates only the new hosts, in waves of Options.Concurrency
//     (one CreateHosts call per wave), waits for them together (one list
//     call per poll for the whole wave), and joins them as workers with a
//     join token read from a manager;
//   - shrinking picks nodes with swarm.ChooseWorkersToRemove (not ready
//     first, then newest), drains them (swarm.DrainNodes, bounded by
//     DrainTimeout: if their tasks cannot be placed elsewhere nothing is
//     removed and the error names what could not be placed), then, per
//     node, leaves, removes it from the swarm and deletes its host;
//   - node labels and availability are set where they differ.
//
// The view is returned with the error too: it shows what exists after a
// partial failure.
func (g *NodeGroup) Apply(ctx context.Context, spec GroupSpec) (*View, error) {
	ctx = logCtx(ctx)
	spec, err := g.normalize(spec)
	if err != nil {
		return nil, err
	}
	s := g.c.session()
	defer s.close()
	r, err := g.start(ctx, s)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("applying node group %s of cluster %s (%d hosts wanted)", g.name, s.clusterUID, spec.Count)
	if r.serr != nil {
		return r.view(), fmt.Errorf("%s: %w. %s", what, r.serr, fixManagerDown)
	}
	r.adv = r.advertise()
	// Hosts on another vendor than the managers cannot reach private
	// addresses that differ from the public ones (a host whose two are the
	// same, as on localcloud, tells nothing).
	if g.driver.Cloud() != g.c.driver.Cloud() && r.adv == AddressPrivate && r.opHost.PrivateIPv4 != r.opHost.PublicIPv4 {
		if len(r.g.former) > 0 {
			return r.view(), fmt.Errorf("%s: the group is moving to %s, but the managers on %s advertise their private addresses, which hosts on %s cannot reach: "+
				"nothing was changed. Set advertise_address = \"public\" on the cluster and apply first (the nodes are replaced advertising their public addresses), or join the vendors' private networks, before moving the group", what, g.driver.Cloud(), g.c.driver.Cloud(), g.driver.Cloud())
		}
		logWarn(ctx, "this node group is on another vendor than the managers, which advertise private addresses: its hosts must reach the managers' private network (VPN, peering)", map[string]any{"group": g.name, "cloud": string(g.driver.Cloud()), "managers_cloud": string(g.c.driver.Cloud())})
	}
	err = r.apply(ctx, desired{HostsSpec: spec.HostsSpec, prefix: spec.HostNamePrefix, availability: spec.Availability, drainTimeout: spec.DrainTimeout, rolling: spec.RollingUpdate, firewall: spec.Firewall})
	if err != nil {
		return r.view(), fmt.Errorf("%s: %w", what, err)
	}
	return r.view(), nil
}

// normalize checks spec and fills its defaults.
func (g *NodeGroup) normalize(spec GroupSpec) (GroupSpec, error) {
	if spec.Name == "" {
		spec.Name = g.name
	}
	if spec.Name != g.name {
		return spec, fmt.Errorf("node group %s: the spec is for group %s", g.name, spec.Name)
	}
	if err := validateHostsSpec("node group "+g.name, spec.HostsSpec); err != nil {
		return spec, err
	}
	if err := spec.RollingUpdate.Validate(spec.Count); err != nil {
		return spec, fmt.Errorf("node group %s: %w", g.name, err)
	}
	if spec.HostNamePrefix == "" {
		spec.HostNamePrefix = g.name
	}
	if err := validateName("host name prefix", spec.HostNamePrefix); err != nil {
		return spec, err
	}
	if spec.Availability == "" {
		spec.Availability = swarm.AvailabilityActive
	}
	switch spec.Availability {
	case swarm.AvailabilityActive, swarm.AvailabilityPause, swarm.AvailabilityDrain:
	default:
		return spec, fmt.Errorf("node group %s: availability %q must be active, pause or drain", g.name, spec.Availability)
	}
	if spec.DrainTimeout <= 0 {
		spec.DrainTimeout = g.c.opts.DrainTimeout
	}
	return spec, nil
}

// GroupDestroyOptions tunes NodeGroup.Destroy.
type GroupDestroyOptions struct {
	// DrainTimeout bounds the drain of the group's nodes before they are
	// removed; default Options.DrainTimeout.
	DrainTimeout time.Duration
	// LoadBalancers the group's hosts are taken out of (and the
	// deregistration waited for) before anything is drained.
	LoadBalancers []string
}

// Destroy removes the group without costing the swarm its quorum (see
// groupRun.destroy): nodes promoted to manager outside Haddock are demoted
// first, one at a time, and a host whose node could not be demoted is
// kept; the nodes are drained (bounded by DrainTimeout: a drain that
// cannot place every task elsewhere does not stop the destroy, since the
// group was asked to go); then each node leaves and is removed through a
// manager, and the hosts are deleted and waited for. When no manager
// answers, a host is deleted only when its own engine says it is not a
// manager; otherwise nothing is deleted and the error says what to do.
// opts is optional (at most one).
func (g *NodeGroup) Destroy(ctx context.Context, opts ...GroupDestroyOptions) error {
	ctx = logCtx(ctx)
	drain := g.c.opts.DrainTimeout
	var lbs []string
	for _, o := range opts {
		if o.DrainTimeout > 0 {
			drain = o.DrainTimeout
		}
		lbs = append(lbs, o.LoadBalancers...)
	}
	s := g.c.session()
	defer s.close()
	r, err := g.start(ctx, s)
	if err != nil {
		return fmt.Errorf("destroying node group %s: %w", g.name, err)
	}
	what := fmt.Sprintf("destroying node group %s of cluster %s", g.name, s.clusterUID)
	region := ""
	for _, h := range r.hosts {
		region = h.Region
	}
	if err := opError(what, r.destroy(ctx, drain, lbs)); err != nil {
		return err
	}
	if g.driver != g.c.driver {
		// The cluster's firewall at a place only this group used goes
		// with it; the managers' place keeps its own until the cluster goes.
		if _, err := deleteFirewallIfEmpty(ctx, g.driver, s.clusterUID, region); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}
