// Package bench holds benchmarks that print figures for whole paths
// (localcloud's API, the drivers, real hosts), not timed tests.
//
//	go test -run '^$' -bench . -benchtime 1x ./acctest/bench/
package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

func TestMain(m *testing.M) { acctest.Main(m) }

// BenchmarkRealHostsTen creates ten hosts at once on localcloud's real
// backend through the DigitalOcean driver, the way haddock_host does (TLS
// material and cloud-init per host, one batch create, one shared list call
// per poll), and times each host until its Docker Engine answers over
// mutual TLS. Then it measures the memory of the idle hosts.
// Targets: median host ready < 5 s, ten hosts < 15 s, < 150 MB per idle host.
func BenchmarkRealHostsTen(b *testing.B) {
	const n = 10
	for b.Loop() {
		rc := acctest.RealHosts(b)
		ctx := context.Background()
		ca, err := pki.NewCA("bench", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		client, err := ca.IssueClient("bench", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		specs := make([]cloud.HostSpec, n)
		ids := make([]string, n)
		for i := range n {
			ids[i] = pki.HostIdentity(fmt.Sprintf("bench%d", i))
			server, err := ca.IssueServer(ids[i], nil, nil, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			ud, err := cloudinit.Render(cloudinit.Params{Hostname: fmt.Sprintf("bench-%d", i), CACertPEM: ca.CertPEM(), ServerCertPEM: server.CertPEM, ServerKeyPEM: server.KeyPEM})
			if err != nil {
				b.Fatal(err)
			}
			specs[i] = cloud.HostSpec{Name: fmt.Sprintf("bench-%d", i), Region: "fra1", Size: "s-1vcpu-2gb", Image: "debian-12-x64", UserData: ud}
		}
		watcher := cloud.NewHostWatcher(rc.Driver, cloud.ManagedTag, 100*time.Millisecond)

		start := time.Now()
		hosts := make([]cloud.Host, 0, n)
		for _, s := range specs { // each host differs in its user data: one create per host, as haddock_host does
			h, err := rc.Driver.CreateHosts(ctx, []cloud.HostSpec{s})
			if err != nil {
				b.Fatal(err)
			}
			hosts = append(hosts, h...)
		}
		ready := make([]time.Duration, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, h := range hosts {
			wg.Go(func() {
				got, err := watcher.WaitActive(ctx, h.ID)
				if err != nil {
					errs[i] = err
					return
				}
				c, err := swarm.Connect(ctx, swarm.Endpoint{Host: "tcp://" + got.PublicIPv4 + ":2376", CACertPEM: ca.CertPEM(), CertPEM: client.CertPEM, KeyPEM: client.KeyPEM, Identity: ids[i]})
				if err != nil {
					errs[i] = err
					return
				}
				defer func() { _ = c.Close() }()
				errs[i] = c.WaitReady(ctx, 50*time.Millisecond)
				ready[i] = time.Since(start)
			})
		}
		wg.Wait()
		wall := time.Since(start)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		time.Sleep(5 * time.Second) // let the daemons settle into idle
		rss := idleMemoryMB(rc.StateDir())
		for _, h := range hosts {
			_ = rc.Driver.DeleteHost(ctx, h.ID)
		}
		b.StartTimer()
		slices.Sort(ready)
		median := (ready[n/2-1] + ready[n/2]) / 2
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(median.Seconds(), "median-ready-s")
		b.ReportMetric(ready[n-1].Seconds(), "max-ready-s")
		b.ReportMetric(rss/n, "rss-MB/host")
		b.Logf("ten hosts via the API, ready = Docker answering over mTLS: wall %v, median %v, max %v; idle memory %.0f MB per host (RSS of each host's dockerd, containerd and shims)",
			wall.Round(time.Millisecond), median.Round(time.Millisecond), ready[n-1].Round(time.Millisecond), rss/n)
	}
}

// idleMemoryMB sums the RSS of every process whose command line names the
// real cloud's state directory (each host's dockerd and its containerd).
func idleMemoryMB(stateDir string) float64 {
	total := 0.0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(cmd), stateDir) {
			continue
		}
		f, err := os.Open(filepath.Join(filepath.Dir(p), "status"))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				total += kb / 1024
			}
		}
		_ = f.Close()
	}
	return total
}
