package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/hostboot"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

const logSubsystem = "cluster"

// managerAttemptTimeout bounds one attempt at reading the node list from a
// manager, so a manager that does not answer costs little before the next
// one is tried.
const managerAttemptTimeout = 20 * time.Second

// goneTimeout bounds the wait for deleted hosts to leave the host list.
const goneTimeout = 10 * time.Minute

// session is one operation on one cluster: its options, its credentials,
// and the engines it opened (closed at the end).
type session struct {
	opts       Options
	clusterUID string
	creds      Credentials
	ca         *pki.CA
	unsaved    bool // managers created now carry cloud.UnsavedTag (Cluster.unsaved)

	mu      sync.Mutex
	engines map[string]Engine // by host uid
}

func newSession(st State, ca *pki.CA, opts Options) *session {
	return &session{opts: opts, clusterUID: st.UID, creds: st.Credentials, ca: ca, engines: map[string]Engine{}}
}

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.engines {
		_ = e.Close()
	}
	clear(s.engines)
}

func logCtx(ctx context.Context) context.Context { return tflog.NewSubsystem(ctx, logSubsystem) }

func logInfo(ctx context.Context, msg string, fields map[string]any) {
	tflog.SubsystemInfo(ctx, logSubsystem, msg, fields)
}

func logWarn(ctx context.Context, msg string, fields map[string]any) {
	tflog.SubsystemWarn(ctx, logSubsystem, msg, fields)
}

// engine returns the engine of host h, dialled once per session.
func (s *session) engine(ctx context.Context, h cloud.Host) (Engine, error) {
	uid := HostUID(h)
	if uid == "" {
		return nil, fmt.Errorf("host %s carries no %s tag: it is not a Haddock cluster host", h.Name, TagUIDPrefix+"<uid>")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.engines[uid]; ok {
		return e, nil
	}
	addr := s.opts.EngineAddress.of(h, AddressPublic)
	if addr == "" {
		return nil, fmt.Errorf("host %s has no IPv4 address yet", h.Name)
	}
	e, err := s.opts.Dial(ctx, s.creds.endpoint(addr, uid))
	if err != nil {
		return nil, err
	}
	s.engines[uid] = e
	return e, nil
}

// list lists the hosts of a group: one tag-filtered list call (the driver
// reads every page) where new hosts go, and one at each former place of a
// migration under way; it records where each host was found.
func (s *session) list(ctx context.Context, g *groupRef) ([]cloud.Host, error) {
	hosts, err := g.driver.ListHosts(ctx, GroupTag(s.clusterUID, g.name))
	if err != nil {
		return nil, fmt.Errorf("listing the hosts of %s of cluster %s at %s: %w", groupWhat(g.name), s.clusterUID, g.driver.Cloud(), err)
	}
	at := map[string]place{}
	for _, p := range g.former {
		more, err := p.driver.ListHosts(ctx, GroupTag(s.clusterUID, g.name))
		if err != nil {
			return nil, fmt.Errorf("listing the hosts of %s of cluster %s at %s, where it is moving from: %w", groupWhat(g.name), s.clusterUID, p.driver.Cloud(), err)
		}
		for _, h := range more {
			at[h.ID] = p
		}
		hosts = append(hosts, more...)
	}
	g.mu.Lock()
	g.at = at
	g.mu.Unlock()
	sortHosts(hosts)
	return hosts, nil
}

// sortHosts orders hosts by index in their name, then name, then id.
func sortHosts(hs []cloud.Host) {
	sort.SliceStable(hs, func(i, j int) bool { return hostLess(hs[i].Name, hs[i].ID, hs[j].Name, hs[j].ID) })
}

func hostLess(na, ida, nb, idb string) bool {
	pa, ia := splitIndex(na)
	pb, ib := splitIndex(nb)
	if pa != pb {
		return pa < pb
	}
	if ia != ib {
		return ia < ib
	}
	if na != nb {
		return na < nb
	}
	return ida < idb
}

func splitIndex(name string) (string, int) {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if n, ok := hostIndex(name[:i], name); ok {
			return name[:i], n
		}
	}
	return name, 0
}

