package cluster

// Fakes: an in-memory cloud.Driver and an in-memory swarm behind the
// Engine interface. Both append to one recorder, so tests can check the
// order of cloud and swarm operations ("drain before delete").

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// recorder is the ordered log of operations.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}

// matching returns the events starting with prefix.
func (r *recorder) matching(prefix string) []string {
	var out []string
	for _, e := range r.all() {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// index returns the position of the first event equal to e, -1 if none.
func (r *recorder) index(e string) int { return slices.Index(r.all(), e) }

// bootInfo is what a host's user data says, as cloud-init would apply it.
type bootInfo struct {
	hostname string
	labels   map[string]string
	certPEM  []byte
}

// readUserData reads the hostname, engine labels and server certificate
// from Haddock's user data.
func readUserData(ud string) (bootInfo, error) {
	doc, err := cloudinit.Parse(ud)
	if err != nil {
		return bootInfo{}, err
	}
	bi := bootInfo{hostname: doc.Hostname, labels: map[string]string{}}
	for _, f := range doc.Files {
		switch f.Path {
		case cloudinit.DaemonConfigPath:
			var cfg struct {
				Labels []string `json:"labels"`
			}
			if err := json.Unmarshal(f.Content, &cfg); err != nil {
				return bootInfo{}, err
			}
			for _, l := range cfg.Labels {
				k, v, _ := strings.Cut(l, "=")
				bi.labels[k] = v
			}
		case cloudinit.ServerCertPath:
			bi.certPEM = f.Content
		}
	}
	return bi, nil
}

// bootRegistry maps host uids to what their user data says; drivers
// register hosts as they create them.
type bootRegistry struct {
	mu sync.Mutex
	m  map[string]bootInfo
}

func (b *bootRegistry) register(tags []string, ud string) error {
	uid := ""
	for _, t := range tags {
		if u, ok := strings.CutPrefix(t, TagUIDPrefix); ok {
			uid = u
		}
	}
	bi, err := readUserData(ud)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]bootInfo{}
	}
	b.m[uid] = bi
	return nil
}

func (b *bootRegistry) get(uid string) (bootInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bi, ok := b.m[uid]
	return bi, ok
}

// fakeDriver is an in-memory cloud.Driver. Hosts are pending until they
// have been seen by activeAfter list calls.
type fakeDriver struct {
	name        cloud.Name
	rec         *recorder
	boot        *bootRegistry
	onDelete    func(h cloud.Host)
	activeAfter int
	limit       int // hosts the account may have; 0: no limit
	subnet      byte

	mu          sync.Mutex
	hosts       map[string]*fakeHost
	next        int
	clock       time.Time
	calls       map[string]int
	createSizes []int
	firewalls   map[string]cloud.FirewallSpec // by name; see fakeFirewallDriver
}

type fakeHost struct {
	h     cloud.Host
	lists int
}

