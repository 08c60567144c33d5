package provider_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// The load balancer's own life on the suite's localcloud (no HAProxy
// behind the in-memory backend: an address only): create with the API's
// health check defaults, update in place, import, destroy.
func TestAccLoadBalancer_basic(t *testing.T) {
	name := acctest.RandomName()
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: lbBasicConfig(name, ""),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "status", "active"),
					resource.TestCheckResourceAttrSet("haddock_load_balancer.test", "address"),
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "vendor_region", "fra1"),
					// DigitalOcean's API defaults, not the official provider's.
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "health_check.healthy_threshold", "3"),
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "health_check.unhealthy_threshold", "5"),
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "health_check.check_interval_seconds", "10"),
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "targets.#", "0"),
				),
			},
			{
				Config: lbBasicConfig(name, `
  health_check = { path = "/healthz", port = 8080 }
  sticky_sessions = { cookie_name = "LB", cookie_ttl_seconds = 300 }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("haddock_load_balancer.test", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "health_check.path", "/healthz"),
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "health_check.port", "8080"),
					resource.TestCheckResourceAttr("haddock_load_balancer.test", "sticky_sessions.cookie_name", "LB"),
				),
			},
			{
				ResourceName:            "haddock_load_balancer.test",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"region", "deregistration_delay_seconds", "timeouts"},
			},
			{
				Config: lbBasicConfig(name, `
  health_check = { path = "/healthz", port = 8080 }
  sticky_sessions = { cookie_name = "LB", cookie_ttl_seconds = 300 }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func lbBasicConfig(name, extra string) string {
	return acctest.ProviderConfig() + `
resource "haddock_load_balancer" "test" {
  cloud  = "digitalocean"
  name   = "` + name + `"
  region = "eu-central"
  forwarding_rules = [{ entry_protocol = "http", entry_port = 80, target_protocol = "http", target_port = 8080 }]` + extra + `
}
`
}

func TestAccLoadBalancer_badInput(t *testing.T) {
	tests := []struct {
		name, config string
		err          []string
	}{
		{name: "http rule on a network load balancer", config: `
resource "haddock_load_balancer" "test" {
  cloud  = "digitalocean"
  name   = "web"
  region = "eu-central"
  type   = "network"
  forwarding_rules = [{ entry_protocol = "http", entry_port = 80, target_protocol = "http", target_port = 8080 }]
}`, err: []string{"Protocol not offered by a network load balancer", `use type = "http"`}},
		{name: "https without a certificate", config: `
resource "haddock_load_balancer" "test" {
  cloud  = "digitalocean"
  name   = "web"
  region = "eu-central"
  forwarding_rules = [{ entry_protocol = "https", entry_port = 443, target_protocol = "http", target_port = 8080 }]
}`, err: []string{"Missing certificate", "set certificate_id", "tls_passthrough = true"}},
		{name: "unknown region", config: `
resource "haddock_load_balancer" "test" {
  cloud  = "digitalocean"
  name   = "web"
  region = "atlantis"
  forwarding_rules = [{ entry_protocol = "http", entry_port = 80, target_protocol = "http", target_port = 8080 }]
}`, err: []string{"Invalid region", `unknown region "atlantis"`}},
		{name: "interval out of range", config: `
resource "haddock_load_balancer" "test" {
  cloud  = "digitalocean"
  name   = "web"
  region = "eu-central"
  forwarding_rules = [{ entry_protocol = "http", entry_port = 80, target_protocol = "http", target_port = 8080 }]
  health_check = { check_interval_seconds = 1 }
}`, err: []string{"health_check.check_interval_seconds", "between 3 and 300"}},
		{name: "sticky sessions on a network load balancer", config: `
resource "haddock_load_balancer" "test" {
  cloud  = "digitalocean"
  name   = "web"
  region = "eu-central"
  type   = "network"
  forwarding_rules = [{ entry_protocol = "tcp", entry_port = 80, target_protocol = "tcp", target_port = 8080 }]
  sticky_sessions = { cookie_name = "LB", cookie_ttl_seconds = 60 }
}`, err: []string{"Sticky sessions need an http load balancer", "sticky_sessions"}},
		{name: "group in a load balancer of another cloud", config: `
resource "haddock_node_group" "test" {
  cluster_id          = "abc"
  cluster_credentials = "{}"
  name                = "web"
  node_count          = 1
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
  load_balancer_ids   = ["aws/arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"]
}`, err: []string{"Load balancer on another cloud", "load_balancer_ids", "takes hosts of its own vendor only"}},
		{name: "malformed load balancer id", config: `
resource "haddock_node_group" "test" {
  cluster_id          = "abc"
  cluster_credentials = "{}"
  name                = "web"
  node_count          = 1
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
  load_balancer_ids   = ["4de7ac8b"]
}`, err: []string{"load_balancer_ids", "must be a haddock_load_balancer id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      acctest.ProviderConfig() + tt.config,
					PlanOnly:    true,
					ExpectError: acctest.ErrorMatching(tt.err...),
				}},
			})
		})
	}
}