// counted reports whether a host counts towards its group's size: it is
// being created, running or off — not failed, not being deleted.
func counted(h cloud.Host) bool {
	switch h.Status {
	case cloud.HostError, cloud.HostDeleting:
		return false
	}
	return true
}

// connectManager finds a manager that answers, the leader first: the
// first of managers (in name order, skipping the uids in exclude) whose
// engine returns the node list tells which node leads; when the leader is
// another of managers and answers too, it is the one returned. Operations
// go through the leader when they can, since every manager forwards to it.
func (s *session) connectManager(ctx context.Context, managers []cloud.Host, exclude map[string]bool) (Engine, cloud.Host, []swarm.Node, error) {
	var errs []string
	try := func(h cloud.Host) (Engine, []swarm.Node, error) {
		e, err := s.engine(ctx, h)
		if err != nil {
			return nil, nil, err
		}
		actx, cancel := context.WithTimeout(ctx, managerAttemptTimeout)
		defer cancel()
		nodes, err := e.Nodes(actx)
		return e, nodes, err
	}
	for _, h := range managers {
		if exclude[HostUID(h)] || h.Status != cloud.HostActive {
			continue
		}
		e, nodes, err := try(h)
		if err == nil {
			if lh, ok := leaderHost(nodes, managers, exclude); ok && lh.ID != h.ID {
				if le, lnodes, lerr := try(lh); lerr == nil {
					return le, lh, lnodes, nil
				}
			}
			return e, h, nodes, nil
		}
		if ctx.Err() != nil {
			return nil, cloud.Host{}, nil, ctx.Err()
		}
		errs = append(errs, fmt.Sprintf("%s: %v", h.Name, err))
	}
	if len(errs) == 0 {
		return nil, cloud.Host{}, nil, errors.New("no active manager host")
	}
	return nil, cloud.Host{}, nil, errors.New("no manager answered: " + strings.Join(errs, "; "))
}

// leaderHost returns the host among managers whose node leads, unless
// excluded or not active.
func leaderHost(nodes []swarm.Node, managers []cloud.Host, exclude map[string]bool) (cloud.Host, bool) {
	for _, n := range nodes {
		if n.ManagerStatus == nil || !n.ManagerStatus.Leader {
			continue
		}
		uid := n.EngineLabels[EngineLabelUID]
		for _, h := range managers {
			if uid != "" && HostUID(h) == uid && !exclude[uid] && h.Status == cloud.HostActive {
				return h, true
			}
		}
	}
	return cloud.Host{}, false
}

// release hands the engine of host uid to the caller: close no longer
// closes it.
func (s *session) release(uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.engines, uid)
}

// boot waits until host h is active (through the watcher: list calls
// shared by every host waited for, never a GET per host) and its engine
// answers over mutual TLS — hostboot.WaitEngine, the sequence haddock_host
// runs too. It returns the host as last listed.
func (s *session) boot(ctx context.Context, g *groupRef, h cloud.Host) (cloud.Host, Engine, error) {
	bctx, cancel := context.WithTimeout(ctx, s.opts.BootTimeout)
	defer cancel()
	var eng Engine
	got, err := hostboot.WaitEngine(bctx, g.watcher, h, func(ctx context.Context, h cloud.Host) (hostboot.Pinger, error) {
		e, err := s.engine(ctx, h)
		eng = e
		return e, err
	}, s.opts.EnginePollInterval)
	if err != nil {
		op := "booting the host"
		var se *hostboot.StepError
		if errors.As(err, &se) {
			op, err = se.Step, se.Err
		}
		return got, nil, g.fail(got, op, err, fixBoot)
	}
	return got, eng, nil
}

