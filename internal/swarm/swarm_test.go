package swarm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
)

func init() {
	// The waiters poll every few milliseconds against the fake.
	pollMin, pollMax = time.Millisecond, 5*time.Millisecond
}

// fakeSwarm is an in-memory swarmEngine: one engine's local swarm state,
// and, as seen through a manager, the nodes, services and tasks. Reads
// advance a small simulation: role changes take effect in Raft after
// roleLag reads, and a scheduler moves tasks off drained nodes onto active
// ready nodes with room (capacity), leaving them pending with the
// scheduler's message otherwise.
type fakeSwarm struct {
	mu sync.Mutex

	info     system.Info
	cluster  swarm.Swarm
	nodes    map[string]*swarm.Node
	services []swarm.Service
	tasks    []*swarm.Task
	capacity map[string]int // tasks a node can run; absent: unlimited

	roleLag    int
	roleChange map[string]int // node ID -> reads left before Raft follows

	initErr     error
	initEffect  func(f *fakeSwarm) // what SwarmInit does; default: become a manager
	joinErr     error
	joinEffect  func(f *fakeSwarm)
	leaveErr    error
	conflicts   int // NodeUpdate and SwarmUpdate calls to fail with "update out of sequence"
	nextTask    int
	calls       []string
	nodeLists   int
	taskFilters []string
	joinReq     swarm.JoinRequest
	initReq     swarm.InitRequest
	updates     []swarm.Spec
}

var _ swarmEngine = (*fakeSwarm)(nil)

func newFakeSwarm() *fakeSwarm {
	return &fakeSwarm{
		info:       system.Info{ID: "ENGINE", Name: "m1", Swarm: swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}},
		nodes:      map[string]*swarm.Node{},
		capacity:   map[string]int{},
		roleChange: map[string]int{},
		roleLag:    2,
	}
}

func (f *fakeSwarm) client() *Client {
	return &Client{host: "tcp://10.0.0.5:2376", identity: "m1.hosts.haddock.internal", api: f}
}

func (f *fakeSwarm) record(call string) {
	f.calls = append(f.calls, call)
}

func (f *fakeSwarm) called(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// becomeManager puts the engine in a swarm as the manager "self".
func (f *fakeSwarm) becomeManager(clusterID string) {
	f.info.Swarm = swarm.Info{
		NodeID: "self", NodeAddr: "10.0.0.5", LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true,
		RemoteManagers: []swarm.Peer{{NodeID: "self", Addr: "10.0.0.5:2377"}},
		Cluster:        &swarm.ClusterInfo{ID: clusterID, TLSInfo: swarm.TLSInfo{TrustRoot: "ROOT-CA-PEM"}},
	}
	f.cluster.ID = clusterID
	f.cluster.JoinTokens = swarm.JoinTokens{Worker: "SWMTKN-1-w", Manager: "SWMTKN-1-m"}
}

func (f *fakeSwarm) addNode(id, host string, role swarm.NodeRole, created time.Time) *swarm.Node {
	n := &swarm.Node{
		ID:          id,
		Meta:        swarm.Meta{Version: swarm.Version{Index: 1}, CreatedAt: created},
		Spec:        swarm.NodeSpec{Role: role, Availability: swarm.NodeAvailabilityActive},
		Description: swarm.NodeDescription{Hostname: host, Engine: swarm.EngineDescription{EngineVersion: "20.10.24", Labels: map[string]string{"zone": "a"}}},
		Status:      swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.0.0." + id},
	}
	if role == swarm.NodeRoleManager {
		n.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityReachable, Addr: "10.0.0." + id + ":2377"}
	}
	f.nodes[id] = n
	return n
}

func (f *fakeSwarm) addService(id, name string, replicas uint64) {
	f.services = append(f.services, swarm.Service{
		ID: id,
		Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: name},
			Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		},
	})
}

func (f *fakeSwarm) addGlobalService(id, name string) {
	f.services = append(f.services, swarm.Service{
		ID:   id,
		Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name}, Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}}},
	})
}

func (f *fakeSwarm) addTask(service string, slot int, node string, state swarm.TaskState) *swarm.Task {
	f.nextTask++
	t := &swarm.Task{
		ID: fmt.Sprintf("t%d", f.nextTask), ServiceID: service, Slot: slot, NodeID: node,
		DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: state},
	}
	f.tasks = append(f.tasks, t)
	return t
}

func (f *fakeSwarm) load(node string) int {
	n := 0
	for _, t := range f.tasks {
		if t.NodeID == node && t.DesiredState == swarm.TaskStateRunning {
			n++
		}
	}
	return n
}

