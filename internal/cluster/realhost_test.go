package cluster

// Real clusters: localcloud in process with the netns backend (every
// droplet a network namespace running its own dockerd from the droplet's
// user data: Haddock's daemon.json, certificates and engine labels), the
// DigitalOcean driver on it, and the real swarm client over mutual TLS.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	dswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean/dotest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/testenv"
	"github.com/haddockhq/terraform-provider-haddock/internal/testimage"
)

const realImage = "haddock-test/sleeper:1"

// realOptions is this package's own network and state directory, apart
// from the others' (netns hdkt1-4, netnsbackend hdkt5, cmd/localcloud
// hdkt6, swarm hdksw0, a running localcloud hdk0). StartReal takes the
// lock once and removes what an interrupted earlier run left each time.
var realOptions = localcloudtest.Options{
	Bridge: "hdkt7", NetnsPrefix: "hdkt7-", StateDir: "/tmp/hdkc7", Token: "cluster-real-test-token",
	Subnet: netip.MustParsePrefix("10.213.207.0/24"), ReservedPrefix: netip.MustParsePrefix("10.213.227.0/28"),
	Lock: "haddock-cluster-test.lock", Sweep: true,
	// Swarm tries to pull a task's image before using a local one;
	// these hosts have no registry to reach.
	DockerdEnv: []string{"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1"},
}

// requireRealHosts skips the test when the machine cannot run real hosts
// (not root, no dockerd, no Go toolchain for the test image), or fails it
// when CI is set or HADDOCK_REQUIRE_REAL_HOSTS=1.
func requireRealHosts(t *testing.T) {
	t.Helper()
	localcloudtest.RequireRealHosts(t)
	_, err := testimage.GoTool()
	testenv.Need(t, "HADDOCK_REQUIRE_REAL_HOSTS", err)
}

type realEnv struct {
	be   *netnsbackend.Backend
	run  *localcloud.Running
	drv  *digitalocean.Driver
	opts Options
}

// startReal serves localcloud with the netns backend on this test's
// network; the clean-up removes every host, the bridge and the rules, and
// checks that nothing is left.
func startReal(t *testing.T) *realEnv {
	t.Helper()
	lc := localcloudtest.StartReal(t, realOptions)
	return &realEnv{be: lc.Backend, run: lc.Running, drv: dotest.Driver(t, lc.URL, lc.Token, 250*time.Millisecond), opts: Options{Dial: slowCallLogger(t),
		PollInterval: 250 * time.Millisecond, EnginePollInterval: 250 * time.Millisecond,
		BootTimeout: 3 * time.Minute, JoinTimeout: 3 * time.Minute, DrainTimeout: 2 * time.Minute, LeaveTimeout: 30 * time.Second,
	}}
}

// local is the Docker SDK on a host's unix socket, for test set-up only.
func (e *realEnv) local(t *testing.T, m Member) *client.Client {
	t.Helper()
	id, err := strconv.Atoi(m.HostID)
	if err != nil {
		t.Fatalf("host id %q: %v", m.HostID, err)
	}
	h, err := e.be.Manager().Get(netnsbackend.HostID(id))
	if err != nil {
		t.Fatalf("host of %s: %v", m.Name, err)
	}
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+h.DockerSocket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *realEnv) loadImage(t *testing.T, ctx context.Context, m Member, archive []byte) {
	t.Helper()
	resp, err := e.local(t, m).ImageLoad(ctx, bytes.NewReader(archive), client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("loading the test image on %s: %v", m.Name, err)
	}
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if bytes.Contains(out, []byte(`"error`)) {
		t.Fatalf("loading the test image on %s: %s", m.Name, out)
	}
}

// running counts the service's running tasks per node hostname.
func running(ctx context.Context, c *client.Client, service string) (map[string]int, int, error) {
	tasks, err := c.TaskList(ctx, dswarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, 0, err
	}
	nodes, err := c.NodeList(ctx, dswarm.NodeListOptions{})
	if err != nil {
		return nil, 0, err
	}
	names := map[string]string{}
	for _, n := range nodes {
		names[n.ID] = n.Description.Hostname
	}
	out, total := map[string]int{}, 0
	for _, tk := range tasks {
		if tk.Status.State == dswarm.TaskStateRunning {
			out[names[tk.NodeID]]++
			total++
		}
	}
	return out, total, nil
}

