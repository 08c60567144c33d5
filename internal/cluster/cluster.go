package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Cluster is a handle on one cluster: the driver of its managers' vendor,
// its persisted State and the Options. A Cluster does not hold a context or
// a connection between calls. Calls on one Cluster must not run
// concurrently (Terraform runs one operation per resource at a time).
type Cluster struct {
	driver cloud.Driver
	opts   Options
	ca     *pki.CA

	mu    sync.Mutex
	state State
}

// Open returns a handle on the cluster st describes (as persisted),
// managed with driver. It checks the state but calls nothing.
func Open(driver cloud.Driver, st State, opts Options) (*Cluster, error) {
	if driver == nil {
		return nil, errors.New("opening cluster: no cloud driver")
	}
	if err := ValidateClusterUID(st.UID); err != nil {
		return nil, fmt.Errorf("opening cluster: %w", err)
	}
	if !opts.EngineAddress.valid() {
		return nil, fmt.Errorf("opening cluster %s: engine address %q must be %q or %q", st.UID, opts.EngineAddress, AddressPublic, AddressPrivate)
	}
	ca, err := st.Credentials.loadCA()
	if err != nil {
		return nil, fmt.Errorf("opening cluster %s: %w", st.UID, err)
	}
	return &Cluster{driver: driver, opts: opts.withDefaults(), ca: ca, state: st}, nil
}

// Create creates a cluster: a uid and TLS material of its own, then its
// managers (Apply). The returned Cluster is non-nil as soon as the state
// exists — also when err is not nil: the caller must then save
// Cluster.State(), since hosts may exist (they are found again by their
// tags, so Apply resumes and Destroy cleans up).
func Create(ctx context.Context, driver cloud.Driver, spec ClusterSpec, opts Options) (*Cluster, *ClusterView, error) {
	if err := validateClusterSpec(spec); err != nil {
		return nil, nil, err
	}
	uid, err := newUID()
	if err != nil {
		return nil, nil, err
	}
	creds, err := NewCredentials(uid)
	if err != nil {
		return nil, nil, err
	}
	c, err := Open(driver, State{UID: uid, Credentials: creds}, opts)
	if err != nil {
		return nil, nil, err
	}
	v, err := c.Apply(ctx, spec)
	return c, v, err
}

// State returns what the caller persists. SwarmID is set once the swarm
// has been initialised.
func (c *Cluster) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// UID returns the cluster's uid.
func (c *Cluster) UID() string { return c.State().UID }

// Driver returns the driver of the managers' vendor.
func (c *Cluster) Driver() cloud.Driver { return c.driver }

func (c *Cluster) swarmID() string { return c.State().SwarmID }

func (c *Cluster) setSwarmID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.SwarmID = id
}

func (c *Cluster) session() *session { return newSession(c.State(), c.ca, c.opts) }

func validateClusterSpec(spec ClusterSpec) error {
	if err := validateName("cluster name", spec.Name); err != nil {
		return err
	}
	if err := swarm.ValidManagerCount(spec.Managers.Count); err != nil {
		return fmt.Errorf("manager count: %w", err)
	}
	if err := validateHostsSpec("managers", spec.Managers); err != nil {
		return err
	}
	return validateSettings(spec.Settings)
}

// Observe reads the cluster: one list call for the managers' hosts, then
// the node list and the swarm's settings from the first manager that
// answers. When none answers, the view has the hosts only and SwarmError
// says why; the error is for the list call alone.
func (c *Cluster) Observe(ctx context.Context) (*ClusterView, error) {
	ctx = logCtx(ctx)
	s := c.session()
	defer s.close()
	g := s.group(ManagersGroup, c.driver)
	hosts, err := s.list(ctx, g)
	if err != nil {
		return nil, err
	}
	op, _, nodes, serr := s.connectManager(ctx, hosts, nil)
	return c.view(ctx, hosts, op, nodes, serr), nil
}