// step advances the simulation by one read.
func (f *fakeSwarm) step() {
	for id, left := range f.roleChange {
		if left > 1 {
			f.roleChange[id] = left - 1
			continue
		}
		delete(f.roleChange, id)
		n := f.nodes[id]
		if n.Spec.Role == swarm.NodeRoleManager {
			n.ManagerStatus = &swarm.ManagerStatus{Reachability: swarm.ReachabilityReachable}
		} else {
			n.ManagerStatus = nil
		}
	}
	// Tasks on drained nodes stop; replacements are placed or pending.
	for _, t := range slices.Clone(f.tasks) {
		n := f.nodes[t.NodeID]
		if t.DesiredState != swarm.TaskStateRunning || n == nil || n.Spec.Availability != swarm.NodeAvailabilityDrain {
			continue
		}
		t.DesiredState, t.Status.State = swarm.TaskStateShutdown, swarm.TaskStateShutdown
		if f.isGlobal(t.ServiceID) {
			continue
		}
		f.nextTask++
		f.tasks = append(f.tasks, &swarm.Task{
			ID: fmt.Sprintf("t%d", f.nextTask), ServiceID: t.ServiceID, Slot: t.Slot,
			DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: swarm.TaskStatePending},
		})
	}
	for _, t := range f.tasks {
		if t.DesiredState != swarm.TaskStateRunning || t.Status.State != swarm.TaskStatePending {
			continue
		}
		ids := make([]string, 0, len(f.nodes))
		for id := range f.nodes {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		full := 0
		for _, id := range ids {
			n := f.nodes[id]
			if n.Spec.Availability != swarm.NodeAvailabilityActive || n.Status.State != swarm.NodeStateReady {
				continue
			}
			if c, ok := f.capacity[id]; ok && f.load(id) >= c {
				full++
				continue
			}
			t.NodeID, t.Status.State, t.Status.Err = id, swarm.TaskStateRunning, ""
			break
		}
		if t.Status.State == swarm.TaskStatePending {
			t.Status.Message = "pending task scheduling"
			t.Status.Err = fmt.Sprintf("no suitable node (insufficient resources on %d nodes)", full)
		}
	}
}

func (f *fakeSwarm) isGlobal(service string) bool {
	for _, s := range f.services {
		if s.ID == service {
			return s.Spec.Mode.Global != nil
		}
	}
	return false
}

func (f *fakeSwarm) requireManager() error {
	if !f.info.Swarm.ControlAvailable {
		return errors.New("Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state.")
	}
	return nil
}

func notFound(what, id string) error {
	return fmt.Errorf("Error response from daemon: %s %s not found: %w", what, id, cerrdefs.ErrNotFound)
}

func (f *fakeSwarm) Ping(context.Context) (types.Ping, error) {
	return types.Ping{APIVersion: "1.41"}, nil
}
func (f *fakeSwarm) ClientVersion() string { return "1.41" }
func (f *fakeSwarm) Close() error          { return nil }

func (f *fakeSwarm) Info(context.Context) (system.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Info")
	return f.info, nil
}

func (f *fakeSwarm) SwarmInit(_ context.Context, req swarm.InitRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SwarmInit")
	f.initReq = req
	if f.initEffect != nil {
		f.initEffect(f)
	} else {
		f.becomeManager("CLUSTER")
	}
	return "self", f.initErr
}

func (f *fakeSwarm) SwarmJoin(_ context.Context, req swarm.JoinRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SwarmJoin")
	f.joinReq = req
	if f.joinEffect != nil {
		f.joinEffect(f)
	}
	return f.joinErr
}

func (f *fakeSwarm) SwarmLeave(_ context.Context, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fmt.Sprintf("SwarmLeave force=%v", force))
	if f.leaveErr != nil {
		return f.leaveErr
	}
	f.info.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}
	return nil
}

func (f *fakeSwarm) SwarmInspect(context.Context) (swarm.Swarm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SwarmInspect")
	if err := f.requireManager(); err != nil {
		return swarm.Swarm{}, err
	}
	return f.cluster, nil
}

func (f *fakeSwarm) SwarmUpdate(_ context.Context, v swarm.Version, spec swarm.Spec, flags swarm.UpdateFlags) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SwarmUpdate")
	if f.conflicts > 0 {
		f.conflicts--
		f.cluster.Version.Index++ // someone else updated it
		return errors.New("Error response from daemon: rpc error: code = Unknown desc = update out of sequence")
	}
	if v != f.cluster.Version {
		return fmt.Errorf("stale version %d, have %d", v.Index, f.cluster.Version.Index)
	}
	f.cluster.Version.Index++
	f.cluster.Spec = spec
	f.updates = append(f.updates, spec)
	if flags.RotateWorkerToken {
		f.cluster.JoinTokens.Worker += "-rotated"
	}
	return nil
}

func (f *fakeSwarm) SwarmGetUnlockKey(context.Context) (swarm.UnlockKeyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cluster.Spec.EncryptionConfig.AutoLockManagers {
		return swarm.UnlockKeyResponse{UnlockKey: "SWMKEY-1-secret"}, nil
	}
	return swarm.UnlockKeyResponse{}, nil
}

func (f *fakeSwarm) SwarmUnlock(_ context.Context, req swarm.UnlockRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SwarmUnlock " + req.UnlockKey)
	f.info.Swarm.LocalNodeState = swarm.LocalNodeStateActive
	return nil
}

func (f *fakeSwarm) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("NodeList")
	f.nodeLists++
	if err := f.requireManager(); err != nil {
		return nil, err
	}
	f.step()
	out := make([]swarm.Node, 0, len(f.nodes))
	for _, n := range f.nodes {
		out = append(out, *n)
	}
	return out, nil
}

func (f *fakeSwarm) NodeInspectWithRaw(_ context.Context, id string) (swarm.Node, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("NodeInspect " + id)
	if err := f.requireManager(); err != nil {
		return swarm.Node{}, nil, err
	}
	f.step()
	n, ok := f.nodes[id]
	if !ok {
		return swarm.Node{}, nil, notFound("node", id)
	}
	return *n, nil, nil
}

