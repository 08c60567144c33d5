package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// settleStable is how long a new node must keep running what the swarm
// gives it (swarm.WaitNodeSettled: a task of every global service it
// qualifies for, every task placed on it running), with nothing added,
// before traffic is moved to it.
var settleStable = 2 * time.Second

// Stale is a member whose host was built from another spec than the
// desired one, and what differs, for plans and logs.
type Stale struct {
	Member
	Diff []string
}

// outdated returns the joined members whose hosts are out of date, in the
// order a rollout replaces them: not healthy first, then oldest first.
func (r *groupRun) outdated(want HostsSpec) []Stale {
	var out []Stale
	for _, m := range r.view().Members {
		h := r.hostByUID(m.UID)
		if h == nil || !counted(*h) || m.NodeID == "" {
			continue
		}
		if diff := r.diff(m, *h, want); len(diff) > 0 {
			out = append(out, Stale{Member: m, Diff: diff})
		}
	}
	sortForReplacement(out)
	return out
}

// diff is what differs between host h and want. A host at a former place
// of the group (its vendor or region changed) is out of date even when
// nothing else differs.
func (r *groupRun) diff(m Member, h cloud.Host, want HostsSpec) []string {
	want.Cloud = r.g.driver.Cloud()
	out := specDiffAt(r.g.cloudOf(h.ID), h, want)
	if len(out) == 0 && r.g.moving(h.ID) {
		out = []string{"moving from a former region"}
	}
	// Swarm cannot change a node's advertised address in place: a node
	// advertising the other kind of address than the group's is replaced.
	// Only a host whose two addresses differ can tell.
	if r.adv != "" && h.PublicIPv4 != "" && h.PrivateIPv4 != "" && h.PublicIPv4 != h.PrivateIPv4 {
		other := AddressPrivate
		if r.adv == AddressPrivate {
			other = AddressPublic
		}
		if m.Advertised != "" && m.Advertised == other.of(h, other) {
			out = append(out, fmt.Sprintf("advertise_address %s → %s", other, r.adv))
		}
	}
	return out
}

// sortForReplacement orders the rollout: hosts that are not healthy
// first, then oldest first; the leader last of all, so that leadership
// moves once.
func sortForReplacement(s []Stale) {
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if ha, hb := a.Healthy(), b.Healthy(); ha != hb {
			return !ha
		}
		if a.Leader != b.Leader {
			return !a.Leader
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return hostLess(a.Name, a.HostID, b.Name, b.HostID)
	})
}

// OutdatedMembers lists the members of a view whose hosts differ from
// want, in the order a rollout replaces them.
func (v *View) OutdatedMembers(want HostsSpec) []Stale {
	var out []Stale
	for _, m := range v.Members {
		if diff := m.Outdated(want); len(diff) > 0 {
			out = append(out, Stale{Member: m, Diff: diff})
		}
	}
	sortForReplacement(out)
	return out
}

// roll replaces out-of-date hosts a batch at a time (RollingUpdate.MaxSurge
// for a node group, one for the managers). For each batch:
//
//  1. surge: create the replacements (each with its old host's name) with
//     the desired spec, boot and join them, and wait until their nodes are
//     ready (a manager: reachable in Raft) and the tasks the scheduler
//     gives them run;
//  2. move what points at the old hosts — floating IPs assigned to them,
//     found through the vendor's API — to their replacements;
//  3. drain the old nodes and wait until their tasks run elsewhere, then
//     for RollingUpdate.Monitor;
//  4. managers: demote (quorum checked by swarm.PlanRemoveManagers, the
//     leader's leadership transferred); then each old node leaves, is
//     removed, and its host deleted.
//
// A step that cannot complete stops the rollout with an error naming the
// host and the step; nothing still running is removed, and the next Apply
// resumes from the spec tags (a replacement already made counts as the
// surge, and the old host is retired first).
func (r *groupRun) roll(ctx context.Context, d desired) error {
	todo := r.outdated(d.HostsSpec)
	if len(todo) == 0 {
		return nil
	}
	surge := max(d.rolling.MaxSurge, 1)
	if r.manager() {
		surge = 1
	}
	logInfo(ctx, "rolling out-of-date hosts", map[string]any{"group": r.g.name, "hosts": len(todo), "max_surge": surge})
	for start := 0; start < len(todo); start += surge {
		batch := todo[start:min(start+surge, len(todo))]
		if err := r.replace(ctx, d, batch); err != nil {
			return err
		}
		logInfo(ctx, "rolled hosts", map[string]any{"group": r.g.name, "done": min(start+surge, len(todo)), "of": len(todo)})
	}
	return nil
}

