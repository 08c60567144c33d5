package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

const fipAddr = "haddock_floating_ip.test"

func TestAccFloatingIP_basic(t *testing.T) {
	name := acctest.RandomName()
	sameIP := statecheck.CompareValue(compare.ValuesSame())
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             testAccCheckFloatingIPDestroy,
		Steps: []resource.TestStep{
			{
				Config: testAccFloatingIPConfig(name, "haddock_host.a.id"),
				ConfigStateChecks: []statecheck.StateCheck{
					sameIP.AddStateValue(fipAddr, tfjsonpath.New("ip_address")),
					statecheck.ExpectKnownValue(fipAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^digitalocean/\d+\.\d+\.\d+\.\d+$`))),
					statecheck.ExpectKnownValue(fipAddr, tfjsonpath.New("vendor_region"), knownvalue.StringExact("fra1")),
					statecheck.CompareValuePairs(fipAddr, tfjsonpath.New("host_id"), "haddock_host.a", tfjsonpath.New("id"), compare.ValuesSame()),
				},
				Check: testAccCheckFloatingIPOn(fipAddr, "haddock_host.a"),
			},
			{
				ResourceName:      fipAddr,
				ImportState:       true,
				ImportStateVerify: true,
				// Import reads the vendor's region, not the portable spelling.
				ImportStateVerifyIgnore: []string{"region", "timeouts"},
			},
			{
				// Moving the address is an in-place update: same address.
				Config: testAccFloatingIPConfig(name, "haddock_host.b.id"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(fipAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{sameIP.AddStateValue(fipAddr, tfjsonpath.New("ip_address"))},
				Check:             testAccCheckFloatingIPOn(fipAddr, "haddock_host.b"),
			},
			{
				// Unassigning keeps the address reserved.
				Config:            testAccFloatingIPConfig(name, "null"),
				ConfigStateChecks: []statecheck.StateCheck{sameIP.AddStateValue(fipAddr, tfjsonpath.New("ip_address"))},
				Check:             testAccCheckFloatingIPOn(fipAddr, ""),
			},
		},
	})
}

func TestAccFloatingIP_badInput(t *testing.T) {
	tests := []struct {
		name, config string
		err          []string
	}{
		{name: "host on another cloud", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = "aws/i-0123456789abcdef0"
}`, err: []string{"Host on another cloud", `host_id "aws/i-0123456789abcdef0" is a aws host, but this floating IP is on digitalocean`}},
		{name: "malformed host id", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = "3164444"
}`, err: []string{"Invalid Attribute Value Match", "host_id", "must be a haddock_host id such as digitalocean/3164444"}},
		{name: "unknown region", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud  = "digitalocean"
  region = "atlantis"
}`, err: []string{"Invalid region", `unknown region "atlantis" for digitalocean`}},
		{name: "host and cluster", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud               = "digitalocean"
  region              = "eu-central"
  host_id             = "digitalocean/3164444"
  cluster_id          = "abc"
  cluster_credentials = "{}"
}`, err: []string{"Conflicting floating IP holders", `with haddock_floating_ip.test`, `cluster_id = "abc"`, "host_id and cluster_id cannot both be set"}},
		{name: "cluster without credentials", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud      = "digitalocean"
  region     = "eu-central"
  cluster_id = "abc"
}`, err: []string{"Missing cluster credentials", `with haddock_floating_ip.test`, "cluster_id needs cluster_credentials"}},
		{name: "credentials without cluster or host", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud               = "digitalocean"
  region              = "eu-central"
  cluster_credentials = "{}"
}`, err: []string{"Missing cluster id", `with haddock_floating_ip.test`, "cluster_credentials goes with cluster_id"}},
		{name: "credentials of nothing", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud               = "digitalocean"
  region              = "eu-central"
  cluster_id          = "abc"
  cluster_credentials = "{}"
}`, err: []string{"Invalid cluster credentials", "pass haddock_swarm_cluster.<name>.credentials", "as it is"}},
		{name: "bad heartbeat", config: acctest.ProviderConfig() + `
resource "haddock_swarm_cluster" "test" {
  name             = "bad"
  heartbeat_period = "100ms"
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}`, err: []string{"Invalid heartbeat period", `heartbeat_period = "100ms"`, `"100ms" must be a duration between 1s and 1m0s`}},
		{name: "agent poll interval too short", config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud               = "digitalocean"
  region              = "eu-central"
  cluster_id          = "abc"
  cluster_credentials = "{}"
  agent_poll_interval = "10ms"
}`, err: []string{"Invalid duration", `agent_poll_interval = "10ms"`, `"10ms" must be a duration between 100ms and 1m0s`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      tt.config,
					PlanOnly:    true,
					ExpectError: acctest.ErrorMatching(tt.err...),
				}},
			})
		})
	}
}

func TestAccFloatingIP_disappears(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             testAccCheckFloatingIPDestroy,
		Steps: []resource.TestStep{{
			Config: acctest.ProviderConfig() + `
resource "haddock_floating_ip" "test" {
  cloud  = "digitalocean"
  region = "nyc3"
}`,
			Check: func(s *terraform.State) error {
				return acctest.DigitalOceanVendor().FloatingIPs().DeleteFloatingIP(context.Background(), s.RootModule().Resources[fipAddr].Primary.Attributes["vendor_id"])
			},
			ExpectNonEmptyPlan: true,
		}},
	})
}

func testAccFloatingIPConfig(name, hostRef string) string {
	return acctest.ProviderConfig() + fmt.Sprintf(`
resource "haddock_host" "a" {
  cloud           = "digitalocean"
  name            = "%[1]s-a"
  region          = "eu-central"
  size            = "small"
  image           = "debian-12"
  wait_for_docker = false
}

resource "haddock_host" "b" {
  cloud           = "digitalocean"
  name            = "%[1]s-b"
  region          = "eu-central"
  size            = "small"
  image           = "debian-12"
  wait_for_docker = false
}

resource "haddock_floating_ip" "test" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = %[2]s
}
`, name, hostRef)
}

// testAccCheckFloatingIPOn asks the vendor where the address is.
func testAccCheckFloatingIPOn(fip, host string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		f, err := acctest.DigitalOceanVendor().FloatingIPs().GetFloatingIP(context.Background(), s.RootModule().Resources[fip].Primary.Attributes["vendor_id"])
		if err != nil {
			return err
		}
		want := ""
		if host != "" {
			want = s.RootModule().Resources[host].Primary.Attributes["vendor_id"]
		}
		if f.HostID != want {
			return fmt.Errorf("floating IP %s is on host %q, want %q", f.Address, f.HostID, want)
		}
		return nil
	}
}

func testAccCheckFloatingIPDestroy(s *terraform.State) error {
	f := acctest.DigitalOceanVendor().FloatingIPs()
	for _, rs := range s.RootModule().Resources {
		if rs.Type != "haddock_floating_ip" {
			continue
		}
		_, err := f.GetFloatingIP(context.Background(), rs.Primary.Attributes["vendor_id"])
		if cloud.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("floating IP %s still exists", rs.Primary.ID)
	}
	return testAccCheckHostDestroy(s)
}
