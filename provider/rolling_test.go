package provider_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	rollCluster = "haddock_swarm_cluster.demo"
	rollGroup   = "haddock_node_group.workers"
	rollStack   = "haddock_stack.counter"
	rollIP      = "haddock_floating_ip.public"
)

// The demo (3 managers, 2 workers, the counter stack behind a floating
// IP) under a steady client load: changing the managers' size and the
// workers' image in one apply replaces every host one at a time, keeps
// every id above the hosts, and fails no request. Then an apply cut short
// by its timeout mid-rollout is resumed by the next apply, which leaves
// exactly the wanted hosts.
func TestAccRolling_replacesHostsUnderLoad(t *testing.T) {
	rc := acctest.RealHosts(t)
	img := rc.PushCounter(t, "roll")
	compose, err := os.ReadFile(filepath.Join("..", "examples", "local", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var load *testload.Load
	t.Cleanup(func() {
		if load != nil {
			load.Stop()
		}
	})
	before := map[string]string{}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(90 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config: rollConfig(rc, img, compose, "small", "debian-12", "small", ""),
				Check: resource.ComposeTestCheckFunc(
					recordIDs(before),
					func(s *terraform.State) error {
						url := "http://" + attr(s, rollIP, "ip_address") + "/api"
						if _, err := acctest.HTTPGet(url); err != nil {
							return fmt.Errorf("the app does not answer through the floating IP: %w", err)
						}
						load = testload.StartLoad(url)
						return nil
					},
				),
			},
			{
				// Managers to medium, workers to Ubuntu: an in-place
				// update of the cluster and the group; the stack is not
				// touched and the floating IP only follows nodes[0].
				Config: rollConfig(rc, img, compose, "medium", "ubuntu-24.04", "small", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(rollCluster, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(rollGroup, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(rollStack, plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction(rollIP, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					func(*terraform.State) error {
						res := load.Stop()
						load = nil
						fmt.Printf("rolling 3 managers (small → medium) and 2 workers (debian-12 → ubuntu-24.04) through terraform apply under load: %s; %d failed requests\n", res, res.Failed)
						if res.Failed != 0 || res.OK == 0 {
							return fmt.Errorf("%d of %d requests failed during the rollout:\n%s", res.Failed, res.Requests, strings.Join(res.Failures, "\n"))
						}
						return nil
					},
					checkSameIDs(before, rollCluster, rollGroup, rollStack, rollIP),
					checkAllReplaced(before, rollCluster, 3, "s-2vcpu-4gb", "debian-12-x64"),
					checkAllReplaced(before, rollGroup, 2, "s-1vcpu-2gb", "ubuntu-24-04-x64"),
					resource.TestCheckResourceAttr(rollCluster, "rollout.#", "3"),
					resource.TestCheckResourceAttr(rollGroup, "rollout.#", "2"),
					checkRunning(rollCluster, map[string]int{"counter_web": 4, "counter_front": 3}),
				),
			},
			{
				Config:           rollConfig(rc, img, compose, "medium", "ubuntu-24.04", "small", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// An apply cut short mid-rollout (the update timeout ends
				// the provider's context) ...
				Config:      rollConfig(rc, img, compose, "medium", "ubuntu-24.04", "medium", "20s"),
				ExpectError: regexp.MustCompile(`(?i)deadline|timed? ?out|context canceled`),
			},
			{
				// ... is resumed by the next: exactly the wanted hosts,
				// all up to date, nothing orphaned.
				Config: rollConfig(rc, img, compose, "medium", "ubuntu-24.04", "medium", ""),
				Check: resource.ComposeTestCheckFunc(
					checkSameIDs(before, rollCluster, rollGroup, rollStack, rollIP),
					checkGroupSize(rollGroup, 2, "s-2vcpu-4gb"),
					checkCloudHosts(rc, 5),
				),
			},
			{
				Config:           rollConfig(rc, img, compose, "medium", "ubuntu-24.04", "medium", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func rollConfig(rc *acctest.RealCloud, img string, compose []byte, managerSize, workerImage, workerSize, workerTimeout string) string {
	timeouts := ""
	if workerTimeout != "" {
		timeouts = fmt.Sprintf("\n  timeouts = { update = %q }", workerTimeout)
	}
	return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "demo" {
  name = "roll"
  managers = {
    count  = 3
    cloud  = "digitalocean"
    region = "eu-central"
    size   = %[1]q
    image  = "debian-12"
  }
}

resource "haddock_node_group" "workers" {
  cluster_id          = haddock_swarm_cluster.demo.id
  cluster_credentials = haddock_swarm_cluster.demo.credentials
  name                = "workers"
  node_count          = 2
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = %[3]q
  image               = %[2]q
  labels              = { tier = "app" }%[4]s
}

resource "haddock_stack" "counter" {
  cluster_id          = haddock_swarm_cluster.demo.id
  cluster_credentials = haddock_swarm_cluster.demo.credentials
  name                = "counter"
  env                 = { IMAGE = %[5]q }
  compose             = %[6]q
  depends_on          = [haddock_node_group.workers]
}

resource "haddock_floating_ip" "public" {
  cloud   = "digitalocean"
  region  = "eu-central"
  host_id = haddock_swarm_cluster.demo.nodes[0].host_id
}
`, managerSize, workerImage, workerSize, timeouts, img, strings.ReplaceAll(string(compose), "${", "$${"))
}

func attr(s *terraform.State, addr, key string) string {
	if rs, ok := s.RootModule().Resources[addr]; ok {
		return rs.Primary.Attributes[key]
	}
	return ""
}

// recordIDs keeps the resources' ids and their hosts' ids.
func recordIDs(into map[string]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, addr := range []string{rollCluster, rollGroup, rollStack, rollIP} {
			into[addr] = attr(s, addr, "id")
		}
		for _, addr := range []string{rollCluster, rollGroup} {
			a := s.RootModule().Resources[addr].Primary.Attributes
			for k, v := range a {
				if strings.HasPrefix(k, "nodes.") && strings.HasSuffix(k, ".host_id") {
					into["host "+v] = addr
				}
			}
		}
		return nil
	}
}

func checkSameIDs(before map[string]string, addrs ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, addr := range addrs {
			if got := attr(s, addr, "id"); got != before[addr] || got == "" {
				return fmt.Errorf("%s: id %q, was %q: it was replaced", addr, got, before[addr])
			}
		}
		return nil
	}
}

// checkAllReplaced checks that none of the group's hosts is one it had
// before, and that each has the new size and image.
func checkAllReplaced(before map[string]string, addr string, n int, size, image string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[addr].Primary.Attributes
		if a["nodes.#"] != fmt.Sprint(n) {
			return fmt.Errorf("%s has %s nodes, want %d", addr, a["nodes.#"], n)
		}
		for i := range n {
			p := fmt.Sprintf("nodes.%d.", i)
			if before["host "+a[p+"host_id"]] != "" {
				return fmt.Errorf("%s: host %s (%s) was not replaced", addr, a[p+"name"], a[p+"host_id"])
			}
			if a[p+"size"] != size || a[p+"image"] != image || a[p+"state"] != "ready" {
				return fmt.Errorf("%s: host %s is %s/%s/%s, want %s/%s/ready", addr, a[p+"name"], a[p+"size"], a[p+"image"], a[p+"state"], size, image)
			}
		}
		return nil
	}
}

func checkGroupSize(addr string, n int, size string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[addr].Primary.Attributes
		if a["nodes.#"] != fmt.Sprint(n) {
			return fmt.Errorf("%s has %s nodes, want %d", addr, a["nodes.#"], n)
		}
		for i := range n {
			if got := a[fmt.Sprintf("nodes.%d.size", i)]; got != size {
				return fmt.Errorf("%s: node %d has size %s, want %s", addr, i, got, size)
			}
		}
		return nil
	}
}

// checkCloudHosts counts the Haddock hosts localcloud holds.
func checkCloudHosts(rc *acctest.RealCloud, want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		hosts, err := rc.Driver.ListHosts(context.Background(), cloud.ManagedTag)
		if err != nil {
			return err
		}
		if len(hosts) != want {
			var names []string
			for _, h := range hosts {
				names = append(names, h.Name+"/"+h.ID)
			}
			return fmt.Errorf("localcloud holds %d hosts, want exactly %d: %s", len(hosts), want, strings.Join(names, ", "))
		}
		return nil
	}
}

// checkRunning waits until each service runs its tasks, asking the
// cluster's leader.
func checkRunning(clusterAddr string, want map[string]int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		d, err := acctest.HostDocker(s, clusterAddr)
		if err != nil {
			return err
		}
		for name, n := range want {
			if _, err := acctest.WaitRunning(context.Background(), d, name, n, 2*time.Minute); err != nil {
				return err
			}
		}
		return nil
	}
}