func (f *fakeSwarm) NodeUpdate(_ context.Context, id string, v swarm.Version, spec swarm.NodeSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("NodeUpdate " + id)
	n, ok := f.nodes[id]
	if !ok {
		return notFound("node", id)
	}
	if f.conflicts > 0 {
		f.conflicts--
		n.Version.Index++
		return errors.New("Error response from daemon: rpc error: code = Unknown desc = update out of sequence")
	}
	if v != n.Version {
		return fmt.Errorf("stale version %d, have %d", v.Index, n.Version.Index)
	}
	if spec.Role != n.Spec.Role {
		f.roleChange[id] = f.roleLag
		if id == f.info.Swarm.NodeID && spec.Role == swarm.NodeRoleWorker {
			f.info.Swarm.ControlAvailable = false
		}
	}
	n.Version.Index++
	n.Spec = spec
	return nil
}

func (f *fakeSwarm) NodeRemove(_ context.Context, id string, opts swarm.NodeRemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fmt.Sprintf("NodeRemove %s force=%v", id, opts.Force))
	n, ok := f.nodes[id]
	if !ok {
		return notFound("node", id)
	}
	if !opts.Force && n.Status.State != swarm.NodeStateDown {
		return fmt.Errorf("Error response from daemon: rpc error: code = FailedPrecondition desc = node %s is not down and can't be removed", id)
	}
	delete(f.nodes, id)
	return nil
}

func (f *fakeSwarm) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ServiceList")
	return slices.Clone(f.services), nil
}

func (f *fakeSwarm) TaskList(_ context.Context, opts swarm.TaskListOptions) ([]swarm.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("TaskList")
	f.taskFilters = append(f.taskFilters, strings.Join(opts.Filters.Get("desired-state"), ","))
	f.step()
	var out []swarm.Task
	for _, t := range f.tasks {
		if !opts.Filters.Contains("desired-state") || opts.Filters.ExactMatch("desired-state", string(t.DesiredState)) {
			out = append(out, *t)
		}
	}
	return out, nil
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func TestInit(t *testing.T) {
	f := newFakeSwarm()
	c := f.client()
	ctx := ctxT(t, 5*time.Second)
	opts := InitOptions{
		AdvertiseAddr: "10.0.0.5", DefaultAddrPool: []string{"10.240.0.0/16"}, SubnetSize: 26,
		Autolock: true, TaskHistoryLimit: 3, DataPathPort: 4790,
	}
	id, err := c.Init(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The swarm's ID, not the node ID SwarmInit returns.
	if id != "CLUSTER" {
		t.Errorf("Init = %q, want the swarm ID CLUSTER", id)
	}
	r := f.initReq
	if r.ListenAddr != DefaultListenAddr || r.AdvertiseAddr != "10.0.0.5" || !r.AutoLockManagers || r.SubnetSize != 26 ||
		r.DataPathPort != 4790 || !slices.Equal(r.DefaultAddrPool, []string{"10.240.0.0/16"}) ||
		r.Spec.Orchestration.TaskHistoryRetentionLimit == nil || *r.Spec.Orchestration.TaskHistoryRetentionLimit != 3 {
		t.Errorf("init request = %+v", r)
	}

	// Idempotent: a manager already.
	id, err = c.Init(ctx, opts)
	if err != nil || id != "CLUSTER" {
		t.Fatalf("second Init = %q, %v", id, err)
	}
	if n := f.called("SwarmInit"); n != 1 {
		t.Errorf("SwarmInit called %d times, want 1", n)
	}
}

func TestInitDefaultsAndLostResponse(t *testing.T) {
	f := newFakeSwarm()
	f.initErr = errors.New("connection reset by peer")
	id, err := f.client().Init(ctxT(t, 5*time.Second), InitOptions{})
	if err != nil || id != "CLUSTER" {
		t.Fatalf("Init = %q, %v; want the swarm that was created despite the lost response", id, err)
	}
	if f.initReq.Spec.Orchestration.TaskHistoryRetentionLimit != nil {
		t.Error("TaskHistoryLimit 0 must leave the engine's default")
	}

	f = newFakeSwarm()
	f.initErr = errors.New("could not choose an IP address to advertise since this system has multiple addresses")
	f.initEffect = func(*fakeSwarm) {}
	_, err = f.client().Init(ctxT(t, 5*time.Second), InitOptions{})
	wantErr(t, err, "initialising swarm on m1.hosts.haddock.internal", "multiple addresses")
}

func TestInitRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		state swarm.Info
		opts  InitOptions
		want  string
	}{
		{name: "worker", state: swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, RemoteManagers: []swarm.Peer{{Addr: "10.0.0.9:2377"}}},
			want: "worker of another swarm (managers 10.0.0.9:2377); Leave it first"},
		{name: "locked", state: swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}, want: "locked"},
		{name: "pending", state: swarm.Info{LocalNodeState: swarm.LocalNodeStatePending}, want: "joining a swarm"},
		{name: "bad pool", opts: InitOptions{DefaultAddrPool: []string{"10.0.0.0"}}, want: "not an IPv4 CIDR"},
		{name: "subnet larger than pool", opts: InitOptions{DefaultAddrPool: []string{"10.0.0.0/16"}, SubnetSize: 12}, want: "larger than the default address pool"},
		{name: "subnet too small", opts: InitOptions{SubnetSize: 30}, want: "/29"},
		{name: "data path port", opts: InitOptions{DataPathPort: 80}, want: "between 1024 and 49151"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSwarm()
			if tt.state.LocalNodeState != "" {
				f.info.Swarm = tt.state
			}
			_, err := f.client().Init(ctxT(t, 5*time.Second), tt.opts)
			wantErr(t, err, tt.want)
			if f.called("SwarmInit") != 0 {
				t.Error("SwarmInit was called")
			}
		})
	}
}

