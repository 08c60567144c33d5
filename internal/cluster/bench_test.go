package cluster

// API request budgets on the in-memory localcloud: the real DigitalOcean
// driver (godo, paging, retries) against localcloud's API, with the swarm
// faked (memory hosts run no Docker). TestRequestBudget enforces the
// budgets; BenchmarkNodeGroup50 prints the figures.

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

const memToken = "cluster-bench-token"

// recordingBackend is localcloud's memory backend that hands each
// droplet's user data to the fake swarm (as cloud-init would configure the
// engine) and tells it when a droplet is destroyed.
type recordingBackend struct {
	*localcloud.MemoryBackend
	boot *bootRegistry
	sw   *fakeSwarm

	mu   sync.Mutex
	tags map[int][]string
}

func (b *recordingBackend) Provision(ctx context.Context, req localcloud.HostRequest) (localcloud.HostAddrs, error) {
	if err := b.boot.register(req.Tags, req.UserData); err != nil {
		return localcloud.HostAddrs{}, err
	}
	b.mu.Lock()
	b.tags[req.ID] = req.Tags
	b.mu.Unlock()
	return b.MemoryBackend.Provision(ctx, req)
}

func (b *recordingBackend) Destroy(ctx context.Context, id int) error {
	b.mu.Lock()
	tags := b.tags[id]
	b.mu.Unlock()
	b.sw.hostDeleted(cloud.Host{Tags: tags})
	return b.MemoryBackend.Destroy(ctx, id)
}

// memCloud is an in-memory localcloud, the DigitalOcean driver on it, and
// a fake swarm.
type memCloud struct {
	run  *localcloud.Running
	drv  *digitalocean.Driver
	sw   *fakeSwarm
	opts Options
}

func newMemCloud(tb testing.TB) *memCloud {
	tb.Helper()
	return newMemCloudBoot(tb, 0)
}

// newMemCloudBoot is newMemCloud whose droplets take bootDelay to become
// active, all in parallel, as on a vendor's cloud.
func newMemCloudBoot(tb testing.TB, bootDelay time.Duration) *memCloud {
	tb.Helper()
	rec := &recorder{}
	boot := &bootRegistry{}
	sw := newFakeSwarm(rec, boot)
	be := &recordingBackend{MemoryBackend: localcloud.NewMemoryBackend(), boot: boot, sw: sw, tags: map[int][]string{}}
	run, err := localcloud.Start(context.Background(), localcloud.Config{Token: memToken, Backend: be, BootDelay: bootDelay,
		APIs: []localcloud.API{lcdo.New(lcdo.Config{DropletLimit: 1000})}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = run.Close() })
	drv, err := digitalocean.New(digitalocean.Config{Token: memToken, APIEndpoint: run.URL, PollInterval: 20 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	return &memCloud{run: run, drv: drv, sw: sw, opts: Options{
		Dial: sw.dial, PollInterval: 20 * time.Millisecond, EnginePollInterval: time.Millisecond,
		BootTimeout: 30 * time.Second, JoinTimeout: 30 * time.Second, LeaveTimeout: 100 * time.Millisecond,
	}}
}

// budget is what one round costs, in API requests.
type budget struct {
	create      localcloud.RequestCounts // 50-worker group create
	refresh     localcloud.RequestCounts // Observe, no change
	applyNoop   localcloud.RequestCounts // Apply, no change
	createTime  time.Duration
	workers     int
	readyAfter  int
	refreshSeen int
}

func lists(rc localcloud.RequestCounts) int { return rc.Requests["GET /v2/droplets"] }

func describe(rc localcloud.RequestCounts) string {
	keys := make([]string, 0, len(rc.Requests))
	for k := range rc.Requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, rc.Requests[k])
	}
	return fmt.Sprintf("%d requests (%s)", rc.Total, strings.Join(parts, ", "))
}

// round creates a node group of n workers, refreshes it, applies it again
// unchanged, and destroys it, counting the API requests of each step.
func (m *memCloud) round(tb testing.TB, c *Cluster, name string, n int) budget {
	tb.Helper()
	ctx := context.Background()
	g, err := c.NodeGroup(m.drv, name)
	if err != nil {
		tb.Fatal(err)
	}
	spec := GroupSpec{Name: name, HostsSpec: HostsSpec{Count: n, Region: "fra1", Size: "s-1vcpu-1gb", Image: "debian-12-x64"}}
	var b budget
	b.workers = n
	srv := m.run.Server
	srv.ResetRequests()
	t0 := time.Now()
	v, err := g.Apply(ctx, spec)
	b.createTime = time.Since(t0)
	b.create = srv.Requests()
	if err != nil {
		tb.Fatal(err)
	}
	b.readyAfter = v.Ready()
	srv.ResetRequests()
	v, err = g.Observe(ctx)
	b.refresh = srv.Requests()
	if err != nil {
		tb.Fatal(err)
	}
	b.refreshSeen = v.Ready()
	srv.ResetRequests()
	if _, err := g.Apply(ctx, spec); err != nil {
		tb.Fatal(err)
	}
	b.applyNoop = srv.Requests()
	if err := g.Destroy(ctx); err != nil {
		tb.Fatal(err)
	}
	return b
}

