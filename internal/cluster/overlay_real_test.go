package cluster

// The overlay network on real hosts: every task of a service on an overlay
// network reaches every other, over the overlay, across what changes the
// hosts under it — a worker destroyed and another created (which takes the
// lowest free address: the one just freed), a rolling replacement of the
// workers, the cluster firewall pushed with each change, a worker cut off
// and let back. A soak (make overlay), apart from make unit: it looks for
// the overlay fault #15 records, which it has not reproduced.

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"
	dswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean/dotest"
	"github.com/haddockhq/terraform-provider-haddock/internal/image"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
)

// overlayOptions is this file's own network (see realOptions for the
// others'), with localcloud's registry so that new hosts pull the probe.
var overlayOptions = localcloudtest.Options{
	Bridge: "hdkov", NetnsPrefix: "hdkov-", StateDir: "/tmp/hdkov", Token: "cluster-overlay-test-token",
	Subnet: netip.MustParsePrefix("10.213.252.0/24"), ReservedPrefix: netip.MustParsePrefix("10.213.253.0/28"),
	Lock: "haddock-cluster-test.lock", Sweep: true, Registry: true,
}

// probeSource serves its node's name on :8080 (TCP, one line, closed);
// "probe check" resolves tasks.probe through the swarm's DNS and connects
// to every address on :8080, one line each: "<addr> ok <node>" or
// "<addr> FAIL <error>".
const probeSource = `package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sort"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		addrs, err := net.LookupHost("tasks.probe")
		if err != nil {
			fmt.Println("lookup FAIL", err)
			os.Exit(1)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(a, "8080"), 2*time.Second)
			if err != nil {
				fmt.Println(a, "FAIL", err)
				continue
			}
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if err != nil {
				fmt.Println(a, "FAIL", err)
				continue
			}
			fmt.Print(a, " ok ", line)
		}
		return
	}
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		panic(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		fmt.Fprintln(c, os.Getenv("NODE_NAME"))
		_ = c.Close()
	}
}
`

