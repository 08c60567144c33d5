package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// NodeGroup is a handle on one group of workers of a cluster. Its hosts
// are on the vendor of its own driver, which may differ from the managers'.
type NodeGroup struct {
	c      *Cluster
	driver cloud.Driver
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

// Name returns the group's name.
func (g *NodeGroup) Name() string { return g.name }

// Observe reads the group: one tag-filtered list of its hosts (the driver
// reads every page), one list of the managers' hosts (to reach a manager)
// and one node list from the first manager that answers — never a call per
// host. When no manager answers, the view has the hosts only and
// SwarmError says why.
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

// groupRun is one operation on a node group.
type groupRun struct {
	s        *session
	g        *groupRef // the group's hosts
	mg       *groupRef // the managers' hosts
	hosts    []cloud.Host
	managers []cloud.Host
	op       Engine
	opHost   cloud.Host
	nodes    []swarm.Node
	serr     error
	token    string
}

func (g *NodeGroup) start(ctx context.Context, s *session) (*groupRun, error) {
	r := &groupRun{s: s, g: s.group(g.name, g.driver), mg: s.group(ManagersGroup, g.c.driver)}
	var err error
	if r.hosts, err = s.list(ctx, r.g); err != nil {
		return nil, err
	}
	if r.managers, err = s.list(ctx, r.mg); err != nil {
		return nil, err
	}
	r.op, r.opHost, r.nodes, r.serr = s.connectManager(ctx, r.managers, nil)
	if r.serr != nil {
		r.serr = fmt.Errorf("reaching a manager of cluster %s: %w", s.clusterUID, r.serr)
	}
	return r, nil
}

func (r *groupRun) view() *View {
	return buildView(r.s.clusterUID, r.g.name, r.g.driver.Cloud(), r.hosts, r.nodes, r.serr)
}

func (r *groupRun) refresh(ctx context.Context) error {
	nodes, err := r.op.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("reading the node list from manager %s: %w", r.opHost.Name, err)
	}
	r.nodes = nodes
	return nil
}

func (r *groupRun) hostByUID(uid string) *cloud.Host {
	for i := range r.hosts {
		if uid != "" && HostUID(r.hosts[i]) == uid {
			h := r.hosts[i]
			return &h
		}
	}
	return nil
}

func (r *groupRun) setHost(h cloud.Host) {
	for i := range r.hosts {
		if r.hosts[i].ID == h.ID {
			r.hosts[i] = h
			return
		}
	}
	r.hosts = append(r.hosts, h)
	sortHosts(r.hosts)
}

func (r *groupRun) dropHosts(hs []cloud.Host) {
	r.hosts = slices.DeleteFunc(r.hosts, func(h cloud.Host) bool {
		return slices.ContainsFunc(hs, func(x cloud.Host) bool { return x.ID == h.ID })
	})
}