func newFakeDriver(name cloud.Name, subnet byte, rec *recorder, boot *bootRegistry) *fakeDriver {
	return &fakeDriver{
		name: name, rec: rec, boot: boot, activeAfter: 2, subnet: subnet,
		hosts: map[string]*fakeHost{}, calls: map[string]int{},
		clock: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

var _ cloud.Driver = (*fakeDriver)(nil)

func (d *fakeDriver) Cloud() cloud.Name { return d.name }

func (d *fakeDriver) Offerings(context.Context) (*cloud.Offerings, error) {
	return &cloud.Offerings{}, nil
}

func (d *fakeDriver) count(call string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[call]
}

func (d *fakeDriver) CreateHosts(_ context.Context, specs []cloud.HostSpec) ([]cloud.Host, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["CreateHosts"]++
	d.createSizes = append(d.createSizes, len(specs))
	d.clock = d.clock.Add(time.Minute) // vendors report seconds: one call, one time
	var out []cloud.Host
	for _, s := range specs {
		if d.limit > 0 && len(d.hosts) >= d.limit {
			return out, &cloud.APIError{Cloud: d.name, Kind: cloud.ErrQuota, StatusCode: 422, Message: fmt.Sprintf("creating 1 host will exceed your host limit of %d", d.limit)}
		}
		if err := d.boot.register(s.Tags, s.UserData); err != nil {
			return out, err
		}
		d.next++
		h := cloud.Host{
			ID: fmt.Sprint(int(d.subnet)*1000 + d.next), Name: s.Name, Region: s.Region, Size: s.Size, Image: s.Image, // ids differ across vendors, as real ones do
			Status: cloud.HostPending, Tags: append(slices.Clone(s.Tags), cloud.ManagedTag), CreatedAt: d.clock,
		}
		d.hosts[h.ID] = &fakeHost{h: h}
		d.rec.add("create %s", s.Name)
		out = append(out, h)
	}
	return out, nil
}

// fakeIPs gives a fakeDriver floating IPs.
type fakeIPs struct {
	*fakeDriver
	ips map[string]*cloud.FloatingIP
}

func (f *fakeIPs) ListFloatingIPs(context.Context) ([]cloud.FloatingIP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cloud.FloatingIP
	for _, ip := range f.ips {
		out = append(out, *ip)
	}
	return out, nil
}

func (f *fakeIPs) CreateFloatingIP(_ context.Context, region, hostID string) (*cloud.FloatingIP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("203.0.113.%d", len(f.ips)+1)
	f.ips[id] = &cloud.FloatingIP{ID: id, Address: id, Region: region, HostID: hostID}
	c := *f.ips[id]
	return &c, nil
}

func (f *fakeIPs) GetFloatingIP(_ context.Context, id string) (*cloud.FloatingIP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ip, ok := f.ips[id]
	if !ok {
		return nil, cloud.NotFoundError(f.name, "floating IP", id)
	}
	c := *ip
	return &c, nil
}

func (f *fakeIPs) AssignFloatingIP(_ context.Context, id, hostID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ips[id].HostID = hostID
	f.rec.add("assign %s %s", id, f.hosts[hostID].h.Name)
	return nil
}

func (f *fakeIPs) UnassignFloatingIP(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ips[id].HostID = ""
	return nil
}

func (f *fakeIPs) DeleteFloatingIP(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ips, id)
	return nil
}

func (d *fakeDriver) GetHost(_ context.Context, id string) (*cloud.Host, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["GetHost"]++
	fh, ok := d.hosts[id]
	if !ok {
		return nil, cloud.NotFoundError(d.name, "host", id)
	}
	h := fh.h
	return &h, nil
}

func (d *fakeDriver) ListHosts(_ context.Context, tag string) ([]cloud.Host, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["ListHosts"]++
	var out []cloud.Host
	for _, fh := range d.hosts {
		if !slices.Contains(fh.h.Tags, tag) {
			continue
		}
		fh.lists++
		if fh.h.Status == cloud.HostPending && fh.lists >= d.activeAfter {
			fh.h.Status = cloud.HostActive
			var id int
			_, _ = fmt.Sscan(fh.h.ID, &id)
			fh.h.PublicIPv4 = fmt.Sprintf("203.0.%d.%d", d.subnet, id%250)
			fh.h.PrivateIPv4 = fmt.Sprintf("10.%d.0.%d", d.subnet, id%250)
		}
		out = append(out, fh.h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (d *fakeDriver) RenameHost(context.Context, string, string) error { return nil }

func (d *fakeDriver) TagHost(_ context.Context, id string, add, remove []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls["TagHost"]++
	fh, ok := d.hosts[id]
	if !ok {
		return cloud.NotFoundError(d.name, "host", id)
	}
	tags := slices.DeleteFunc(slices.Clone(fh.h.Tags), func(t string) bool { return slices.Contains(remove, t) })
	for _, t := range add {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	fh.h.Tags = tags
	return nil
}

func (d *fakeDriver) DeleteHost(_ context.Context, id string) error {
	d.mu.Lock()
	d.calls["DeleteHost"]++
	fh, ok := d.hosts[id]
	if ok {
		delete(d.hosts, id)
		d.rec.add("delete %s", fh.h.Name)
	}
	onDelete := d.onDelete
	d.mu.Unlock()
	if ok && onDelete != nil {
		onDelete(fh.h)
	}
	return nil
}

// setStatus changes a host's status (a vendor failure, say).
func (d *fakeDriver) setStatus(name string, st cloud.HostStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, fh := range d.hosts {
		if fh.h.Name == name {
			fh.h.Status = st
		}
	}
}

func (d *fakeDriver) hostByName(name string) cloud.Host {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, fh := range d.hosts {
		if fh.h.Name == name {
			return fh.h
		}
	}
	return cloud.Host{}
}

func (d *fakeDriver) names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, fh := range d.hosts {
		out = append(out, fh.h.Name)
	}
	sort.Strings(out)
	return out
}

// fakeSwarm is an in-memory swarm. Each host's engine is a fakeEngine;
// manager-side calls fail on engines that are not a manager's, as Docker's
// do. Simplification: the node list is served by any manager, even one
// without quorum, so that the planning refusals can be reached.
type fakeSwarm struct {
	rec  *recorder
	boot *bootRegistry

	mu       sync.Mutex
	id       string
	nodes    []*fakeNode
	nextNode int
	clock    time.Time
	autolock bool
	history  int64
	pool     []string
	subnet   uint32
	initOpts swarm.InitOptions
	joinOpts map[string]swarm.JoinOptions // by hostname

	failJoin    map[string]error // by hostname
	unreachable map[string]bool  // engines that do not answer, by hostname
	drainErr    error
	ports       []swarm.PublishedPort // what the services publish
	tokenReads  int
	selfDemotes int // demotions through the demoted node's own engine
	// joinDelay is how long each join takes on the managers' side
	// (concurrent joins overlap); 0 answers at once.
	joinDelay time.Duration
}

type fakeNode struct {
	n       swarm.Node
	uid     string
	removed bool
}

func newFakeSwarm(rec *recorder, boot *bootRegistry) *fakeSwarm {
	return &fakeSwarm{
		rec: rec, boot: boot, clock: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		joinOpts: map[string]swarm.JoinOptions{}, failJoin: map[string]error{}, unreachable: map[string]bool{},
	}
}

// dial is the fake's Dialer: the engine of the host whose identity the
// endpoint names.
func (s *fakeSwarm) dial(_ context.Context, ep swarm.Endpoint) (Engine, error) {
	uid, ok := strings.CutSuffix(ep.Identity, "."+pki.IdentityDomain)
	if !ok {
		return nil, fmt.Errorf("identity %q is not a host identity", ep.Identity)
	}
	u, err := url.Parse(ep.Host)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(u.Host)
	return &fakeEngine{s: s, uid: uid, addr: host}, nil
}

// hostDeleted is the drivers' onDelete hook: the host's node goes down,
// and a manager becomes unreachable.
func (s *fakeSwarm) hostDeleted(h cloud.Host) {
	uid := HostUID(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.nodes {
		if fn.uid == uid && !fn.removed {
			s.down(fn)
		}
	}
}

// down marks a node down; a leader hands over to a reachable manager when
// the others still hold quorum.
func (s *fakeSwarm) down(fn *fakeNode) {
	fn.n.State = swarm.NodeStateDown
	if ms := fn.n.ManagerStatus; ms != nil {
		ms.Reachability = swarm.ReachabilityUnreachable
		if ms.Leader {
			ms.Leader = false
			s.elect()
		}
	}
}

// elect makes the first reachable manager the leader when there is quorum.
func (s *fakeSwarm) elect() {
	members, reachable := 0, 0
	for _, fn := range s.nodes {
		if !fn.removed && fn.n.ManagerStatus != nil {
			members++
			if fn.n.ManagerStatus.Reachability == swarm.ReachabilityReachable {
				reachable++
			}
		}
	}
	if reachable < swarm.Quorum(members) {
		return
	}
	for _, fn := range s.nodes {
		if !fn.removed && fn.n.ManagerStatus != nil && fn.n.ManagerStatus.Reachability == swarm.ReachabilityReachable {
			fn.n.ManagerStatus.Leader = true
			return
		}
	}
}

// setLeader moves leadership to the node of hostname.
func (s *fakeSwarm) setLeader(hostname string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.nodes {
		if fn.n.ManagerStatus != nil {
			fn.n.ManagerStatus.Leader = fn.n.Hostname == hostname && !fn.removed
		}
	}
}

// setUnreachable makes a host's engine stop answering and, for a manager,
// Raft unreachable (a host powered off, say).
func (s *fakeSwarm) setUnreachable(hostname string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unreachable[hostname] = true
	for _, fn := range s.nodes {
		if fn.n.Hostname == hostname && !fn.removed {
			s.down(fn)
		}
	}
}

// promote makes hostname's node a reachable manager, as "docker node
// promote" by hand would.
func (s *fakeSwarm) promote(hostname string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.live() {
		if fn.n.Hostname == hostname {
			fn.n.Role = swarm.RoleManager
			fn.n.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityReachable, Addr: fn.n.Addr + ":2377"}
		}
	}
}

func (s *fakeSwarm) live() []*fakeNode {
	var out []*fakeNode
	for _, fn := range s.nodes {
		if !fn.removed {
			out = append(out, fn)
		}
	}
	return out
}

func (s *fakeSwarm) snapshot() []swarm.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list()
}

func (s *fakeSwarm) list() []swarm.Node {
	var out []swarm.Node
	for _, fn := range s.live() {
		n := fn.n
		n.Labels = cloneLabels(fn.n.Labels)
		if fn.n.ManagerStatus != nil {
			ms := *fn.n.ManagerStatus
			n.ManagerStatus = &ms
		}
		out = append(out, n)
	}
	return out
}

func (s *fakeSwarm) byID(id string) *fakeNode {
	for _, fn := range s.live() {
		if fn.n.ID == id {
			return fn
		}
	}
	return nil
}

// nodeOf returns hostname's live node.
func (s *fakeSwarm) nodeOf(hostname string) (swarm.Node, bool) {
	for _, n := range s.snapshot() {
		if n.Hostname == hostname {
			return n, true
		}
	}
	return swarm.Node{}, false
}

type fakeEngine struct {
	s    *fakeSwarm
	uid  string
	addr string
}

func (e *fakeEngine) hostname() string {
	if bi, ok := e.s.boot.get(e.uid); ok {
		return bi.hostname
	}
	return e.uid
}

// self returns the engine's node: its newest live one.
func (e *fakeEngine) self() *fakeNode {
	var best *fakeNode
	for _, fn := range e.s.live() {
		if fn.uid == e.uid && (best == nil || fn.n.CreatedAt.After(best.n.CreatedAt)) {
			best = fn
		}
	}
	return best
}

// check fails when the engine does not answer.
func (e *fakeEngine) check() error {
	if e.s.unreachable[e.hostname()] {
		return fmt.Errorf("dial tcp %s:2376: connect: connection refused", e.addr)
	}
	return nil
}

// manager fails unless the engine is an active manager.
func (e *fakeEngine) manager() error {
	if err := e.check(); err != nil {
		return err
	}
	if fn := e.self(); fn == nil || fn.n.ManagerStatus == nil || fn.n.State == swarm.NodeStateDown {
		return errors.New("Error response from daemon: This node is not a swarm manager.")
	}
	return nil
}

func (e *fakeEngine) WaitReady(ctx context.Context, _ time.Duration) error {
	e.s.mu.Lock()
	err := e.check()
	e.s.mu.Unlock()
	if err != nil {
		<-ctx.Done()
		return fmt.Errorf("waiting for docker engine: %w; last error: %w", ctx.Err(), err)
	}
	return nil
}

func (e *fakeEngine) addNode(role swarm.NodeRole, advertise string) {
	s := e.s
	s.nextNode++
	s.clock = s.clock.Add(time.Second)
	bi, _ := s.boot.get(e.uid)
	n := swarm.Node{
		ID: fmt.Sprintf("node%02d", s.nextNode), Hostname: e.hostname(), Role: role,
		Availability: swarm.AvailabilityActive, State: swarm.NodeStateReady, Addr: advertise,
		Labels: map[string]string{}, EngineLabels: cloneLabels(bi.labels), CreatedAt: s.clock,
	}
	if role == swarm.RoleManager {
		n.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityReachable, Addr: advertise + ":2377"}
	}
	s.nodes = append(s.nodes, &fakeNode{n: n, uid: e.uid})
}

func (e *fakeEngine) Init(_ context.Context, opts swarm.InitOptions) (string, error) {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.check(); err != nil {
		return "", err
	}
	if fn := e.self(); fn != nil && fn.n.ManagerStatus != nil {
		return s.id, nil
	}
	if s.id != "" {
		return "", errors.New("fake: one swarm per test")
	}
	s.id = "swarm0123456789"
	s.initOpts = opts
	s.autolock, s.history, s.pool, s.subnet = opts.Autolock, opts.TaskHistoryLimit, opts.DefaultAddrPool, opts.SubnetSize
	if s.history == 0 {
		s.history = 5
	}
	e.addNode(swarm.RoleManager, opts.AdvertiseAddr)
	s.nodes[len(s.nodes)-1].n.ManagerStatus.Leader = true
	s.rec.add("init %s advertise %s", e.hostname(), opts.AdvertiseAddr)
	return s.id, nil
}

func (e *fakeEngine) JoinTokens(context.Context) (string, string, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return "", "", err
	}
	e.s.tokenReads++
	return "SWMTKN-1-fake-worker", "SWMTKN-1-fake-manager", nil
}

func (e *fakeEngine) Join(ctx context.Context, opts swarm.JoinOptions) error {
	s := e.s
	s.mu.Lock()
	delay := s.joinDelay
	s.mu.Unlock()
	if err := wait.Sleep(ctx, delay); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.check(); err != nil {
		return err
	}
	name := e.hostname()
	if err := s.failJoin[name]; err != nil {
		return err
	}
	if fn := e.self(); fn != nil && fn.n.State != swarm.NodeStateDown {
		return nil
	}
	role := swarm.RoleWorker
	if opts.Token == "SWMTKN-1-fake-manager" {
		role = swarm.RoleManager
	} else if opts.Token != "SWMTKN-1-fake-worker" {
		return errors.New("invalid join token")
	}
	s.joinOpts[name] = opts
	e.addNode(role, opts.AdvertiseAddr)
	s.rec.add("join %s %s", role, name)
	return nil
}

func (e *fakeEngine) Leave(_ context.Context, force bool) error {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.check(); err != nil {
		return err
	}
	fn := e.self()
	if fn == nil || fn.n.State == swarm.NodeStateDown {
		return nil
	}
	if fn.n.ManagerStatus != nil && !force {
		return errors.New("leaving swarm: the engine is a manager: Demote it from another manager first")
	}
	s.rec.add("leave %s", fn.n.Hostname)
	s.down(fn)
	fn.uid = "" // the engine is in no swarm now; its node stays, down
	return nil
}

func (e *fakeEngine) SwarmInfo(context.Context) (*swarm.Cluster, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return nil, err
	}
	return &swarm.Cluster{ID: e.s.id, Autolock: e.s.autolock, TaskHistoryLimit: e.s.history, DefaultAddrPool: e.s.pool, SubnetSize: e.s.subnet}, nil
}

