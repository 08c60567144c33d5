package provider_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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

// The same host and floating IP tests on every vendor, from one table:
// DigitalOcean on localcloud, AWS on moto_server and on localcloud's EC2 API. Where moto differs from
// AWS, the check says so rather than the provider bending to it.
func TestAccVendors_host(t *testing.T) {
	for _, v := range acctest.Vendors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			name := acctest.RandomName()
			sameID := statecheck.CompareValue(compare.ValuesSame())
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				CheckDestroy:             checkHostsGone(v),
				Steps: []resource.TestStep{
					{
						Config: vendorHostConfig(v, name, `["a"]`),
						ConfigStateChecks: []statecheck.StateCheck{
							sameID.AddStateValue(hostAddr, tfjsonpath.New("id")),
							statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_region"), knownvalue.StringExact(v.Region)),
							statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("vendor_size"), knownvalue.StringExact(v.Size)),
							// moto reports instances running at once; AWS goes pending → running.
							statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("status"), knownvalue.StringExact("active")),
						},
					},
					{
						ResourceName:            hostAddr,
						ImportState:             true,
						ImportStateIdFunc:       importID(v, hostAddr),
						ImportStateVerify:       true,
						ImportStateVerifyIgnore: []string{"region", "size", "image", "timeouts", "docker", "wait_for_docker"},
					},
					{
						Config: vendorHostConfig(v, name+"-b", `["a", "b"]`),
						ConfigPlanChecks: resource.ConfigPlanChecks{
							PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(hostAddr, plancheck.ResourceActionUpdate)},
						},
						ConfigStateChecks: []statecheck.StateCheck{
							sameID.AddStateValue(hostAddr, tfjsonpath.New("id")),
							statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("name"), knownvalue.StringExact(name+"-b")),
							statecheck.ExpectKnownValue(hostAddr, tfjsonpath.New("tags"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("a"), knownvalue.StringExact("b")})),
						},
						Check: checkVendorHost(v, name+"-b", []string{"a", "b"}),
					},
					{
						Config: vendorHostConfig(v, name+"-b", `["a", "b"]`),
						Check: func(s *terraform.State) error {
							return v.Driver.DeleteHost(context.Background(), s.RootModule().Resources[hostAddr].Primary.Attributes["vendor_id"])
						},
						ExpectNonEmptyPlan: true,
					},
				},
			})
		})
	}
}

func TestAccVendors_floatingIP(t *testing.T) {
	for _, v := range acctest.Vendors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			name := acctest.RandomName()
			sameIP := statecheck.CompareValue(compare.ValuesSame())
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				CheckDestroy:             checkHostsGone(v),
				Steps: []resource.TestStep{
					{
						Config:            vendorFloatingIPConfig(v, name, "haddock_host.a.id"),
						ConfigStateChecks: []statecheck.StateCheck{sameIP.AddStateValue(fipAddr, tfjsonpath.New("ip_address"))},
						Check:             checkVendorFloatingIP(v, "haddock_host.a"),
					},
					{
						ResourceName:            fipAddr,
						ImportState:             true,
						ImportStateIdFunc:       importID(v, fipAddr),
						ImportStateVerify:       true,
						ImportStateVerifyIgnore: []string{"region", "timeouts"},
					},
					{
						// Moving it keeps the address. (moto: the old instance still
						// reports the Elastic IP after re-association; AWS does not.
						// The check asks the address, not the instance.)
						Config:            vendorFloatingIPConfig(v, name, "haddock_host.b.id"),
						ConfigStateChecks: []statecheck.StateCheck{sameIP.AddStateValue(fipAddr, tfjsonpath.New("ip_address"))},
						Check:             checkVendorFloatingIP(v, "haddock_host.b"),
					},
					{
						Config:            vendorFloatingIPConfig(v, name, "null"),
						ConfigStateChecks: []statecheck.StateCheck{sameIP.AddStateValue(fipAddr, tfjsonpath.New("ip_address"))},
						Check:             checkVendorFloatingIP(v, ""),
					},
					{
						// Released behind Terraform's back: the plan creates it again.
						Config: vendorFloatingIPConfig(v, name, "null"),
						Check: func(s *terraform.State) error {
							return v.FloatingIPs().DeleteFloatingIP(context.Background(), s.RootModule().Resources[fipAddr].Primary.Attributes["vendor_id"])
						},
						ExpectNonEmptyPlan: true,
						ConfigPlanChecks: resource.ConfigPlanChecks{
							PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(fipAddr, plancheck.ResourceActionCreate)},
						},
					},
				},
			})
		})
	}
}

