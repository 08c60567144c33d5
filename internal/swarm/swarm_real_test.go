package swarm

// Real Swarm operations against real engines: three localcloud hosts (each
// a network namespace with its own dockerd, TLS on 2376, set up from the
// same daemon.json and certificates a cloud host gets), driven through
// Connect over mTLS.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"

	"github.com/haddockhq/terraform-provider-haddock/internal/testimage"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// testImage is loaded on every host; it cannot be pulled.
const testImage = "haddock-test/sleeper:1"

// requireRealHosts skips the test when the machine cannot run real hosts
// (not root, no dockerd, no Go toolchain to build the test image), or fails
// it when CI is set or HADDOCK_REQUIRE_REAL_HOSTS=1.
func requireRealHosts(t *testing.T, cfg netns.Config) {
	t.Helper()
	err := netns.Check(cfg)
	if err == nil {
		if _, lerr := testimage.GoTool(); lerr != nil {
			err = lerr
		}
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" || os.Getenv("HADDOCK_REQUIRE_REAL_HOSTS") == "1" {
		t.Fatalf("real hosts required (CI or HADDOCK_REQUIRE_REAL_HOSTS=1): %v", err)
	}
	t.Skipf("real hosts unavailable: %v", err)
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// realHost is a provisioned host and the clients to reach it.
type realHost struct {
	netns.Host
	c     *Client        // Haddock's client, mTLS on 2376
	local *client.Client // the SDK on the host's unix socket, for test set-up only
}

func provisionReal(t *testing.T, ctx context.Context, m *netns.Manager, ca *pki.CA, prov *pki.KeyPair, ids []string) map[string]*realHost {
	t.Helper()
	hosts := map[string]*realHost{}
	for id, h := range localcloudtest.ProvisionTLSHosts(t, ctx, m, ca, ids) {
		hosts[id] = &realHost{Host: h}
	}
	for _, id := range ids {
		h := hosts[id]
		c, err := Connect(ctx, Endpoint{
			Host:      "tcp://" + h.IPv4.String() + ":2376",
			CACertPEM: ca.CertPEM(), CertPEM: prov.CertPEM, KeyPEM: prov.KeyPEM,
			Identity: pki.HostIdentity(id),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.WaitReady(ctx, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		local, err := client.NewClientWithOpts(client.WithHost("unix://"+h.DockerSocket), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = local.Close() })
		h.c, h.local = c, local
	}
	return hosts
}

// buildImage returns a docker-save archive of testImage: FROM scratch, a
// static Go binary that waits for SIGTERM.
func buildImage(t *testing.T) []byte { return testimage.Build(t, testImage, testimage.Sleeper) }

func loadImage(t *testing.T, ctx context.Context, h *realHost, archive []byte) {
	t.Helper()
	resp, err := h.local.ImageLoad(ctx, bytes.NewReader(archive), client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("loading the test image on %s: %v", h.ID, err)
	}
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if bytes.Contains(out, []byte(`"error`)) {
		t.Fatalf("loading the test image on %s: %s", h.ID, out)
	}
}

// runningTasks returns, per hostname, the service's tasks that should run
// and do, read through the manager's socket.
func runningTasks(t *testing.T, ctx context.Context, mgr *realHost, service string, hostnames map[string]string) map[string]int {
	t.Helper()
	tasks, err := mgr.local.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, tk := range tasks {
		if tk.Status.State == swarm.TaskStateRunning {
			out[hostnames[tk.NodeID]]++
		}
	}
	return out
}

// waitRunning waits until service has all three of its replicas running,
// and returns how many run on each host.
func waitRunning(t *testing.T, ctx context.Context, mgr *realHost, service string, hostnames map[string]string) map[string]int {
	t.Helper()
	const want = 3
	var got map[string]int
	err := wait.Until(ctx, polling("service "+service), func(ctx context.Context) (bool, string, error) {
		got = runningTasks(t, ctx, mgr, service, hostnames)
		n := 0
		for _, c := range got {
			n += c
		}
		return n == want, "", nil
	})
	if err != nil {
		t.Fatalf("service %s: %d running tasks wanted, have %v: %v", service, want, got, err)
	}
	return got
}

func createService(t *testing.T, ctx context.Context, mgr *realHost, name string, replicas uint64, reserveMemory int64) string {
	t.Helper()
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: testImage, StopGracePeriod: durationPtr(2 * time.Second)},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
	}
	if reserveMemory > 0 {
		spec.TaskTemplate.Resources = &swarm.ResourceRequirements{Reservations: &swarm.Resources{MemoryBytes: reserveMemory}}
	}
	resp, err := mgr.local.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
	if err != nil {
		t.Fatalf("creating service %s: %v", name, err)
	}
	return resp.ID
}

func durationPtr(d time.Duration) *time.Duration { return &d }

func TestRealSwarm(t *testing.T) {
	cfg := netns.Config{
		StateDir:       t.TempDir(),
		Bridge:         "hdksw0",
		NetnsPrefix:    "hdksw-",
		Subnet:         netip.MustParsePrefix("10.213.180.0/24"),
		ReservedPrefix: netip.MustParsePrefix("10.213.190.0/28"),
		StopTimeout:    10 * time.Second,
		// Swarm tries to pull a task's image before using a local one;
		// these hosts have no registry to reach.
		DockerdEnv: []string{"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1"},
		Logger:     slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	requireRealHosts(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	m, err := netns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := m.Down(dctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ca, err := pki.NewCA("haddock-swarm-test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := ca.IssueClient("haddock-provider", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var timings []string
	timed := func(what string, start time.Time) {
		d := time.Since(start).Round(time.Millisecond)
		timings = append(timings, fmt.Sprintf("%s %s", what, d))
		t.Logf("%s took %s", what, d)
	}
	defer func() { t.Logf("timings: %s", strings.Join(timings, ", ")) }()

	start := time.Now()
	hosts := provisionReal(t, ctx, m, ca, prov, []string{"sw1", "sw2", "sw3"})
	timed("provisioning 3 hosts", start)
	h1, h2, h3 := hosts["sw1"], hosts["sw2"], hosts["sw3"]
	t.Logf("storage driver %s; hosts %s %s %s", m.StorageDriver(), h1.IPv4, h2.IPv4, h3.IPv4)

	// Init on sw1, idempotently.
	start = time.Now()
	id, err := h1.c.Init(ctx, InitOptions{
		AdvertiseAddr: h1.IPv4.String(), DefaultAddrPool: []string{"10.240.0.0/16"}, SubnetSize: 24, TaskHistoryLimit: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	timed("Init", start)
	if again, err := h1.c.Init(ctx, InitOptions{AdvertiseAddr: h1.IPv4.String()}); err != nil || again != id {
		t.Fatalf("second Init = %q, %v; want %q", again, err, id)
	}
	cl, err := h1.c.SwarmInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cl.ID != id || cl.TaskHistoryLimit != 3 || len(cl.DefaultAddrPool) != 1 || cl.DefaultAddrPool[0] != "10.240.0.0/16" || cl.SubnetSize != 24 || cl.Autolock {
		t.Errorf("SwarmInfo = %+v", cl)
	}

	// sw2 joins as a manager, sw3 as a worker.
	workerToken, managerToken, err := h1.c.JoinTokens(ctx)
	if err != nil || !strings.HasPrefix(workerToken, "SWMTKN-1-") || !strings.HasPrefix(managerToken, "SWMTKN-1-") || workerToken == managerToken {
		t.Fatalf("JoinTokens: %v", err)
	}
	remote := []string{h1.IPv4.String() + ":2377"}
	start = time.Now()
	if err := h2.c.Join(ctx, JoinOptions{RemoteAddrs: remote, Token: managerToken, AdvertiseAddr: h2.IPv4.String()}); err != nil {
		t.Fatal(err)
	}
	timed("Join as manager", start)
	start = time.Now()
	if err := h3.c.Join(ctx, JoinOptions{RemoteAddrs: remote, Token: workerToken, AdvertiseAddr: h3.IPv4.String()}); err != nil {
		t.Fatal(err)
	}
	timed("Join as worker", start)

	// Idempotent joins; for the manager, by the token's CA digest alone
	// (the address given is not one of its managers).
	in2, err := h2.c.api.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in2.Swarm.Cluster == nil || !tokenMatchesCA(managerToken, in2.Swarm.Cluster.TLSInfo.TrustRoot) {
		t.Fatal("the join token's digest does not match the swarm's root CA as the engine reports it")
	}
	if err := h2.c.Join(ctx, JoinOptions{RemoteAddrs: []string{"192.0.2.1:2377"}, Token: managerToken}); err != nil {
		t.Errorf("second Join of the manager: %v", err)
	}
	if err := h3.c.Join(ctx, JoinOptions{RemoteAddrs: remote, Token: workerToken}); err != nil {
		t.Errorf("second Join of the worker: %v", err)
	}
	if _, err := h3.c.Init(ctx, InitOptions{}); err == nil || !strings.Contains(err.Error(), "worker of another swarm") {
		t.Errorf("Init on a worker = %v", err)
	}

	start = time.Now()
	ready, err := h1.c.WaitNodesReady(ctx, []string{"sw1", "sw2", "sw3"})
	if err != nil {
		t.Fatal(err)
	}
	timed("WaitNodesReady", start)
	hostnames := map[string]string{}
	ids := map[string]string{}
	for _, n := range ready {
		hostnames[n.ID], ids[n.Hostname] = n.Hostname, n.ID
	}
	nodes, err := h1.c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		switch n.Hostname {
		case "sw1":
			if !n.IsLeader() || n.Role != RoleManager || n.ManagerStatus.Addr != h1.IPv4.String()+":2377" {
				t.Errorf("sw1 = %+v %+v", n, n.ManagerStatus)
			}
		case "sw2":
			if n.IsLeader() || !n.IsManager() || n.ManagerStatus.Reachability != ReachabilityReachable {
				t.Errorf("sw2 = %+v %+v", n, n.ManagerStatus)
			}
		case "sw3":
			if n.IsManager() || n.Role != RoleWorker || n.Addr != h3.IPv4.String() {
				t.Errorf("sw3 = %+v", n)
			}
		}
		if n.State != NodeStateReady || n.Availability != AvailabilityActive || n.EngineVersion == "" || n.MemoryBytes == 0 {
			t.Errorf("node %s = %+v", n.Hostname, n)
		}
	}
	if n, err := h2.c.NodeByHostname(ctx, "sw3"); err != nil || n.ID != ids["sw3"] {
		t.Errorf("NodeByHostname(sw3) through sw2 = %+v, %v", n, err)
	}
	if err := h2.c.Leave(ctx, false); err == nil || !strings.Contains(err.Error(), "Demote it from another manager first") {
		t.Errorf("Leave of a manager without force = %v", err)
	}

	if err := h1.c.SetLabels(ctx, ids["sw3"], map[string]string{"tier": "web"}); err != nil {
		t.Fatal(err)
	}
	if err := h1.c.UpdateLabels(ctx, ids["sw3"], map[string]string{"zone": "b"}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := h1.c.NodeByID(ctx, ids["sw3"]); err != nil || n.Labels["tier"] != "web" || n.Labels["zone"] != "b" {
		t.Errorf("labels of sw3: %+v, %v", n, err)
	}

	// A replicated service, then sw3 drained: its task moves.
	start = time.Now()
	archive := buildImage(t)
	for _, h := range []*realHost{h1, h2, h3} {
		loadImage(t, ctx, h, archive)
	}
	timed(fmt.Sprintf("building and loading a %d KiB image", len(archive)/1024), start)
	start = time.Now()
	createService(t, ctx, h1, "sleeper", 3, 0)
	placed := waitRunning(t, ctx, h1, "sleeper", hostnames)
	timed("service sleeper running 3 replicas", start)
	t.Logf("sleeper tasks before the drain: %v", placed)
	if placed["sw3"] == 0 {
		t.Fatalf("no sleeper task on sw3 to drain: %v", placed)
	}
	start = time.Now()
	if err := h1.c.DrainNodes(ctx, []string{ids["sw3"]}, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	timed("DrainNodes(sw3)", start)
	after := runningTasks(t, ctx, h1, "sleeper", hostnames)
	t.Logf("sleeper tasks after the drain: %v", after)
	if after["sw3"] != 0 || after["sw1"]+after["sw2"] != 3 {
		t.Errorf("after draining sw3 the tasks are %v", after)
	}
	if n, _ := h1.c.NodeByID(ctx, ids["sw3"]); n == nil || n.Availability != AvailabilityDrain {
		t.Errorf("sw3 after the drain: %+v", n)
	}
	if err := h1.c.SetAvailability(ctx, ids["sw3"], AvailabilityActive); err != nil {
		t.Fatal(err)
	}

	// A service whose tasks each reserve 60% of a node's memory: one per
	// node. Draining sw2 cannot re-place its task.
	mem := ready[0].MemoryBytes
	bigID := createService(t, ctx, h1, "big", 3, mem*6/10)
	waitRunning(t, ctx, h1, "big", hostnames)
	start = time.Now()
	err = h1.c.DrainNodes(ctx, []string{ids["sw2"]}, 8*time.Second)
	timed("failed DrainNodes(sw2) with an 8s timeout", start)
	var de *DrainError
	if !errors.As(err, &de) {
		t.Fatalf("draining sw2 = %v, want a *DrainError", err)
	}
	t.Logf("drain error: %v", err)
	for _, want := range []string{"draining sw2 (", "within 8s", "service big (" + bigID + "): 2 of 3 replicas running elsewhere", "task big.", "insufficient resources", "set back"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("drain error does not mention %q", want)
		}
	}
	if n, _ := h1.c.NodeByID(ctx, ids["sw2"]); n == nil || n.Availability != AvailabilityActive {
		t.Errorf("sw2 after the failed drain: %+v", n)
	}
	waitRunning(t, ctx, h1, "big", hostnames) // back on sw2
	if err := h1.local.ServiceRemove(ctx, bigID); err != nil {
		t.Fatal(err)
	}

	// Roles: demote sw2, promote sw3, then plan 2 -> 1 and carry it out.
	start = time.Now()
	if err := h1.c.Demote(ctx, ids["sw2"]); err != nil {
		t.Fatal(err)
	}
	timed("Demote(sw2)", start)
	start = time.Now()
	if err := h1.c.Promote(ctx, ids["sw3"]); err != nil {
		t.Fatal(err)
	}
	timed("Promote(sw3)", start)
	nodes, err = h1.c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	managers := ManagersOf(nodes)
	if len(managers) != 2 {
		t.Fatalf("managers = %+v", managers)
	}
	if err := ValidManagerCount(len(managers)); err == nil {
		t.Error("2 managers accepted as a valid count")
	}
	steps, err := PlanManagerChange(managers, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Action != StepDemote || steps[0].Node.Hostname != "sw3" || steps[1].Action != StepRemove {
		t.Fatalf("plan 2 -> 1 = %v", steps)
	}
	t.Logf("plan 2 -> 1: %v", steps)
	start = time.Now()
	if err := h1.c.Demote(ctx, steps[0].Node.ID); err != nil {
		t.Fatal(err)
	}
	timed("Demote(sw3)", start)
	start = time.Now()
	if err := h3.c.Leave(ctx, false); err != nil {
		t.Fatal(err)
	}
	timed("Leave on sw3", start)
	start = time.Now()
	if err := h1.c.WaitNodeDown(ctx, ids["sw3"]); err != nil {
		t.Fatal(err)
	}
	timed("WaitNodeDown(sw3)", start)
	start = time.Now()
	if err := h1.c.RemoveNode(ctx, steps[1].Node.ID, false); err != nil {
		t.Fatal(err)
	}
	timed("RemoveNode(sw3)", start)
	if err := h3.c.Leave(ctx, false); err != nil {
		t.Errorf("second Leave: %v", err)
	}
	if err := h1.c.RemoveNode(ctx, ids["sw3"], false); err != nil {
		t.Errorf("second RemoveNode: %v", err)
	}
	if err := h1.c.Demote(ctx, ids["sw1"]); err == nil || !strings.Contains(err.Error(), "last manager") {
		t.Errorf("demoting the last manager = %v", err)
	}
	nodes, _ = h1.c.Nodes(ctx)
	if len(nodes) != 2 || len(ManagersOf(nodes)) != 1 {
		t.Errorf("nodes at the end = %+v", nodes)
	}
	waitRunning(t, ctx, h1, "sleeper", hostnames)

	// Cluster settings.
	on, two := true, int64(2)
	if err := h1.c.UpdateSwarm(ctx, SwarmUpdate{Autolock: &on, TaskHistoryLimit: &two}); err != nil {
		t.Fatal(err)
	}
	key, err := h1.c.UnlockKey(ctx)
	if err != nil || !strings.HasPrefix(key, "SWMKEY-1-") {
		t.Errorf("UnlockKey = %v (len %d)", err, len(key))
	}
	if cl, err := h1.c.SwarmInfo(ctx); err != nil || !cl.Autolock || cl.TaskHistoryLimit != 2 {
		t.Errorf("SwarmInfo after the update = %+v, %v", cl, err)
	}
	off := false
	if err := h1.c.UpdateSwarm(ctx, SwarmUpdate{Autolock: &off}); err != nil {
		t.Fatal(err)
	}
}
