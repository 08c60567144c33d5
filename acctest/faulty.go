package acctest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

// FaultyCloud is a localcloud of the test's own (hosts in memory) whose API
// meets random faults (localcloud.Config.FaultRate), every exchange still
// contract-checked.
type FaultyCloud struct {
	URL            string
	ProviderConfig string
	Server         *localcloud.Server
	run            *localcloud.Running
}

// FaultyLocalCloud starts a FaultyCloud for t with rate and seed; it stops
// when t ends.
func FaultyLocalCloud(t testing.TB, rate float64, seed uint64) *FaultyCloud {
	t.Helper()
	PreCheck(t)
	run, err := localcloud.Start(context.Background(), localcloud.Config{
		Token: Token, BootDelay: BootDelay, Middleware: suite.validator.Middleware,
		APIs:      []localcloud.API{lcdo.New(lcdo.Config{})},
		FaultRate: rate, FaultSeed: seed,
	})
	if err != nil {
		t.Fatalf("acctest: starting a faulty localcloud: %v", err)
	}
	t.Cleanup(func() { _ = run.Close() })
	return &FaultyCloud{URL: run.URL, Server: run.Server, run: run, ProviderConfig: fmt.Sprintf(`
provider "haddock" {
  digitalocean {
    api_endpoint        = %q
    token               = %q
    poll_interval       = 0.1
    http_retry_max      = 8
    http_retry_wait_min = 0.05
    http_retry_wait_max = 1.5
  }
}
`, run.URL, Token)}
}

// Leftovers lists, with faults off, the droplets and reserved IPs the cloud
// still holds: after a destroy, orphans.
func (fc *FaultyCloud) Leftovers(t testing.TB) (hosts []cloud.Host, ips []cloud.FloatingIP) {
	t.Helper()
	stats := fc.Server.RandomFaultStats()
	if err := fc.Server.SetRandomFaults(0, stats.Seed); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fc.Server.SetRandomFaults(stats.Rate, stats.Seed) }()
	d, err := digitalocean.New(digitalocean.Config{Token: Token, APIEndpoint: fc.URL, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if hosts, err = d.ListHosts(ctx, cloud.ManagedTag); err != nil {
		t.Fatal(err)
	}
	if ips, err = d.ListFloatingIPs(ctx); err != nil {
		t.Fatal(err)
	}
	return hosts, ips
}