// TestAccVendors_floatingIPLeftover: an address an apply killed before its
// state was saved (marked unsaved, its deadline past) is released by the
// next floating IP Create at its place; one still within its deadline
// (another workspace's create in flight) and one never marked are kept,
// and the address made is saved. An Elastic IP is marked by a tag, a
// DigitalOcean reserved IP by its project.
func TestAccVendors_floatingIPLeftover(t *testing.T) {
	for _, v := range acctest.Vendors(t) {
		u, ok := v.FloatingIPs().(cloud.UnsavedFloatingIPs)
		if !ok {
			t.Fatalf("%s: floating IPs cannot be marked unsaved", v.Name)
		}
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fips := v.FloatingIPs()
			var left, inFlight, plain *cloud.FloatingIP
			seed := func() {
				var err error
				if left, err = u.CreateUnsavedFloatingIP(ctx, v.Region, "", time.Now().Add(-time.Minute)); err != nil {
					t.Fatal(err)
				}
				if inFlight, err = u.CreateUnsavedFloatingIP(ctx, v.Region, "", time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				if plain, err = fips.CreateFloatingIP(ctx, v.Region, ""); err != nil {
					t.Fatal(err)
				}
				// DigitalOcean keeps no deadline: the mark is how long the
				// address has been in the unsaved project, so an hour passes.
				acctest.AgeUnsaved(t, v, "do:floatingip:"+left.ID)
				t.Cleanup(func() {
					for _, f := range []*cloud.FloatingIP{left, inFlight, plain} {
						_ = fips.DeleteFloatingIP(context.Background(), f.ID)
					}
				})
			}
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				CheckDestroy:             checkHostsGone(v),
				Steps: []resource.TestStep{{
					PreConfig: seed,
					Config:    vendorFloatingIPConfig(v, acctest.RandomName(), "null"),
					Check: func(s *terraform.State) error {
						if _, err := fips.GetFloatingIP(ctx, left.ID); !cloud.IsNotFound(err) {
							return fmt.Errorf("the leftover %s (%s): %v, want it released", left.Address, left.ID, err)
						}
						for _, f := range []*cloud.FloatingIP{inFlight, plain} {
							got, err := fips.GetFloatingIP(ctx, f.ID)
							if err != nil {
								return fmt.Errorf("%s (%s) must be kept: %w", f.Address, f.ID, err)
							}
							if d := got.UnsavedUntil.Sub(f.UnsavedUntil).Abs(); d > 5*time.Second || got.UnsavedUntil.IsZero() != f.UnsavedUntil.IsZero() {
								return fmt.Errorf("%s (%s): unsaved until %v, want %v", f.Address, f.ID, got.UnsavedUntil, f.UnsavedUntil)
							}
						}
						made, err := fips.GetFloatingIP(ctx, s.RootModule().Resources[fipAddr].Primary.Attributes["vendor_id"])
						if err != nil {
							return err
						}
						if !made.UnsavedUntil.IsZero() {
							return fmt.Errorf("the address made, %s, is still marked unsaved (until %v)", made.Address, made.UnsavedUntil)
						}
						return nil
					},
				}},
			})
		})
	}
}

func vendorHostConfig(v acctest.Vendor, name, tags string) string {
	return v.ProviderConfig + fmt.Sprintf(`
resource "haddock_host" "test" {
  cloud           = %[1]q
  name            = %[2]q
  region          = "us-east"
  size            = "small"
  image           = "debian-12"
  tags            = %[3]s
  wait_for_docker = false # neither localcloud's memory backend nor moto runs Docker
}
`, v.Cloud, name, tags)
}

func vendorFloatingIPConfig(v acctest.Vendor, name, hostRef string) string {
	host := func(n string) string {
		return fmt.Sprintf(`
resource "haddock_host" "%[1]s" {
  cloud           = %[2]q
  name            = "%[3]s-%[1]s"
  region          = "us-east"
  size            = "small"
  image           = "debian-12"
  wait_for_docker = false
}
`, n, v.Cloud, name)
	}
	return v.ProviderConfig + host("a") + host("b") + fmt.Sprintf(`
resource "haddock_floating_ip" "test" {
  cloud   = %[1]q
  region  = "us-east"
  host_id = %[2]s
}
`, v.Cloud, hostRef)
}

func importID(v acctest.Vendor, addr string) resource.ImportStateIdFunc {
	return func(s *terraform.State) (string, error) {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return "", fmt.Errorf("%s not in state", addr)
		}
		return v.ImportID(rs.Primary.ID), nil
	}
}

// checkVendorHost asks the vendor for the host's name and tags.
func checkVendorHost(v acctest.Vendor, name string, tags []string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		h, err := v.Driver.GetHost(context.Background(), s.RootModule().Resources[hostAddr].Primary.Attributes["vendor_id"])
		if err != nil {
			return err
		}
		if h.Name != name {
			return fmt.Errorf("vendor says the host is named %q, want %q", h.Name, name)
		}
		for _, t := range tags {
			found := false
			for _, ht := range h.Tags {
				found = found || ht == t
			}
			if !found {
				return fmt.Errorf("vendor tags %v lack %q", h.Tags, t)
			}
		}
		return nil
	}
}

func checkVendorFloatingIP(v acctest.Vendor, host string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		f, err := v.FloatingIPs().GetFloatingIP(context.Background(), s.RootModule().Resources[fipAddr].Primary.Attributes["vendor_id"])
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

func checkHostsGone(v acctest.Vendor) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, rs := range s.RootModule().Resources {
			var err error
			switch rs.Type {
			case "haddock_host":
				_, err = v.Driver.GetHost(context.Background(), rs.Primary.Attributes["vendor_id"])
			case "haddock_floating_ip":
				_, err = v.FloatingIPs().GetFloatingIP(context.Background(), rs.Primary.Attributes["vendor_id"])
			default:
				continue
			}
			if cloud.IsNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("%s %s still exists on %s", rs.Type, rs.Primary.ID, v.Cloud)
		}
		return nil
	}
}
