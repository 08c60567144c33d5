package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// The named operations every change of a group is composed of: create
// hosts, boot them, join them, wait until their nodes are ready, drain,
// demote, remove a node, delete hosts. Growing, shrinking, repairing and
// rolling a group are sequences of these.

// createHosts creates hosts named names with one CreateHosts call and
// records them; it returns the hosts the vendor created — also when it
// failed part-way — and an error per host that was not created.
func (r *groupRun) createHosts(ctx context.Context, spec HostsSpec, names []string) ([]cloud.Host, []error) {
	created, errs := r.s.create(ctx, r.g, r.role, spec, names)
	for _, h := range created {
		r.setHost(h)
	}
	return created, errs
}

// bootHosts waits for hosts together (list calls shared among them) and
// for their engines to answer over mutual TLS; failures are recorded
// (r.failed, r.later) and those hosts skipped.
func (r *groupRun) bootHosts(ctx context.Context, hosts []cloud.Host) {
	type result struct {
		h   cloud.Host
		e   Engine
		err error
	}
	res := make([]result, len(hosts))
	parallel(len(hosts), r.s.opts.Concurrency, func(i int) {
		if uid := HostUID(hosts[i]); r.booted[uid] != nil || r.failed[uid] {
			// Booted (or failed) earlier in the run: keep the host as it
			// was seen then, not the caller's copy from its creation.
			res[i] = result{h: hosts[i]}
			if cur := r.hostByUID(uid); cur != nil {
				res[i].h = *cur
			}
			return
		}
		h, e, err := r.s.boot(ctx, r.g, hosts[i])
		res[i] = result{h, e, err}
	})
	for _, x := range res {
		r.setHost(x.h)
		switch {
		case x.err != nil:
			r.failed[HostUID(x.h)] = true
			r.later = append(r.later, x.err)
		case x.e != nil:
			r.booted[HostUID(x.h)] = x.e
		}
	}
}

// token returns a join token, read over mutual TLS from the operator once
// per run. Tokens are never returned to the caller.
func (r *groupRun) token(ctx context.Context, manager bool) (string, error) {
	if t := r.tokens[manager]; t != "" {
		return t, nil
	}
	w, m, err := r.op.JoinTokens(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the join tokens from manager %s: %w", r.opHost.Name, err)
	}
	r.tokens = map[bool]string{false: w, true: m}
	return r.tokens[manager], nil
}

