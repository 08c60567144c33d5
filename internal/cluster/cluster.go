package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/hostboot"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Cluster is a handle on one cluster: the driver of its managers' vendor,
// its persisted State and the Options. A Cluster does not hold a context or
// a connection between calls. Calls on one Cluster must not run
// concurrently (Terraform runs one operation per resource at a time).
type Cluster struct {
	driver cloud.Driver
	former []cloud.Driver // where managers may still be (MovingFrom)
	opts   Options
	ca     *pki.CA

	mu    sync.Mutex
	state State
	// unsaved: the cluster's Create has not returned, so its caller has not
	// saved the state; managers created meanwhile carry cloud.UnsavedTag
	// until Saved.
	unsaved bool
	removed []string // hosts of an interrupted earlier Create, deleted by this one
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
	// Without the CA key (client credentials: a stack's, a following
	// floating IP's) the cluster is reached but no host can be signed.
	var ca *pki.CA
	if st.Credentials.CAKeyPEM == "" {
		if err := hostboot.Credentials(st.Credentials).CheckClient(); err != nil {
			return nil, fmt.Errorf("opening cluster %s: the cluster's credentials: %w", st.UID, err)
		}
	} else {
		var err error
		if ca, err = st.Credentials.loadCA(); err != nil {
			return nil, fmt.Errorf("opening cluster %s: %w", st.UID, err)
		}
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
	removed, err := checkUnsavedHosts(ctx, driver, spec.Name)
	if err != nil {
		return nil, nil, err
	}
	uid, err := hostboot.NewUID()
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
	c.unsaved, c.removed = true, removed
	v, err := c.Apply(ctx, spec)
	return c, v, err
}

// Removed lists the hosts ("name (id)") of an earlier, interrupted Create
// of a cluster of this name that Create deleted before it began.
func (c *Cluster) Removed() []string { return slices.Clone(c.removed) }

// Saved tells a cluster from Create that its caller has saved its state:
// its managers lose cloud.UnsavedTag, so no later Create takes them for
// leftovers. Call it as soon as the state is saved (also after a partial
// failure). Hosts it misses are cleared by the next Apply.
func (c *Cluster) Saved(ctx context.Context) error {
	ctx = logCtx(ctx)
	c.mu.Lock()
	c.unsaved = false
	c.mu.Unlock()
	hosts, err := c.driver.ListHosts(ctx, ClusterTag(c.UID()))
	if err != nil {
		return fmt.Errorf("listing the managers of cluster %s to mark them saved: %w", c.UID(), err)
	}
	return clearUnsaved(ctx, c.driver, hosts)
}

// clearUnsaved removes cloud.UnsavedTag from the hosts carrying it.
func clearUnsaved(ctx context.Context, d cloud.Driver, hosts []cloud.Host) error {
	var errs []error
	for _, h := range hosts {
		if !cloud.Unsaved(h) || h.Status == cloud.HostDeleting {
			continue
		}
		if err := d.TagHost(ctx, h.ID, nil, []string{cloud.UnsavedTag}); err != nil && !errors.Is(err, cloud.ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing tag %s from host %s (%s): %w", cloud.UnsavedTag, h.Name, h.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) isUnsaved() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unsaved
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

// MovingFrom tells the cluster its managers are moving to its driver's
// vendor or region from the places of former (the managers' cloud or
// region changed): their hosts there are listed with the others, out of
// date, and replaced one at a time by Apply; Destroy deletes them too.
// Pass the former places for as long as hosts may remain there (an
// interrupted migration resumes from them).
func (c *Cluster) MovingFrom(former ...cloud.Driver) {
	c.former = slices.DeleteFunc(slices.Clone(former), func(d cloud.Driver) bool { return d == nil || d == c.driver })
}

// Driver returns the driver of the managers' vendor.
func (c *Cluster) Driver() cloud.Driver { return c.driver }

func (c *Cluster) swarmID() string { return c.State().SwarmID }

func (c *Cluster) setSwarmID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.SwarmID = id
}

func (c *Cluster) session() *session {
	s := newSession(c.State(), c.ca, c.opts)
	s.unsaved = c.isUnsaved()
	return s
}

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
	if err := spec.RollingUpdate.Validate(spec.Managers.Count); err != nil {
		return fmt.Errorf("managers: %w", err)
	}
	return validateSettings(spec.Settings)
}

// Observe reads the cluster: one list call for the managers' hosts, then
// the node list and the swarm's settings from a manager that answers, the
// leader first. When none answers, the view has the hosts only and
// SwarmError says why; the error is for the list call alone.
func (c *Cluster) Observe(ctx context.Context) (*ClusterView, error) {
	ctx = logCtx(ctx)
	s := c.session()
	defer s.close()
	r, err := c.newGroupRun(ctx, s, ManagersGroup, c.driver, c.former...)
	if err != nil {
		return nil, err
	}
	_ = r.connect(ctx, nil)
	return c.view(ctx, r), nil
}

// Manager returns the engine of a manager that answers — the leader when
// it does: the one rule for whoever needs to talk to the swarm (stacks,
// node groups) — and its host. The caller closes the engine.
func (c *Cluster) Manager(ctx context.Context) (Engine, cloud.Host, error) {
	ctx = logCtx(ctx)
	s := newSession(c.State(), c.ca, c.opts)
	r, err := c.newGroupRun(ctx, s, ManagersGroup, c.driver, c.former...)
	if err != nil {
		return nil, cloud.Host{}, err
	}
	if err := r.connect(ctx, nil); err != nil {
		s.close()
		return nil, cloud.Host{}, fmt.Errorf("reaching a manager of cluster %s: %w", c.UID(), err)
	}
	// Keep the operator's engine open for the caller; close the others.
	s.release(HostUID(r.opHost))
	s.close()
	return r.op, r.opHost, nil
}

// view builds the cluster's view from a run; with an operator it reads
// the swarm's settings too.
func (c *Cluster) view(ctx context.Context, r *groupRun) *ClusterView {
	cv := &ClusterView{View: *buildView(c.UID(), ManagersGroup, r.g.cloudOf, r.hosts, r.nodes, r.serr)}
	for _, m := range cv.Members {
		if m.Leader {
			cv.Leader = m.Name
			if cv.Leader == "" {
				cv.Leader = m.Hostname
			}
		}
	}
	if r.op == nil {
		return cv
	}
	info, err := r.op.SwarmInfo(ctx)
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
		HeartbeatPeriod:  info.HeartbeatPeriod,
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
	r, err := c.newGroupRun(ctx, s, ManagersGroup, c.driver, c.former...)
	if err != nil {
		return nil, fmt.Errorf("applying the managers of cluster %s (%d wanted): %w", c.UID(), spec.Managers.Count, err)
	}
	if !s.unsaved {
		// Saved failed after the cluster's Create: finish it now.
		if err := clearUnsaved(ctx, c.driver, r.hosts); err != nil {
			logWarn(ctx, "the managers keep the tag of an unsaved create", map[string]any{"error": err.Error()})
		}
	}
	r.adv = spec.Settings.Advertise
	if r.adv == "" {
		r.adv = AddressPrivate
	}
	settings := spec.Settings
	drain := spec.DrainTimeout
	if drain <= 0 {
		drain = c.opts.DrainTimeout
	}
	d := desired{HostsSpec: spec.Managers, prefix: spec.Name + "-" + ManagersGroup, settings: &settings, drainTimeout: drain, rolling: spec.RollingUpdate, firewall: spec.Firewall}
	if r.adv == AddressPrivate && slices.ContainsFunc(r.g.former, func(p place) bool { return p.driver.Cloud() != c.driver.Cloud() }) {
		return &ClusterView{View: *r.view()}, fmt.Errorf("applying the managers of cluster %s: they are moving to %s, but the swarm advertises private addresses, which do not route between vendors: "+
			"nothing was changed. Set advertise_address = \"public\" on the cluster and apply first (the nodes are replaced advertising their public addresses), or join the vendors' private networks, before moving the managers", c.UID(), c.driver.Cloud())
	}
	err = c.applyManagers(ctx, r, d)
	r.serr = nil
	v := c.view(ctx, r)
	if r.op == nil && v.SwarmError == nil && c.swarmID() != "" {
		v.SwarmError = errors.New("no manager answered")
	}
	if err != nil {
		return v, fmt.Errorf("applying the managers of cluster %s (%d wanted): %w", c.UID(), spec.Managers.Count, err)
	}
	return v, nil
}

func (c *Cluster) applyManagers(ctx context.Context, r *groupRun, d desired) error {
	if c.swarmID() == "" {
		if err := r.keepFirewall(ctx, d); err != nil {
			return err
		}
		if err := c.bootstrap(ctx, r, d); err != nil {
			return errors.Join(append(r.later, err)...)
		}
	}
	if r.op == nil {
		if err := r.connect(ctx, nil); err != nil {
			return fmt.Errorf("reaching swarm %s: %w. %s", c.swarmID(), err, fixManagerDown)
		}
	}
	return r.apply(ctx, d)
}

// bootstrap initialises the swarm: it creates the hosts still missing
// (one CreateHosts call), waits for all of them together, and runs swarm
// init on the first, advertising its private address. The others join in
// apply. A swarm an interrupted earlier run initialised is adopted.
func (c *Cluster) bootstrap(ctx context.Context, r *groupRun, d desired) error {
	existing := live(r.hosts)
	if len(existing) > 0 {
		if r.connect(ctx, nil) == nil {
			if info, err := r.op.SwarmInfo(ctx); err == nil && info.ID != "" {
				logInfo(ctx, "adopting the swarm an earlier run initialised", map[string]any{"swarm": info.ID, "host": r.opHost.Name})
				c.setSwarmID(info.ID)
				return nil
			}
			r.op, r.serr = nil, nil
		}
	}
	if n := d.Count - len(existing); n > 0 {
		_, errs := r.createHosts(ctx, d.HostsSpec, nextNames(d.prefix, hostNames(r.hosts), n))
		r.later = append(r.later, errs...)
	}
	hosts := live(r.hosts)
	if len(hosts) == 0 {
		return errors.New("no manager host could be created")
	}
	r.bootHosts(ctx, hosts)
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
	st := d.settings
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
	c.setSwarmID(id)
	r.op, r.opHost = eng, *first
	return r.refresh(ctx)
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
	var del []cloud.Host
	groups := map[string][]string{}
	regions := map[cloud.Driver]string{} // where each place's hosts were
	g := &groupRef{name: ManagersGroup, at: map[string]place{}}
	for i, d := range append([]cloud.Driver{c.driver}, c.former...) {
		p := place{driver: d, watcher: cloud.NewHostWatcher(d, ClusterTag(c.UID()), c.opts.PollInterval)}
		if i == 0 {
			g.place = p
		}
		all, err := d.ListHosts(ctx, ClusterTag(c.UID()))
		if err != nil {
			return fmt.Errorf("destroying cluster %s: listing its hosts at %s: %w", c.UID(), d.Cloud(), err)
		}
		for _, h := range all {
			regions[d] = h.Region
			if grp := HostGroup(h, c.UID()); grp != ManagersGroup {
				groups[grp] = append(groups[grp], h.Name)
				if !opts.DeleteNodeGroups {
					continue
				}
			}
			if i > 0 {
				g.at[h.ID] = p
			}
			del = append(del, h)
		}
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
	logInfo(ctx, "destroying cluster", map[string]any{"cluster": c.UID(), "hosts": len(del)})
	if err := opError("destroying cluster "+c.UID(), s.deleteHosts(ctx, g, del)); err != nil {
		return err
	}
	var errs []error
	for _, d := range append([]cloud.Driver{c.driver}, c.former...) {
		if _, err := deleteFirewallIfEmpty(ctx, d, c.UID(), regions[d]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroying cluster %s: %w", c.UID(), err)
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
	r, err := c.newGroupRun(ctx, s, ManagersGroup, c.driver, c.former...)
	if err != nil {
		return "", err
	}
	if err := r.connect(ctx, nil); err != nil {
		return "", fmt.Errorf("reading the unlock key of cluster %s: %w", c.UID(), err)
	}
	key, err := r.op.UnlockKey(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the unlock key of cluster %s from %s: %w", c.UID(), r.opHost.Name, err)
	}
	return key, nil
}

// checkUnsavedHosts looks, before cluster name is created, for managers
// of another Haddock cluster of that name. Those that all still carry
// cloud.UnsavedTag were left by an earlier Create killed before its caller
// saved the state: their uid and CA died with it, so they can be neither
// adopted nor reached, and they are deleted (with that cluster's firewall)
// and listed. Any other is refused: another configuration may run a
// cluster of that name, and creating another would collide with it.
func checkUnsavedHosts(ctx context.Context, driver cloud.Driver, name string) ([]string, error) {
	hosts, err := driver.ListHosts(ctx, cloud.ManagedTag)
	if err != nil {
		return nil, fmt.Errorf("looking for hosts of an earlier cluster named %s: %w", name, err)
	}
	prefix := name + "-" + ManagersGroup + "-"
	var left []string
	var found []cloud.Host
	uids := map[string]bool{}
	saved := false
	for _, h := range hosts {
		if !strings.HasPrefix(h.Name, prefix) || h.Status == cloud.HostDeleting {
			continue
		}
		if uid := HostCluster(h); uid != "" {
			left = append(left, fmt.Sprintf("%s (%s)", h.Name, h.ID))
			found = append(found, h)
			uids[uid] = true
			saved = saved || !cloud.Unsaved(h)
		}
	}
	if len(left) == 0 {
		return nil, nil
	}
	var tags []string
	for uid := range uids {
		tags = append(tags, ClusterTag(uid))
	}
	slices.Sort(tags)
	if saved {
		return nil, fmt.Errorf("%w: %d host(s) named %s* of another Haddock cluster exist: %s. "+
			"If another configuration runs a cluster named %q, give this one another name. "+
			"If they belong to a cluster whose state was lost, delete them (they carry the tag %s), then apply again",
			ErrUnsavedHosts, len(left), prefix, strings.Join(left, ", "), name, strings.Join(tags, ", "))
	}
	logWarn(ctx, "deleting the managers of an interrupted earlier create of this cluster", map[string]any{"hosts": left})
	var errs []error
	for _, h := range found {
		if err := driver.DeleteHost(ctx, h.ID); err != nil {
			errs = append(errs, fmt.Errorf("deleting host %s (%s) left by an interrupted create: %w", h.Name, h.ID, err))
		}
	}
	if len(errs) == 0 {
		for uid := range uids {
			if fws, ok := driver.(cloud.Firewalls); ok {
				if err := fws.DeleteFirewall(ctx, found[0].Region, FirewallName(uid)); err != nil {
					errs = append(errs, fmt.Errorf("deleting the firewall %s of an interrupted create: %w", FirewallName(uid), err))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("removing what an interrupted earlier create of cluster %s left (%s): %w. Apply again", name, strings.Join(left, ", "), err)
	}
	return left, nil
}