// view builds the cluster's view; with an operator it reads the swarm's
// settings too.
func (c *Cluster) view(ctx context.Context, hosts []cloud.Host, op Engine, nodes []swarm.Node, serr error) *ClusterView {
	cv := &ClusterView{View: *buildView(c.UID(), ManagersGroup, c.driver.Cloud(), hosts, nodes, serr)}
	for _, m := range cv.Members {
		if m.Leader {
			cv.Leader = m.Name
			if cv.Leader == "" {
				cv.Leader = m.Hostname
			}
		}
	}
	if op == nil {
		return cv
	}
	info, err := op.SwarmInfo(ctx)
	if err != nil {
		if cv.SwarmError == nil {
			cv.SwarmError = err
		}
		return cv
	}
	cv.SwarmID = info.ID
	cv.Settings = &Settings{
		DefaultAddrPool:  slices.Clone(info.DefaultAddrPool),
		SubnetSize:       info.SubnetSize,
		Autolock:         info.Autolock,
		TaskHistoryLimit: info.TaskHistoryLimit,
	}
	return cv
}

// Apply brings the managers to spec: it initialises the swarm when it has
// not been yet (a Create, or one interrupted), replaces managers whose
// hosts were deleted outside Haddock, joins hosts that are not in the swarm
// yet, grows or shrinks the managers one Raft change at a time, and sets
// node labels and the swarm's settings. Hosts are found by their tags, so
// Apply picks up from whatever a failed earlier run left.
//
// Growing creates the new hosts with one CreateHosts call, waits for them
// together, then joins them one at a time, each reachable in Raft before
// the next joins. Shrinking follows swarm.PlanManagerChange: unreachable
// managers first, then newest first, the leader last; each is demoted
// (waiting until Raft has accepted it), its node removed, its host
// deleted. A change that would need a quorum the swarm does not have, or
// leave it without one, is refused before anything is touched, with the
// arithmetic.
//
// The view is returned with the error too: it shows what exists after a
// partial failure.
func (c *Cluster) Apply(ctx context.Context, spec ClusterSpec) (*ClusterView, error) {
	ctx = logCtx(ctx)
	if err := validateClusterSpec(spec); err != nil {
		return nil, err
	}
	s := c.session()
	defer s.close()
	r := &managersRun{
		c: c, s: s, g: s.group(ManagersGroup, c.driver), spec: spec,
		want: spec.Managers.Count, prefix: spec.Name + "-" + ManagersGroup,
		adv: spec.Settings.Advertise, failed: map[string]bool{},
	}
	if r.adv == "" {
		r.adv = AddressPrivate
	}
	err := r.run(ctx)
	v := c.view(ctx, r.hosts, r.op, r.nodes, nil)
	if r.op == nil && v.SwarmError == nil && c.swarmID() != "" {
		v.SwarmError = errors.New("no manager answered")
	}
	if err != nil {
		return v, fmt.Errorf("applying the managers of cluster %s (%d wanted): %w", c.UID(), r.want, err)
	}
	return v, nil
}

// managersRun is one Apply of the managers.
type managersRun struct {
	c      *Cluster
	s      *session
	g      *groupRef
	spec   ClusterSpec
	want   int
	prefix string
	adv    AddressKind

	hosts  []cloud.Host    // the group's hosts as known now
	failed map[string]bool // uids of hosts that failed to boot in this run
	op     Engine          // a manager's engine
	opHost cloud.Host      // its host
	nodes  []swarm.Node    // the node list as last read
	tokens map[bool]string // join tokens by manager, fetched when needed
	later  []error         // errors reported at the end (the run went on)
	booted map[string]Engine
}

