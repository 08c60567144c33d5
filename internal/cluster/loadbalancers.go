package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// Load balancer membership belongs to the group, not to the load balancer:
// HostsSpec.LoadBalancers lists the load balancers (of the group's vendor)
// whose targets the group's hosts are. These steps keep it so:
//
//   - a host is registered once its node is ready and the tasks the
//     scheduler gives it run (swarm.WaitNodeSettled), never before;
//   - a host is deregistered, and the deregistration waited for
//     (cloud.LoadBalancers.RemoveTargets), before its node is drained or
//     its host deleted: scale-in, rolling replacement, migration and
//     destroy all go through deregister;
//   - after every apply the load balancers' targets among the group's
//     hosts are exactly its ready hosts at its current place, and none is
//     left in a load balancer the group no longer lists
//     (HostsSpec.FormerLoadBalancers). Targets that are not the group's
//     hosts are left alone.

// An lbRef is a load balancer as the group lists it: "<cloud>/<vendor
// id>" (a haddock_load_balancer id), so that a load balancer of the
// vendor a migrating group leaves is reached through that vendor's driver.
type lbRef struct {
	ref  string
	id   string
	lbs  cloud.LoadBalancers
	name cloud.Name
}

// lbRefs resolves refs to the drivers of the group's places; it fails
// when a load balancer's vendor is not one of them or has no load
// balancers.
func (r *groupRun) lbRefs(refs []string) ([]lbRef, error) {
	out := make([]lbRef, 0, len(refs))
	for _, ref := range refs {
		c, id, ok := strings.Cut(ref, "/")
		if !ok || id == "" {
			return nil, fmt.Errorf("load balancer %q: want <cloud>/<vendor id>", ref)
		}
		var drv cloud.Driver
		for _, p := range append([]place{r.g.place}, r.g.former...) {
			if string(p.driver.Cloud()) == c {
				drv = p.driver
				break
			}
		}
		if drv == nil {
			return nil, fmt.Errorf("load balancer %s is on %s, where group %s has no hosts: list load balancers of the group's own cloud (%s)", ref, c, r.g.name, r.g.driver.Cloud())
		}
		lbs, ok := drv.(cloud.LoadBalancers)
		if !ok {
			return nil, fmt.Errorf("the %s driver has no load balancers: remove load_balancer_ids from the group", drv.Cloud())
		}
		out = append(out, lbRef{ref: ref, id: id, lbs: lbs, name: drv.Cloud()})
	}
	return out, nil
}

// lbTargetIDs are the vendor ids of the members' hosts that can be
// targets of a load balancer on vendor c: the members' hosts there.
func (r *groupRun) lbTargetIDs(members []Member, c cloud.Name) []string {
	var ids []string
	for _, m := range members {
		if m.HostID != "" && r.g.cloudOf(m.HostID) == c {
			ids = append(ids, m.HostID)
		}
	}
	return ids
}

// deregister takes members' hosts out of every load balancer the group is
// or was in, and waits until those send them no new traffic. The load
// balancers are handled in parallel.
func (r *groupRun) deregister(ctx context.Context, d desired, members []Member) error {
	all, err := r.lbRefs(slices.Concat(d.LoadBalancers, d.FormerLoadBalancers))
	if len(all) == 0 || err != nil {
		return err
	}
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.display()
	}
	errs := make([]error, len(all))
	parallel(len(all), len(all), func(i int) {
		lb := all[i]
		ids := r.lbTargetIDs(members, lb.name)
		if len(ids) == 0 {
			return
		}
		logInfo(ctx, "taking hosts out of a load balancer before they are drained", map[string]any{"group": r.g.name, "hosts": strings.Join(names, ", "), "load_balancer": lb.ref})
		if err := lb.lbs.RemoveTargets(ctx, lb.id, ids); err != nil && !errors.Is(err, cloud.ErrNotFound) {
			errs[i] = fmt.Errorf("taking %s out of load balancer %s: %w", strings.Join(names, ", "), lb.ref, err)
		}
	})
	return errors.Join(errs...)
}