func (e *fakeEngine) UpdateSwarm(_ context.Context, u swarm.SwarmUpdate) error {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return err
	}
	if u.Autolock != nil {
		e.s.autolock = *u.Autolock
	}
	if u.TaskHistoryLimit != nil {
		e.s.history = *u.TaskHistoryLimit
	}
	e.s.rec.add("update swarm")
	return nil
}

func (e *fakeEngine) UnlockKey(context.Context) (string, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return "", err
	}
	if !e.s.autolock {
		return "", nil
	}
	return "SWMKEY-1-fake", nil
}

func (e *fakeEngine) Nodes(context.Context) ([]swarm.Node, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return nil, err
	}
	return e.s.list(), nil
}

func (e *fakeEngine) SetAvailability(_ context.Context, id string, a swarm.Availability) error {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return err
	}
	fn := e.s.byID(id)
	if fn == nil {
		return fmt.Errorf("node %s: %w", id, swarm.ErrNotFound)
	}
	fn.n.Availability = a
	e.s.rec.add("availability %s %s", fn.n.Hostname, a)
	return nil
}

func (e *fakeEngine) SetLabels(_ context.Context, id string, labels map[string]string) error {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return err
	}
	fn := e.s.byID(id)
	if fn == nil {
		return fmt.Errorf("node %s: %w", id, swarm.ErrNotFound)
	}
	fn.n.Labels = cloneLabels(labels)
	e.s.rec.add("labels %s", fn.n.Hostname)
	return nil
}