func waitRunning(t *testing.T, ctx context.Context, c *client.Client, service string, want int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		per, n, err := running(ctx, c, service)
		if err == nil && n == want {
			return per
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s: %d running tasks wanted, have %v (%v)", service, want, per, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sampler records the fewest running tasks of a service seen while it runs.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	min  int
	n    int
}

func sample(ctx context.Context, c *client.Client, service string) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{}), min: 1 << 30}
	go func() {
		defer close(s.done)
		for {
			if _, n, err := running(ctx, c, service); err == nil {
				s.mu.Lock()
				s.min, s.n = min(s.min, n), s.n+1
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) end() (minimum, samples int) {
	close(s.stop)
	<-s.done
	return s.min, s.n
}

func leaderOf(t *testing.T, v *ClusterView) Member {
	t.Helper()
	var leaders []Member
	for _, m := range v.Members {
		if m.Leader {
			leaders = append(leaders, m)
		}
	}
	if len(leaders) != 1 {
		t.Fatalf("%d leaders among %+v", len(leaders), v.Members)
	}
	return leaders[0]
}

// TestRealCluster: 3 managers and 2 workers on real engines, a replicated
// service, workers scaled 2 -> 3 -> 1 with the service keeping its replicas
// through the drains, then everything destroyed.
func TestRealCluster(t *testing.T) {
	requireRealHosts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	env := startReal(t)
	archive := testimage.Build(t, realImage, testimage.Sleeper)
	var timings []string
	timed := func(what string, d time.Duration) {
		timings = append(timings, fmt.Sprintf("%s %s", what, d.Round(time.Millisecond)))
		t.Logf("%s took %s", what, d.Round(time.Millisecond))
	}
	defer func() { t.Logf("timings: %s", strings.Join(timings, "; ")) }()

	spec := ClusterSpec{
		Name:     "rt",
		Managers: HostsSpec{Count: 3, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64", Labels: map[string]string{"zone": "a"}},
		Settings: Settings{DefaultAddrPool: []string{"10.247.0.0/16"}, SubnetSize: 24, TaskHistoryLimit: 2, EncryptOverlayByDefault: true},
	}
	gspec := GroupSpec{Name: "work", HostsSpec: HostsSpec{Count: 2, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64", Labels: map[string]string{"tier": "work"}}}

	t0 := time.Now()
	c, cv, err := Create(ctx, env.drv, spec, env.opts)
	if err != nil {
		t.Fatal(err)
	}
	timed("create cluster, 3 managers ready", time.Since(t0))
	g, err := c.NodeGroup(env.drv, "work")
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	gv, err := g.Apply(ctx, gspec)
	if err != nil {
		t.Fatal(err)
	}
	timed("node group of 2 ready", time.Since(t1))
	timed("apply start to all 5 nodes ready (3 managers + 2 workers)", time.Since(t0))

	st := c.State()
	if st.SwarmID == "" || cv.SwarmID != st.SwarmID || cv.Ready() != 3 || cv.Settings == nil ||
		cv.Settings.TaskHistoryLimit != 2 || cv.Settings.SubnetSize != 24 || len(cv.Settings.DefaultAddrPool) != 1 {
		t.Fatalf("cluster view: %+v", cv)
	}
	leader := leaderOf(t, cv)
	t.Logf("swarm %s, leader %s, managers %s", st.SwarmID, leader.Name, strings.Join(memberNames(cv.Members), ", "))
	for _, m := range cv.Members {
		if !m.IsManager() || !m.Reachable || m.Labels["zone"] != "a" || m.Hostname != m.Name || m.Identity != Identity(m.UID) {
			t.Errorf("manager %+v", m)
		}
	}
	if gv.Ready() != 2 {
		t.Fatalf("group view: %+v", gv.Members)
	}
	for _, m := range gv.Members {
		if m.Role != swarm.RoleWorker || m.Labels["tier"] != "work" || m.State != swarm.NodeStateReady {
			t.Errorf("worker %+v", m)
		}
	}

	// Reopened from its state alone, the cluster reads the same.
	c2, err := Open(env.drv, st, env.opts)
	if err != nil {
		t.Fatal(err)
	}
	env.run.Server.ResetRequests()
	cv2, err := c2.Observe(ctx)
	if err != nil || cv2.Ready() != 3 || cv2.Leader != leader.Name {
		t.Fatalf("Observe: %v %+v", err, cv2)
	}
	if rc := env.run.Server.Requests(); rc.Total != 1 {
		t.Errorf("cluster refresh made %d API requests: %v", rc.Total, rc.Requests)
	}

	// A replicated service on an image loaded on every host.
	t2 := time.Now()
	for _, m := range append(cv.Members, gv.Members...) {
		env.loadImage(t, ctx, m, archive)
	}
	timed(fmt.Sprintf("loading a %d KiB image on 5 hosts", len(archive)/1024), time.Since(t2))
	mgr := env.local(t, leader)
	replicas := uint64(5)
	grace := 2 * time.Second
	if _, err := mgr.ServiceCreate(ctx, dswarm.ServiceSpec{
		Annotations: dswarm.Annotations{Name: "sleeper"},
		TaskTemplate: dswarm.TaskSpec{
			ContainerSpec: &dswarm.ContainerSpec{Image: realImage, StopGracePeriod: &grace},
			RestartPolicy: &dswarm.RestartPolicy{Condition: dswarm.RestartPolicyConditionAny},
		},
		Mode: dswarm.ServiceMode{Replicated: &dswarm.ReplicatedService{Replicas: &replicas}},
	}, dswarm.ServiceCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("sleeper tasks: %v", waitRunning(t, ctx, mgr, "sleeper", 5))

	// 2 -> 3: only the new host is created and joined.
	gspec.Count = 3
	t3 := time.Now()
	gv, err = g.Apply(ctx, gspec)
	if err != nil {
		t.Fatal(err)
	}
	timed("scale workers 2 -> 3", time.Since(t3))
	if gv.Ready() != 3 {
		t.Fatalf("after 2 -> 3: %+v", gv.Members)
	}
	for _, m := range gv.Members {
		if m.Name == "work-3" {
			env.loadImage(t, ctx, m, archive)
		}
	}
	// Move some tasks onto the new worker so that the drains have work: a
	// forced update reschedules every task across the six nodes.
	svc, _, err := mgr.ServiceInspectWithRaw(ctx, "sleeper", dswarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.TaskTemplate.ForceUpdate++
	if _, err := mgr.ServiceUpdate(ctx, svc.ID, svc.Version, svc.Spec, dswarm.ServiceUpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	per := waitRunning(t, ctx, mgr, "sleeper", 5)
	t.Logf("sleeper tasks before 3 -> 1: %v", per)

	// 3 -> 1: the newest two are drained, removed, deleted; the service
	// keeps its replicas.
	gspec.Count = 1
	s := sample(ctx, mgr, "sleeper")
	t4 := time.Now()
	gv, err = g.Apply(ctx, gspec)
	minimum, samples := s.end()
	if err != nil {
		t.Fatal(err)
	}
	timed("scale workers 3 -> 1 (drain, leave, remove, delete)", time.Since(t4))
	if len(gv.Members) != 1 || gv.Members[0].Name != "work-1" || gv.Ready() != 1 {
		t.Fatalf("after 3 -> 1: %+v", gv.Members)
	}
	per = waitRunning(t, ctx, mgr, "sleeper", 5)
	t.Logf("sleeper tasks after 3 -> 1: %v (fewest running during the scale-down: %d of 5, %d samples)", per, minimum, samples)
	if per["work-2"]+per["work-3"] != 0 {
		t.Errorf("tasks still on removed nodes: %v", per)
	}
	nodes, err := mgr.NodeList(ctx, dswarm.NodeListOptions{})
	if err != nil || len(nodes) != 4 {
		t.Errorf("nodes after 3 -> 1: %d %v", len(nodes), err)
	}

	// Destroy: the group, then the cluster; nothing is left.
	t5 := time.Now()
	if err := g.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, DestroyOptions{}); err != nil {
		t.Fatal(err)
	}
	timed("destroy group and cluster", time.Since(t5))
	env.waitHostsGone(t)
}

// waitHostsGone waits until the backend has destroyed every host (it does
// so after the API has answered the deletes).
func (e *realEnv) waitHostsGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(e.be.Manager().List()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := e.be.Manager().List(); len(left) != 0 {
		t.Errorf("hosts left after destroy: %d", len(left))
	}
}

// TestRealManagers: 1 manager grown to 3, then shrunk back to 1.
func TestRealManagers(t *testing.T) {
	requireRealHosts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	env := startReal(t)
	spec := ClusterSpec{Name: "rm", Managers: HostsSpec{Count: 1, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}}
	t0 := time.Now()
	c, cv, err := Create(ctx, env.drv, spec, env.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1 manager ready in %s", time.Since(t0).Round(time.Millisecond))
	if cv.Ready() != 1 || leaderOf(t, cv).Name != "rm-manager-1" {
		t.Fatalf("view: %+v", cv.Members)
	}

	spec.Managers.Count = 3
	t1 := time.Now()
	cv, err = c.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("grown 1 -> 3 in %s", time.Since(t1).Round(time.Millisecond))
	if cv.Ready() != 3 {
		t.Fatalf("after 1 -> 3: %+v", cv.Members)
	}
	for _, m := range cv.Members {
		if !m.IsManager() || !m.Reachable {
			t.Errorf("manager %+v", m)
		}
	}
	leader := leaderOf(t, cv)

	// An even count is refused before anything is touched.
	spec.Managers.Count = 2
	if _, err := c.Apply(ctx, spec); err == nil || !strings.Contains(err.Error(), "odd") {
		t.Errorf("2 managers: %v", err)
	}

	spec.Managers.Count = 1
	t2 := time.Now()
	cv, err = c.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shrunk 3 -> 1 in %s", time.Since(t2).Round(time.Millisecond))
	if len(cv.Members) != 1 || cv.Ready() != 1 || !cv.Members[0].Leader || cv.Members[0].Name != leader.Name {
		t.Fatalf("after 3 -> 1 (leader was %s): %+v", leader.Name, cv.Members)
	}
	nodes, err := env.local(t, cv.Members[0]).NodeList(ctx, dswarm.NodeListOptions{})
	if err != nil || len(nodes) != 1 {
		t.Errorf("nodes after 3 -> 1: %d %v", len(nodes), err)
	}
	if err := c.Destroy(ctx, DestroyOptions{}); err != nil {
		t.Fatal(err)
	}
	env.waitHostsGone(t)
}

// slowEngine logs the engine calls that take longer than half a second.
type slowEngine struct {
	Engine
	t    *testing.T
	host string
}

// slowCallLogger is the default Dialer with slowEngine around its engines.
func slowCallLogger(t *testing.T) Dialer {
	return func(ctx context.Context, ep swarm.Endpoint) (Engine, error) {
		e, err := DialEngine(ctx, ep)
		if err != nil {
			return nil, err
		}
		return &slowEngine{Engine: e, t: t, host: ep.Host}, nil
	}
}

func (e *slowEngine) timed(what string, t0 time.Time, err error) {
	if d := time.Since(t0); d > 500*time.Millisecond {
		e.t.Logf("engine %s: %s took %s (error: %v)", e.host, what, d.Round(time.Millisecond), err)
	}
}

func (e *slowEngine) Leave(ctx context.Context, force bool) error {
	t0 := time.Now()
	err := e.Engine.Leave(ctx, force)
	e.timed("Leave", t0, err)
	return err
}

func (e *slowEngine) Demote(ctx context.Context, id string) error {
	t0 := time.Now()
	err := e.Engine.Demote(ctx, id)
	e.timed("Demote", t0, err)
	return err
}

func (e *slowEngine) DrainNodes(ctx context.Context, ids []string, timeout time.Duration) error {
	t0 := time.Now()
	err := e.Engine.DrainNodes(ctx, ids, timeout)
	e.timed("DrainNodes", t0, err)
	return err
}

func (e *slowEngine) Join(ctx context.Context, opts swarm.JoinOptions) error {
	t0 := time.Now()
	err := e.Engine.Join(ctx, opts)
	e.timed("Join", t0, err)
	return err
}

func memberNames(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}