// retireOutdated is the resume path of an interrupted rollout: when the
// group has more joined hosts than it wants and some are out of date,
// their replacements exist already, so the old hosts are drained and
// removed (steps 2 to 4 of roll) before anything else is chosen.
func (r *groupRun) retireOutdated(ctx context.Context, d desired, surplus int) (int, error) {
	old := r.outdated(d.HostsSpec)
	if len(old) == 0 || surplus <= 0 {
		return 0, nil
	}
	old = old[:min(surplus, len(old))]
	if r.manager() {
		old = old[:1]
	}
	fresh := r.upToDate(d.HostsSpec)
	if len(fresh) == 0 {
		return 0, nil
	}
	logInfo(ctx, "resuming a rollout: retiring out-of-date hosts whose replacements exist", map[string]any{"group": r.g.name, "hosts": staleNames(old)})
	if err := r.retireStale(ctx, d, old, fresh); err != nil {
		return 0, err
	}
	return len(old), nil
}

// replace is one batch of roll.
func (r *groupRun) replace(ctx context.Context, d desired, batch []Stale) error {
	names := make([]string, len(batch))
	for i, s := range batch {
		names[i] = s.Name
	}
	logInfo(ctx, "replacing out-of-date hosts", map[string]any{"group": r.g.name, "hosts": staleNames(batch)})
	created, errs := r.createHosts(ctx, d.HostsSpec, names)
	if len(errs) > 0 {
		return r.rollError(batch, "creating the replacement host", errors.Join(errs...), "Check the vendor's quota and the error above, then run apply again: hosts already created are kept and joined")
	}
	if err := r.joinHosts(ctx, created); err != nil {
		return r.rollError(batch, "joining the replacement host and waiting until its node is ready", err, "The old host still serves. Fix what the error says and run apply again: the replacement is joined or replaced then")
	}
	var fresh []Member
	for _, h := range created {
		for _, m := range r.view().Members {
			if m.UID == HostUID(h) && m.NodeID != "" {
				fresh = append(fresh, m)
			}
		}
	}
	for _, m := range fresh {
		if err := r.op.WaitNodeSettled(ctx, m.NodeID, settleStable, d.drainTimeout); err != nil {
			return r.rollError(batch, "waiting until the tasks placed on the replacement "+m.display()+" run", err, "See why the tasks do not start (docker service ps), then run apply again")
		}
	}
	return r.retireStale(ctx, d, batch, fresh)
}

// retireStale moves addresses from old to fresh hosts, drains the old
// nodes, watches the group for Monitor, and removes them.
func (r *groupRun) retireStale(ctx context.Context, d desired, old []Stale, fresh []Member) error {
	if err := r.moveAddresses(ctx, old, fresh); err != nil {
		return r.rollError(old, "moving floating IPs to the replacement", err, fixRetry)
	}
	members := make([]Member, len(old))
	for i, s := range old {
		members[i] = s.Member
	}
	if err := r.registerFresh(ctx, d, fresh); err != nil {
		return r.rollError(old, "adding the replacement to the load balancers", err, fixRetry)
	}
	if err := r.deregister(ctx, d, members); err != nil {
		return r.rollError(old, "taking the old host out of the load balancers", err, fixRetry)
	}
	if err := r.drain(ctx, members, d.drainTimeout); err != nil {
		return r.rollError(old, "draining the old node", err, "The replacements stay joined: the next apply resumes from there")
	}
	if d.rolling.Monitor > 0 {
		logInfo(ctx, "monitoring the group before removing the drained hosts", map[string]any{"group": r.g.name, "monitor": d.rolling.Monitor.String()})
		if err := wait.Sleep(ctx, d.rolling.Monitor); err != nil {
			return r.rollError(old, "monitoring the group after the drain", err, fixRetry)
		}
		if err := r.refresh(ctx); err != nil {
			return err
		}
		for _, m := range fresh {
			if cur := r.member(m.NodeID); !cur.Healthy() {
				return r.rollError(old, "monitoring the group after the drain", fmt.Errorf("replacement %s is %s", cur.display(), firstNonEmptyStr(cur.Problem(), string(cur.State))), "The old hosts are drained but kept. Find out why the replacement failed, then run apply again")
			}
		}
	}
	if r.manager() {
		ids := make([]string, len(old))
		for i, s := range old {
			ids[i] = s.NodeID
		}
		steps, err := swarm.PlanRemoveManagers(swarm.ManagersOf(r.nodes), ids)
		if err != nil {
			return r.rollError(old, "planning the removal of the old manager", err, "Restore the unreachable managers first, then run apply again")
		}
		if err := r.execRaft(ctx, steps); err != nil {
			return r.rollError(old, "demoting and removing the old manager", err, fixRetry)
		}
		return nil
	}
	if err := r.retire(ctx, members); err != nil {
		return r.rollError(old, "removing the old node and deleting its host", err, fixRetry)
	}
	return nil
}