func (e *fakeEngine) Promote(_ context.Context, id string) error {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if err := e.manager(); err != nil {
		return err
	}
	fn := e.s.byID(id)
	if fn == nil {
		return fmt.Errorf("node %s: %w", id, swarm.ErrNotFound)
	}
	fn.n.Role = swarm.RoleManager
	fn.n.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityReachable, Addr: fn.n.Addr + ":2377"}
	e.s.rec.add("promote %s", fn.n.Hostname)
	return nil
}

func (e *fakeEngine) Demote(_ context.Context, id string) error {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.manager(); err != nil {
		return err
	}
	fn := s.byID(id)
	if fn == nil {
		return fmt.Errorf("demoting node %s: %w", id, swarm.ErrNotFound)
	}
	if fn.n.ManagerStatus == nil {
		return nil
	}
	if err := swarm.CanDemote(swarm.ManagersOf(s.list()), id); err != nil {
		return err
	}
	s.rec.add("demote %s via %s", fn.n.Hostname, e.hostname())
	if fn.uid == e.uid {
		s.selfDemotes++
	}
	wasLeader := fn.n.ManagerStatus.Leader
	fn.n.Role, fn.n.ManagerStatus = swarm.RoleWorker, nil
	if wasLeader {
		s.elect()
	}
	return nil
}

