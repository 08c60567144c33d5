package provider_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/testload"
)

const (
	lbAddr      = "haddock_load_balancer.web"
	lbGroupAddr = "haddock_node_group.web"
)

// lbCompose runs the counter on every host of the group "web", published
// on each host (host mode: the load balancer reaches each host's task).
const lbCompose = `
services:
  web:
    image: ${IMAGE}
    environment:
      NODE_NAME: "{{.Node.Hostname}}"
    ports:
      - { target: 8080, published: 8080, mode: host }
    deploy:
      mode: global
      placement:
        constraints: ["engine.labels.haddock.group == web"]
`

// The counter behind a real load balancer (HAProxy on localcloud) on a
// node group, under a steady load through the load balancer: scaling the
// group 3 → 1 → 3 and rolling its image fail no request, and after each
// apply the load balancer's targets are exactly the group's ready hosts.
func TestAccLoadBalancer_nodeGroupUnderLoad(t *testing.T) {
	rc := acctest.RealHosts(t)
	img := rc.PushCounter(t, "lb")
	lbs, ok := rc.Driver.(cloud.LoadBalancers)
	if !ok {
		t.Fatal("the DigitalOcean driver has no load balancers")
	}
	var load *testload.Load
	t.Cleanup(func() {
		if load != nil {
			load.Stop()
		}
	})
	var hostsBefore []string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			all, err := lbs.ListLoadBalancers(context.Background())
			if err != nil {
				return err
			}
			if len(all) != 0 {
				return fmt.Errorf("%d load balancers left after destroy", len(all))
			}
			return rc.WaitHostsGone(90 * time.Second)
		},
		Steps: []resource.TestStep{
			{
				Config: lbConfig(rc, "digitalocean", img, 3, "debian-12"),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(lbAddr, "status", "active"),
					resource.TestCheckResourceAttr(lbAddr, "health_check.path", "/healthz"),
					checkLBTargets(lbs, 3),
					func(s *terraform.State) error {
						url := "http://" + attr(s, lbAddr, "address") + "/api"
						if err := waitAnswers(url, time.Minute); err != nil {
							return fmt.Errorf("the app does not answer through the load balancer: %w", err)
						}
						load = testload.StartLoad(url)
						hostsBefore = groupHostIDs(s)
						return nil
					},
				),
			},
			{
				// Scale in: two hosts leave the load balancer, then drain.
				Config: lbConfig(rc, "digitalocean", img, 1, "debian-12"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(lbGroupAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(lbAddr, plancheck.ResourceActionNoop),
				}},
				Check: checkLBTargets(lbs, 1),
			},
			{
				// Scale out: new hosts join it once their task runs.
				Config: lbConfig(rc, "digitalocean", img, 3, "debian-12"),
				Check:  checkLBTargets(lbs, 3),
			},
			{
				// Roll the image: each replacement joins the load balancer
				// before the host it replaces leaves it.
				Config: lbConfig(rc, "digitalocean", img, 3, "ubuntu-24.04"),
				Check: resource.ComposeTestCheckFunc(
					checkLBTargets(lbs, 3),
					func(s *terraform.State) error {
						for _, h := range groupHostIDs(s) {
							if slices.Contains(hostsBefore, h) {
								return fmt.Errorf("host %s was not replaced", h)
							}
						}
						res := load.Stop()
						load = nil
						fmt.Printf("node group behind a load balancer, scaled 3 → 1 → 3 and its image rolled, under load through the load balancer: %s; %d failed requests\n", res, res.Failed)
						if res.Failed != 0 || res.OK == 0 {
							return fmt.Errorf("%d of %d requests failed:\n%s", res.Failed, res.Requests, strings.Join(res.Failures, "\n"))
						}
						if len(res.Answered) < 3 {
							return fmt.Errorf("only %d hosts answered through the load balancer", len(res.Answered))
						}
						return nil
					},
				),
			},
			{
				Config:           lbConfig(rc, "digitalocean", img, 3, "ubuntu-24.04"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Import reads the load balancer back as configured.
				ResourceName:            lbAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"region", "deregistration_delay_seconds", "timeouts", "targets", "status"},
			},
		},
	})
}