func (r *managersRun) run(ctx context.Context) error {
	hosts, err := r.s.list(ctx, r.g)
	if err != nil {
		return err
	}
	r.hosts = hosts
	r.booted = map[string]Engine{}
	if r.c.swarmID() == "" {
		if err := r.bootstrap(ctx); err != nil {
			return errors.Join(append(r.later, err)...)
		}
	}
	if r.op == nil {
		op, h, nodes, err := r.s.connectManager(ctx, live(r.hosts), nil)
		if err != nil {
			return fmt.Errorf("reaching swarm %s: %w. %s", r.c.swarmID(), err, fixManagerDown)
		}
		r.op, r.opHost, r.nodes = op, h, nodes
	}
	for _, step := range []func(context.Context) error{r.cleanup, r.joinPending, r.scale, r.settle} {
		if err := step(ctx); err != nil {
			return errors.Join(append(r.later, err)...)
		}
	}
	return errors.Join(r.later...)
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

func (r *managersRun) setHost(h cloud.Host) {
	for i := range r.hosts {
		if r.hosts[i].ID == h.ID {
			r.hosts[i] = h
			return
		}
	}
	r.hosts = append(r.hosts, h)
	sortHosts(r.hosts)
}

func (r *managersRun) dropHost(id string) {
	r.hosts = slices.DeleteFunc(r.hosts, func(h cloud.Host) bool { return h.ID == id })
}

func (r *managersRun) hostByUID(uid string) *cloud.Host {
	for i := range r.hosts {
		if uid != "" && HostUID(r.hosts[i]) == uid {
			h := r.hosts[i]
			return &h
		}
	}
	return nil
}

func (r *managersRun) view() *View {
	return buildView(r.c.UID(), ManagersGroup, r.c.driver.Cloud(), r.hosts, r.nodes, nil)
}

func (r *managersRun) refresh(ctx context.Context) error {
	nodes, err := r.op.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("reading the node list from manager %s: %w", r.opHost.Name, err)
	}
	r.nodes = nodes
	return nil
}

// bootstrap initialises the swarm: it creates the hosts still missing
// (one CreateHosts call), waits for all of them together, and runs swarm
// init on the first, advertising its private address. The others join in
// joinPending. A swarm an interrupted earlier run initialised is adopted.
func (r *managersRun) bootstrap(ctx context.Context) error {
	existing := live(r.hosts)
	if len(existing) > 0 {
		if op, h, nodes, err := r.s.connectManager(ctx, existing, nil); err == nil {
			if info, err := op.SwarmInfo(ctx); err == nil && info.ID != "" {
				logInfo(ctx, "adopting the swarm an earlier run initialised", map[string]any{"swarm": info.ID, "host": h.Name})
				r.c.setSwarmID(info.ID)
				r.op, r.opHost, r.nodes = op, h, nodes
				return nil
			}
		}
	}
	if n := r.want - len(existing); n > 0 {
		created, errs := r.s.create(ctx, r.g, roleManager, r.spec.Managers, nextNames(r.prefix, hostNames(r.hosts), n))
		for _, h := range created {
			r.setHost(h)
		}
		r.later = append(r.later, errs...)
	}
	hosts := live(r.hosts)
	if len(hosts) == 0 {
		return errors.New("no manager host could be created")
	}
	r.bootAll(ctx, hosts)
	var first *cloud.Host
	for _, h := range live(r.hosts) {
		if r.booted[HostUID(h)] != nil {
			first = &h
			break
		}
	}
	if first == nil {
		return errors.New("no manager host booted, so the swarm could not be initialised")
	}
	st := r.spec.Settings
	eng := r.booted[HostUID(*first)]
	id, err := eng.Init(ctx, swarm.InitOptions{
		AdvertiseAddr:    r.adv.of(*first, AddressPrivate),
		DefaultAddrPool:  st.DefaultAddrPool,
		SubnetSize:       st.SubnetSize,
		Autolock:         st.Autolock,
		TaskHistoryLimit: st.TaskHistoryLimit,
	})
	if err != nil {
		return r.g.fail(*first, "initialising the swarm", err, fixRetry)
	}
	logInfo(ctx, "initialised the swarm", map[string]any{"swarm": id, "host": first.Name})
	r.c.setSwarmID(id)
	r.op, r.opHost = eng, *first
	return r.refresh(ctx)
}