func (e *fakeEngine) RemoveNode(_ context.Context, id string, force bool) error {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.manager(); err != nil {
		return err
	}
	fn := s.byID(id)
	if fn == nil {
		return nil
	}
	if fn.n.ManagerStatus != nil {
		return fmt.Errorf("removing node %s: the node is a manager; Demote it first", fn.n.Hostname)
	}
	if !force && fn.n.State != swarm.NodeStateDown {
		return fmt.Errorf("removing node %s: the node is %s", fn.n.Hostname, fn.n.State)
	}
	fn.removed = true
	s.rec.add("remove %s", fn.n.Hostname)
	return nil
}

func (e *fakeEngine) DrainNodes(_ context.Context, ids []string, _ time.Duration) error {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.manager(); err != nil {
		return err
	}
	var names []string
	for _, id := range ids {
		fn := s.byID(id)
		if fn == nil {
			return fmt.Errorf("draining node %s: %w", id, swarm.ErrNotFound)
		}
		names = append(names, fn.n.Hostname)
	}
	sort.Strings(names)
	s.rec.add("drain %s", strings.Join(names, ","))
	if s.drainErr != nil {
		return s.drainErr
	}
	for _, id := range ids {
		s.byID(id).n.Availability = swarm.AvailabilityDrain
	}
	return nil
}

