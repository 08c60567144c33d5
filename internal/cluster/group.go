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
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// groupRun is one operation on one group of hosts: the managers (role
// manager) or a node group of workers. Both go through the same steps —
// cleanup, drop extra pending hosts, shrink, join pending hosts, grow,
// settle — built from the named operations in steps.go. Where Raft makes
// the roles differ, a step branches on the role: managers join one at a
// time and leave by a quorum-checked plan (demote, remove), workers join
// in waves and leave after a drain.
type groupRun struct {
	c    *Cluster
	s    *session
	g    *groupRef // the group's hosts
	mg   *groupRef // the managers' hosts (g itself for the managers)
	role string

	hosts     []cloud.Host // the group's hosts as known now
	managers  []cloud.Host // the managers' hosts, for a node group
	op        Engine       // a manager's engine, the leader's when it answers
	opHost    cloud.Host   // its host
	nodes     []swarm.Node // the node list as last read
	serr      error        // why op is nil
	adv       AddressKind  // what the group's nodes advertise
	tokens    map[bool]string
	booted    map[string]Engine // engines of hosts booted in this run, by uid
	failed    map[string]bool   // uids of hosts that failed to boot in this run
	later     []error           // errors reported at the end (the run went on)
	wantCount int               // the count being applied
	fw        *FirewallPolicy   // the cluster's firewall, kept by the run
	fwRegion  string            // the group's region, where it is kept
}

// desired is what a group should be, whatever its role.
type desired struct {
	HostsSpec
	prefix       string             // host names are "<prefix>-<n>"
	availability swarm.Availability // "" leaves it alone (managers)
	drainTimeout time.Duration
	rolling      RollingUpdate
	settings     *Settings // the swarm's settings (managers only)
	firewall     *FirewallPolicy
}