func TestJoinTokensSwarmInfoUpdate(t *testing.T) {
	f := newFakeSwarm()
	f.becomeManager("CLUSTER")
	limit := int64(5)
	f.cluster.Spec.Orchestration.TaskHistoryRetentionLimit = &limit
	f.cluster.DefaultAddrPool = []string{"10.240.0.0/16"}
	f.cluster.SubnetSize = 24
	c := f.client()
	ctx := ctxT(t, 5*time.Second)

	w, m, err := c.JoinTokens(ctx)
	if err != nil || w != "SWMTKN-1-w" || m != "SWMTKN-1-m" {
		t.Fatalf("JoinTokens = %q, %q, %v", w, m, err)
	}
	info, err := c.SwarmInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "CLUSTER" || info.TaskHistoryLimit != 5 || info.Autolock || info.SubnetSize != 24 || info.DefaultAddrPool[0] != "10.240.0.0/16" {
		t.Errorf("SwarmInfo = %+v", info)
	}

	f.conflicts = 2 // two racing updates: retried
	on, two := true, int64(2)
	if err := c.UpdateSwarm(ctx, SwarmUpdate{Autolock: &on, TaskHistoryLimit: &two, RotateWorkerToken: true}); err != nil {
		t.Fatal(err)
	}
	info, _ = c.SwarmInfo(ctx)
	if !info.Autolock || info.TaskHistoryLimit != 2 {
		t.Errorf("after update: %+v", info)
	}
	if w, _, _ := c.JoinTokens(ctx); w != "SWMTKN-1-w-rotated" {
		t.Errorf("worker token not rotated: %q", w)
	}
	key, err := c.UnlockKey(ctx)
	if err != nil || key != "SWMKEY-1-secret" {
		t.Errorf("UnlockKey = %q, %v", key, err)
	}
	// Only the given fields change.
	if err := c.UpdateSwarm(ctx, SwarmUpdate{}); err != nil {
		t.Fatal(err)
	}
	if info, _ = c.SwarmInfo(ctx); !info.Autolock || info.TaskHistoryLimit != 2 {
		t.Errorf("empty update changed settings: %+v", info)
	}

	f.conflicts = maxUpdateAttempts
	wantErr(t, c.UpdateSwarm(ctx, SwarmUpdate{Autolock: &on}), "update out of sequence")

	// Against a worker.
	f.info.Swarm.ControlAvailable = false
	_, _, err = c.JoinTokens(ctx)
	wantErr(t, err, "not a swarm manager")
}

func TestUnlock(t *testing.T) {
	f := newFakeSwarm()
	c := f.client()
	ctx := ctxT(t, 5*time.Second)
	if err := c.Unlock(ctx, "k"); err != nil || f.called("SwarmUnlock") != 0 {
		t.Fatalf("Unlock of an unlocked engine: %v, calls %v", err, f.calls)
	}
	f.info.Swarm.LocalNodeState = swarm.LocalNodeStateLocked
	if err := c.Unlock(ctx, "SWMKEY-1-k"); err != nil || f.called("SwarmUnlock SWMKEY-1-k") != 1 {
		t.Fatalf("Unlock: %v, calls %v", err, f.calls)
	}
}

// token returns a join token issued by the swarm whose root CA is caPEM.
func token(caPEM string) string {
	sum := sha256.Sum256([]byte(caPEM))
	var d big.Int
	d.SetBytes(sum[:])
	return fmt.Sprintf("SWMTKN-1-%050s-%025s", d.Text(36), "secret")
}

func TestTokenMatchesCA(t *testing.T) {
	tok := token("CA-1")
	if !tokenMatchesCA(tok, "CA-1") {
		t.Error("token does not match its own CA")
	}
	for _, bad := range []string{token("CA-2"), "SWMTKN-1-zz", "garbage", "SWMTKN-2-abc-def", "SWMTKN-1-!!-x"} {
		if tokenMatchesCA(bad, "CA-1") {
			t.Errorf("%q matches CA-1", bad)
		}
	}
}