// syncLoadBalancers makes the group's targets in each load balancer its
// ready hosts: hosts not registered yet are registered once their tasks
// run; the group's hosts that are not ready, or in a load balancer the
// group left, are deregistered.
func (r *groupRun) syncLoadBalancers(ctx context.Context, d desired) error {
	all, err := r.lbRefs(slices.Concat(d.LoadBalancers, d.FormerLoadBalancers))
	if len(all) == 0 || err != nil {
		return err
	}
	ours := map[string]bool{}
	for _, h := range r.hosts {
		ours[h.ID] = true
	}
	ready := map[string]Member{}
	for _, m := range r.view().Members {
		if m.Healthy() && !r.g.moving(m.HostID) {
			ready[m.HostID] = m
		}
	}
	var errs []error
	settled := map[string]bool{}
	var mu sync.Mutex
	for _, ref := range all {
		keep, id, lbs := slices.Contains(d.LoadBalancers, ref.ref), ref.id, ref.lbs
		lb, err := lbs.GetLoadBalancer(ctx, id)
		if err != nil {
			if errors.Is(err, cloud.ErrNotFound) && !keep {
				continue
			}
			errs = append(errs, fmt.Errorf("reading load balancer %s: %w", ref.ref, err))
			continue
		}
		var remove, add []string
		for _, t := range lb.Targets {
			if _, ok := ready[t]; ours[t] && (!ok || !keep) {
				remove = append(remove, t)
			}
		}
		if keep {
			for hid := range ready {
				if r.g.cloudOf(hid) == ref.name && !slices.Contains(lb.Targets, hid) {
					add = append(add, hid)
				}
			}
		}
		if len(remove) > 0 {
			logInfo(ctx, "taking hosts that are not ready, or whose group left the load balancer, out of it", map[string]any{"group": r.g.name, "load_balancer": id, "hosts": strings.Join(remove, ",")})
			if err := lbs.RemoveTargets(ctx, id, remove); err != nil {
				errs = append(errs, fmt.Errorf("taking hosts %s out of load balancer %s: %w", strings.Join(remove, ", "), id, err))
			}
		}
		if len(add) == 0 {
			continue
		}
		slices.Sort(add)
		// A host gets traffic only once what the swarm placed on it runs.
		var waitErrs []error
		parallel(len(add), r.s.opts.Concurrency, func(i int) {
			mu.Lock()
			done := settled[add[i]]
			mu.Unlock()
			if done {
				return
			}
			m := ready[add[i]]
			if err := r.op.WaitNodeSettled(ctx, m.NodeID, settleStable, d.drainTimeout); err != nil {
				mu.Lock()
				waitErrs = append(waitErrs, fmt.Errorf("waiting until the tasks on %s run before adding it to load balancer %s: %w", m.display(), id, err))
				mu.Unlock()
				return
			}
			mu.Lock()
			settled[add[i]] = true
			mu.Unlock()
		})
		errs = append(errs, waitErrs...)
		add = slices.DeleteFunc(add, func(h string) bool { return !settled[h] })
		if len(add) == 0 {
			continue
		}
		logInfo(ctx, "adding ready hosts to a load balancer", map[string]any{"group": r.g.name, "load_balancer": id, "hosts": strings.Join(add, ",")})
		if err := lbs.AddTargets(ctx, id, add); err != nil {
			errs = append(errs, fmt.Errorf("adding hosts %s to load balancer %s: %w", strings.Join(add, ", "), id, err))
		}
	}
	return errors.Join(errs...)
}

// registerFresh adds replacements to the load balancers before the hosts
// they replace leave them (a rollout's "move what points at the old
// host"). Their tasks run already (replace waited).
func (r *groupRun) registerFresh(ctx context.Context, d desired, fresh []Member) error {
	all, err := r.lbRefs(d.LoadBalancers)
	if err != nil {
		return err
	}
	for _, lb := range all {
		ids := r.lbTargetIDs(fresh, lb.name)
		if len(ids) == 0 {
			continue
		}
		logInfo(ctx, "adding the replacements to a load balancer", map[string]any{"group": r.g.name, "load_balancer": lb.ref, "hosts": strings.Join(ids, ",")})
		if err := lb.lbs.AddTargets(ctx, lb.id, ids); err != nil {
			return fmt.Errorf("adding %s to load balancer %s: %w", strings.Join(ids, ", "), lb.ref, err)
		}
	}
	return nil
}
