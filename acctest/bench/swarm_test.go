package bench

import (
	"context"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
)

// BenchmarkSwarm3Managers5Workers times a swarm of 3 managers and 5
// workers on localcloud's real hosts, from the start of the apply until
// every node is Ready, in the order Terraform applies the two resources
// (the node group waits for the cluster). Target: < 60 s on 2 cores.
func BenchmarkSwarm3Managers5Workers(b *testing.B) {
	for b.Loop() {
		rc := acctest.RealHosts(b)
		ctx := context.Background()
		opts := cluster.Options{PollInterval: 200 * time.Millisecond, EnginePollInterval: 200 * time.Millisecond}
		hosts := cluster.HostsSpec{Region: "fra1", Size: "s-1vcpu-2gb", Image: "debian-12-x64"}
		managers, workers := hosts, hosts
		managers.Count, workers.Count = 3, 5

		start := time.Now()
		c, _, err := cluster.Create(ctx, rc.Driver, cluster.ClusterSpec{Name: "bench", Managers: managers}, opts)
		if err != nil {
			b.Fatal(err)
		}
		managersReady := time.Since(start)
		g, err := c.NodeGroup(rc.Driver, "workers")
		if err != nil {
			b.Fatal(err)
		}
		view, err := g.Apply(ctx, cluster.GroupSpec{Name: "workers", HostsSpec: workers})
		if err != nil {
			b.Fatal(err)
		}
		all := time.Since(start)
		b.StopTimer()
		cv, err := c.Observe(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if view.Ready() != 5 || cv.Ready() != 3 {
			b.Fatalf("%d workers and %d managers ready, want 5 and 3", view.Ready(), cv.Ready())
		}
		if err := g.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.Destroy(ctx, cluster.DestroyOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		b.ReportMetric(managersReady.Seconds(), "managers-ready-s")
		b.ReportMetric(all.Seconds(), "all-ready-s")
		b.Logf("3 managers + 5 workers on real hosts: managers Ready after %v, all 8 nodes Ready after %v", managersReady.Round(time.Millisecond), all.Round(time.Millisecond))
	}
}