func TestJoin(t *testing.T) {
	ctx := ctxT(t, 5*time.Second)
	opts := JoinOptions{RemoteAddrs: []string{"10.0.0.1"}, Token: token("CA-1"), AdvertiseAddr: "10.0.0.7"}

	t.Run("joins", func(t *testing.T) {
		f := newFakeSwarm()
		f.joinEffect = func(f *fakeSwarm) {
			f.info.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, RemoteManagers: []swarm.Peer{{Addr: "10.0.0.1:2377"}}}
		}
		if err := f.client().Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
		r := f.joinReq
		if r.ListenAddr != DefaultListenAddr || r.AdvertiseAddr != "10.0.0.7" || r.JoinToken != opts.Token || !slices.Equal(r.RemoteAddrs, opts.RemoteAddrs) {
			t.Errorf("join request = %+v", r)
		}
		// Again: already a member (a worker: matched by the managers' addresses).
		if err := f.client().Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
		if n := f.called("SwarmJoin"); n != 1 {
			t.Errorf("SwarmJoin called %d times", n)
		}
	})

	t.Run("manager of the same swarm reached by another address", func(t *testing.T) {
		f := newFakeSwarm()
		f.info.Swarm = swarm.Info{
			LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true,
			RemoteManagers: []swarm.Peer{{Addr: "192.168.1.1:2377"}},
			Cluster:        &swarm.ClusterInfo{ID: "C1", TLSInfo: swarm.TLSInfo{TrustRoot: "CA-1"}},
		}
		if err := f.client().Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
		if f.called("SwarmJoin") != 0 {
			t.Error("SwarmJoin called")
		}
	})

	t.Run("another swarm", func(t *testing.T) {
		f := newFakeSwarm()
		f.info.Swarm = swarm.Info{
			LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true,
			RemoteManagers: []swarm.Peer{{Addr: "192.168.1.1:2377"}},
			Cluster:        &swarm.ClusterInfo{ID: "OTHER", TLSInfo: swarm.TLSInfo{TrustRoot: "CA-2"}},
		}
		err := f.client().Join(ctx, opts)
		wantErr(t, err, "already is a manager of swarm OTHER (managers 192.168.1.1:2377); Leave it first")
		if f.called("SwarmJoin") != 0 {
			t.Error("SwarmJoin called")
		}
	})

	t.Run("continues in the background", func(t *testing.T) {
		f := newFakeSwarm()
		f.joinErr = errors.New("Timeout was reached before node joined. The attempt to join the swarm will continue in the background.")
		f.joinEffect = func(f *fakeSwarm) { f.info.Swarm.LocalNodeState = swarm.LocalNodeStatePending }
		go func() {
			time.Sleep(30 * time.Millisecond)
			f.mu.Lock()
			f.info.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, RemoteManagers: []swarm.Peer{{Addr: "10.0.0.1:2377"}}}
			f.mu.Unlock()
		}()
		if err := f.client().Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("fails", func(t *testing.T) {
		f := newFakeSwarm()
		f.joinErr = errors.New("rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster")
		f.joinEffect = func(f *fakeSwarm) {
			f.info.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateError, Error: "invalid join token"}
		}
		wantErr(t, f.client().Join(ctx, opts), "valid join token is necessary", "engine: invalid join token")
	})

	t.Run("bad options", func(t *testing.T) {
		f := newFakeSwarm()
		wantErr(t, f.client().Join(ctx, JoinOptions{Token: "x"}), "no manager addresses")
		wantErr(t, f.client().Join(ctx, JoinOptions{RemoteAddrs: []string{"a"}}), "no join token")
	})
}

func TestLeave(t *testing.T) {
	ctx := ctxT(t, 5*time.Second)
	f := newFakeSwarm()
	if err := f.client().Leave(ctx, false); err != nil || f.called("SwarmLeave") != 0 {
		t.Fatalf("Leave outside a swarm: %v %v", err, f.calls)
	}
	f.becomeManager("C")
	f.leaveErr = errors.New("You are attempting to leave the swarm on a node that is participating as a manager.")
	wantErr(t, f.client().Leave(ctx, false), "Demote it from another manager first")
	f.leaveErr = nil
	if err := f.client().Leave(ctx, true); err != nil || f.called("SwarmLeave force=true") != 1 {
		t.Fatalf("forced Leave: %v %v", err, f.calls)
	}
}

// cluster3 is a swarm of managers m1 (leader, self), m2, m3 and workers
// w1, w2, as seen from m1.
func cluster3() *fakeSwarm {
	f := newFakeSwarm()
	f.becomeManager("C")
	f.info.Swarm.NodeID = "1"
	f.addNode("1", "m1", swarm.NodeRoleManager, t0).ManagerStatus.Leader = true
	f.addNode("2", "m2", swarm.NodeRoleManager, t0.Add(time.Hour))
	f.addNode("3", "m3", swarm.NodeRoleManager, t0.Add(2*time.Hour))
	f.addNode("4", "w1", swarm.NodeRoleWorker, t0.Add(3*time.Hour))
	f.addNode("5", "w2", swarm.NodeRoleWorker, t0.Add(4*time.Hour))
	return f
}