// pushProbe builds probeSource into an image and pushes it.
func pushProbe(tb testing.TB, addr string, auth image.PushOption) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module probe\n\ngo 1.22\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(probeSource), 0o644); err != nil {
		tb.Fatal(err)
	}
	bin, err := image.BuildGo(tb.Context(), image.GoBuild{Package: ".", Dir: dir})
	if err != nil {
		tb.Fatalf("building the probe: %v", err)
	}
	img, err := image.FromBinary(bin, image.Options{Path: "/probe", ExposedPorts: []string{"8080/tcp"}})
	if err != nil {
		tb.Fatal(err)
	}
	ref := addr + "/probe:1"
	if _, err := image.Push(tb.Context(), img, ref, true, auth); err != nil {
		tb.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

// overlayCheck is what one round of checks found: per task (its node),
// the addresses it reached and those it did not.
type overlayCheck struct {
	tasks    int
	failures []string // "<from node> -> <addr>: <error>"
	missing  []string // "<from node> resolves n of m tasks"
}

func (c overlayCheck) ok() bool { return len(c.failures) == 0 && len(c.missing) == 0 }

func (c overlayCheck) String() string {
	return fmt.Sprintf("%d tasks; %d unreachable pairs: %s; incomplete DNS: %s", c.tasks, len(c.failures),
		strings.Join(c.failures, "; "), strings.Join(c.missing, "; "))
}

// checkOverlay runs "probe check" in every running probe task of every
// host; want is the number of tasks there should be (one per node).
func checkOverlay(t *testing.T, ctx context.Context, lc *localcloudtest.Real, want int) overlayCheck {
	t.Helper()
	var res overlayCheck
	for _, h := range lc.Backend.Manager().List() {
		c, err := client.NewClientWithOpts(client.WithHost("unix://"+h.DockerSocket), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		cs, err := c.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.name=probe"), filters.Arg("status", "running"))})
		if err != nil {
			res.missing = append(res.missing, fmt.Sprintf("%s: listing containers: %v", h.Hostname, err))
			_ = c.Close()
			continue
		}
		for _, ct := range cs {
			res.tasks++
			out, err := execIn(ctx, c, ct.ID, "/probe", "check")
			if err != nil {
				res.missing = append(res.missing, fmt.Sprintf("%s: exec: %v", h.Hostname, err))
				continue
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			for _, l := range lines {
				if strings.Contains(l, " FAIL ") {
					res.failures = append(res.failures, fmt.Sprintf("%s(%s) -> %s", h.Hostname, h.IPv4, l))
				}
			}
			if len(lines) != want {
				res.missing = append(res.missing, fmt.Sprintf("%s resolves %d of %d tasks: %q", h.Hostname, len(lines), want, out))
			}
		}
		_ = c.Close()
	}
	if res.tasks != want {
		res.missing = append(res.missing, fmt.Sprintf("%d probe tasks running, want %d", res.tasks, want))
	}
	sort.Strings(res.failures)
	return res
}

func execIn(ctx context.Context, c *client.Client, id string, cmd ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ex, err := c.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", err
	}
	att, err := c.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return "", err
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return out.String(), err
	}
	return out.String(), nil
}

// waitOverlay checks the overlay until every task reaches every other
// (the swarm's DNS and the overlay's peers converge within seconds) or
// within has passed, and fails the test then, naming the pairs.
func waitOverlay(t *testing.T, ctx context.Context, lc *localcloudtest.Real, mgr *client.Client, want int, what string, within time.Duration) {
	t.Helper()
	t0 := time.Now()
	var last overlayCheck
	for time.Since(t0) < within {
		first := last.tasks == 0 && last.failures == nil && last.missing == nil
		last = checkOverlay(t, ctx, lc, want)
		if first && !last.ok() {
			t.Logf("%s: first check: %s", what, last)
		}
		if last.ok() {
			t.Logf("%s: all %d tasks reach each other over the overlay (%d pairs) after %s", what, last.tasks, last.tasks*last.tasks, time.Since(t0).Round(100*time.Millisecond))
			return
		}
		time.Sleep(2 * time.Second)
	}
	t.Errorf("%s: after %s the overlay still has unreachable tasks: %s", what, within, last)
	logHosts(t, lc)
	logTasks(t, ctx, mgr)
}

// logTasks logs where the probe's tasks run and their overlay addresses.
func logTasks(t *testing.T, ctx context.Context, mgr *client.Client) {
	t.Helper()
	nodes, err := mgr.NodeList(ctx, dswarm.NodeListOptions{})
	if err != nil {
		t.Logf("listing nodes: %v", err)
		return
	}
	names := map[string]string{}
	for _, n := range nodes {
		names[n.ID] = fmt.Sprintf("%s(%s,%s)", n.Description.Hostname, n.Status.Addr, n.Status.State)
	}
	tasks, err := mgr.TaskList(ctx, dswarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", "probe"))})
	if err != nil {
		t.Logf("listing tasks: %v", err)
		return
	}
	for _, tk := range tasks {
		var addrs []string
		for _, na := range tk.NetworksAttachments {
			addrs = append(addrs, na.Addresses...)
		}
		t.Logf("task %s on %s: %s (desired %s) %v", tk.ID[:10], names[tk.NodeID], tk.Status.State, tk.DesiredState, addrs)
	}
}

func logHosts(t *testing.T, lc *localcloudtest.Real) {
	t.Helper()
	var hs []string
	for _, h := range lc.Backend.Manager().List() {
		hs = append(hs, fmt.Sprintf("%s=%s/%s", h.Hostname, h.IPv4, h.PrivateIPv4))
	}
	t.Logf("hosts: %s", strings.Join(hs, " "))
}

// TestRealOverlayAllPairs: 3 managers and 2 workers behind the cluster
// firewall, a global service on an overlay network (dnsrr, as the demo's
// services), every task checked against every other after each change: a
// worker destroyed and one created (taking its address), twice; the
// workers rolled; the service and its network removed and made again,
// twice; every task replaced three times on a network so small that the
// addresses come back to tasks on other nodes.
func TestRealOverlayAllPairs(t *testing.T) {
	requireRealHosts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Minute)
	defer cancel()
	o := startOverlay(t, ctx, 3, 2)
	lc, env, c, g, workers, mgr, ref := o.lc, o.env, o.c, o.g, o.workers, o.mgr, o.ref
	const settle = 45 * time.Second
	waitOverlay(t, ctx, lc, mgr, 5, "deployed", 2*time.Minute)

	// A worker destroyed and another created: the new host takes the
	// lowest free address, the one just freed.
	for i := range 2 {
		one := workers
		one.Count = 1
		if _, err := g.Apply(ctx, one); err != nil {
			t.Fatalf("shrinking the workers: %v", err)
		}
		env.waitHostCount(t, 4)
		waitOverlay(t, ctx, lc, mgr, 4, fmt.Sprintf("cycle %d: a worker destroyed", i+1), settle)
		if _, err := g.Apply(ctx, workers); err != nil {
			t.Fatalf("growing the workers: %v", err)
		}
		logHosts(t, lc)
		waitOverlay(t, ctx, lc, mgr, 5, fmt.Sprintf("cycle %d: a worker created", i+1), settle)
	}

	// The workers rolled: each replaced by a new host.
	rolled := workers
	rolled.Size = "s-2vcpu-2gb"
	if _, err := g.Apply(ctx, rolled); err != nil {
		t.Fatalf("rolling the workers: %v", err)
	}
	logHosts(t, lc)
	waitOverlay(t, ctx, lc, mgr, 5, "workers rolled", settle)

	// The service and its network removed and made again, as a stack
	// removed and deployed again: the new network takes the same subnet
	// (the pool's first free one) and its tasks the same addresses, on
	// other nodes.
	for i := range 2 {
		if err := mgr.ServiceRemove(ctx, "probe"); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ctx, lc, mgr)
		deployProbe(t, ctx, mgr, ref)
		waitOverlay(t, ctx, lc, mgr, 5, fmt.Sprintf("redeploy %d", i+1), settle)
	}

	// Every task replaced, three times over: on a /28 the network's
	// addresses run out and come back, each to a task on another node.
	if err := mgr.ServiceRemove(ctx, "probe"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, lc, mgr)
	if _, err := mgr.NetworkCreate(ctx, "mesh", dnetwork.CreateOptions{Driver: "overlay",
		IPAM: &dnetwork.IPAM{Config: []dnetwork.IPAMConfig{{Subnet: "10.250.9.0/28"}}}}); err != nil {
		t.Fatal(err)
	}
	createProbe(t, ctx, mgr, ref)
	waitOverlay(t, ctx, lc, mgr, 5, "small network", 2*time.Minute)
	for i := range 3 {
		svc, _, err := mgr.ServiceInspectWithRaw(ctx, "probe", dswarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Spec.TaskTemplate.ForceUpdate++
		if _, err := mgr.ServiceUpdate(ctx, svc.ID, svc.Version, svc.Spec, dswarm.ServiceUpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUpdated(t, ctx, mgr)
		waitOverlay(t, ctx, lc, mgr, 5, fmt.Sprintf("forced update %d on a /28", i+1), settle)
		logTasks(t, ctx, mgr)
	}

	if err := g.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, DestroyOptions{}); err != nil {
		t.Fatal(err)
	}
	env.waitHostsGone(t)
}

// waitHostCount waits until the backend runs n hosts (it destroys them
// after the API answered the deletes).
func (e *realEnv) waitHostCount(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(e.be.Manager().List()) != n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if got := len(e.be.Manager().List()); got != n {
		t.Fatalf("%d hosts, want %d", got, n)
	}
}

func deployProbe(t *testing.T, ctx context.Context, mgr *client.Client, ref string) {
	t.Helper()
	if _, err := mgr.NetworkCreate(ctx, "mesh", dnetwork.CreateOptions{Driver: "overlay"}); err != nil {
		t.Fatal(err)
	}
	createProbe(t, ctx, mgr, ref)
}

// createProbe runs the probe on every node (global), on "mesh", dnsrr.
func createProbe(t *testing.T, ctx context.Context, mgr *client.Client, ref string) {
	t.Helper()
	if _, err := mgr.ServiceCreate(ctx, dswarm.ServiceSpec{
		Annotations: dswarm.Annotations{Name: "probe"},
		TaskTemplate: dswarm.TaskSpec{
			ContainerSpec: &dswarm.ContainerSpec{Image: ref, Env: []string{"NODE_NAME={{.Node.Hostname}}"}},
			Networks:      []dswarm.NetworkAttachmentConfig{{Target: "mesh"}},
		},
		Mode:         dswarm.ServiceMode{Global: &dswarm.GlobalService{}},
		EndpointSpec: &dswarm.EndpointSpec{Mode: dswarm.ResolutionModeDNSRR},
	}, dswarm.ServiceCreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitGone waits until no container of the probe runs on any host, then
// removes the network (retried: the nodes leave it a moment later).
func waitGone(t *testing.T, ctx context.Context, lc *localcloudtest.Real, mgr *client.Client) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		if n := probeContainers(ctx, lc); n == 0 {
			if err = mgr.NetworkRemove(ctx, "mesh"); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the probe's containers or network are still there a minute after the service was removed: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func probeContainers(ctx context.Context, lc *localcloudtest.Real) int {
	n := 0
	for _, h := range lc.Backend.Manager().List() {
		c, err := client.NewClientWithOpts(client.WithHost("unix://"+h.DockerSocket), client.WithAPIVersionNegotiation())
		if err != nil {
			continue
		}
		cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.name=probe"))})
		if err == nil {
			n += len(cs)
		}
		_ = c.Close()
	}
	return n
}

// waitUpdated waits until the probe's update has completed.
func waitUpdated(t *testing.T, ctx context.Context, mgr *client.Client) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	time.Sleep(time.Second)
	for time.Now().Before(deadline) {
		svc, _, err := mgr.ServiceInspectWithRaw(ctx, "probe", dswarm.ServiceInspectOptions{})
		if err == nil && (svc.UpdateStatus == nil || svc.UpdateStatus.State == dswarm.UpdateStateCompleted) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal("the probe's forced update did not complete within 2 minutes")
}

// TestRealOverlayAfterPartition: a worker cut off from the other hosts
// for 4 to 30 s (shorter and longer than the swarm takes to mark it down)
// and let back: every task reaches every other over the overlay again, and
// still does 20 s later. Docker 20.10's gossip may declare the node failed
// after the heal, and the others then drop its tasks from their DNS until
// the next sync (up to 30 s): measured here (make overlay), not a fault of
// Haddock's.
func TestRealOverlayAfterPartition(t *testing.T) {
	requireRealHosts(t)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	o := startOverlay(t, ctx, 1, 2)
	lc, env, c, g, gv, mgr := o.lc, o.env, o.c, o.g, o.gv, o.mgr
	waitOverlay(t, ctx, lc, mgr, 3, "deployed", 2*time.Minute)

	worker := gv.Members[0]
	id, err := strconv.Atoi(worker.HostID)
	if err != nil {
		t.Fatal(err)
	}
	// Shorter than the swarm takes to mark the node down (its tasks
	// stay), long enough for the gossip to declare it failed; then long
	// enough for both.
	for round, cut := range []time.Duration{4 * time.Second, 7 * time.Second, 10 * time.Second, 30 * time.Second} {
		if err := lc.Backend.Partition(ctx, id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(cut)
		if err := lc.Backend.Heal(ctx, id); err != nil {
			t.Fatal(err)
		}
		waitNodeState(t, ctx, mgr, worker.Name, dswarm.NodeStateReady, 2*time.Minute)
		what := fmt.Sprintf("round %d: cut off for %s, healed", round+1, cut)
		waitOverlay(t, ctx, lc, mgr, 3, what, 2*time.Minute)
		logTasks(t, ctx, mgr)
		// The gossip may declare the node failed after the heal, and
		// its peers drop its entries until they sync again (every 30 s):
		// measured, then converged again.
		time.Sleep(20 * time.Second)
		waitOverlay(t, ctx, lc, mgr, 3, what+", 20 s later", 2*time.Minute)
	}

	if err := g.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, DestroyOptions{}); err != nil {
		t.Fatal(err)
	}
	env.waitHostsGone(t)
}

// waitNodeState waits until the swarm reports the node of host name in
// state.
func waitNodeState(t *testing.T, ctx context.Context, mgr *client.Client, name string, state dswarm.NodeState, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		nodes, err := mgr.NodeList(ctx, dswarm.NodeListOptions{})
		if err == nil {
			for _, n := range nodes {
				if n.Description.Hostname == name && n.Status.State == state {
					return
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("node %s not %s within %s", name, state, within)
}

// overlayRun is a cluster on overlayOptions' real hosts with the probe
// deployed: its localcloud, managers, worker group (and its view) and a
// Docker client on the leader.
type overlayRun struct {
	lc      *localcloudtest.Real
	env     *realEnv
	c       *Cluster
	g       *NodeGroup
	workers GroupSpec
	gv      *View
	mgr     *client.Client
	ref     string
}

// startOverlay creates managers and workers behind the cluster firewall
// and deploys the probe on them.
func startOverlay(t *testing.T, ctx context.Context, managers, workers int) overlayRun {
	t.Helper()
	lc := localcloudtest.StartReal(t, overlayOptions)
	o := overlayRun{lc: lc, env: &realEnv{be: lc.Backend, run: lc.Running}}
	drv := dotest.Driver(t, lc.URL, lc.Token, 250*time.Millisecond)
	opts := Options{PollInterval: 250 * time.Millisecond, EnginePollInterval: 250 * time.Millisecond,
		BootTimeout: 3 * time.Minute, JoinTimeout: 3 * time.Minute, DrainTimeout: 3 * time.Minute, LeaveTimeout: 30 * time.Second}
	fw := &FirewallPolicy{DockerAPI: cloud.Anywhere()}
	spec := ClusterSpec{Name: "ov", Managers: HostsSpec{Count: managers, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}, Firewall: fw}
	o.workers = GroupSpec{Name: "work", HostsSpec: HostsSpec{Count: workers, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}, Firewall: fw}
	o.ref = pushProbe(t, lc.RegistryAddr, lc.PushAuth())
	c, cv, err := Create(ctx, drv, spec, opts)
	if err != nil {
		t.Fatalf("creating the managers: %v", err)
	}
	o.c = c
	if o.g, err = c.NodeGroup(drv, o.workers.Name); err != nil {
		t.Fatal(err)
	}
	if o.gv, err = o.g.Apply(ctx, o.workers); err != nil {
		t.Fatalf("creating the workers: %v", err)
	}
	logHosts(t, lc)
	o.mgr = o.env.local(t, leaderOf(t, cv))
	deployProbe(t, ctx, o.mgr, o.ref)
	return o
}