func (e *fakeEngine) WaitNodeSettled(_ context.Context, id string, _, _ time.Duration) error {
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if fn := s.byID(id); fn == nil {
		return fmt.Errorf("node %s: %w", id, swarm.ErrNotFound)
	}
	s.rec.add("settled %s", s.byID(id).n.Hostname)
	return nil
}

func (e *fakeEngine) PublishedPorts(context.Context) ([]swarm.PublishedPort, error) {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return slices.Clone(e.s.ports), nil
}

func (e *fakeEngine) Close() error { return nil }

// harness is a cluster on fake drivers and a fake swarm.
type harness struct {
	t    *testing.T
	rec  *recorder
	boot *bootRegistry
	drv  *fakeDriver
	sw   *fakeSwarm
	opts Options
}

func newHarness(t *testing.T) *harness {
	rec := &recorder{}
	boot := &bootRegistry{}
	h := &harness{t: t, rec: rec, boot: boot, drv: newFakeDriver(cloud.DigitalOcean, 1, rec, boot), sw: newFakeSwarm(rec, boot)}
	h.drv.onDelete = h.sw.hostDeleted
	h.opts = Options{
		Dial: h.sw.dial, PollInterval: time.Millisecond, EnginePollInterval: time.Millisecond,
		BootTimeout: 300 * time.Millisecond, JoinTimeout: 300 * time.Millisecond, LeaveTimeout: 50 * time.Millisecond,
	}
	return h
}

