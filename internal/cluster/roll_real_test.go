package cluster

// Rolling replacement on real hosts: the demo's counter stack behind a
// floating IP, a steady client load through the IP during the whole
// rollout, every request counted.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	dswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean/dotest"
	"github.com/haddockhq/terraform-provider-haddock/internal/image"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/stack"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
	"github.com/haddockhq/terraform-provider-haddock/internal/testload"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// rollOptions is this file's own network (see realOptions for the
// others'), with localcloud's registry, where the counter image is pushed
// so that replacement hosts can pull it.
var rollOptions = localcloudtest.Options{
	Bridge: "hdkroll", NetnsPrefix: "hdkr-", StateDir: "/tmp/hdkroll", Token: "cluster-roll-test-token",
	Subnet: netip.MustParsePrefix("10.213.244.0/24"), ReservedPrefix: netip.MustParsePrefix("10.213.245.0/28"),
	Lock: "haddock-cluster-test.lock", Sweep: true, Registry: true,
}

type rollEnv struct {
	lc    *localcloudtest.Real
	drv   *digitalocean.Driver
	opts  Options
	image string
	c     *Cluster
	g     *NodeGroup
	ip    *cloud.FloatingIP
}

var (
	rollManagers = ClusterSpec{Name: "roll", Managers: HostsSpec{Count: 3, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}}
	rollWorkers  = GroupSpec{Name: "work", HostsSpec: HostsSpec{Count: 2, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64", Labels: map[string]string{"tier": "app"}}}
)

// startRoll brings up managers and workers, the counter stack of
// examples/local and a floating IP on the first manager, and waits until
// the app answers through the IP.
func startRoll(tb testing.TB, managers ClusterSpec, workers GroupSpec) *rollEnv {
	return startRollWith(tb, rollOptions, managers, workers)
}

// startRollWith is startRoll on a localcloud started with o.
func startRollWith(tb testing.TB, o localcloudtest.Options, managers ClusterSpec, workers GroupSpec) *rollEnv {
	tb.Helper()
	ctx := tb.Context()
	lc := localcloudtest.StartReal(tb, o)
	e := &rollEnv{lc: lc, drv: dotest.Driver(tb, lc.URL, lc.Token, 250*time.Millisecond), opts: Options{
		PollInterval: 250 * time.Millisecond, EnginePollInterval: 250 * time.Millisecond,
		BootTimeout: 3 * time.Minute, JoinTimeout: 3 * time.Minute, DrainTimeout: 3 * time.Minute, LeaveTimeout: 30 * time.Second,
	}}
	e.image = pushCounter(tb, lc.RegistryAddr, lc.PushAuth())
	var err error
	if e.c, _, err = Create(ctx, e.drv, managers, e.opts); err != nil {
		tb.Fatalf("creating the managers: %v", err)
	}
	// localcloudtest's clean-up removes every host and checks that
	// nothing is left.
	if e.g, err = e.c.NodeGroup(e.drv, workers.Name); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.g.Apply(ctx, workers); err != nil {
		tb.Fatalf("creating the workers: %v", err)
	}
	e.deploy(tb)
	// As the stack resource does after a deploy: the cluster's firewall,
	// if it keeps one, opens what the stack publishes.
	if err := e.c.SyncFirewall(ctx, managers.Firewall); err != nil {
		tb.Fatalf("opening the stack's ports: %v", err)
	}
	v, err := e.c.Observe(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if e.ip, err = e.drv.CreateFloatingIP(ctx, "", v.Members[0].HostID); err != nil {
		tb.Fatalf("creating the floating IP: %v", err)
	}
	tb.Cleanup(func() { _ = e.drv.DeleteFloatingIP(context.Background(), e.ip.ID) })
	if _, err := getOK(e.url(), 60*time.Second); err != nil {
		tb.Fatalf("the app does not answer through the floating IP: %v", err)
	}
	return e
}

func (e *rollEnv) url() string { return "http://" + e.ip.Address + "/api" }

// deploy runs examples/local/compose.yaml (web: 4 replicas on the
// workers' overlay; front: global on the managers, host-mode port 80).
func (e *rollEnv) deploy(tb testing.TB) {
	tb.Helper()
	ctx := tb.Context()
	yaml, err := os.ReadFile(filepath.Join("..", "..", "examples", "local", "compose.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := stack.Load("counter", yaml, map[string]string{"IMAGE": e.image})
	if err != nil {
		tb.Fatal(err)
	}
	eng, _, err := e.c.Manager(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = eng.Close() }()
	se, err := stack.EngineOf(swarmClient(tb, eng))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := stack.Deploy(ctx, se, p, stack.DeployOptions{}); err != nil {
		tb.Fatalf("deploying the counter stack: %v", err)
	}
	if err := stack.WaitConverged(ctx, se, p, 3*time.Minute); err != nil {
		tb.Fatalf("the counter stack does not converge: %v", err)
	}
}

// pushCounter builds examples/apps/counter into an image and pushes it to
// the registry at addr.
func pushCounter(tb testing.TB, addr string, auth image.PushOption) string {
	tb.Helper()
	ctx := tb.Context()
	bin, err := image.BuildGo(ctx, image.GoBuild{Package: "./examples/apps/counter", Dir: filepath.Join("..", "..")})
	if err != nil {
		tb.Fatalf("building the counter app: %v", err)
	}
	img, err := image.FromBinary(bin, image.Options{Path: "/counter", ExposedPorts: []string{"8080/tcp"}})
	if err != nil {
		tb.Fatal(err)
	}
	ref := addr + "/counter:roll"
	if _, err := image.Push(ctx, img, ref, true, auth); err != nil {
		tb.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func getOK(url string, within time.Duration) (testload.LoadResult, error) {
	deadline := time.Now().Add(within)
	for {
		l := &testload.Load{URL: url, Max: 1}
		l.Start()
		r := l.Stop()
		if r.OK == 1 {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("no answer: %s", strings.Join(r.Failures, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func memberIDs(v *View) map[string]string {
	out := map[string]string{}
	for _, m := range v.Members {
		out[m.HostID] = m.Name
	}
	return out
}

// TestRealRoll changes the managers' size and the workers' image while a
// client requests the app through the floating IP: every host is replaced,
// one at a time, and no request fails.
func TestRealRoll(t *testing.T) {
	requireRealHosts(t)
	e := startRoll(t, rollManagers, rollWorkers)
	ctx := t.Context()
	mv0, _ := e.c.Observe(ctx)
	wv0, _ := e.g.Observe(ctx)
	oldM, oldW := memberIDs(&mv0.View), memberIDs(wv0)
	load := testload.StartLoad(e.url())

	managers := rollManagers
	managers.Managers.Size = "s-2vcpu-2gb"
	workers := rollWorkers
	workers.Image = "ubuntu-24-04-x64"
	t0 := time.Now()
	mv, err := e.c.Apply(ctx, managers)
	if err != nil {
		load.Stop()
		t.Fatalf("rolling the managers: %v", err)
	}
	tm := time.Since(t0)
	wv, err := e.g.Apply(ctx, workers)
	if err != nil {
		load.Stop()
		t.Fatalf("rolling the workers: %v", err)
	}
	tw := time.Since(t0) - tm
	time.Sleep(2 * time.Second)
	res := load.Stop()
	t.Logf("managers rolled in %s, workers in %s; load: %s", tm.Round(time.Second), tw.Round(time.Second), res)
	fmt.Printf("rolling 3 managers and 2 workers under load: %s; %d failed requests\n", res, res.Failed)
	if res.Failed != 0 || res.OK == 0 {
		t.Errorf("%d of %d requests failed: %s", res.Failed, res.Requests, strings.Join(res.Failures, "\n"))
	}
	for _, x := range []struct {
		v    *View
		old  map[string]string
		spec HostsSpec
	}{{&mv.View, oldM, managers.Managers}, {wv, oldW, workers.HostsSpec}} {
		if len(x.v.Members) != x.spec.Count || x.v.Ready() != x.spec.Count {
			t.Errorf("group %s after the rollout: %+v", x.v.Group, x.v.Members)
		}
		for _, m := range x.v.Members {
			if x.old[m.HostID] != "" || len(m.Outdated(x.spec)) != 0 {
				t.Errorf("host %s (%s) was not replaced: size %s image %s", m.Name, m.HostID, m.Size, m.Image)
			}
		}
	}
	// The floating IP stayed in the group, on a new manager.
	ip, err := e.drv.GetFloatingIP(ctx, e.ip.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := memberIDs(&mv.View)[ip.HostID]; !ok {
		t.Errorf("the floating IP is on %q, not on a manager of %v", ip.HostID, memberIDs(&mv.View))
	}
	// Exactly the wanted hosts exist: no orphan.
	all, err := e.drv.ListHosts(ctx, ClusterTag(e.c.UID()))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Errorf("%d hosts tagged for the cluster, want 5", len(all))
	}
}

// BenchmarkRealRoll rolls 3 managers and 5 workers under load and prints
// the wall time beside N × (boot + join + drain) measured in the same run:
// one extra worker grown (boot + join) and shrunk (drain + remove).
func BenchmarkRealRoll(b *testing.B) {
	localcloudtest.RequireRealHosts(b)
	workers := rollWorkers
	workers.Count = 5
	e := startRoll(b, rollManagers, workers)
	ctx := b.Context()
	for b.Loop() {
		grow := workers
		grow.Count = 6
		t0 := time.Now()
		if _, err := e.g.Apply(ctx, grow); err != nil {
			b.Fatal(err)
		}
		bootJoin := time.Since(t0)
		t0 = time.Now()
		if _, err := e.g.Apply(ctx, workers); err != nil {
			b.Fatal(err)
		}
		drain := time.Since(t0)

		load := testload.StartLoad(e.url())
		managers := rollManagers
		managers.Managers.Size = "s-2vcpu-2gb"
		rolled := workers
		rolled.Size = "s-2vcpu-2gb"
		t0 = time.Now()
		if _, err := e.c.Apply(ctx, managers); err != nil {
			load.Stop()
			b.Fatal(err)
		}
		if _, err := e.g.Apply(ctx, rolled); err != nil {
			load.Stop()
			b.Fatal(err)
		}
		wall := time.Since(t0)
		res := load.Stop()
		n := 8
		serial := time.Duration(n) * (bootJoin + drain)
		fmt.Printf("rolling %d hosts (3 managers, 5 workers): %s wall; one host boot+join %s, drain+remove %s, %d × (boot+join+drain) = %s (%.2f×); load %s; %d failed requests\n",
			n, wall.Round(time.Second), bootJoin.Round(time.Second), drain.Round(time.Second), n, serial.Round(time.Second), wall.Seconds()/serial.Seconds(), res, res.Failed)
		b.ReportMetric(wall.Seconds(), "s/rollout")
		b.ReportMetric(float64(res.Failed), "failed-requests")
	}
}

// TestRealRollStopsWhenTasksCannotMove pins a task to the one worker (a
// node label set by hand, which replacements do not carry): rolling the
// workers stops at the drain with a diagnostic naming the host, the step
// and the task, and loses nothing — the old worker and its task stay, the
// replacement stays joined. Once the pin is gone the next apply resumes
// and ends with exactly the wanted hosts.
func TestRealRollStopsWhenTasksCannotMove(t *testing.T) {
	requireRealHosts(t)
	managers := rollManagers
	managers.Managers.Count = 1
	workers := rollWorkers
	workers.Count = 1
	e := startRoll(t, managers, workers)
	ctx := t.Context()
	wv, err := e.g.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := wv.Members[0]
	eng, _, err := e.c.Manager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = eng.Close() }()
	api := swarmClient(t, eng).DockerAPI()
	n, _, err := api.NodeInspectWithRaw(ctx, old.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Labels["pin"] = "yes"
	if err := api.NodeUpdate(ctx, n.ID, n.Version, n.Spec); err != nil {
		t.Fatal(err)
	}
	one := uint64(1)
	svc, err := api.ServiceCreate(ctx, dswarm.ServiceSpec{
		Annotations: dswarm.Annotations{Name: "pinned"},
		TaskTemplate: dswarm.TaskSpec{
			ContainerSpec: &dswarm.ContainerSpec{Image: e.image},
			Placement:     &dswarm.Placement{Constraints: []string{"node.labels.pin == yes"}},
		},
		Mode: dswarm.ServiceMode{Replicated: &dswarm.ReplicatedService{Replicas: &one}},
	}, dswarm.ServiceCreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitTasks(ctx, api, "pinned", old.NodeID, time.Minute); err != nil {
		t.Fatal(err)
	}

	rolled := workers
	rolled.Size = "s-2vcpu-2gb"
	rolled.DrainTimeout = 20 * time.Second
	v, err := e.g.Apply(ctx, rolled)
	if err == nil {
		t.Fatal("a rollout whose drain cannot place a task did not stop")
	}
	t.Logf("the rollout stopped with: %v", err)
	for _, want := range []string{old.Name, "draining the old node", "pinned", "Nothing was removed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q", want)
		}
	}
	if len(v.Members) != 2 || memberIDs(v)[old.HostID] == "" {
		t.Fatalf("after the stopped rollout: %+v", v.Members)
	}
	if err := waitTasks(ctx, api, "pinned", old.NodeID, 30*time.Second); err != nil {
		t.Errorf("the pinned task no longer runs on %s: %v", old.Name, err)
	}

	// Unpinned, the next apply resumes: the old worker goes, the
	// replacement made already stays, nothing else is created.
	err = wait.Until(ctx, wait.Options{What: "the pin to be lifted", Interval: time.Second, Timeout: time.Minute}, func(ctx context.Context) (bool, string, error) {
		eng, _, err := e.c.Manager(ctx)
		if err != nil {
			return false, "", wait.Retry(err)
		}
		defer func() { _ = eng.Close() }()
		api := swarmClient(t, eng).DockerAPI()
		s, _, err := api.ServiceInspectWithRaw(ctx, svc.ID, dswarm.ServiceInspectOptions{})
		if err == nil {
			// Not nil: Debian's dockerd 20.10 (swarmkit's nodeMatches)
			// dereferences the placement of an updated service and panics.
			s.Spec.TaskTemplate.Placement = &dswarm.Placement{}
			_, err = api.ServiceUpdate(ctx, s.ID, s.Version, s.Spec, dswarm.ServiceUpdateOptions{})
		}
		return err == nil, "", wait.Retry(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err = e.g.Apply(ctx, rolled)
	if err != nil {
		t.Fatalf("resuming: %v", err)
	}
	if len(v.Members) != 1 || memberIDs(v)[old.HostID] != "" || v.Members[0].Size != "s-2vcpu-2gb" {
		t.Errorf("after resuming: %+v", v.Members)
	}
	all, err := e.drv.ListHosts(ctx, ClusterTag(e.c.UID()))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Errorf("%d hosts tagged for the cluster, want 2", len(all))
	}
}

// swarmClient is the real engine behind e (the default Dialer's).
func swarmClient(tb testing.TB, e Engine) *swarm.Client {
	tb.Helper()
	c, ok := e.(*swarm.Client)
	if !ok {
		tb.Fatalf("the engine is a %T, not the Docker client", e)
	}
	return c
}

// waitTasks waits until service runs a task on node.
func waitTasks(ctx context.Context, api client.APIClient, service, node string, within time.Duration) error {
	return wait.Until(ctx, wait.Options{What: "a task of " + service + " running on " + node, Interval: 250 * time.Millisecond, Timeout: within},
		func(ctx context.Context) (bool, string, error) {
			tasks, err := api.TaskList(ctx, dswarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", service), filters.Arg("node", node), filters.Arg("desired-state", "running"))})
			if err != nil {
				return false, "", wait.Retry(err)
			}
			n := 0
			for _, t := range tasks {
				if t.Status.State == dswarm.TaskStateRunning {
					n++
				}
			}
			return n > 0, fmt.Sprintf("%d tasks", len(tasks)), nil
		})
}