func TestNodesAndFinders(t *testing.T) {
	f := cluster3()
	f.nodes["4"].Spec.Labels = map[string]string{"tier": "web"}
	// w2's host was replaced: its former node is down, the new one ready.
	f.nodes["5"].Status = swarm.NodeStatus{State: swarm.NodeStateDown, Message: "heartbeat failure"}
	f.addNode("6", "w2", swarm.NodeRoleWorker, t0.Add(5*time.Hour))
	c := f.client()
	ctx := ctxT(t, 5*time.Second)

	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.Hostname+"/"+n.ID)
	}
	if want := "m1/1 m2/2 m3/3 w1/4 w2/5 w2/6"; strings.Join(got, " ") != want {
		t.Errorf("Nodes = %s, want %s", strings.Join(got, " "), want)
	}
	m1 := nodes[0]
	if !m1.IsLeader() || !m1.IsManager() || m1.Role != RoleManager || m1.State != NodeStateReady ||
		m1.Availability != AvailabilityActive || m1.ManagerStatus.Reachability != ReachabilityReachable ||
		m1.EngineLabels["zone"] != "a" || m1.EngineVersion != "20.10.24" || !m1.CreatedAt.Equal(t0) {
		t.Errorf("m1 = %+v", m1)
	}
	if w1 := nodes[3]; w1.IsManager() || w1.Labels["tier"] != "web" || w1.Role != RoleWorker {
		t.Errorf("w1 = %+v", w1)
	}
	if nodes[4].StateMessage != "heartbeat failure" {
		t.Errorf("w2 = %+v", nodes[4])
	}

	n, err := c.NodeByHostname(ctx, "w2")
	if err != nil || n.ID != "6" {
		t.Fatalf("NodeByHostname(w2) = %+v, %v; want the new node 6", n, err)
	}
	_, err = c.NodeByHostname(ctx, "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("NodeByHostname(nope) = %v, want ErrNotFound", err)
	}
	f.nodes["6"].Description.Hostname = "w1"
	_, err = c.NodeByHostname(ctx, "w1")
	wantErr(t, err, `2 swarm nodes have hostname "w1": 4 (ready), 6 (ready); use the node ID`)

	n, err = c.NodeByID(ctx, "2")
	if err != nil || n.Hostname != "m2" {
		t.Fatalf("NodeByID(2) = %+v, %v", n, err)
	}
	if _, err = c.NodeByID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("NodeByID(nope) = %v, want ErrNotFound", err)
	}
}

func TestSetAvailabilityAndLabels(t *testing.T) {
	f := cluster3()
	c := f.client()
	ctx := ctxT(t, 5*time.Second)

	f.conflicts = 2
	if err := c.SetAvailability(ctx, "4", AvailabilityPause); err != nil {
		t.Fatal(err)
	}
	if a := f.nodes["4"].Spec.Availability; a != swarm.NodeAvailabilityPause {
		t.Errorf("availability = %s", a)
	}
	before := f.called("NodeUpdate")
	if err := c.SetAvailability(ctx, "4", AvailabilityPause); err != nil || f.called("NodeUpdate") != before {
		t.Errorf("no-op SetAvailability updated the node: %v", err)
	}
	wantErr(t, c.SetAvailability(ctx, "4", "off"), `"off" is not active, pause or drain`)
	if err := c.SetAvailability(ctx, "nope", AvailabilityDrain); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAvailability(nope) = %v", err)
	}

	if err := c.SetLabels(ctx, "4", map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateLabels(ctx, "4", map[string]string{"c": "3", "a": "9"}, []string{"b", "missing"}); err != nil {
		t.Fatal(err)
	}
	if got := f.nodes["4"].Spec.Labels; len(got) != 2 || got["a"] != "9" || got["c"] != "3" {
		t.Errorf("labels = %v", got)
	}
	before = f.called("NodeUpdate")
	if err := c.UpdateLabels(ctx, "4", map[string]string{"c": "3"}, nil); err != nil || f.called("NodeUpdate") != before {
		t.Errorf("no-op UpdateLabels updated the node: %v", err)
	}
	if err := c.SetLabels(ctx, "4", nil); err != nil || len(f.nodes["4"].Spec.Labels) != 0 {
		t.Errorf("SetLabels(nil): %v, labels %v", err, f.nodes["4"].Spec.Labels)
	}
}

