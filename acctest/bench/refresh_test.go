package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

// BenchmarkTerraformHosts applies, plans without changes and destroys 50
// and 200 haddock_host through the Terraform CLI against a localcloud of its
// own (memory backend, 3 s boot), with Terraform's default parallelism and
// with -parallelism=50, and prints each phase's wall time and API requests.
// A no-change plan reads every host from one shared list (cloud.Snapshots):
// target ≤ 3 requests besides the catalog for 200 hosts.
//
//	go test -run '^$' -bench BenchmarkTerraformHosts -benchtime 1x ./acctest/bench/
func BenchmarkTerraformHosts(b *testing.B) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		b.Fatal("terraform is not on PATH")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-haddock"), ".")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "dev.tfrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"haddockhq/haddock\" = %q\n  }\n  direct {}\n}\n", bin)), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{50, 200} {
		for _, par := range []int{0, 50} {
			name := fmt.Sprintf("hosts=%d/parallelism=%s", n, map[int]string{0: "default", 50: "50"}[par])
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					benchHosts(b, tf, rc, n, par, 0)
				}
			})
		}
	}
	// A vendor's rate limit far below what the apply wants: localcloud
	// answers 429 beyond 30 requests a minute, and the provider waits as
	// Retry-After says.
	b.Run("hosts=10/rate-limit=30-per-minute", func(b *testing.B) {
		for b.Loop() {
			benchHosts(b, tf, rc, 10, 0, 30)
		}
	})
}

// benchHosts runs apply, a no-change plan and destroy of n hosts with
// -parallelism=par (0: Terraform's default) against a localcloud that
// answers at most rateLimit requests a minute (0: no limit).
func benchHosts(b *testing.B, tf, rc string, n, par, rateLimit int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lc, err := localcloud.Start(ctx, localcloud.Config{Token: "bench-token", BootDelay: 3 * time.Second, RateLimit: rateLimit,
		APIs: []localcloud.API{lcdo.New(lcdo.Config{DropletLimit: 1000})}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = lc.Close() }()
	work := b.TempDir()
	var cfg strings.Builder
	cfg.WriteString("terraform {\n  required_providers {\n    haddock = { source = \"haddockhq/haddock\" }\n  }\n}\n")
	fmt.Fprintf(&cfg, "resource \"haddock_host\" \"h\" {\n  count           = %d\n  cloud           = \"digitalocean\"\n  name            = \"bench-${count.index}\"\n  region          = \"eu-central\"\n  size            = \"small\"\n  image           = \"debian-12\"\n  wait_for_docker = false\n}\n", n)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	run := func(phase string, args ...string) {
		if par > 0 {
			args = append(args, fmt.Sprintf("-parallelism=%d", par))
		}
		lc.Server.ResetRequests()
		cmd := exec.CommandContext(ctx, tf, append([]string{"-chdir=" + work}, args...)...)
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
			"DIGITALOCEAN_API_URL="+lc.URL, "DIGITALOCEAN_TOKEN=bench-token")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		err := cmd.Run()
		d := time.Since(t0)
		if err != nil { // a plan with changes exits 2 (-detailed-exitcode): not a no-change plan
			b.Fatalf("terraform %s: %v\n%s", phase, err, tail(out.String(), 3000))
		}
		reqs := lc.Server.Requests()
		catalog, other := 0, map[string]int{}
		for route, c := range reqs.Requests {
			if strings.HasPrefix(route, "GET /v2/sizes") || strings.HasPrefix(route, "GET /v2/regions") || strings.HasPrefix(route, "GET /v2/images") {
				catalog += c
				continue
			}
			other[route] += c
		}
		limited := ""
		if rateLimit > 0 {
			limited = fmt.Sprintf(", limit %d/min: %d answered 429 so far", rateLimit, lc.Server.Throttled())
		}
		fmt.Printf("%d haddock_host, parallelism %s%s: %-8s %6.1fs  %4d requests (%d catalog, %d other: %s)\n",
			n, map[bool]string{true: "default", false: fmt.Sprint(par)}[par == 0], limited, phase, d.Seconds(), reqs.Total, catalog, reqs.Total-catalog, routes(other))
		b.ReportMetric(float64(reqs.Total-catalog), phase+"-requests")
		b.ReportMetric(d.Seconds(), phase+"-s")
	}
	run("apply", "apply", "-auto-approve", "-input=false")
	run("plan", "plan", "-input=false", "-detailed-exitcode")
	run("destroy", "destroy", "-auto-approve", "-input=false")
}

func routes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