func (m *memCloud) cluster(tb testing.TB) *Cluster {
	tb.Helper()
	c, _, err := Create(context.Background(), m.drv, ClusterSpec{
		Name: "bench", Managers: HostsSpec{Count: 1, Region: "fra1", Size: "s-2vcpu-4gb", Image: "debian-12-x64"},
	}, m.opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestRequestBudget: a 50-worker group costs at most 3 API requests per
// host to create, and a no-change refresh at most 2 list calls and no GET
// per host.
func TestRequestBudget(t *testing.T) {
	m := newMemCloud(t)
	c := m.cluster(t)
	b := m.round(t, c, "web", 50)
	t.Logf("create 50 workers: %s in %s", describe(b.create), b.createTime.Round(time.Millisecond))
	t.Logf("refresh: %s; no-change apply: %s", describe(b.refresh), describe(b.applyNoop))
	if b.readyAfter != 50 || b.refreshSeen != 50 {
		t.Fatalf("ready after create %d, seen by refresh %d", b.readyAfter, b.refreshSeen)
	}
	if per := float64(b.create.Total) / 50; per > 3 {
		t.Errorf("create: %.2f requests per host, budget 3: %s", per, describe(b.create))
	}
	if b.create.Requests["GET /v2/droplets/{id}"] != 0 {
		t.Errorf("create made GETs per host: %s", describe(b.create))
	}
	for what, rc := range map[string]localcloud.RequestCounts{"refresh": b.refresh, "no-change apply": b.applyNoop} {
		if lists(rc) > 2 || rc.Total != lists(rc) {
			t.Errorf("%s: %s; budget: 2 list calls and nothing else", what, describe(rc))
		}
	}
}

// BenchmarkNodeGroup50 creates, refreshes, re-applies and destroys a
// 50-worker node group per iteration and reports the API requests.
func BenchmarkNodeGroup50(b *testing.B) {
	m := newMemCloud(b)
	c := m.cluster(b)
	var last budget
	i := 0
	for b.Loop() {
		i++
		last = m.round(b, c, fmt.Sprintf("bench%d", i), 50)
	}
	b.ReportMetric(float64(last.create.Total)/float64(last.workers), "create-req/host")
	b.ReportMetric(float64(lists(last.create)), "create-lists")
	b.ReportMetric(float64(lists(last.refresh)), "refresh-lists")
	b.ReportMetric(float64(last.refresh.Total), "refresh-req")
	b.Logf("create 50 workers: %s, %.2f per host, %s", describe(last.create), float64(last.create.Total)/50, last.createTime.Round(time.Millisecond))
	b.Logf("no-change refresh: %s", describe(last.refresh))
	b.Logf("no-change apply: %s", describe(last.applyNoop))
}

// BenchmarkNodeGroupParallelBoot separates the engine from this machine:
// hosts that boot in parallel in a fixed time, as on a vendor's cloud
// (localcloud's memory backend with a boot delay), and joins that each take
// the managers a second (fake engines). It prints a 1-worker and a
// 50-worker node group's apply beside each other: the engine's share of the
// "50 workers in one boot's time" goal, which the real-host
// BenchmarkRealNodeGroup50 cannot show on 2 cores, where 50 dockerd boots
// compete for the CPU. -benchtime 1x; HADDOCK_BENCH_BOOT sets the boot
// (default 45s, a droplet's create to active and Docker's install).
func BenchmarkNodeGroupParallelBoot(b *testing.B) {
	boot := 45 * time.Second
	if v := os.Getenv("HADDOCK_BENCH_BOOT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("HADDOCK_BENCH_BOOT: %v", err)
		}
		boot = d
	}
	m := newMemCloudBoot(b, boot)
	m.sw.mu.Lock()
	m.sw.joinDelay = time.Second
	m.sw.mu.Unlock()
	m.opts.EnginePollInterval = 500 * time.Millisecond
	m.opts.PollInterval = time.Second
	m.opts.BootTimeout, m.opts.JoinTimeout = 10*boot+time.Minute, 5*time.Minute
	c := m.cluster(b)
	for b.Loop() {
		one := m.round(b, c, "one", 1)
		fifty := m.round(b, c, "fifty", 50)
		ratio := fifty.createTime.Seconds() / one.createTime.Seconds()
		b.ReportMetric(one.createTime.Seconds(), "s-1-worker")
		b.ReportMetric(fifty.createTime.Seconds(), "s-50-workers")
		b.ReportMetric(ratio, "ratio")
		b.Logf("boot %s, 1 s per join: 1 worker %s, 50 workers %s (%.2fx), %.2f requests per host",
			boot, one.createTime.Round(100*time.Millisecond), fifty.createTime.Round(100*time.Millisecond), ratio, float64(fifty.create.Total)/50)
	}
}