// bootAll waits for hosts together (list calls shared among them) and for
// their engines; failures are reported at the end and the hosts skipped.
func (r *managersRun) bootAll(ctx context.Context, hosts []cloud.Host) {
	type result struct {
		h   cloud.Host
		e   Engine
		err error
	}
	res := make([]result, len(hosts))
	parallel(len(hosts), r.s.opts.Concurrency, func(i int) {
		if r.booted[HostUID(hosts[i])] != nil || r.failed[HostUID(hosts[i])] {
			res[i] = result{h: hosts[i]}
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

// token returns a join token, fetched over mutual TLS from the operator
// once per run. Tokens are never returned to the caller.
func (r *managersRun) token(ctx context.Context, manager bool) (string, error) {
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

// isRaft reports whether node id is a Raft member.
func isRaft(nodes []swarm.Node, id string) bool {
	for _, n := range nodes {
		if n.ID == id {
			return n.ManagerStatus != nil
		}
	}
	return false
}

// cleanup removes what should not be there before counting: managers
// whose hosts were deleted outside Haddock (demoted with the quorum
// arithmetic of swarm.PlanRemoveManagers, then removed), nodes of deleted
// hosts, superseded nodes, hosts the vendor failed, and manager hosts whose
// node is no longer a manager.
func (r *managersRun) cleanup(ctx context.Context) error {
	v := r.view()
	var dead []string
	for _, m := range v.Members {
		if m.HostMissing() && isRaft(r.nodes, m.NodeID) {
			dead = append(dead, m.NodeID)
		}
	}
	if len(dead) > 0 {
		steps, err := swarm.PlanRemoveManagers(swarm.ManagersOf(r.nodes), dead)
		if err != nil {
			return fmt.Errorf("removing the managers whose hosts were deleted outside Haddock: %w", err)
		}
		if err := r.exec(ctx, steps); err != nil {
			return err
		}
		v = r.view()
	}
	var errs []error
	for _, m := range v.Members {
		if m.HostMissing() && !isRaft(r.nodes, m.NodeID) {
			if err := r.op.RemoveNode(ctx, m.NodeID, true); err != nil {
				errs = append(errs, r.g.failMember(m, "removing the node of a deleted host", err))
			}
		}
	}
	for _, id := range v.StaleNodes {
		if !isRaft(r.nodes, id) {
			if err := r.op.RemoveNode(ctx, id, true); err != nil {
				errs = append(errs, &HostError{Group: ManagersGroup, NodeID: id, Op: "removing a superseded node", Err: err, Fix: fixRetry})
			}
		}
	}
	// Hosts that failed at the vendor, and manager hosts whose node is a
	// worker (a shrink interrupted between demotion and removal, or a
	// demotion by hand): promoted back while managers are missing, else
	// removed.
	ours := len(r.ours())
	var gone []cloud.Host
	for _, m := range v.Members {
		h := r.hostByUID(m.UID)
		if h == nil || h.Status == cloud.HostDeleting || (m.NodeID != "" && isRaft(r.nodes, m.NodeID)) {
			continue
		}
		demoted := m.NodeID != "" && h.Status != cloud.HostError
		if !demoted && h.Status != cloud.HostError {
			continue
		}
		if demoted && ours < r.want && m.State == swarm.NodeStateReady {
			logInfo(ctx, "promoting a manager host's node back", map[string]any{"host": h.Name, "node": m.NodeID})
			if err := r.op.Promote(ctx, m.NodeID); err != nil {
				errs = append(errs, r.g.failMember(m, "promoting the node of a manager host back to manager", err))
			} else {
				ours++
			}
			continue
		}
		if err := r.s.removeNode(ctx, r.op, r.g, m, h); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, *h)
	}
	errs = append(errs, r.s.deleteHosts(ctx, r.g, gone)...)
	for _, h := range gone {
		r.dropHost(h.ID)
	}
	if err := r.refresh(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// joinPending joins, one at a time, the hosts that are not in the swarm
// yet (new ones, or those an earlier run failed to join); those beyond the
// wanted count are deleted instead.
func (r *managersRun) joinPending(ctx context.Context) error {
	v := r.view()
	joined := 0
	var pending []cloud.Host
	for _, m := range v.Members {
		h := r.hostByUID(m.UID)
		if h == nil || !counted(*h) {
			continue
		}
		if m.NodeID != "" {
			joined++
		} else if !r.failed[m.UID] {
			pending = append(pending, *h)
		}
	}
	if extra := joined + len(pending) - r.want; extra > 0 {
		n := min(extra, len(pending))
		drop := pending[len(pending)-n:]
		pending = pending[:len(pending)-n]
		errs := r.s.deleteHosts(ctx, r.g, drop)
		for _, h := range drop {
			r.dropHost(h.ID)
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	return r.joinManagers(ctx, pending)
}

// joinManagers boots hosts together, then joins them as managers one at a
// time, each ready and reachable in Raft before the next. It stops at the
// first failure: Raft membership changes go one by one.
func (r *managersRun) joinManagers(ctx context.Context, hosts []cloud.Host) error {
	if len(hosts) == 0 {
		return nil
	}
	r.bootAll(ctx, hosts)
	for _, h0 := range hosts {
		uid := HostUID(h0)
		eng := r.booted[uid]
		if eng == nil {
			continue // reported by bootAll
		}
		h := *r.hostByUID(uid)
		token, err := r.token(ctx, true)
		if err != nil {
			return err
		}
		remotes := remoteAddrs(r.nodes, net.JoinHostPort(r.adv.of(r.opHost, AddressPrivate), strconv.Itoa(swarm.SwarmPort)))
		logInfo(ctx, "joining a manager", map[string]any{"host": h.Name, "remotes": strings.Join(remotes, ",")})
		if err := eng.Join(ctx, swarm.JoinOptions{RemoteAddrs: remotes, Token: token, AdvertiseAddr: r.adv.of(h, AddressPrivate)}); err != nil {
			return r.g.fail(h, "joining the swarm as a manager", err, fixSwarmPorts)
		}
		nodes, errs := r.s.waitNodes(ctx, r.op, r.g, map[string]cloud.Host{uid: h}, true)
		if nodes != nil {
			r.nodes = nodes
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	return nil
}

// ours returns the Raft members that are this group's hosts.
func (r *managersRun) ours() []swarm.ManagerNode {
	v := r.view()
	mine := map[string]bool{}
	for _, m := range v.Members {
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

// scale grows or shrinks the managers to the wanted count.
func (r *managersRun) scale(ctx context.Context) error {
	ours := r.ours()
	n := len(ours)
	if n == r.want {
		return nil
	}
	plan, err := swarm.PlanManagerChange(ours, r.want)
	if err != nil {
		return fmt.Errorf("refusing to change the managers from %d to %d: %w", n, r.want, err)
	}
	if n < r.want {
		created, errs := r.s.create(ctx, r.g, roleManager, r.spec.Managers, nextNames(r.prefix, hostNames(r.hosts), r.want-n))
		for _, h := range created {
			r.setHost(h)
		}
		r.later = append(r.later, errs...)
		return r.joinManagers(ctx, created)
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
		return fmt.Errorf("refusing to change the managers from %d to %d: %w", n, r.want, err)
	}
	return r.exec(ctx, steps)
}

// exec carries out removal steps from swarm.PlanRemoveManagers /
// PlanManagerChange in order, through a manager that stays.
func (r *managersRun) exec(ctx context.Context, steps []swarm.Step) error {
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
			logInfo(ctx, "demoting a manager", map[string]any{"node": st.Node.String(), "managers_after": st.ManagersAfter})
			if err := r.op.Demote(ctx, st.Node.ID); err != nil {
				return r.g.failMember(m, "demoting the manager", err)
			}
		case swarm.StepRemove:
			h := r.hostByUID(m.UID)
			if err := r.s.removeNode(ctx, r.op, r.g, m, h); err != nil {
				return err
			}
			if h != nil {
				errs := r.s.deleteHosts(ctx, r.g, []cloud.Host{*h})
				r.dropHost(h.ID)
				if len(errs) > 0 {
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

// member returns the member whose node is id (a bare one when unknown).
func (r *managersRun) member(id string) Member {
	for _, m := range r.view().Members {
		if m.NodeID == id {
			return m
		}
	}
	return Member{NodeID: id, Group: ManagersGroup}
}

// ensureOperator makes sure the operator is a manager whose node is not in
// leaving, so that it stays a manager throughout the steps.
func (r *managersRun) ensureOperator(ctx context.Context, leaving map[string]bool) error {
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
	op, h, nodes, err := r.s.connectManager(ctx, live(r.hosts), exclude)
	if err != nil {
		return fmt.Errorf("finding a manager that stays to carry out the change: %w", err)
	}
	r.op, r.opHost, r.nodes = op, h, nodes
	return nil
}

// settle gives every manager node its labels and the swarm its settings.
func (r *managersRun) settle(ctx context.Context) error {
	if err := r.refresh(ctx); err != nil {
		return err
	}
	var errs []error
	for _, m := range r.view().Members {
		if m.HostMissing() || m.NodeID == "" {
			continue
		}
		if err := r.s.setNodeState(ctx, r.op, r.g, m, r.spec.Managers.Labels, ""); err != nil {
			errs = append(errs, err)
		}
	}
	info, err := r.op.SwarmInfo(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("reading the swarm's settings from %s: %w", r.opHost.Name, err))...)
	}
	var u swarm.SwarmUpdate
	changed := false
	if info.Autolock != r.spec.Settings.Autolock {
		v := r.spec.Settings.Autolock
		u.Autolock, changed = &v, true
	}
	if l := r.spec.Settings.TaskHistoryLimit; l != 0 && info.TaskHistoryLimit != l {
		u.TaskHistoryLimit, changed = &l, true
	}
	if changed {
		if err := r.op.UpdateSwarm(ctx, u); err != nil {
			errs = append(errs, fmt.Errorf("updating the swarm's settings through %s: %w", r.opHost.Name, err))
		}
	}
	if len(errs) == 0 {
		return r.refresh(ctx)
	}
	return errors.Join(errs...)
}

// DestroyOptions tune Destroy.
type DestroyOptions struct {
	// DeleteNodeGroups also deletes the hosts of node groups still
	// tagged for the cluster on the managers' vendor. Without it Destroy
	// refuses while there are any (Terraform destroys node groups first,
	// since they reference the cluster).
	DeleteNodeGroups bool
}

// Destroy deletes the cluster's manager hosts: one list call by the
// cluster tag finds them. The swarm goes with them; nothing is left or
// demoted first. Node groups should be gone already: their hosts on the
// managers' vendor make Destroy refuse unless opts.DeleteNodeGroups (node
// groups on another vendor are not seen here).
func (c *Cluster) Destroy(ctx context.Context, opts DestroyOptions) error {
	ctx = logCtx(ctx)
	s := c.session()
	defer s.close()
	all, err := c.driver.ListHosts(ctx, ClusterTag(c.UID()))
	if err != nil {
		return fmt.Errorf("destroying cluster %s: listing its hosts at %s: %w", c.UID(), c.driver.Cloud(), err)
	}
	groups := map[string][]string{}
	var del []cloud.Host
	for _, h := range all {
		g := HostGroup(h, c.UID())
		if g != ManagersGroup {
			groups[g] = append(groups[g], h.Name)
			if !opts.DeleteNodeGroups {
				continue
			}
		}
		del = append(del, h)
	}
	if len(groups) > 0 && !opts.DeleteNodeGroups {
		var desc []string
		for g, names := range groups {
			sort.Strings(names)
			desc = append(desc, fmt.Sprintf("%s (%s)", g, strings.Join(names, ", ")))
		}
		sort.Strings(desc)
		return fmt.Errorf("destroying cluster %s: node groups still have hosts: %s; destroy the node groups first (they reference the cluster, so Terraform destroys them first), or delete these hosts", c.UID(), strings.Join(desc, "; "))
	}
	g := &groupRef{name: ManagersGroup, driver: c.driver, watcher: cloud.NewHostWatcher(c.driver, ClusterTag(c.UID()), c.opts.PollInterval)}
	logInfo(ctx, "destroying cluster", map[string]any{"cluster": c.UID(), "hosts": len(del)})
	if err := opError("destroying cluster "+c.UID(), s.deleteHosts(ctx, g, del)); err != nil {
		return err
	}
	return nil
}

// UnlockKey reads the key that unlocks a restarted manager of an
// autolocked swarm from a manager that answers ("" when autolock is off).
// It is secret and is not stored: read it when needed.
func (c *Cluster) UnlockKey(ctx context.Context) (string, error) {
	ctx = logCtx(ctx)
	s := c.session()
	defer s.close()
	hosts, err := s.list(ctx, s.group(ManagersGroup, c.driver))
	if err != nil {
		return "", err
	}
	op, h, _, err := s.connectManager(ctx, hosts, nil)
	if err != nil {
		return "", fmt.Errorf("reading the unlock key of cluster %s: %w", c.UID(), err)
	}
	key, err := op.UnlockKey(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the unlock key of cluster %s from %s: %w", c.UID(), h.Name, err)
	}
	return key, nil
}