// groupRef is one group within an operation: its name, the driver its new
// hosts are created with, and the watcher that waits for them (one list
// call per poll for every host of the group waited for). During a
// migration — the group's cloud or region changed — some of its hosts are
// still at former places: list finds them there, and every operation on
// such a host (delete, wait until gone) goes through the driver that
// listed it.
type groupRef struct {
	name string
	place
	former []place

	mu sync.Mutex
	at map[string]place // host id → former place, as last listed
}

// place is a vendor and region where a group's hosts live.
type place struct {
	driver  cloud.Driver
	watcher *cloud.HostWatcher
}

func (s *session) group(name string, d cloud.Driver, former ...cloud.Driver) *groupRef {
	g := &groupRef{name: name, place: s.place(name, d)}
	for _, f := range former {
		if f != nil && f != d {
			g.former = append(g.former, s.place(name, f))
		}
	}
	return g
}

func (s *session) place(name string, d cloud.Driver) place {
	return place{driver: d, watcher: cloud.NewHostWatcher(d, GroupTag(s.clusterUID, name), s.opts.PollInterval)}
}

// placeOf is where host id was listed: a former place, or where new hosts
// go.
func (g *groupRef) placeOf(id string) place {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.at[id]; ok {
		return p
	}
	return g.place
}

// moving reports whether host id is at a former place (it must move).
func (g *groupRef) moving(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.at[id]
	return ok
}

// cloudOf is the vendor of host id.
func (g *groupRef) cloudOf(id string) cloud.Name { return g.placeOf(id).driver.Cloud() }

// fail builds the HostError of an operation on host h.
func (g *groupRef) fail(h cloud.Host, op string, err error, fix string) *HostError {
	return &HostError{Group: g.name, Host: h.Name, Cloud: g.cloudOf(h.ID), HostID: h.ID, Op: op, Err: err, Fix: fix}
}

// failMember builds the HostError of an operation on member m's node,
// which running apply again retries.
func (g *groupRef) failMember(m Member, op string, err error) *HostError {
	return &HostError{Group: g.name, Host: m.display(), Cloud: g.cloudOf(m.HostID), HostID: m.HostID, NodeID: m.NodeID, Op: op, Err: err, Fix: fixRetry}
}

// waitNodes polls the node list until every host in want (uid → host) has
// a ready node — a reachable Raft member when manager — and returns the
// node list last read. On timeout the errors name every host still missing
// and its node's state.
func (s *session) waitNodes(ctx context.Context, op Engine, g *groupRef, want map[string]cloud.Host, manager bool) ([]swarm.Node, []error) {
	if len(want) == 0 {
		return nil, nil
	}
	state := map[string]string{}
	var last []swarm.Node
	what := "the node to be ready"
	if manager {
		what = "the new manager to be ready and reachable in Raft"
	}
	err := wait.Until(ctx, wait.Options{What: what, Interval: s.opts.EnginePollInterval, Timeout: s.opts.JoinTimeout},
		func(ctx context.Context) (bool, string, error) {
			nodes, err := op.Nodes(ctx)
			if err != nil {
				return false, "", wait.Retry(err)
			}
			last = nodes
			clear(state)
			for uid := range want {
				if n, why := readyNode(nodes, uid, manager); n == nil {
					state[uid] = why
				}
			}
			return len(state) == 0, fmt.Sprintf("%d of %d nodes not ready", len(state), len(want)), nil
		})
	if err == nil {
		return last, nil
	}
	var te *wait.TimeoutError
	if !errors.As(err, &te) {
		return last, []error{err}
	}
	var errs []error
	for uid, h := range want {
		why, missing := state[uid]
		if !missing && last != nil {
			continue
		}
		if !missing {
			why = "not seen: the node list could not be read"
		}
		cause := fmt.Errorf("%w; node %s", te.Err, why)
		if te.LastError != nil {
			cause = fmt.Errorf("%w; node %s; last error reading the node list: %v", te.Err, why, te.LastError)
		}
		errs = append(errs, g.fail(h, "waiting for "+what, cause, fixSwarmPorts))
	}
	return last, errs
}