// joinHosts boots hosts and joins them with the group's role, then waits
// until their nodes are ready. Managers join one at a time, each ready and
// reachable in Raft before the next, and the first failure stops them
// (Raft membership changes go one by one). Workers boot in parallel
// (Options.Concurrency at a time) and join as soon as their engine answers,
// but at most joinWaveMax at once, in a wave that shrinks when joins fail
// for a passing reason (joinwave.go); such a join is retried once the
// engine and the managers say the node did not join after all. They are
// waited for together with one node list per poll.
func (r *groupRun) joinHosts(ctx context.Context, hosts []cloud.Host) error {
	if len(hosts) == 0 {
		return nil
	}
	token, err := r.token(ctx, r.manager())
	if err != nil {
		return err
	}
	if r.fw != nil && !r.fw.Off && (len(r.firewallPlaces(r.fwRegion)) > 1 || r.adv == AddressPublic) {
		// Swarm nodes at another place than these hosts (the managers on
		// another vendor, or a migration's former place), or nodes that
		// talk over public addresses, which a vendor's own-hosts source
		// may not cover (an AWS group reference admits private ones
		// only): boot the hosts first, since their addresses are known
		// once they run, and have the firewalls admit them before they
		// join.
		r.bootHosts(ctx, hosts)
		var ready []cloud.Host
		for _, h := range hosts {
			if r.booted[HostUID(h)] != nil {
				ready = append(ready, *r.hostByUID(HostUID(h)))
			}
		}
		if err := r.syncFirewall(ctx, r.fw, r.fwRegion, ready); err != nil {
			return err
		}
	}
	remotes := remoteAddrs(r.nodes, r.swarmAddr())
	if r.manager() {
		r.bootHosts(ctx, hosts)
		for _, h0 := range hosts {
			uid := HostUID(h0)
			eng := r.booted[uid]
			if eng == nil {
				continue // reported by bootHosts
			}
			h := *r.hostByUID(uid)
			remotes = remoteAddrs(r.nodes, r.swarmAddr())
			if err := r.join(ctx, nil, h, eng, token, remotes); err != nil {
				return err
			}
			if errs := r.waitReady(ctx, map[string]cloud.Host{uid: h}); len(errs) > 0 {
				return errors.Join(errs...)
			}
		}
		return nil
	}
	var mu sync.Mutex
	var errs []error
	joined := map[string]cloud.Host{}
	wave := newJoinWave(joinWaveMin, joinWaveMax)
	booted := make([]cloud.Host, len(hosts))
	parallel(len(hosts), r.s.opts.Concurrency, func(i int) {
		uid := HostUID(hosts[i])
		h, eng, err := hosts[i], r.booted[uid], error(nil)
		switch {
		case eng != nil: // booted above
			h = *r.hostByUID(uid)
		case r.failed[uid]:
			booted[i] = h
			return // reported by bootHosts
		default:
			h, eng, err = r.s.boot(ctx, r.g, hosts[i])
		}
		booted[i] = h
		if err == nil {
			err = r.join(ctx, wave, h, eng, token, remotes)
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
	if limit, peak := wave.size(); len(hosts) > 1 {
		logInfo(ctx, "workers joined", map[string]any{"group": r.g.name, "hosts": len(hosts), "joined": len(joined), "most_joins_at_once": peak, "joins_at_once_at_end": limit})
	}
	errs = append(errs, r.waitReady(ctx, joined)...)
	return errors.Join(errs...)
}

// join joins host h, whose engine answers, to the swarm with the group's
// role. A worker joins within wave and is retried when its join fails for
// a passing reason and it did not join after all (joinWorker). A manager
// joins once (wave is nil): its join changes Raft membership, and a
// manager whose join failed half-way may be a Raft member already, so
// joining it again could add a second member; it is reported, and apply
// run again joins it once the operator has looked.
func (r *groupRun) join(ctx context.Context, wave *joinWave, h cloud.Host, eng Engine, token string, remotes []string) error {
	logInfo(ctx, "joining the swarm", map[string]any{"group": r.g.name, "role": r.role, "host": h.Name, "remotes": strings.Join(remotes, ",")})
	opts := swarm.JoinOptions{RemoteAddrs: remotes, Token: token, AdvertiseAddr: r.adv.of(h, AddressPrivate)}
	if wave != nil && !r.manager() {
		return r.joinWorker(ctx, wave, h, eng, opts)
	}
	if err := eng.Join(ctx, opts); err != nil {
		return r.g.fail(h, "joining the swarm as a "+r.role, err, fixSwarmPorts)
	}
	return nil
}

// waitReady waits until every host in want (uid → host) has a ready node
// — a reachable Raft member for the managers — and records the node list.
func (r *groupRun) waitReady(ctx context.Context, want map[string]cloud.Host) []error {
	nodes, errs := r.s.waitNodes(ctx, r.op, r.g, want, r.manager())
	if nodes != nil {
		r.nodes = nodes
	}
	return errs
}

// drain drains members together and waits until their tasks run
// elsewhere (swarm.DrainNodes, bounded by timeout). When the tasks cannot
// be placed, nothing is removed, the nodes are set back, and the error
// names each service and task with the scheduler's reason.
func (r *groupRun) drain(ctx context.Context, members []Member, timeout time.Duration) error {
	ids := make([]string, len(members))
	names := make([]string, len(members))
	for i, m := range members {
		ids[i], names[i] = m.NodeID, m.display()
	}
	logInfo(ctx, "draining nodes before removing them", map[string]any{"group": r.g.name, "hosts": strings.Join(names, ", "), "timeout": timeout.String()})
	if err := r.op.DrainNodes(ctx, ids, timeout); err != nil {
		return fmt.Errorf("%w. %s", err, drainFix(err))
	}
	return nil
}

// retire takes drained (or demoted) members out: each leaves, is removed
// from the node list and its host deleted.
func (r *groupRun) retire(ctx context.Context, members []Member) error {
	var mu sync.Mutex
	var errs []error
	var gone []cloud.Host
	parallel(len(members), r.s.opts.Concurrency, func(i int) {
		m := members[i]
		h := r.hostByUID(m.UID)
		if err := r.removeNode(ctx, m, h); err != nil {
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
	errs = append(errs, r.deleteHosts(ctx, gone)...)
	if err := r.refresh(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeNode takes member m's node out of the swarm (see session.removeNode).
func (r *groupRun) removeNode(ctx context.Context, m Member, h *cloud.Host) error {
	return r.s.removeNode(ctx, r.op, r.g, m, h)
}

// deleteHosts deletes hosts, waits until they are gone and forgets them.
func (r *groupRun) deleteHosts(ctx context.Context, hosts []cloud.Host) []error {
	if len(hosts) == 0 {
		return nil
	}
	errs := r.s.deleteHosts(ctx, r.g, hosts)
	r.dropHosts(hosts)
	return errs
}

// execRaft carries out the steps of swarm.PlanRemoveManagers /
// PlanManagerChange in order — demote, then remove the node and delete
// its host — through a manager that stays, reading the node list after
// each.
func (r *groupRun) execRaft(ctx context.Context, steps []swarm.Step) error {
	leaving := map[string]bool{}
	for _, st := range steps {
		leaving[st.Node.ID] = true
	}
	if err := r.ensureOperator(ctx, leaving); err != nil {
		return err
	}
	for _, st := range steps {
		m := r.member(st.Node.ID)
		switch st.Action {
		case swarm.StepDemote:
			if err := r.demote(ctx, m, st.ManagersAfter); err != nil {
				return err
			}
		case swarm.StepRemove:
			h := r.hostByUID(m.UID)
			if err := r.removeNode(ctx, m, h); err != nil {
				return err
			}
			if h != nil {
				if errs := r.deleteHosts(ctx, []cloud.Host{*h}); len(errs) > 0 {
					return errors.Join(errs...)
				}
			}
		}
		if err := r.refresh(ctx); err != nil {
			return err
		}
	}
	return nil
}

// demote turns manager m into a worker; Demote waits until Raft has
// accepted it.
func (r *groupRun) demote(ctx context.Context, m Member, managersAfter int) error {
	logInfo(ctx, "demoting a manager", map[string]any{"host": m.display(), "node": m.NodeID, "managers_after": managersAfter})
	if err := r.op.Demote(ctx, m.NodeID); err != nil {
		return r.g.failMember(m, "demoting the manager", err)
	}
	return nil
}

// ensureOperator makes sure the operator is a manager whose node is not in
// leaving, so that it stays a manager throughout the steps.
func (r *groupRun) ensureOperator(ctx context.Context, leaving map[string]bool) error {
	exclude := map[string]bool{}
	opLeaving := false
	for _, m := range r.view().Members {
		if leaving[m.NodeID] {
			exclude[m.UID] = true
			if m.UID == HostUID(r.opHost) {
				opLeaving = true
			}
		}
	}
	if !opLeaving {
		return nil
	}
	if err := r.connect(ctx, exclude); err != nil {
		return fmt.Errorf("finding a manager that stays to carry out the change: %w", err)
	}
	return nil
}