// otherDriver is a second vendor sharing the harness's swarm.
func (h *harness) otherDriver() *fakeDriver {
	d := newFakeDriver(cloud.AWS, 2, h.rec, h.boot)
	d.onDelete = h.sw.hostDeleted
	return d
}

func clusterSpec(n int) ClusterSpec {
	return ClusterSpec{
		Name:     "prod",
		Managers: HostsSpec{Count: n, Region: "fra1", Size: "s-2vcpu-4gb", Image: "debian-12-x64", SSHKeys: []string{"42"}, Labels: map[string]string{"role": "control"}},
		Settings: Settings{DefaultAddrPool: []string{"10.240.0.0/16"}, SubnetSize: 24, TaskHistoryLimit: 3},
		// As the provider always gives: a cluster spanning vendors needs it.
		Firewall: &FirewallPolicy{},
	}
}

func groupSpec(n int) GroupSpec {
	return GroupSpec{
		Name:      "web",
		HostsSpec: HostsSpec{Count: n, Region: "fra1", Size: "s-1vcpu-2gb", Image: "debian-12-x64", Labels: map[string]string{"tier": "web"}},
		Firewall:  &FirewallPolicy{},
	}
}

func (h *harness) create(n int) *Cluster {
	h.t.Helper()
	c, _, err := Create(h.t.Context(), h.drv, clusterSpec(n), h.opts)
	if err != nil {
		h.t.Fatalf("creating a cluster of %d managers: %v", n, err)
	}
	return c
}

func (h *harness) group(c *Cluster, d cloud.Driver, n int) *NodeGroup {
	h.t.Helper()
	g, err := c.NodeGroup(d, "web")
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := g.Apply(h.t.Context(), groupSpec(n)); err != nil {
		h.t.Fatalf("creating node group web of %d: %v", n, err)
	}
	return g
}

// fakeFirewallDriver is a fakeDriver with firewalls.
type fakeFirewallDriver struct{ *fakeDriver }

var _ cloud.Firewalls = fakeFirewallDriver{}

func (d fakeFirewallDriver) EnsureFirewall(_ context.Context, spec cloud.FirewallSpec) (*cloud.Firewall, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.firewalls == nil {
		d.firewalls = map[string]cloud.FirewallSpec{}
	}
	if cur, ok := d.firewalls[spec.Name]; !ok || fmt.Sprint(cur) != fmt.Sprint(spec) {
		d.rec.add("%s: firewall %s", d.name, spec.Name)
	}
	d.firewalls[spec.Name] = spec
	return &cloud.Firewall{ID: "fw-" + spec.Name, Name: spec.Name, Region: spec.Region, TargetTag: spec.TargetTag, Inbound: spec.Inbound}, nil
}

func (d fakeFirewallDriver) GetFirewall(_ context.Context, region, name string) (*cloud.Firewall, error) {
	spec, ok := d.firewall(name)
	if !ok {
		return nil, cloud.NotFoundError(d.name, "firewall", name)
	}
	return &cloud.Firewall{ID: "fw-" + name, Name: name, Region: region, TargetTag: spec.TargetTag, Inbound: spec.Inbound}, nil
}

func (d fakeFirewallDriver) DeleteFirewall(_ context.Context, _, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.firewalls[name]; ok {
		d.rec.add("%s: delete firewall %s", d.name, name)
		delete(d.firewalls, name)
	}
	return nil
}

func (d *fakeDriver) firewall(name string) (cloud.FirewallSpec, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fw, ok := d.firewalls[name]
	return fw, ok
}