// newGroupRun starts an operation on group name (driver d) of cluster c
// and lists its hosts; a node group also lists the managers' hosts.
// It does not contact any engine yet: see connect.
func (c *Cluster) newGroupRun(ctx context.Context, s *session, name string, d cloud.Driver, former ...cloud.Driver) (*groupRun, error) {
	r := &groupRun{c: c, s: s, g: s.group(name, d, former...), role: roleWorker, failed: map[string]bool{}, booted: map[string]Engine{}}
	r.mg = r.g
	if name == ManagersGroup {
		r.role = roleManager
	} else {
		r.mg = s.group(ManagersGroup, c.driver, c.former...)
	}
	var err error
	if r.hosts, err = s.list(ctx, r.g); err != nil {
		return nil, err
	}
	if !r.manager() {
		if r.managers, err = s.list(ctx, r.mg); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *groupRun) manager() bool { return r.role == roleManager }

// managerHosts are the hosts a manager is looked for among.
func (r *groupRun) managerHosts() []cloud.Host {
	if r.manager() {
		return live(r.hosts)
	}
	return r.managers
}

// connect finds a manager that answers, the leader first, and reads the
// node list; serr says why when none does.
func (r *groupRun) connect(ctx context.Context, exclude map[string]bool) error {
	op, h, nodes, err := r.s.connectManager(ctx, r.managerHosts(), exclude)
	if err != nil {
		r.serr = err
		return err
	}
	r.op, r.opHost, r.nodes, r.serr = op, h, nodes, nil
	return nil
}

func (r *groupRun) view() *View {
	return buildView(r.s.clusterUID, r.g.name, r.g.cloudOf, r.hosts, r.nodes, r.serr)
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

// member returns the member whose node is id (a bare one when unknown).
func (r *groupRun) member(id string) Member {
	for _, m := range r.view().Members {
		if m.NodeID == id {
			return m
		}
	}
	return Member{NodeID: id, Group: r.g.name}
}

// advertise is the kind of address a node group's nodes advertise: the
// kind the managers advertise (seen from the operator's Raft address).
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

// apply brings the group to d. The caller has connected (r.op is set).
func (r *groupRun) apply(ctx context.Context, d desired) error {
	r.wantCount = d.Count
	if r.adv == "" {
		r.adv = r.advertise()
	}
	if err := r.checkVendorsReach(d.firewall, d.Region); err != nil {
		return err
	}
	// The firewall first: hosts created next are filtered from their boot.
	if err := r.keepFirewall(ctx, d); err != nil {
		return err
	}
	if err := r.cleanup(ctx); err != nil {
		if r.manager() {
			// Raft changes go one at a time: stop rather than plan on a
			// membership we could not repair.
			return errors.Join(append(r.later, err)...)
		}
		r.later = append(r.later, err)
	}
	joined, pending := r.census()
	if stray := slices.DeleteFunc(slices.Clone(pending), func(h cloud.Host) bool { return !r.g.moving(h.ID) }); len(stray) > 0 {
		// Hosts at the place a migration leaves that never joined serve
		// nothing: delete them rather than join them there.
		pending = slices.DeleteFunc(pending, func(h cloud.Host) bool { return r.g.moving(h.ID) })
		errs := r.deleteHosts(ctx, stray)
		if r.manager() && len(errs) > 0 {
			return errors.Join(append(r.later, errs...)...)
		}
		r.later = append(r.later, errs...)
	}
	if extra := len(joined) + len(pending) - d.Count; extra > 0 && len(pending) > 0 {
		n := min(extra, len(pending))
		drop := pending[len(pending)-n:]
		pending = pending[:len(pending)-n]
		errs := r.deleteHosts(ctx, drop)
		if r.manager() && len(errs) > 0 {
			return errors.Join(append(r.later, errs...)...)
		}
		r.later = append(r.later, errs...)
	}
	if len(joined) > d.Count {
		// An interrupted rollout left replacements beside the hosts they
		// replace: retire the out-of-date ones first, never the new.
		n, err := r.retireOutdated(ctx, d, len(joined)-d.Count)
		if err != nil {
			return errors.Join(append(r.later, err)...)
		}
		if n > 0 {
			joined, pending = r.census()
		}
	}
	if len(joined) > d.Count {
		if err := r.shrink(ctx, joined, d); err != nil {
			return errors.Join(append(r.later, err)...)
		}
	}
	if err := r.joinHosts(ctx, pending); err != nil {
		if r.manager() {
			return errors.Join(append(r.later, err)...)
		}
		r.later = append(r.later, err)
	}
	if err := r.grow(ctx, d); err != nil {
		return errors.Join(append(r.later, err)...)
	}
	if len(r.later) == 0 {
		if err := r.roll(ctx, d); err != nil {
			return err
		}
	}
	if err := r.settle(ctx, d); err != nil {
		if r.manager() {
			return errors.Join(append(r.later, err)...)
		}
		r.later = append(r.later, err)
	}
	return errors.Join(r.later...)
}

// census splits the group's counted hosts into members in the swarm and
// hosts not in it yet (not joined, or an earlier join failed; hosts that
// failed to boot in this run are left out).
func (r *groupRun) census() (joined []Member, pending []cloud.Host) {
	for _, m := range r.view().Members {
		h := r.hostByUID(m.UID)
		if h == nil || !counted(*h) {
			continue
		}
		if m.NodeID != "" {
			joined = append(joined, m)
		} else if !r.failed[m.UID] {
			pending = append(pending, *h)
		}
	}
	return joined, pending
}

// cleanup removes what should not be there before counting: nodes whose
// hosts were deleted outside Haddock (managers demoted first, with the
// quorum arithmetic of swarm.PlanRemoveManagers), superseded nodes, hosts
// the vendor failed, and — for the managers — manager hosts whose node is
// no longer a manager (promoted back while managers are missing, else
// removed).
func (r *groupRun) cleanup(ctx context.Context) error {
	v := r.view()
	var errs []error
	var dead []string
	for _, m := range v.Members {
		if !m.HostMissing() || !isRaft(r.nodes, m.NodeID) {
			continue
		}
		if !r.manager() {
			errs = append(errs, &HostError{Group: r.g.name, NodeID: m.NodeID, Op: "removing the node of a deleted host",
				Err: errors.New("the node is a manager (promoted outside Haddock)"), Fix: "Demote it (docker node demote), then run apply again"})
			continue
		}
		dead = append(dead, m.NodeID)
	}
	if len(dead) > 0 {
		steps, err := swarm.PlanRemoveManagers(swarm.ManagersOf(r.nodes), dead)
		if err != nil {
			return fmt.Errorf("removing the managers whose hosts were deleted outside Haddock: %w", err)
		}
		if err := r.execRaft(ctx, steps); err != nil {
			return err
		}
		v = r.view()
	}
	touched := len(dead) > 0
	for _, m := range v.Members {
		if m.HostMissing() && !isRaft(r.nodes, m.NodeID) {
			touched = true
			if err := r.op.RemoveNode(ctx, m.NodeID, true); err != nil {
				errs = append(errs, r.g.failMember(m, "removing the node of a deleted host", err))
			}
		}
	}
	for _, id := range v.StaleNodes {
		if !isRaft(r.nodes, id) {
			touched = true
			if err := r.op.RemoveNode(ctx, id, true); err != nil {
				errs = append(errs, &HostError{Group: r.g.name, NodeID: id, Op: "removing a superseded node", Err: err, Fix: fixRetry})
			}
		}
	}
	ours := len(r.ours())
	var gone []cloud.Host
	for _, m := range v.Members {
		h := r.hostByUID(m.UID)
		if h == nil || h.Status == cloud.HostDeleting || (m.NodeID != "" && isRaft(r.nodes, m.NodeID)) {
			continue
		}
		failed := h.Status == cloud.HostError
		demoted := r.manager() && m.NodeID != "" && !failed
		if !failed && !demoted {
			continue
		}
		if demoted && ours < r.want() && m.State == swarm.NodeStateReady {
			logInfo(ctx, "promoting a manager host's node back", map[string]any{"host": h.Name, "node": m.NodeID})
			if err := r.op.Promote(ctx, m.NodeID); err != nil {
				errs = append(errs, r.g.failMember(m, "promoting the node of a manager host back to manager", err))
			} else {
				ours++
			}
			continue
		}
		if err := r.removeNode(ctx, m, h); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, *h)
	}
	if len(gone) > 0 {
		touched = true
		errs = append(errs, r.deleteHosts(ctx, gone)...)
	}
	if touched || r.manager() {
		if err := r.refresh(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// want is the count being applied (the cleanup's promote-back rule).
func (r *groupRun) want() int { return r.wantCount }

// ours returns the Raft members that are this group's hosts.
func (r *groupRun) ours() []swarm.ManagerNode {
	mine := map[string]bool{}
	for _, m := range r.view().Members {
		if !m.HostMissing() && m.NodeID != "" {
			mine[m.NodeID] = true
		}
	}
	var out []swarm.ManagerNode
	for _, m := range swarm.ManagersOf(r.nodes) {
		if mine[m.ID] {
			out = append(out, m)
		}
	}
	return out
}

// shrink removes members until d.Count are left. Managers follow
// swarm.PlanManagerChange — unreachable first, then newest, the leader
// last — each demoted, removed and its host deleted, through a manager
// that stays. Workers are chosen by swarm.ChooseWorkersToRemove (not ready
// first, then newest), drained together, then each leaves, is removed and
// its host deleted.
func (r *groupRun) shrink(ctx context.Context, joined []Member, d desired) error {
	if r.manager() {
		ours := r.ours()
		plan, err := swarm.PlanManagerChange(ours, d.Count)
		if err != nil {
			return fmt.Errorf("refusing to change the managers from %d to %d: %w", len(ours), d.Count, err)
		}
		var ids []string
		for _, st := range plan {
			if st.Action == swarm.StepDemote {
				ids = append(ids, st.Node.ID)
			}
		}
		// Plan again over every Raft member, in case some are not ours.
		steps, err := swarm.PlanRemoveManagers(swarm.ManagersOf(r.nodes), ids)
		if err != nil {
			return fmt.Errorf("refusing to change the managers from %d to %d: %w", len(ours), d.Count, err)
		}
		leaving := make([]Member, 0, len(ids))
		for _, id := range ids {
			leaving = append(leaving, r.member(id))
		}
		if err := r.deregister(ctx, d, leaving); err != nil {
			return fmt.Errorf("changing the managers from %d to %d: %w", len(ours), d.Count, err)
		}
		return r.execRaft(ctx, steps)
	}
	have, n := len(joined), len(joined)-d.Count
	chosen := swarm.ChooseWorkersToRemove(workerNodes(joined), n)
	if len(chosen) < n {
		var mgrs []string
		for _, m := range joined {
			if m.Role == swarm.RoleManager {
				mgrs = append(mgrs, m.display())
			}
		}
		return fmt.Errorf("scaling from %d to %d hosts: only %d nodes of the group are workers; %s were promoted to manager outside Haddock: demote them first",
			have, d.Count, len(workerNodes(joined)), strings.Join(mgrs, ", "))
	}
	byNode := map[string]Member{}
	for _, m := range joined {
		byNode[m.NodeID] = m
	}
	members := make([]Member, len(chosen))
	for i, c := range chosen {
		members[i] = byNode[c.ID]
	}
	if err := r.deregister(ctx, d, members); err != nil {
		return fmt.Errorf("scaling from %d to %d hosts: %w", have, d.Count, err)
	}
	if err := r.drain(ctx, members, d.drainTimeout); err != nil {
		return fmt.Errorf("scaling from %d to %d hosts: %w", have, d.Count, err)
	}
	return r.retire(ctx, members)
}

// grow creates the hosts still missing, in waves of Options.Concurrency
// (one CreateHosts call per wave), and joins each wave. A manager group
// first checks that the swarm can take the change.
func (r *groupRun) grow(ctx context.Context, d desired) error {
	joined, pending := r.census()
	need := d.Count - len(joined) - len(pending)
	if r.manager() {
		ours := r.ours()
		if len(ours) == d.Count {
			return nil
		}
		if _, err := swarm.PlanManagerChange(ours, d.Count); err != nil {
			return fmt.Errorf("refusing to change the managers from %d to %d: %w", len(ours), d.Count, err)
		}
		need = d.Count - len(ours)
	}
	if need <= 0 {
		return nil
	}
	names := nextNames(d.prefix, hostNames(r.hosts), need)
	for start := 0; start < len(names); start += r.s.opts.Concurrency {
		wave := names[start:min(start+r.s.opts.Concurrency, len(names))]
		created, errs := r.createHosts(ctx, d.HostsSpec, wave)
		r.later = append(r.later, errs...)
		if err := r.joinHosts(ctx, created); err != nil {
			if r.manager() {
				return err
			}
			r.later = append(r.later, err)
		}
		if len(errs) > 0 || ctx.Err() != nil {
			break
		}
	}
	return nil //nolint:nilerr // a node group's join errors are reported at the end, with r.later
}

// settle gives every node of the group its labels (and, for a node group,
// its availability) where they differ, and the swarm its settings.
func (r *groupRun) settle(ctx context.Context, d desired) error {
	if r.manager() {
		if err := r.refresh(ctx); err != nil {
			return err
		}
	}
	var errs []error
	changed := false
	for _, m := range r.view().Members {
		if m.HostMissing() || m.NodeID == "" {
			continue
		}
		if labelsEqual(m.Labels, d.Labels) && (d.availability == "" || m.Availability == d.availability) {
			continue
		}
		changed = true
		if err := r.s.setNodeState(ctx, r.op, r.g, m, d.Labels, d.availability); err != nil {
			errs = append(errs, err)
		}
	}
	if d.settings != nil {
		c, err := r.settleSwarm(ctx, *d.settings)
		if err != nil {
			errs = append(errs, err)
		}
		changed = changed || c
	}
	if changed && len(errs) == 0 {
		if err := r.refresh(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.syncLoadBalancers(ctx, d); err != nil {
		errs = append(errs, err)
	}
	if err := r.syncFirewall(ctx, r.fw, r.fwRegion, nil); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// settleSwarm updates the swarm's settings where they differ.
func (r *groupRun) settleSwarm(ctx context.Context, want Settings) (bool, error) {
	info, err := r.op.SwarmInfo(ctx)
	if err != nil {
		return false, fmt.Errorf("reading the swarm's settings from %s: %w", r.opHost.Name, err)
	}
	var u swarm.SwarmUpdate
	changed := false
	if info.Autolock != want.Autolock {
		v := want.Autolock
		u.Autolock, changed = &v, true
	}
	if l := want.TaskHistoryLimit; l != 0 && info.TaskHistoryLimit != l {
		u.TaskHistoryLimit, changed = &l, true
	}
	if p := want.HeartbeatPeriod; p != 0 && info.HeartbeatPeriod != p {
		u.HeartbeatPeriod, changed = &p, true
	}
	if !changed {
		return false, nil
	}
	if err := r.op.UpdateSwarm(ctx, u); err != nil {
		return true, fmt.Errorf("updating the swarm's settings through %s: %w", r.opHost.Name, err)
	}
	return true, nil
}

// destroy removes every node of a node group from the swarm and deletes
// its hosts without ever costing the swarm its quorum:
//
//   - nodes promoted to manager outside Haddock are demoted first, one at a
//     time through a manager that stays, in the order and with the quorum
//     arithmetic of swarm.PlanRemoveManagers; when that is refused or a
//     demotion fails, the hosts of the nodes still in Raft are kept (the
//     error names them) and the rest of the group goes;
//   - the nodes are drained together, bounded by drainTimeout, so that
//     their tasks start elsewhere before they stop, as when the group
//     shrinks (at most half of what is left of ctx's deadline). A drain
//     that cannot place every task does not stop the destroy: the group
//     was asked to go, so after drainTimeout it is logged and the tasks
//     that fit nowhere else stop with their nodes;
//   - each node leaves and is removed, and the hosts are deleted (a
//     worker's host also when its node could not be removed).
//
// With no manager answering see destroyUnmanaged.
func (r *groupRun) destroy(ctx context.Context, drainTimeout time.Duration, lbs []string) []error {
	var errs []error
	if len(lbs) > 0 {
		// Out of the load balancers first, so that no request meets a
		// host being drained.
		if err := r.deregister(ctx, desired{HostsSpec: HostsSpec{FormerLoadBalancers: lbs}}, r.view().Members); err != nil {
			errs = append(errs, err)
		}
	}
	if r.op == nil {
		return append(errs, r.destroyUnmanaged(ctx)...)
	}
	if err := r.demoteAll(ctx); err != nil {
		errs = append(errs, err)
	}
	v := r.view()
	keep := map[string]bool{} // uids of hosts whose node is still a Raft member
	var drain, remove []Member
	for _, m := range v.Members {
		switch {
		case m.NodeID == "":
		case isRaft(r.nodes, m.NodeID):
			keep[m.UID] = true
			errs = append(errs, &HostError{Group: r.g.name, Host: m.display(), Cloud: r.g.cloudOf(m.HostID), HostID: m.HostID, NodeID: m.NodeID,
				Op: "keeping the host of a manager that was not demoted", Err: errors.New("deleting a swarm manager's host without demoting it can cost the swarm its quorum"),
				Fix: "Demote the node once the swarm has quorum (docker node demote " + m.NodeID + "), then run destroy again"})
		default:
			remove = append(remove, m)
			if !m.HostMissing() && m.State != swarm.NodeStateDown {
				drain = append(drain, m)
			}
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		// Leave the removal and the deletions time to run.
		drainTimeout = min(drainTimeout, time.Until(dl)/2)
	}
	if len(drain) > 0 {
		ids := make([]string, len(drain))
		for i, m := range drain {
			ids[i] = m.NodeID
		}
		logInfo(ctx, "draining the group's nodes before removing them", map[string]any{"group": r.g.name, "nodes": len(ids), "timeout": drainTimeout.String()})
		if err := r.op.DrainNodes(ctx, ids, drainTimeout); err != nil {
			logWarn(ctx, "the drain did not complete: the group is removed anyway, and tasks that could not be placed elsewhere stop with it", map[string]any{"group": r.g.name, "error": err.Error()})
		}
	}
	if err := r.retire(ctx, remove); err != nil {
		errs = append(errs, err)
	}
	for _, id := range v.StaleNodes {
		if isRaft(r.nodes, id) {
			continue
		}
		if err := r.op.RemoveNode(ctx, id, true); err != nil {
			errs = append(errs, &HostError{Group: r.g.name, NodeID: id, Op: "removing a superseded node", Err: err, Fix: fixRetry})
		}
	}
	// What retire left: hosts without a node, and those whose node could
	// not be removed (a worker's host goes all the same).
	var del []cloud.Host
	for _, h := range r.hosts {
		if h.Status != cloud.HostDeleting && !keep[HostUID(h)] {
			del = append(del, h)
		}
	}
	return append(errs, r.deleteHosts(ctx, del)...)
}

// demoteAll demotes the group's nodes that are Raft members (promoted
// outside Haddock), one at a time through a manager that stays, in the
// order of swarm.PlanRemoveManagers, which refuses a change that would
// lose quorum. It stops at the first failure.
func (r *groupRun) demoteAll(ctx context.Context) error {
	var ids []string
	for _, m := range r.view().Members {
		if m.NodeID != "" && isRaft(r.nodes, m.NodeID) {
			ids = append(ids, m.NodeID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	steps, err := swarm.PlanRemoveManagers(swarm.ManagersOf(r.nodes), ids)
	if err != nil {
		return fmt.Errorf("demoting the group's managers (promoted outside Haddock): %w", err)
	}
	var demotes []swarm.Step
	leaving := map[string]bool{}
	for _, st := range steps {
		if st.Action == swarm.StepDemote {
			demotes = append(demotes, st)
			leaving[st.Node.ID] = true
		}
	}
	if err := r.ensureOperator(ctx, leaving); err != nil {
		return err
	}
	for _, st := range demotes {
		if err := r.demote(ctx, r.member(st.Node.ID), st.ManagersAfter); err != nil {
			return err
		}
		if err := r.refresh(ctx); err != nil {
			return err
		}
	}
	return nil
}

// destroyUnmanaged deletes the group's hosts when no manager answers, so
// their nodes cannot be demoted or removed (they stay in the node list,
// down). A node group's hosts are workers unless promoted by hand, and a
// manager's host deleted without a demotion can cost the swarm its quorum,
// so each host's own engine is asked first: a host whose engine answers
// that it is not a manager is deleted. When one answers as a manager, or a
// host cannot tell (its engine does not answer, or it is not running)
// while the cluster still has manager hosts, nothing is deleted and the
// error says which hosts and what to do.
func (r *groupRun) destroyUnmanaged(ctx context.Context) []error {
	// With no manager host left there is no swarm of the cluster's to
	// keep a quorum for, short of the group's own promoted nodes.
	noManagers := len(live(r.managers)) == 0
	var del []cloud.Host
	var doubts []string
	var mu sync.Mutex
	probe := func(h cloud.Host) {
		doubt, manager := "", false
		switch {
		case h.Status == cloud.HostError:
		case h.Status != cloud.HostActive:
			doubt = fmt.Sprintf("%s is %s", h.Name, h.Status)
		default:
			e, err := r.s.engine(ctx, h)
			if err == nil {
				actx, cancel := context.WithTimeout(ctx, managerAttemptTimeout)
				_, err = e.Nodes(actx)
				cancel()
			}
			switch {
			case err == nil:
				doubt, manager = h.Name+" answers as a swarm manager", true
			case !notManager(err):
				doubt = fmt.Sprintf("%s did not answer (%v)", h.Name, err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if doubt == "" || (noManagers && !manager) {
			del = append(del, h)
		} else {
			doubts = append(doubts, doubt)
		}
	}
	var hosts []cloud.Host
	for _, h := range r.hosts {
		if h.Status != cloud.HostDeleting {
			hosts = append(hosts, h)
		}
	}
	parallel(len(hosts), r.s.opts.Concurrency, func(i int) { probe(hosts[i]) })
	if len(doubts) > 0 {
		slices.Sort(doubts)
		return []error{fmt.Errorf("no manager of the cluster answered (%v), so the group's nodes can be neither demoted nor removed, and its hosts may be swarm managers "+
			"(a node group's hosts are workers unless promoted by hand): %s. Nothing was deleted: deleting a manager's host without demoting it can cost the swarm its quorum. "+
			"Bring a manager back and run destroy again; or check on a manager with \"docker node ls\" that none of these hosts' nodes shows a MANAGER STATUS "+
			"(demote those that do: docker node demote <node>), delete the hosts at the vendor by hand, and run destroy again: it deletes what is left",
			r.serr, strings.Join(doubts, "; "))}
	}
	logWarn(ctx, "no manager answered: the group's nodes are not removed from the swarm (they stay, down), its hosts are deleted", map[string]any{"group": r.g.name, "error": fmt.Sprint(r.serr)})
	return r.deleteHosts(ctx, del)
}

// notManager reports an engine's answer that it is not a swarm manager
// (a worker, or in no swarm), as Docker words it.
func notManager(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not a swarm manager") || strings.Contains(msg, "not part of a swarm")
}

// live returns the hosts that count towards the group (see counted).
func live(hosts []cloud.Host) []cloud.Host {
	var out []cloud.Host
	for _, h := range hosts {
		if counted(h) {
			out = append(out, h)
		}
	}
	return out
}

func hostNames(hosts []cloud.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

// isRaft reports whether node id is a Raft member.
func isRaft(nodes []swarm.Node, id string) bool {
	for _, n := range nodes {
		if n.ID == id {
			return n.ManagerStatus != nil
		}
	}
	return false
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

// swarmAddr is the operator's swarm address, the fallback remote for joins.
func (r *groupRun) swarmAddr() string {
	return net.JoinHostPort(r.adv.of(r.opHost, AddressPrivate), strconv.Itoa(swarm.SwarmPort))
}