// advertise is the kind of address the group's nodes advertise: the kind
// the managers advertise (seen from the operator's Raft address).
func (r *groupRun) advertise() AddressKind {
	uid := HostUID(r.opHost)
	for _, n := range r.nodes {
		if n.EngineLabels[EngineLabelUID] != uid || n.ManagerStatus == nil {
			continue
		}
		host, _, err := net.SplitHostPort(n.ManagerStatus.Addr)
		if err == nil && host == r.opHost.PublicIPv4 && host != r.opHost.PrivateIPv4 {
			return AddressPublic
		}
	}
	return AddressPrivate
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
	if spec.Name == "" {
		spec.Name = g.name
	}
	if spec.Name != g.name {
		return nil, fmt.Errorf("node group %s: the spec is for group %s", g.name, spec.Name)
	}
	if err := validateHostsSpec("node group "+g.name, spec.HostsSpec); err != nil {
		return nil, err
	}
	if spec.HostNamePrefix == "" {
		spec.HostNamePrefix = g.name
	}
	if err := validateName("host name prefix", spec.HostNamePrefix); err != nil {
		return nil, err
	}
	if spec.Availability == "" {
		spec.Availability = swarm.AvailabilityActive
	}
	switch spec.Availability {
	case swarm.AvailabilityActive, swarm.AvailabilityPause, swarm.AvailabilityDrain:
	default:
		return nil, fmt.Errorf("node group %s: availability %q must be active, pause or drain", g.name, spec.Availability)
	}
	if spec.DrainTimeout <= 0 {
		spec.DrainTimeout = g.c.opts.DrainTimeout
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
	if g.driver.Cloud() != g.c.driver.Cloud() && r.advertise() == AddressPrivate {
		logWarn(ctx, "this node group is on another vendor than the managers, which advertise private addresses: its hosts must reach the managers' private network (VPN, peering)", map[string]any{"group": g.name, "cloud": string(g.driver.Cloud()), "managers_cloud": string(g.c.driver.Cloud())})
	}
	err = r.apply(ctx, spec)
	if err != nil {
		return r.view(), fmt.Errorf("%s: %w", what, err)
	}
	return r.view(), nil
}

func (r *groupRun) apply(ctx context.Context, spec GroupSpec) error {
	var later []error
	if err := r.cleanup(ctx); err != nil {
		later = append(later, err)
	}
	v := r.view()
	var joined []Member
	var pending []cloud.Host
	for _, m := range v.Members {
		h := r.hostByUID(m.UID)
		if h == nil || !counted(*h) {
			continue
		}
		if m.NodeID != "" {
			joined = append(joined, m)
		} else {
			pending = append(pending, *h)
		}
	}
	want := spec.Count
	if extra := len(joined) + len(pending) - want; extra > 0 && len(pending) > 0 {
		n := min(extra, len(pending))
		drop := pending[len(pending)-n:]
		pending = pending[:len(pending)-n]
		later = append(later, r.s.deleteHosts(ctx, r.g, drop)...)
		r.dropHosts(drop)
	}
	if extra := len(joined) - want; extra > 0 {
		if err := r.shrink(ctx, joined, extra, len(joined), spec); err != nil {
			return errors.Join(append(later, err)...)
		}
	}
	later = append(later, r.join(ctx, pending)...)
	if need := want - len(joined) - len(pending); need > 0 {
		names := nextNames(spec.HostNamePrefix, hostNames(r.hosts), need)
		for start := 0; start < len(names); start += r.s.opts.Concurrency {
			wave := names[start:min(start+r.s.opts.Concurrency, len(names))]
			created, errs := r.s.create(ctx, r.g, roleWorker, spec.HostsSpec, wave)
			for _, h := range created {
				r.setHost(h)
			}
			later = append(later, errs...)
			later = append(later, r.join(ctx, created)...)
			if len(errs) > 0 || ctx.Err() != nil {
				break
			}
		}
	}
	if err := r.settle(ctx, spec); err != nil {
		later = append(later, err)
	}
	return errors.Join(later...)
}

// cleanup removes nodes without a host, superseded nodes and hosts the
// vendor failed.
func (r *groupRun) cleanup(ctx context.Context) error {
	v := r.view()
	var errs []error
	ids := slices.Clone(v.StaleNodes)
	for _, m := range v.Members {
		if m.HostMissing() {
			ids = append(ids, m.NodeID)
		}
	}
	for _, id := range ids {
		if isRaft(r.nodes, id) {
			errs = append(errs, &HostError{Group: r.g.name, NodeID: id, Op: "removing the node of a deleted host",
				Err: errors.New("the node is a manager (promoted outside Haddock)"), Fix: "Demote it (docker node demote), then run apply again"})
			continue
		}
		if err := r.op.RemoveNode(ctx, id, true); err != nil {
			errs = append(errs, &HostError{Group: r.g.name, NodeID: id, Op: "removing the node of a deleted host", Err: err, Fix: fixRetry})
		}
	}
	var failed []cloud.Host
	for _, m := range v.Members {
		if h := r.hostByUID(m.UID); h != nil && h.Status == cloud.HostError && !isRaft(r.nodes, m.NodeID) {
			if err := r.s.removeNode(ctx, r.op, r.g, m, nil); err != nil {
				errs = append(errs, err)
				continue
			}
			failed = append(failed, *h)
		}
	}
	if len(failed) > 0 {
		errs = append(errs, r.s.deleteHosts(ctx, r.g, failed)...)
		r.dropHosts(failed)
	}
	if len(ids) > 0 || len(failed) > 0 {
		if err := r.refresh(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shrink removes n of the joined members: chosen by
// swarm.ChooseWorkersToRemove, drained together, then each left, removed
// and its host deleted.
func (r *groupRun) shrink(ctx context.Context, joined []Member, n, have int, spec GroupSpec) error {
	chosen := swarm.ChooseWorkersToRemove(workerNodes(joined), n)
	if len(chosen) < n {
		var mgrs []string
		for _, m := range joined {
			if m.Role == swarm.RoleManager {
				mgrs = append(mgrs, m.display())
			}
		}
		return fmt.Errorf("scaling from %d to %d hosts: only %d nodes of the group are workers; %s were promoted to manager outside Haddock: demote them first",
			have, spec.Count, len(workerNodes(joined)), strings.Join(mgrs, ", "))
	}
	byNode := map[string]Member{}
	for _, m := range joined {
		byNode[m.NodeID] = m
	}
	ids := make([]string, len(chosen))
	names := make([]string, len(chosen))
	for i, c := range chosen {
		ids[i], names[i] = c.ID, byNode[c.ID].display()
	}
	logInfo(ctx, "draining nodes before removing them", map[string]any{"group": r.g.name, "hosts": strings.Join(names, ", "), "timeout": spec.DrainTimeout.String()})
	if err := r.op.DrainNodes(ctx, ids, spec.DrainTimeout); err != nil {
		return fmt.Errorf("scaling from %d to %d hosts: draining %s before removing them: %w. %s", have, spec.Count, strings.Join(names, ", "), err, drainFix(err))
	}
	var mu sync.Mutex
	var errs []error
	var gone []cloud.Host
	parallel(len(chosen), r.s.opts.Concurrency, func(i int) {
		m := byNode[chosen[i].ID]
		h := r.hostByUID(m.UID)
		if err := r.s.removeNode(ctx, r.op, r.g, m, h); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			return
		}
		if h != nil {
			mu.Lock()
			gone = append(gone, *h)
			mu.Unlock()
		}
	})
	errs = append(errs, r.s.deleteHosts(ctx, r.g, gone)...)
	r.dropHosts(gone)
	if err := r.refresh(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// join boots hosts together (bounded by Options.Concurrency) and joins each
// as a worker as soon as its engine answers, then waits for all their
// nodes to be ready with one node list per poll.
func (r *groupRun) join(ctx context.Context, hosts []cloud.Host) []error {
	if len(hosts) == 0 {
		return nil
	}
	if r.token == "" {
		w, _, err := r.op.JoinTokens(ctx)
		if err != nil {
			return []error{fmt.Errorf("reading the worker join token from manager %s: %w", r.opHost.Name, err)}
		}
		r.token = w
	}
	adv := r.advertise()
	remotes := remoteAddrs(r.nodes, net.JoinHostPort(adv.of(r.opHost, AddressPrivate), strconv.Itoa(swarm.SwarmPort)))
	var mu sync.Mutex
	var errs []error
	joined := map[string]cloud.Host{}
	booted := make([]cloud.Host, len(hosts))
	parallel(len(hosts), r.s.opts.Concurrency, func(i int) {
		h, eng, err := r.s.boot(ctx, r.g, hosts[i])
		booted[i] = h
		if err == nil {
			if err = eng.Join(ctx, swarm.JoinOptions{RemoteAddrs: remotes, Token: r.token, AdvertiseAddr: adv.of(h, AddressPrivate)}); err != nil {
				err = r.g.fail(h, "joining the swarm as a worker", err, fixSwarmPorts)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		joined[HostUID(h)] = h
	})
	for _, h := range booted {
		r.setHost(h)
	}
	nodes, werrs := r.s.waitNodes(ctx, r.op, r.g, joined, false)
	if nodes != nil {
		r.nodes = nodes
	}
	return append(errs, werrs...)
}

// settle gives every node of the group its labels and availability, where
// they differ.
func (r *groupRun) settle(ctx context.Context, spec GroupSpec) error {
	var errs []error
	changed := false
	for _, m := range r.view().Members {
		if m.HostMissing() || m.NodeID == "" {
			continue
		}
		if !labelsEqual(m.Labels, spec.Labels) || m.Availability != spec.Availability {
			changed = true
			if err := r.s.setNodeState(ctx, r.op, r.g, m, spec.Labels, spec.Availability); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if changed {
		if err := r.refresh(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func labelsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Destroy removes the group: each node leaves the swarm (no drain: the
// group is going away as a whole, and draining it could only fail when
// its tasks fit nowhere else) and is removed from the node list through a
// manager, then every host of the group is deleted and waited for. When no
// manager answers (the cluster is gone too) the hosts are deleted anyway.
func (g *NodeGroup) Destroy(ctx context.Context) error {
	ctx = logCtx(ctx)
	s := g.c.session()
	defer s.close()
	r, err := g.start(ctx, s)
	if err != nil {
		return fmt.Errorf("destroying node group %s: %w", g.name, err)
	}
	v := r.view()
	var errs []error
	if r.op != nil {
		var mu sync.Mutex
		parallel(len(v.Members), s.opts.Concurrency, func(i int) {
			m := v.Members[i]
			if m.NodeID == "" {
				return
			}
			var err error
			if isRaft(r.nodes, m.NodeID) {
				err = r.op.Demote(ctx, m.NodeID)
			}
			if err == nil {
				err = s.removeNode(ctx, r.op, r.g, m, r.hostByUID(m.UID))
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
		for _, id := range v.StaleNodes {
			if err := r.op.RemoveNode(ctx, id, true); err != nil {
				errs = append(errs, &HostError{Group: g.name, NodeID: id, Op: "removing a superseded node", Err: err, Fix: fixRetry})
			}
		}
	} else {
		logWarn(ctx, "no manager answered: the group's nodes are not removed from the swarm, its hosts are deleted", map[string]any{"group": g.name, "error": r.serr.Error()})
	}
	var del []cloud.Host
	for _, h := range r.hosts {
		if h.Status != cloud.HostDeleting {
			del = append(del, h)
		}
	}
	errs = append(errs, s.deleteHosts(ctx, r.g, del)...)
	return opError(fmt.Sprintf("destroying node group %s of cluster %s", g.name, s.clusterUID), errs)
}