// upToDate returns the joined, healthy members built from want.
func (r *groupRun) upToDate(want HostsSpec) []Member {
	var out []Member
	for _, m := range r.view().Members {
		h := r.hostByUID(m.UID)
		if h != nil && m.Healthy() && len(r.diff(m, *h, want)) == 0 {
			out = append(out, m)
		}
	}
	return out
}

// moveAddresses moves the floating IPs assigned to old hosts to fresh
// ones (the i-th old host's to the i-th fresh host, wrapping), found with
// one list call per place. Vendors without floating IPs have nothing to
// move. A floating IP of an old host at a former place (a migration)
// cannot follow to another vendor or region: it is left where it is,
// with a warning, and the vendor unassigns it when the host goes.
func (r *groupRun) moveAddresses(ctx context.Context, old []Stale, fresh []Member) error {
	if len(fresh) == 0 {
		return nil
	}
	lists := map[cloud.Driver][]cloud.FloatingIP{}
	for i, s := range old {
		p := r.g.placeOf(s.HostID)
		fips, ok := p.driver.(cloud.FloatingIPs)
		if !ok {
			continue
		}
		all, listed := lists[p.driver]
		if !listed {
			var err error
			if all, err = fips.ListFloatingIPs(ctx); err != nil {
				if r.g.moving(s.HostID) {
					// Nothing there can move anyway: only the warning is lost.
					logWarn(ctx, "listing floating IPs where the group is moving from failed", map[string]any{"cloud": string(p.driver.Cloud()), "error": err.Error()})
					continue
				}
				return fmt.Errorf("listing floating IPs at %s: %w", p.driver.Cloud(), err)
			}
			lists[p.driver] = all
		}
		to := fresh[i%len(fresh)]
		for _, ip := range all {
			if ip.HostID != s.HostID {
				continue
			}
			if r.g.moving(s.HostID) {
				logWarn(ctx, "a floating IP cannot follow a host to another vendor or region: it stays and becomes unassigned when the old host is deleted", map[string]any{"ip": ip.Address, "host": s.display(), "cloud": string(p.driver.Cloud())})
				continue
			}
			logInfo(ctx, "moving a floating IP to the replacement host", map[string]any{"ip": ip.Address, "from": s.display(), "to": to.display()})
			if err := fips.AssignFloatingIP(ctx, ip.ID, to.HostID); err != nil {
				return fmt.Errorf("moving floating IP %s from %s to %s: %w", ip.Address, s.display(), to.display(), err)
			}
		}
	}
	return nil
}

// rollError names the hosts being replaced, the step and what to do.
func (r *groupRun) rollError(batch []Stale, step string, err error, fix string) error {
	if len(batch) == 1 {
		m := batch[0]
		return &HostError{Group: r.g.name, Host: m.Name, Cloud: r.g.cloudOf(m.HostID), HostID: m.HostID, NodeID: m.NodeID,
			Op: "rolling replacement (" + strings.Join(m.Diff, ", ") + "): " + step, Err: err, Fix: fix}
	}
	return fmt.Errorf("rolling replacement of %s: %s: %w. %s", strings.Join(staleNames(batch), ", "), step, err, fix)
}

func staleNames(s []Stale) []string {
	out := make([]string, len(s))
	for i, m := range s {
		out[i] = m.display()
	}
	return out
}

func firstNonEmptyStr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
