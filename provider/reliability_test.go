package provider_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

// Under 10 % injected API faults (5xx, 429, slow answers, dropped
// connections, creates done then answered 500), hosts and a floating IP are
// created, changed, scaled in and destroyed: every apply converges on its
// own and the cloud holds nothing afterwards. HADDOCK_FAULT_RATE and
// HADDOCK_FAULT_SEED change the rate and the seed (make soak runs many
// seeds); the figures are printed.
func TestAccReliability_faults(t *testing.T) {
	rate, seed := 0.1, uint64(1)
	if v, err := strconv.ParseFloat(os.Getenv("HADDOCK_FAULT_RATE"), 64); err == nil {
		rate = v
	}
	if v, err := strconv.ParseUint(os.Getenv("HADDOCK_FAULT_SEED"), 10, 64); err == nil {
		seed = v
	}
	fc := acctest.FaultyLocalCloud(t, rate, seed)
	config := func(n int, size, holder string) string {
		return fc.ProviderConfig + fmt.Sprintf(`
resource "haddock_host" "web" {
  count           = %[1]d
  cloud           = "digitalocean"
  name            = "rel-${count.index}"
  region          = "eu-central"
  size            = %[2]q
  image           = "debian-12"
  wait_for_docker = false
}

resource "haddock_floating_ip" "front" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = haddock_host.web[%[3]s].id
}
`, n, size, holder)
	}
	applies := 0
	step := func(cfg string) resource.TestStep {
		return resource.TestStep{Config: cfg, PreConfig: func() { applies++ }}
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			step(config(3, "small", "0")),
			step(config(3, "small", "1")),  // the IP moves
			step(config(3, "medium", "1")), // resized in place
			step(config(1, "medium", "0")), // scale in
		},
		CheckDestroy: func(*terraform.State) error {
			hosts, ips := fc.Leftovers(t)
			stats := fc.Server.RandomFaultStats()
			reqs := fc.Server.Requests()
			msg := fmt.Sprintf("reliability: fault rate %.0f%%, seed %d: %d applies and a destroy converged; %d requests, %d faults injected %v; orphans: %d hosts, %d floating IPs",
				rate*100, seed, applies, reqs.Total, stats.Total, stats.Injected, len(hosts), len(ips))
			t.Log(msg)
			fmt.Println(msg)
			if len(hosts)+len(ips) > 0 {
				return fmt.Errorf("orphans after destroy: hosts %v, floating IPs %v", hosts, ips)
			}
			if stats.Total == 0 {
				return fmt.Errorf("no fault was injected: the test did not test faults")
			}
			return nil
		},
	})
}
