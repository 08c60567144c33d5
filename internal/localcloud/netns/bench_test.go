package netns

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkProvisionTen provisions ten hosts concurrently and reports the
// wall time, the median and maximum time until a host's dockerd answered,
// and the memory of an idle host (its dockerd and containerd), as RSS and
// as PSS (which counts shared pages once). Run it once:
//
//	go test -run '^$' -bench ProvisionTen -benchtime 1x ./internal/localcloud/netns/
func BenchmarkProvisionTen(b *testing.B) {
	requireRealHosts(b)
	const n = 10
	for b.Loop() {
		cfg := testConfig(b, 3)
		if e := os.Getenv("BENCH_DOCKERD_ENV"); e != "" {
			cfg.DockerdEnv = strings.Fields(e)
		}
		m, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		ready := make([]time.Duration, n)
		errs := make([]error, n)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				t0 := time.Now()
				_, errs[i] = m.Provision(ctx, HostSpec{ID: fmt.Sprintf("h%d", i)})
				ready[i] = time.Since(t0)
			})
		}
		wg.Wait()
		wall := time.Since(start)
		for _, err := range errs {
			if err != nil {
				_ = m.Down(ctx)
				b.Fatal(err)
			}
		}
		b.StopTimer()
		time.Sleep(5 * time.Second) // let the daemons settle into idle
		var rss, pss []float64
		for i, h := range m.List() {
			hs, _ := m.lookup(h.ID)
			var r, p float64
			for _, pid := range m.hostProcesses(hs) {
				pr, pp := procMemory(pid)
				r += pr
				p += pp
				if i == 0 {
					comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
					b.Logf("host %s: %s RSS %.1f MB PSS %.1f MB", h.ID, strings.TrimSpace(string(comm)), pr, pp)
				}
			}
			rss = append(rss, r)
			pss = append(pss, p)
		}
		if err := m.Down(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		slices.Sort(ready)
		median := (ready[n/2-1] + ready[n/2]) / 2
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(median.Seconds(), "median-ready-s")
		b.ReportMetric(ready[n-1].Seconds(), "max-ready-s")
		b.ReportMetric(mean(rss), "rss-MB/host")
		b.ReportMetric(mean(pss), "pss-MB/host")
		b.Logf("ten hosts: wall %v, ready median %v max %v; idle host (dockerd+containerd): RSS mean %.1f MB max %.1f MB, PSS mean %.1f MB; storage driver %s",
			wall.Round(time.Millisecond), median.Round(time.Millisecond), ready[n-1].Round(time.Millisecond),
			mean(rss), slices.Max(rss), mean(pss), m.StorageDriver())
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// procMemory returns a process's RSS and PSS in MB.
func procMemory(pid int) (rss, pss float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			rss = kb / 1024
		case "Pss:":
			pss = kb / 1024
		}
	}
	return rss, pss
}
