package provider_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

// The cluster is locked down on real hosts (localcloud enforces its
// DigitalOcean cloud firewalls with a packet filter on each host): a host
// outside the cluster cannot reach Swarm's ports or the Docker API, which
// admits only docker_api_allowed_cidrs (here the machine Terraform runs
// on), while the port the stack publishes is open to it and the cluster's
// own hosts reach each other. A firewall deleted by hand shows in the plan
// and comes back. Widening the allowed CIDRs lets the outsider
// in, in place; disabling the firewall removes it; nothing is left after
// destroy.
func TestAccFirewall_locksDownTheCluster(t *testing.T) {
	rc := acctest.RealHosts(t)
	img := rc.PushCounter(t, "fw")
	gw := rc.Gateway()
	const (
		managers = "haddock_swarm_cluster.fw"
		workers  = "haddock_node_group.web"
		outsider = "haddock_host.outsider"
	)
	ip := func(s *terraform.State, addr string) string { return attr(s, addr, "nodes.0.ipv4_address") }
	outsiderID := func(s *terraform.State) string { return attr(s, outsider, "vendor_id") }
	workerID := func(s *terraform.State) string { return hostOf(s, workers, 0) }
	refused := func(s *terraform.State, from func(*terraform.State) string, to string, port int) error {
		if err := rc.Dial(from(s), to, port); err == nil {
			return fmt.Errorf("%s reached %s:%d through the cluster's firewall", from(s), to, port)
		}
		return nil
	}
	reaches := func(s *terraform.State, from func(*terraform.State) string, to string, port int) error {
		return rc.Dial(from(s), to, port)
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if err := rc.WaitHostsGone(90 * time.Second); err != nil {
				return err
			}
			if n, err := rc.Firewalls(); err != nil || n != 0 {
				return fmt.Errorf("after destroy localcloud holds %d firewalls (%v)", n, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: firewallConfig(rc, img, fmt.Sprintf(`docker_api_allowed_cidrs = [%q]
    ssh_allowed_cidrs        = []`, gw+"/32")),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(managers, "firewall.enabled", "true"),
					func(s *terraform.State) error {
						m, w := ip(s, managers), ip(s, workers)
						var errs []string
						for _, c := range []struct {
							what string
							err  error
						}{
							{"outsider → manager 2377 (Swarm management)", refused(s, outsiderID, m, 2377)},
							{"outsider → manager 2376 (Docker API)", refused(s, outsiderID, m, 2376)},
							{"outsider → worker 2376 (Docker API)", refused(s, outsiderID, w, 2376)},
							{"outsider → worker 7946 (gossip)", refused(s, outsiderID, w, 7946)},
							{"outsider → worker 8080 (published by the stack)", reaches(s, outsiderID, w, 8080)},
							{"worker → manager 2377 (the cluster's own host)", reaches(s, workerID, m, 2377)},
						} {
							if c.err != nil {
								errs = append(errs, c.what+": "+c.err.Error())
							} else {
								t.Logf("as the firewall wants: %s", c.what)
							}
						}
						if len(errs) > 0 {
							return fmt.Errorf("%s", strings.Join(errs, "\n"))
						}
						_, err := acctest.HTTPGet("http://" + w + ":8080/")
						return err
					},
				),
			},
			{
				// Deleted by hand: the refresh sees it, the plan puts it
				// back, and the outsider is kept out again.
				PreConfig: func() {
					if err := rc.DeleteFirewalls(); err != nil {
						t.Fatal(err)
					}
				},
				Config: firewallConfig(rc, img, fmt.Sprintf(`docker_api_allowed_cidrs = [%q]
    ssh_allowed_cidrs        = []`, gw+"/32")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(managers, plancheck.ResourceActionUpdate)}},
				Check: func(s *terraform.State) error {
					if n, err := rc.Firewalls(); err != nil || n != 1 {
						return fmt.Errorf("after the apply localcloud holds %d firewalls (%v), want the cluster's", n, err)
					}
					return refused(s, outsiderID, ip(s, managers), 2377)
				},
			},
			{
				// The outsider is allowed in: the change is in place and
				// reaches the node group through the credentials.
				Config: firewallConfig(rc, img, fmt.Sprintf(`docker_api_allowed_cidrs = [%q, %s]
    ssh_allowed_cidrs        = []`, gw+"/32", "haddock_host.outsider.ipv4_address")),
				Check: func(s *terraform.State) error {
					if err := reaches(s, outsiderID, ip(s, managers), 2376); err != nil {
						return err
					}
					if err := reaches(s, outsiderID, ip(s, workers), 2376); err != nil {
						return fmt.Errorf("the node group did not follow: %w", err)
					}
					return refused(s, outsiderID, ip(s, managers), 2377)
				},
			},
			{
				Config: firewallConfig(rc, img, `enabled = false`),
				Check: func(s *terraform.State) error {
					if n, err := rc.Firewalls(); err != nil || n != 0 {
						return fmt.Errorf("disabled, localcloud still holds %d firewalls (%v)", n, err)
					}
					return reaches(s, outsiderID, ip(s, managers), 2377)
				},
			},
		},
	})
}

func firewallConfig(rc *acctest.RealCloud, img, firewall string) string {
	return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "fw" {
  name = "fwt"
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
  firewall = {
    %[1]s
  }
}

resource "haddock_node_group" "web" {
  cluster_id          = haddock_swarm_cluster.fw.id
  cluster_credentials = haddock_swarm_cluster.fw.credentials
  name                = "web"
  node_count          = 1
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}

resource "haddock_stack" "web" {
  cluster_id          = haddock_swarm_cluster.fw.id
  cluster_credentials = haddock_swarm_cluster.fw.client_credentials
  name                = "web"
  env                 = { IMAGE = %[2]q }
  compose             = %[3]q
  depends_on          = [haddock_node_group.web]
}

resource "haddock_host" "outsider" {
  cloud  = "digitalocean"
  name   = "outsider"
  region = "eu-central"
  size   = "small"
  image  = "debian-12"
}
`, firewall, img, strings.ReplaceAll(lbCompose, "${", "$${"))
}