// readyNode returns the node of host uid when it is ready (and a reachable
// manager when manager), or why not.
func readyNode(nodes []swarm.Node, uid string, manager bool) (*swarm.Node, string) {
	var best *swarm.Node
	for i := range nodes {
		n := &nodes[i]
		if n.EngineLabels[EngineLabelUID] != uid {
			continue
		}
		if best == nil || betterNode(*n, *best) {
			best = n
		}
	}
	switch {
	case best == nil:
		return nil, "not in the node list"
	case best.State != swarm.NodeStateReady:
		s := string(best.State)
		if best.StateMessage != "" {
			s += " (" + best.StateMessage + ")"
		}
		return nil, s
	case manager && best.ManagerStatus == nil:
		return nil, "not a Raft member yet"
	case manager && best.ManagerStatus.Reachability != swarm.ReachabilityReachable:
		return nil, "manager " + string(best.ManagerStatus.Reachability)
	}
	return best, ""
}

// betterNode prefers a node that is not down, then the newest: a host
// that joined again leaves its former node behind, down.
func betterNode(a, b swarm.Node) bool {
	if ad, bd := a.State == swarm.NodeStateDown, b.State == swarm.NodeStateDown; ad != bd {
		return !ad
	}
	return a.CreatedAt.After(b.CreatedAt)
}

// removeNode takes a node out of the swarm: Leave on its own engine when
// the host is still there (bounded by Options.LeaveTimeout), then remove it
// from the node list. The removal is forced unless the managers already see
// the node down: after a Leave they only see it down once its heartbeat
// expires (10 to 15 seconds), and a node that left — or whose host is
// deleted next — is safe to remove at once. Managers must have been
// demoted first.
func (s *session) removeNode(ctx context.Context, op Engine, g *groupRef, m Member, host *cloud.Host) error {
	if m.NodeID == "" {
		return nil
	}
	down := m.State == swarm.NodeStateDown
	if host != nil && !down {
		lctx, cancel := context.WithTimeout(ctx, s.opts.LeaveTimeout)
		e, err := s.engine(lctx, *host)
		if err == nil {
			err = e.Leave(lctx, false)
		}
		cancel()
		if err != nil {
			logWarn(ctx, "the node could not leave the swarm; it is removed with force and its host deleted", map[string]any{"host": host.Name, "error": err.Error()})
		}
	}
	if err := op.RemoveNode(ctx, m.NodeID, !down); err != nil {
		return g.failMember(m, "removing the node from the swarm", err)
	}
	return nil
}

// deleteHosts deletes hosts and waits until the list no longer shows them
// (one list call per poll for all of them).
func (s *session) deleteHosts(ctx context.Context, g *groupRef, hosts []cloud.Host) []error {
	var errs []error
	var deleted []cloud.Host
	for _, h := range hosts {
		if err := g.placeOf(h.ID).driver.DeleteHost(ctx, h.ID); err != nil {
			errs = append(errs, g.fail(h, "deleting the host", err, fixRetry))
			continue
		}
		logInfo(ctx, "deleted host", map[string]any{"group": g.name, "host": h.Name, "id": h.ID, "cloud": string(g.cloudOf(h.ID))})
		deleted = append(deleted, h)
	}
	gctx, cancel := context.WithTimeout(ctx, goneTimeout)
	defer cancel()
	var mu sync.Mutex
	parallel(len(deleted), s.opts.Concurrency, func(i int) {
		if err := g.placeOf(deleted[i].ID).watcher.WaitGone(gctx, deleted[i].ID); err != nil {
			mu.Lock()
			errs = append(errs, g.fail(deleted[i], "waiting for the deleted host to disappear", err, fixRetry))
			mu.Unlock()
		}
	})
	return errs
}