func TestPromoteDemote(t *testing.T) {
	ctx := ctxT(t, 5*time.Second)

	t.Run("promote waits for Raft", func(t *testing.T) {
		f := cluster3()
		f.roleLag = 4
		if err := f.client().Promote(ctx, "4"); err != nil {
			t.Fatal(err)
		}
		if ms := f.nodes["4"].ManagerStatus; ms == nil || ms.Reachability != swarm.ReachabilityReachable {
			t.Errorf("Promote returned before w1 was a reachable manager: %+v", ms)
		}
		// Idempotent.
		before := f.called("NodeUpdate")
		if err := f.client().Promote(ctx, "4"); err != nil || f.called("NodeUpdate") != before {
			t.Errorf("second Promote: %v", err)
		}
	})

	t.Run("promote refuses a node that is down", func(t *testing.T) {
		f := cluster3()
		f.nodes["4"].Status.State = swarm.NodeStateDown
		wantErr(t, f.client().Promote(ctx, "4"), "the node is down")
	})

	t.Run("promote times out with the state", func(t *testing.T) {
		f := cluster3()
		f.roleLag = 1 << 30
		err := f.client().Promote(ctxT(t, 50*time.Millisecond), "4")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		wantErr(t, err, "promoting node w1 (4)", "not a Raft member yet")
	})

	t.Run("demote waits until out of Raft", func(t *testing.T) {
		f := cluster3()
		f.roleLag = 4
		if err := f.client().Demote(ctx, "3"); err != nil {
			t.Fatal(err)
		}
		if n := f.nodes["3"]; n.ManagerStatus != nil || n.Spec.Role != swarm.NodeRoleWorker {
			t.Errorf("Demote returned while m3 is %+v", n)
		}
		before := f.called("NodeUpdate")
		if err := f.client().Demote(ctx, "3"); err != nil || f.called("NodeUpdate") != before {
			t.Errorf("second Demote: %v", err)
		}
	})

	t.Run("demote refuses to lose quorum", func(t *testing.T) {
		f := cluster3()
		f.nodes["3"].ManagerStatus.Reachability = swarm.ReachabilityUnreachable
		err := f.client().Demote(ctx, "2")
		wantErr(t, err, "demoting m2 (2): afterwards only 1 of 2 managers would be reachable, below the quorum of 2", "remove the unreachable managers (m3 (3)) first")
		if f.called("NodeUpdate") != 0 {
			t.Error("the node was updated")
		}
		// The unreachable one can go.
		if err := f.client().Demote(ctx, "3"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("demote refuses the last manager", func(t *testing.T) {
		f := newFakeSwarm()
		f.becomeManager("C")
		f.addNode("1", "m1", swarm.NodeRoleManager, t0).ManagerStatus.Leader = true
		wantErr(t, f.client().Demote(ctx, "1"), "m1 (1) is the last manager")
	})

	t.Run("demote of the engine itself waits on its own state", func(t *testing.T) {
		f := cluster3()
		if err := f.client().Demote(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		if f.info.Swarm.ControlAvailable {
			t.Error("still a manager")
		}
	})

	t.Run("demote of an unknown node", func(t *testing.T) {
		if err := cluster3().client().Demote(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRemoveNode(t *testing.T) {
	ctx := ctxT(t, 5*time.Second)
	f := cluster3()
	c := f.client()
	if err := c.RemoveNode(ctx, "nope", false); err != nil {
		t.Errorf("removing an unknown node: %v", err)
	}
	wantErr(t, c.RemoveNode(ctx, "2", true), "removing node m2 (2): the node is a manager; Demote it first")
	wantErr(t, c.RemoveNode(ctx, "4", false), "is not down and can't be removed", "the node is ready: it must leave the swarm first")
	if err := c.RemoveNode(ctx, "4", true); err != nil {
		t.Fatal(err)
	}
	f.nodes["5"].Status.State = swarm.NodeStateDown
	if err := c.RemoveNode(ctx, "5", false); err != nil {
		t.Fatal(err)
	}
	if len(f.nodes) != 3 {
		t.Errorf("%d nodes left", len(f.nodes))
	}
}

func TestWaitNodesReady(t *testing.T) {
	f := cluster3()
	f.nodes["4"].Status.State = swarm.NodeStateDown
	f.nodes["5"].Status.State = swarm.NodeStateUnknown
	c := f.client()

	// The nodes come up after a few polls.
	go func() {
		for f.called("NodeList") < 3 {
			time.Sleep(time.Millisecond)
		}
		f.mu.Lock()
		f.nodes["4"].Status.State = swarm.NodeStateReady
		f.nodes["5"].Status.State = swarm.NodeStateReady
		f.mu.Unlock()
	}()
	nodes, err := c.WaitNodesReady(ctxT(t, 5*time.Second), []string{"w2", "m1", "w1"})
	if err != nil {
		t.Fatal(err)
	}
	if nodes[0].ID != "5" || nodes[1].ID != "1" || nodes[2].ID != "4" {
		t.Errorf("nodes = %+v", nodes)
	}
	// One node list per poll, whatever the number of nodes.
	if lists, inspects := f.called("NodeList"), f.called("NodeInspect"); inspects != 0 || lists < 3 {
		t.Errorf("%d node lists and %d inspections", lists, inspects)
	}

	n, err := c.WaitNodeReady(ctxT(t, 5*time.Second), "m2")
	if err != nil || n.ID != "2" {
		t.Fatalf("WaitNodeReady(m2) = %+v, %v", n, err)
	}

	f.nodes["4"].Status = swarm.NodeStatus{State: swarm.NodeStateDown, Message: "heartbeat failure"}
	_, err = c.WaitNodesReady(ctxT(t, 50*time.Millisecond), []string{"w1", "w9", "m1"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	wantErr(t, err, "not ready: w1: down (heartbeat failure); w9: not in the swarm")

	// Against a worker: no point waiting.
	f.info.Swarm.ControlAvailable = false
	start := time.Now()
	_, err = c.WaitNodesReady(ctxT(t, 5*time.Second), []string{"m1"})
	wantErr(t, err, "not a swarm manager")
	if time.Since(start) > time.Second {
		t.Error("waited on a permanent error")
	}
}

func TestWaitNodeDown(t *testing.T) {
	f := cluster3()
	go func() {
		for f.called("NodeInspect 4") < 3 {
			time.Sleep(time.Millisecond)
		}
		f.mu.Lock()
		f.nodes["4"].Status.State = swarm.NodeStateDown
		f.mu.Unlock()
	}()
	if err := f.client().WaitNodeDown(ctxT(t, 5*time.Second), "4"); err != nil {
		t.Fatal(err)
	}
	if err := f.client().WaitNodeDown(ctxT(t, 5*time.Second), "gone"); err != nil {
		t.Errorf("a node gone counts as down: %v", err)
	}
}

// drainCluster is cluster3 with workers w1, w2, a web service (3 replicas:
// on w1, w2 and m2) and a global agent on every node.
func drainCluster() *fakeSwarm {
	f := cluster3()
	f.addService("s-web", "web", 3)
	f.addTask("s-web", 1, "4", swarm.TaskStateRunning)
	f.addTask("s-web", 2, "5", swarm.TaskStateRunning)
	f.addTask("s-web", 3, "2", swarm.TaskStateRunning)
	f.addGlobalService("s-agent", "agent")
	for _, n := range []string{"1", "2", "3", "4", "5"} {
		f.addTask("s-agent", 0, n, swarm.TaskStateRunning)
	}
	return f
}

func TestDrainNodes(t *testing.T) {
	f := drainCluster()
	c := f.client()
	if err := c.DrainNodes(ctxT(t, 5*time.Second), []string{"4", "5", "4"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"4", "5"} {
		if a := f.nodes[id].Spec.Availability; a != swarm.NodeAvailabilityDrain {
			t.Errorf("node %s is %s", id, a)
		}
	}
	placed := map[string]int{}
	for _, tk := range f.tasks {
		if tk.DesiredState == swarm.TaskStateRunning && tk.ServiceID == "s-web" {
			placed[tk.NodeID]++
		}
		if tk.DesiredState == swarm.TaskStateRunning && (tk.NodeID == "4" || tk.NodeID == "5") {
			t.Errorf("task %s still on drained node %s", tk.ID, tk.NodeID)
		}
	}
	if placed["4"]+placed["5"] != 0 || placed["1"]+placed["2"]+placed["3"] != 3 {
		t.Errorf("web tasks per node: %v", placed)
	}
	for _, fl := range f.taskFilters {
		if fl != "running" {
			t.Errorf("tasks listed with desired-state filter %q", fl)
		}
	}
	if err := c.DrainNodes(ctxT(t, time.Second), []string{"nope"}, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("draining an unknown node: %v", err)
	}
	if err := c.DrainNodes(ctxT(t, time.Second), nil, 0); err != nil {
		t.Errorf("draining no node: %v", err)
	}
}

func TestDrainNodesCannotPlace(t *testing.T) {
	f := drainCluster()
	f.nodes["5"].Spec.Availability = swarm.NodeAvailabilityPause
	// The managers have no room for web's tasks.
	f.capacity["1"], f.capacity["2"], f.capacity["3"] = 1, 2, 1
	c := f.client()
	start := time.Now()
	err := c.DrainNodes(ctxT(t, 5*time.Second), []string{"4", "5"}, 100*time.Millisecond)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("DrainNodes took %s with a 100ms timeout", el)
	}
	var de *DrainError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *DrainError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !de.Restored {
		t.Errorf("cause %v, restored %v (%v)", de.Cause, de.Restored, de.RestoreErr)
	}
	wantErr(t, err,
		"draining w1 (4), w2 (5): tasks were not re-placed within 100ms",
		"service web (s-web): 1 of 3 replicas running elsewhere",
		"task web.1 (", ") pending: no suitable node (insufficient resources on 3 nodes)",
		"the nodes were set back to their former availability")
	if len(de.Problems) != 3 || de.Problems[1].Task != "web.1" || de.Problems[2].Task != "web.2" {
		t.Errorf("problems = %+v", de.Problems)
	}
	// Former availability, so the pending tasks can run again.
	if a4, a5 := f.nodes["4"].Spec.Availability, f.nodes["5"].Spec.Availability; a4 != swarm.NodeAvailabilityActive || a5 != swarm.NodeAvailabilityPause {
		t.Errorf("availability after a failed drain: w1 %s, w2 %s", a4, a5)
	}
}

func TestDrainNodesDegradedBefore(t *testing.T) {
	// web has 3 replicas but only 2 ran before the drain (one stuck
	// assigned, its image missing): the drain waits for 2, not 3.
	f := cluster3()
	f.addService("s-web", "web", 3)
	f.addTask("s-web", 1, "4", swarm.TaskStateRunning)
	f.addTask("s-web", 2, "5", swarm.TaskStateRunning)
	f.addTask("s-web", 3, "3", swarm.TaskStateAssigned).Status.Err = "No such image: web:1"
	if err := f.client().DrainNodes(ctxT(t, 5*time.Second), []string{"4"}, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestDrainProblemsTaskStillOnNode(t *testing.T) {
	tasks := []swarm.Task{{
		ID: "t1", ServiceID: "s", Slot: 2, NodeID: "n1", DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{State: swarm.TaskStateRunning},
	}}
	r := uint64(1)
	svcs := []swarm.Service{{ID: "s", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "api"}, Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &r}}}}}
	ps := drainProblems(tasks, svcs, map[string]bool{"n1": true}, map[string]drainTarget{"s": {name: "api", runningBefore: 1}},
		map[string]Node{"n1": {ID: "n1", Hostname: "w1"}})
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	want := "task api.2 (t1) running on w1: still scheduled on a drained node; service api (s): 0 of 1 replicas running elsewhere"
	if got := strings.Join(s, "; "); got != want {
		t.Errorf("problems = %q\nwant       %q", got, want)
	}
}

func TestNotSwarmCapable(t *testing.T) {
	c := &Client{host: "tcp://x:2376", identity: "x", api: plainEngine{}}
	_, err := c.Nodes(context.Background())
	wantErr(t, err, "does not support swarm operations")
}

// plainEngine implements engineAPI only.
type plainEngine struct{}

func (plainEngine) Ping(context.Context) (types.Ping, error)  { return types.Ping{}, nil }
func (plainEngine) Info(context.Context) (system.Info, error) { return system.Info{}, nil }
func (plainEngine) ClientVersion() string                     { return "1.41" }
func (plainEngine) Close() error                              { return nil }