// The same load balancer on every vendor from one table: DigitalOcean on
// localcloud, AWS on moto (API only) and on localcloud's ELBv2 API (each
// exchange checked against AWS's service model).
func TestAccVendors_loadBalancer(t *testing.T) {
	for _, v := range acctest.Vendors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			name := "lb-" + acctest.RandomName()[len(acctest.NamePrefix):]
			cfg := func(path string) string {
				return v.ProviderConfig + fmt.Sprintf(`
resource "haddock_load_balancer" "test" {
  cloud  = %q
  name   = %q
  region = "us-east"
  forwarding_rules = [{ entry_protocol = "http", entry_port = 80, target_protocol = "http", target_port = 8080 }]
  health_check = { port = 8080, path = %q, check_interval_seconds = 5, response_timeout_seconds = 3, healthy_threshold = 2, unhealthy_threshold = 2 }
}
`, v.Cloud, name, path)
			}
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				CheckDestroy: func(*terraform.State) error {
					lbs, _ := v.Driver.(cloud.LoadBalancers)
					all, err := lbs.ListLoadBalancers(context.Background())
					if err != nil {
						return err
					}
					for _, lb := range all {
						if lb.Spec.Name == name {
							return fmt.Errorf("load balancer %s is still there", name)
						}
					}
					return nil
				},
				Steps: []resource.TestStep{
					{
						Config: cfg("/healthz"),
						Check: resource.ComposeTestCheckFunc(
							resource.TestCheckResourceAttr("haddock_load_balancer.test", "status", "active"),
							resource.TestCheckResourceAttrSet("haddock_load_balancer.test", "address"),
						),
					},
					{
						Config:           cfg("/ready"),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("haddock_load_balancer.test", plancheck.ResourceActionUpdate)}},
						Check:            resource.TestCheckResourceAttr("haddock_load_balancer.test", "health_check.path", "/ready"),
					},
					{
						Config:           cfg("/ready"),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					},
					{
						ResourceName:            "haddock_load_balancer.test",
						ImportState:             true,
						ImportStateVerify:       true,
						ImportStateVerifyIgnore: []string{"region", "timeouts", "targets", "status", "deregistration_delay_seconds"},
					},
				},
			})
		})
	}
}

// TestAccLoadBalancer_leftover: on DigitalOcean, a load balancer an apply
// killed before its state was saved (still in the unsaved project an hour
// on) is deleted by the next load balancer Create in its region; one still
// within its horizon (another workspace's create in flight) and one never
// marked are kept, and the one made ends unmarked in the default project.
func TestAccLoadBalancer_leftover(t *testing.T) {
	v := acctest.DigitalOceanVendor()
	lbs, ok := v.Driver.(cloud.LoadBalancers)
	u, marks := v.Driver.(cloud.UnsavedLoadBalancers)
	if !ok || !marks {
		t.Fatal("DigitalOcean's load balancers cannot be marked unsaved")
	}
	ctx := context.Background()
	name := acctest.RandomName()
	spec := func(n string) cloud.LoadBalancerSpec {
		return cloud.LoadBalancerSpec{Name: n, Region: "fra1", Type: cloud.LoadBalancerHTTP,
			ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}},
			HealthCheck:     cloud.HealthCheck{Protocol: "http", Port: 80, Path: "/", Interval: 10 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 5}}
	}
	var left, inFlight, plain *cloud.LoadBalancer
	seed := func() {
		var err error
		// The killed create's load balancer has the configuration's name:
		// what matters is the mark and its age, not the name.
		if left, err = u.CreateUnsavedLoadBalancer(ctx, spec(name), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if inFlight, err = u.CreateUnsavedLoadBalancer(ctx, spec(name+"-other"), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if plain, err = lbs.CreateLoadBalancer(ctx, spec(name+"-plain")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, lb := range []*cloud.LoadBalancer{left, inFlight, plain} {
				_ = lbs.DeleteLoadBalancer(context.Background(), lb.ID)
			}
		})
		if left.UnsavedUntil.IsZero() || inFlight.UnsavedUntil.IsZero() || !plain.UnsavedUntil.IsZero() {
			t.Fatalf("marks: left %v, in flight %v, plain %v; want the first two marked", left.UnsavedUntil, inFlight.UnsavedUntil, plain.UnsavedUntil)
		}
		acctest.AgeUnsaved(t, v, "do:loadbalancer:"+left.ID)
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			PreConfig: seed,
			Config:    lbBasicConfig(name, ""),
			Check: func(s *terraform.State) error {
				if _, err := lbs.GetLoadBalancer(ctx, left.ID); !cloud.IsNotFound(err) {
					return fmt.Errorf("the leftover %s: %v, want it deleted", left.ID, err)
				}
				for _, lb := range []*cloud.LoadBalancer{inFlight, plain} {
					got, err := lbs.GetLoadBalancer(ctx, lb.ID)
					if err != nil {
						return fmt.Errorf("%s (%s) must be kept: %w", lb.Spec.Name, lb.ID, err)
					}
					if got.UnsavedUntil.IsZero() != lb.UnsavedUntil.IsZero() {
						return fmt.Errorf("%s (%s): unsaved until %v, want %v", lb.Spec.Name, lb.ID, got.UnsavedUntil, lb.UnsavedUntil)
					}
				}
				made, err := lbs.GetLoadBalancer(ctx, s.RootModule().Resources["haddock_load_balancer.test"].Primary.Attributes["vendor_id"])
				if err != nil {
					return err
				}
				if !made.UnsavedUntil.IsZero() {
					return fmt.Errorf("the load balancer made, %s, is still marked unsaved (until %v)", made.ID, made.UnsavedUntil)
				}
				return nil
			},
		}},
	})
}