func lbConfig(rc *acctest.RealCloud, cloudName, img string, count int, image string) string {
	// AWS wants the health check's timeout below its interval, of 5 s at
	// least; a short deregistration delay keeps scale-in quick.
	check, extra := "check_interval_seconds   = 3\n    response_timeout_seconds = 3", ""
	if cloudName == "aws" {
		check, extra = "check_interval_seconds   = 5\n    response_timeout_seconds = 3", "\n  deregistration_delay_seconds = 5"
	}
	return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "lb" {
  name = "lb"
  managers = {
    count  = 1
    cloud  = %[5]q
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_load_balancer" "web" {
  cloud  = %[5]q
  name   = "web"
  region = "eu-central"
  forwarding_rules = [{
    entry_protocol  = "http"
    entry_port      = 80
    target_protocol = "http"
    target_port     = 8080
  }]
  health_check = {
    protocol                 = "http"
    port                     = 8080
    path                     = "/healthz"
    %[6]s
    healthy_threshold        = 2
    unhealthy_threshold      = 2
  }%[7]s
}

resource "haddock_node_group" "web" {
  cluster_id          = haddock_swarm_cluster.lb.id
  cluster_credentials = haddock_swarm_cluster.lb.credentials
  name                = "web"
  node_count          = %[1]d
  cloud               = %[5]q
  region              = "eu-central"
  size                = "small"
  image               = %[2]q
  load_balancer_ids   = [haddock_load_balancer.web.id]
}

resource "haddock_stack" "counter" {
  cluster_id          = haddock_swarm_cluster.lb.id
  cluster_credentials = haddock_swarm_cluster.lb.credentials
  name                = "counter"
  env                 = { IMAGE = %[3]q }
  compose             = %[4]q
  depends_on          = [haddock_node_group.web]
}
`, count, image, img, strings.ReplaceAll(lbCompose, "${", "$${"), cloudName, check, extra)
}

// groupHostIDs are the node group's hosts' vendor ids.
func groupHostIDs(s *terraform.State) []string {
	a := s.RootModule().Resources[lbGroupAddr].Primary.Attributes
	var out []string
	for k, v := range a {
		if strings.HasPrefix(k, "nodes.") && strings.HasSuffix(k, ".host_id") {
			out = append(out, v[strings.LastIndex(v, "/")+1:]) // digitalocean/<id>, aws[/<region>]/<id>
		}
	}
	slices.Sort(out)
	return out
}

// checkLBTargets checks that the load balancer's targets are the group's
// n hosts, all ready.
func checkLBTargets(lbs cloud.LoadBalancers, n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[lbGroupAddr].Primary.Attributes
		for i := range n {
			if st := a[fmt.Sprintf("nodes.%d.state", i)]; st != "ready" {
				return fmt.Errorf("node %d of the group is %s", i, st)
			}
		}
		want := groupHostIDs(s)
		lb, err := lbs.GetLoadBalancer(context.Background(), attr(s, lbAddr, "vendor_id"))
		if err != nil {
			return err
		}
		if len(want) != n || !slices.Equal(lb.Targets, want) {
			return fmt.Errorf("the load balancer's targets are %v, the group's %d ready hosts %v", lb.Targets, n, want)
		}
		return nil
	}
}

// waitAnswers waits until url answers 200.
func waitAnswers(url string, within time.Duration) error {
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(time.Second) {
		if _, err = acctest.HTTPGet(url); err == nil {
			return nil
		}
	}
	return err
}

// The same on AWS, on localcloud's EC2 and ELBv2 APIs over real hosts (the
// load balancer is the same HAProxy): a node group behind an Application
// Load Balancer scales 2 → 1 under load through it, and no request fails.
func TestAccLoadBalancer_awsNodeGroupUnderLoad(t *testing.T) {
	rc := acctest.RealHostsWith(t, acctest.RealOptions{AWS: true})
	img := rc.PushCounter(t, "lbaws")
	lbs, ok := rc.AWSDriver.(cloud.LoadBalancers)
	if !ok {
		t.Fatal("the AWS driver has no load balancers")
	}
	var load *testload.Load
	t.Cleanup(func() {
		if load != nil {
			load.Stop()
		}
	})
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(90 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config: lbConfig(rc, "aws", img, 2, "debian-12"),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(lbAddr, "status", "active"),
					checkLBTargets(lbs, 2),
					func(s *terraform.State) error {
						url := "http://" + attr(s, lbAddr, "address") + "/api"
						if err := waitAnswers(url, time.Minute); err != nil {
							return fmt.Errorf("the app does not answer through the AWS load balancer: %w", err)
						}
						load = testload.StartLoad(url)
						return nil
					},
				),
			},
			{
				Config: lbConfig(rc, "aws", img, 1, "debian-12"),
				Check: resource.ComposeTestCheckFunc(
					checkLBTargets(lbs, 1),
					func(*terraform.State) error {
						res := load.Stop()
						load = nil
						fmt.Printf("AWS node group behind an ALB (localcloud ELBv2 on HAProxy), scaled 2 → 1 under load: %s; %d failed requests\n", res, res.Failed)
						if res.Failed != 0 || res.OK == 0 {
							return fmt.Errorf("%d of %d requests failed:\n%s", res.Failed, res.Requests, strings.Join(res.Failures, "\n"))
						}
						return nil
					},
				),
			},
		},
	})
}