// parallel runs fn(0..n-1), at most limit at a time, and waits for all.
func parallel(n, limit int, fn func(i int)) {
	if limit <= 0 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// hostSpecs builds the specs of new hosts of a group, each with its own
// uid, identity, server certificate and tags.
func (s *session) hostSpecs(group, role string, spec HostsSpec, names []string) ([]cloud.HostSpec, error) {
	if s.ca == nil {
		return nil, ErrNoCAKey
	}
	out := make([]cloud.HostSpec, 0, len(names))
	for _, name := range names {
		uid, err := hostboot.NewUID()
		if err != nil {
			return nil, err
		}
		ud, err := userData(s.ca, hostBoot{ClusterUID: s.clusterUID, Group: group, HostUID: uid, Hostname: name, UserData: spec.UserData}, s.opts.CertValidity)
		if err != nil {
			return nil, err
		}
		extra := []string{SpecTag(SpecHash(spec))}
		if s.unsaved && group == ManagersGroup {
			extra = append(extra, cloud.UnsavedTag)
		}
		out = append(out, cloud.HostSpec{
			Name: name, Region: spec.Region, Size: spec.Size, Image: spec.Image,
			SSHKeys:  slices.Clone(spec.SSHKeys),
			Tags:     HostTags(s.clusterUID, group, role, uid, append(extra, spec.Tags...)),
			UserData: ud,
		})
	}
	return out, nil
}

// create creates hosts with one CreateHosts call. It returns the hosts the
// vendor created — also when it failed part-way — and an error per host
// that was not created.
func (s *session) create(ctx context.Context, g *groupRef, role string, spec HostsSpec, names []string) ([]cloud.Host, []error) {
	specs, err := s.hostSpecs(g.name, role, spec, names)
	if err != nil {
		return nil, []error{fmt.Errorf("preparing %d hosts of %s: %w", len(names), groupWhat(g.name), err)}
	}
	logInfo(ctx, "creating hosts", map[string]any{"group": g.name, "count": len(specs), "cloud": string(g.driver.Cloud())})
	hosts, err := g.driver.CreateHosts(ctx, specs)
	if err == nil {
		return hosts, nil
	}
	made := map[string]bool{}
	for _, h := range hosts {
		made[HostUID(h)] = true
	}
	var errs []error
	for _, sp := range specs {
		uid := ""
		for _, t := range sp.Tags {
			if u, ok := strings.CutPrefix(t, TagUIDPrefix); ok {
				uid = u
			}
		}
		if !made[uid] {
			errs = append(errs, g.fail(cloud.Host{Name: sp.Name}, "creating the host", err, createFix(err)))
		}
	}
	return hosts, errs
}

func groupWhat(group string) string {
	if group == ManagersGroup {
		return "the managers"
	}
	return "node group " + group
}

// setNodeState gives a node the labels (and availability, when not "") it
// should have, touching it only when they differ.
func (s *session) setNodeState(ctx context.Context, op Engine, g *groupRef, m Member, labels map[string]string, avail swarm.Availability) error {
	if labels == nil {
		labels = map[string]string{}
	}
	if len(m.Labels) != 0 || len(labels) != 0 {
		if !maps.Equal(m.Labels, labels) {
			if err := op.SetLabels(ctx, m.NodeID, labels); err != nil {
				return g.failMember(m, "setting the node's labels", err)
			}
		}
	}
	if avail != "" && m.Availability != avail {
		if err := op.SetAvailability(ctx, m.NodeID, avail); err != nil {
			return g.failMember(m, "setting the node's availability to "+string(avail), err)
		}
	}
	return nil
}

// remoteAddrs are the Raft addresses of the reachable managers, what
// joining nodes contact first.
func remoteAddrs(nodes []swarm.Node, fallback string) []string {
	var out []string
	for _, n := range nodes {
		if n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarm.ReachabilityReachable && n.ManagerStatus.Addr != "" {
			out = append(out, n.ManagerStatus.Addr)
		}
	}
	sort.Strings(out)
	if len(out) == 0 && fallback != "" {
		out = []string{fallback}
	}
	return out
}
