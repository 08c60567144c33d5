package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
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

const hostAddr = "haddock_host.test"

func TestAccHost_basic(t *testing.T) {
	name := acctest.RandomName()
	sameID := statecheck.CompareValue(compare.ValuesSame())
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             testAccCheckHostDestroy,
		Steps: []resource.TestStep{
			{
				Config: testAccHostConfig_basic(name, "eu-central", "small", `["web"]`),
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(hostAddr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^digitalocean/\d+$`))),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_region"), knownvalue.StringExact("fra1")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_size"), knownvalue.StringExact("s-1vcpu-2gb")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_image"), knownvalue.StringExact("debian-12-x64")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("ipv4_address"), knownvalue.StringRegexp(regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`))),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("tags"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("web")})),
				},
			},
			{
				// Import gives the vendor's values for region, size and image
				// (the configuration's portable spelling cannot be known), no
				// TLS key material (it cannot be read back from a host), and
				// the default for wait_for_docker, a create-time setting.
				ResourceName:            hostAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"region", "size", "image", "timeouts", "docker", "wait_for_docker"},
			},
			{
				// Name and tags change in place: same id.
				Config: testAccHostConfig_basic(name+"-renamed", "eu-central", "small", `["web", "env:test"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(hostAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(hostAddr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("name"), knownvalue.StringExact(name+"-renamed")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("tags"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("web"), knownvalue.StringExact("env:test")})),
				},
			},
			{
				// The vendor's own spelling of the same region and size is an
				// in-place change of the configuration, not a new host.
				Config: testAccHostConfig_basic(name+"-renamed", "fra1", "s-1vcpu-2gb", `["web", "env:test"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(hostAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue(hostAddr, tfjsonpath.New("id"))},
			},
			{
				Config: testAccHostConfig_basic(name+"-renamed", "fra1", "s-1vcpu-2gb", `["web", "env:test"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// A real size change resizes the host in place through the
				// vendor (power off, resize, power on): the same droplet.
				Config: testAccHostConfig_basic(name+"-renamed", "fra1", "medium", `["web", "env:test"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(hostAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_size"), knownvalue.StringExact("s-2vcpu-4gb")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("status"), knownvalue.StringExact("active")),
					sameID.AddStateValue(hostAddr, tfjsonpath.New("id")),
				},
			},
			{
				// A region change still replaces it.
				Config: testAccHostConfig_basic(name+"-renamed", "ams3", "medium", `["web", "env:test"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(hostAddr, plancheck.ResourceActionDestroyBeforeCreate)},
				},
			},
		},
	})
}

func TestAccHost_disappears(t *testing.T) {
	name := acctest.RandomName()
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             testAccCheckHostDestroy,
		Steps: []resource.TestStep{
			{
				Config: testAccHostConfig_basic(name, "us-east", "small", "null"),
				Check:  testAccDeleteHostOutOfBand(hostAddr),
				// The refresh after apply finds the host gone and plans it anew.
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(hostAddr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

// A size given as resources picks the cheapest size offered in the region.
func TestAccHost_sizeByResources(t *testing.T) {
	name := acctest.RandomName()
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             testAccCheckHostDestroy,
		Steps: []resource.TestStep{
			{
				Config: acctest.ProviderConfig() + fmt.Sprintf(`
resource "haddock_host" "test" {
  cloud     = "digitalocean"
  name      = %[1]q
  region    = "nyc3"
  vcpus     = 2
  memory_gb = 4
  image     = "ubuntu-24.04"

  wait_for_docker = false
}
`, name),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_size"), knownvalue.StringExact("s-2vcpu-4gb")),
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_image"), knownvalue.StringExact("ubuntu-24-04-x64")),
				},
			},
		},
	})
}

// Bad input is refused at plan time, on the attribute, with the choices.
func TestAccHost_badInput(t *testing.T) {
	host := func(attrs string) string {
		if !strings.Contains(attrs, "name =") {
			attrs = `name = "tf-acc-test-bad"` + "\n" + attrs
		}
		return acctest.ProviderConfig() + fmt.Sprintf(`
resource "haddock_host" "test" {
  cloud = "digitalocean"
%s
}
`, attrs)
	}
	tests := []struct {
		name   string
		config string
		err    []string
	}{
		{name: "unknown size", config: host(`region = "eu-central"` + "\n" + `size = "gigantic"` + "\n" + `image = "debian-12"`),
			err: []string{"Invalid size", "with haddock_host.test", `size = "gigantic"`, `unknown size "gigantic" for digitalocean; valid sizes: small, medium, large, xlarge, or a digitalocean size such as`}},
		{name: "unknown region", config: host(`region = "moon-1"` + "\n" + `size = "small"` + "\n" + `image = "debian-12"`),
			err: []string{"Invalid region", `region = "moon-1"`, "valid regions: us-east, us-west, eu-west, eu-central, ap-southeast, ams3"}},
		{name: "unknown image", config: host(`region = "eu-central"` + "\n" + `size = "small"` + "\n" + `image = "windows-2022"`),
			err: []string{"Invalid image", `image = "windows-2022"`, "valid images: debian-12, ubuntu-24.04, debian-12-x64"}},
		{name: "size not offered in region", config: host(`region = "sgp1"` + "\n" + `size = "g-2vcpu-8gb"` + "\n" + `image = "debian-12"`),
			err: []string{"Invalid size", `size = "g-2vcpu-8gb"`, `is not offered in region "sgp1"; regions offering it:`}},
		{name: "unavailable region", config: host(`region = "nyc1"` + "\n" + `size = "small"` + "\n" + `image = "debian-12"`),
			err: []string{"Invalid region", `region "nyc1" is not available on digitalocean at the moment; choose another:`}},
		{name: "no size matches resources", config: host(`region = "nyc3"` + "\n" + `vcpus = 400` + "\n" + `image = "debian-12"`),
			err: []string{"Invalid size", "vcpus = 400", "no digitalocean size has at least 400 vCPUs"}},
		{name: "size and vcpus", config: host(`region = "nyc3"` + "\n" + `size = "small"` + "\n" + `vcpus = 2` + "\n" + `image = "debian-12"`),
			err: []string{"Invalid Attribute Combination", `These attributes cannot be configured together: [size,vcpus]`}},
		{name: "no size at all", config: host(`region = "nyc3"` + "\n" + `image = "debian-12"`),
			err: []string{"Missing Attribute Configuration", "At least one of these attributes must be configured: [size,vcpus,memory_gb]"}},
		{name: "bad cloud", config: acctest.ProviderConfig() + `
resource "haddock_host" "test" {
  cloud  = "linode"
  name   = "x"
  region = "us-east"
  size   = "small"
  image  = "debian-12"
}`, err: []string{"Invalid Attribute Value Match", `cloud = "linode"`, `value must be one of: ["digitalocean" "aws"]`}},
		{name: "bad name", config: host(`region = "nyc3"` + "\n" + `size = "small"` + "\n" + `image = "debian-12"` + "\n" + `name = "bad name!"`),
			err: []string{"Invalid Attribute Value Match", `name = "bad name!"`, "must be a valid host name"}},
		{name: "bad tag", config: host(`region = "nyc3"` + "\n" + `size = "small"` + "\n" + `image = "debian-12"` + "\n" + `tags = ["has space"]`),
			err: []string{"Invalid Attribute Value Match", "tags", "must be 1 to 255 letters, digits"}},
		{name: "reserved tag", config: host(`region = "nyc3"` + "\n" + `size = "small"` + "\n" + `image = "debian-12"` + "\n" + `tags = ["haddock"]`),
			err: []string{"Invalid Attribute Value Match", "tags", `value must be none of: ["haddock" "haddock-unsaved"]`}},
		{name: "reserved unsaved tag", config: host(`region = "nyc3"` + "\n" + `size = "small"` + "\n" + `image = "debian-12"` + "\n" + `tags = ["haddock-unsaved"]`),
			err: []string{"Invalid Attribute Value Match", "tags", `value must be none of: ["haddock" "haddock-unsaved"]`}},
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

// A malformed token against the public API is a configuration error on the
// token, before any request is made.
func TestAccProvider_malformedToken(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "haddock" {
  digitalocean {
    api_endpoint = "https://api.digitalocean.com"
    token        = "not-a-token"
  }
}

data "haddock_catalog" "test" {
  cloud = "digitalocean"
}
`,
			ExpectError: acctest.ErrorMatching("Malformed DigitalOcean token", "with provider", "digitalocean.token", "a DigitalOcean token is 64 hexadecimal characters (optionally prefixed dop_v1_), this one has 11"),
		}},
	})
}

// A refused token shows the vendor's own message.
func TestAccProvider_wrongToken(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "haddock" {
  digitalocean {
    api_endpoint   = %[1]q
    token          = "wrong-token"
    http_retry_max = 0
  }
}

data "haddock_catalog" "test" {
  cloud = "digitalocean"
}
`, acctest.LocalCloudURL()),
			ExpectError: acctest.ErrorMatching("digitalocean API returned 401 unauthorized: Unable to authenticate you"),
		}},
	})
}

// Bursts of 429 and 5xx answers are retried through, honouring Retry-After.
func TestAccHost_survivesThrottlingAndServerErrors(t *testing.T) {
	name := acctest.RandomName()
	lc := acctest.LocalCloud(t)
	resource.Test(t, resource.TestCase{ // not parallel: the faults are global
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             testAccCheckHostDestroy,
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					lc.Fault(t, "POST", "/v2/droplets", 429, 3, 1)
					lc.Fault(t, "GET", "/v2/sizes", 503, 2, 0)
					lc.Fault(t, "GET", "/v2/droplets", 500, 3, 0)
				},
				Config: testAccHostConfig_basic(name, "eu-central", "small", "null"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("status"), knownvalue.StringExact("active")),
				},
				Check: func(*terraform.State) error {
					if left := lc.PendingFaults(t); left != 0 {
						return fmt.Errorf("%d injected faults were never served", left)
					}
					return nil
				},
			},
		},
	})
}

func testAccHostConfig_basic(name, region, size, tags string) string {
	return acctest.ProviderConfig() + fmt.Sprintf(`
resource "haddock_host" "test" {
  cloud  = "digitalocean"
  name   = %[1]q
  region = %[2]q
  size   = %[3]q
  image  = "debian-12"
  tags   = %[4]s

  # The in-memory localcloud has no Docker Engine to wait for.
  wait_for_docker = false
}
`, name, region, size, tags)
}

func testAccCheckHostDestroy(s *terraform.State) error {
	drv := acctest.DigitalOcean()
	for _, rs := range s.RootModule().Resources {
		if rs.Type != "haddock_host" {
			continue
		}
		_, err := drv.GetHost(context.Background(), rs.Primary.Attributes["vendor_id"])
		if cloud.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("host %s still exists", rs.Primary.ID)
	}
	return nil
}

func testAccDeleteHostOutOfBand(addr string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s not in state", addr)
		}
		return acctest.DigitalOcean().DeleteHost(context.Background(), rs.Primary.Attributes["vendor_id"])
	}
}
