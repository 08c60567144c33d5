package cluster

// Scale on real hosts: a 50-worker node group beside a 1-worker one, each
// host a network namespace with its own dockerd. What it costs in wall
// time, API requests and memory per idle host.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean/dotest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// scaleOptions is the benchmark's own network.
var scaleOptions = localcloudtest.Options{
	Bridge: "hdkscale", NetnsPrefix: "hdks-", StateDir: "/tmp/hdkscale", Token: "cluster-scale-bench-token",
	Subnet: netip.MustParsePrefix("10.213.236.0/24"), ReservedPrefix: netip.MustParsePrefix("10.213.237.0/28"),
	Lock: "haddock-cluster-test.lock", Sweep: true,
	APIs: []localcloud.API{lcdo.New(lcdo.Config{DropletLimit: 200})},
}

// BenchmarkRealNodeGroup50 creates a cluster of one manager, then a
// 1-worker node group and a 50-worker one on real hosts, and prints each
// apply's wall time and requests per host, their ratio (the goal: within
// 2x), and the resident memory of each idle host's processes (dockerd,
// containerd), and where each apply's time went (engines answering,
// joins). Its 52 hosts need the kernel's neighbour table limits raised
// (gc_thresh3 16384): the netns manager raises them as it provisions the
// hosts and puts them back on Down. Run it alone (-benchtime 1x -timeout
// 30m): go test -run '^$' -bench BenchmarkRealNodeGroup50 ./internal/cluster/.
func BenchmarkRealNodeGroup50(b *testing.B) {
	localcloudtest.RequireRealHosts(b)
	lc := localcloudtest.StartReal(b, scaleOptions)
	drv := dotest.Driver(b, lc.URL, lc.Token, 500*time.Millisecond)
	jt := &joinTimes{}
	jt.reset()
	opts := Options{PollInterval: 500 * time.Millisecond, EnginePollInterval: 500 * time.Millisecond,
		BootTimeout: 10 * time.Minute, JoinTimeout: 10 * time.Minute, LeaveTimeout: 30 * time.Second,
		Dial: jt.dial}
	ctx := context.Background()
	for b.Loop() {
		c, _, err := Create(ctx, drv, ClusterSpec{Name: "scale", Managers: HostsSpec{Count: 1, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}}, opts)
		if err != nil {
			b.Fatal(err)
		}
		apply := func(name string, n int) (time.Duration, localcloud.RequestCounts, *NodeGroup) {
			g, err := c.NodeGroup(drv, name)
			if err != nil {
				b.Fatal(err)
			}
			lc.Running.Server.ResetRequests()
			jt.reset()
			t0 := time.Now()
			v, err := g.Apply(ctx, GroupSpec{Name: name, HostsSpec: HostsSpec{Count: n, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}})
			took := time.Since(t0)
			b.Logf("%d-worker group, where the time went: %s", n, jt.summary(t0, took))
			if err != nil {
				b.Fatalf("node group of %d: %v", n, err)
			}
			if v.Ready() != n {
				b.Fatalf("node group of %d: %d ready", n, v.Ready())
			}
			return took, lc.Running.Server.Requests(), g
		}
		t1, r1, g1 := apply("one", 1)
		t50, r50, g50 := apply("fifty", 50)
		b.ReportMetric(t1.Seconds(), "s-1-worker")
		b.ReportMetric(t50.Seconds(), "s-50-workers")
		b.ReportMetric(t50.Seconds()/t1.Seconds(), "ratio")
		b.ReportMetric(float64(r50.Total)/50, "req/host")
		b.Logf("1 worker: %s, %s", t1.Round(100*time.Millisecond), describe(r1))
		b.Logf("50 workers: %s (%.2fx the 1-worker group), %.2f requests per host: %s", t50.Round(100*time.Millisecond), t50.Seconds()/t1.Seconds(), float64(r50.Total)/50, describe(r50))

		// Idle: nothing deployed, the swarm settled.
		time.Sleep(10 * time.Second)
		rss, n := hostsRSS(b, lc.Backend)
		var total, most int64
		for _, kb := range rss {
			total += kb
			most = max(most, kb)
		}
		b.ReportMetric(float64(total)/float64(n)/1024, "MiB-RSS/idle-host")
		b.Logf("idle hosts: %d, resident memory per host: mean %.1f MiB, max %.1f MiB (dockerd, containerd and their children, summed)",
			n, float64(total)/float64(n)/1024, float64(most)/1024)

		for _, g := range []*NodeGroup{g50, g1} {
			if err := g.Destroy(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.Destroy(ctx, DestroyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// hostsRSS sums VmRSS (KiB) of the processes in each host's network
// namespace.
func hostsRSS(tb testing.TB, be *netnsbackend.Backend) (map[string]int64, int) {
	tb.Helper()
	ns := map[string]string{} // "net:[inode]" → host id
	for _, h := range be.Manager().List() {
		link, err := os.Readlink(h.NetnsPath)
		if err != nil {
			// A bind-mounted namespace file: its inode names it.
			var st os.FileInfo
			if st, err = os.Stat(h.NetnsPath); err != nil {
				tb.Fatal(err)
			}
			link = fmt.Sprintf("net:[%d]", inode(st))
		}
		ns[link] = h.ID
	}
	out := map[string]int64{}
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		link, err := os.Readlink(p)
		if err != nil {
			continue
		}
		id, ok := ns[link]
		if !ok {
			continue
		}
		status, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(p)), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				out[id] += kb
			}
		}
	}
	return out, len(ns)
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// joinTimes records, per engine, when it first answered (WaitReady), when
// its first join began and its last ended, and how many join calls it
// took: where an apply's time goes.
type joinTimes struct {
	mu                     sync.Mutex
	ready, joinStart, done map[string]time.Time
	calls, failed          map[string]int
	inFlight, peak         int
}

func (j *joinTimes) reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ready, j.joinStart, j.done = map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	j.calls, j.failed = map[string]int{}, map[string]int{}
	j.inFlight, j.peak = 0, 0
}

func (j *joinTimes) dial(ctx context.Context, ep swarm.Endpoint) (Engine, error) {
	e, err := DialEngine(ctx, ep)
	if err != nil {
		return nil, err
	}
	return &timedEngine{Engine: e, id: ep.Identity, j: j}, nil
}

type timedEngine struct {
	Engine
	id string
	j  *joinTimes
}

func (e *timedEngine) WaitReady(ctx context.Context, interval time.Duration) error {
	err := e.Engine.WaitReady(ctx, interval)
	if err == nil {
		e.j.mu.Lock()
		if _, ok := e.j.ready[e.id]; !ok && e.j.ready != nil {
			e.j.ready[e.id] = time.Now()
		}
		e.j.mu.Unlock()
	}
	return err
}

func (e *timedEngine) Join(ctx context.Context, opts swarm.JoinOptions) error {
	j := e.j
	j.mu.Lock()
	if _, ok := j.joinStart[e.id]; !ok {
		j.joinStart[e.id] = time.Now()
	}
	j.inFlight++
	j.peak = max(j.peak, j.inFlight)
	j.mu.Unlock()
	err := e.Engine.Join(ctx, opts)
	j.mu.Lock()
	j.inFlight--
	j.calls[e.id]++
	if err != nil {
		j.failed[e.id]++
	}
	j.done[e.id] = time.Now()
	j.mu.Unlock()
	return err
}

// Info passes the engine's own swarm state through (the engine checks it
// after a join failed).
func (e *timedEngine) Info(ctx context.Context) (*swarm.Info, error) {
	if li, ok := e.Engine.(localSwarmState); ok {
		return li.Info(ctx)
	}
	return nil, errors.New("the engine does not report its swarm state")
}

// summary says, relative to t0, when the joined engines answered, when
// their joins ran and how long they took, and how many calls failed.
func (j *joinTimes) summary(t0 time.Time, took time.Duration) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var ready, queued, join []time.Duration
	var lastDone time.Duration
	calls, failed, retried := 0, 0, 0
	for id, start := range j.joinStart {
		if r, ok := j.ready[id]; ok {
			ready = append(ready, r.Sub(t0))
			queued = append(queued, start.Sub(r))
		}
		join = append(join, j.done[id].Sub(start))
		lastDone = max(lastDone, j.done[id].Sub(t0))
		calls += j.calls[id]
		failed += j.failed[id]
		if j.calls[id] > 1 {
			retried++
		}
	}
	if len(join) == 0 {
		return "no joins"
	}
	q := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "-"
		}
		slices.Sort(ds)
		r := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
		return fmt.Sprintf("first %s, median %s, last %s", r(ds[0]), r(ds[len(ds)/2]), r(ds[len(ds)-1]))
	}
	return fmt.Sprintf("engines answered after: %s; waited for a place among the joins: %s; each join (first call to last return): %s; "+
		"last join done at %s, nodes ready and the apply done at %s; %d hosts joined with %d join calls (%d failed, %d hosts retried), at most %d joins at once",
		q(ready), q(queued), q(join), lastDone.Round(100*time.Millisecond), took.Round(100*time.Millisecond), len(join), calls, failed, retried, j.peak)
}
