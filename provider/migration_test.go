package provider_test

import (
	"context"
	"errors"
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
	migCluster = "haddock_swarm_cluster.demo"
	migGroup   = "haddock_node_group.workers"
	migStack   = "haddock_stack.counter"
)

// The demo's cluster (3 managers, 2 workers, the counter stack) moves from
// DigitalOcean to AWS, both served by localcloud on real hosts, by
// changing `cloud`: first the node group, then the managers, each an
// in-place update that replaces hosts one at a time. A client load runs
// against the stack's published port on the current managers' addresses
// throughout, retrying a failed request once against another manager, as
// a client with several addresses does; both the raw and the retried
// failures are counted and printed, and the retried ones must be 0.
// Beside the load, during each migrating apply, a sampler polls the
// stack's tasks through a current manager every 500ms: each service must
// keep at least its desired count − 1 tasks running in every sample.
func TestAccMigration_digitaloceanToAWSUnderLoad(t *testing.T) {
	rc := acctest.RealHostsWith(t, acctest.RealOptions{AWS: true})
	img := rc.PushCounter(t, "mig")
	compose, err := os.ReadFile(filepath.Join("..", "examples", "local", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var managers *testload.Follower
	var load *testload.Load
	var sampler *acctest.TaskSampler
	t.Cleanup(func() {
		if sampler != nil {
			sampler.Stop()
		}
		if managers != nil {
			managers.Stop()
		}
		if load != nil {
			load.Stop()
		}
	})
	desired := map[string]int{"counter_web": 4, "counter_front": 3}
	var docker acctest.DockerAttr // the cluster's CA and client certificate
	// sample starts the task sampler before a migrating apply; tasks
	// stops it after and checks what it saw.
	sample := func() {
		sampler = &acctest.TaskSampler{
			Managers:  acctest.CurrentManagers(docker, []cloud.Driver{rc.Driver, rc.AWSDriver}, "mig-manager-"),
			Namespace: "counter",
			Desired:   desired,
		}
		sampler.Start()
	}
	tasks := func(what string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if sampler == nil {
				return fmt.Errorf("no task sampler ran while %s", what)
			}
			res := sampler.Stop()
			sampler = nil
			for _, l := range res.Lines(desired) {
				t.Logf("migration: %s: %s", what, l)
				fmt.Printf("migration: %s: %s\n", what, l)
			}
			if err := res.Check(desired, 10); err != nil {
				return fmt.Errorf("while %s: %w", what, err)
			}
			return nil
		}
	}
	before := map[string]string{}
	var started time.Time
	step := func(what string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			res := load.Snapshot()
			fmt.Printf("migration: %s in %s; load so far: %s\n", what, time.Since(started).Round(time.Second), res)
			var err error
			if res.Failed != 0 || res.OK == 0 {
				err = fmt.Errorf("%d of %d requests failed even after a retry against another manager:\n%s", res.Failed, res.Requests, strings.Join(res.Failures, "\n"))
			}
			// The tasks' figures are printed and checked whatever the load's.
			return errors.Join(err, tasks(what)(nil))
		}
	}
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			for _, d := range []cloud.Driver{rc.Driver, rc.AWSDriver} {
				if hs, err := d.ListHosts(context.Background(), cloud.ManagedTag); err != nil || len(hs) != 0 {
					return fmt.Errorf("%s still holds %d hosts (%v)", d.Cloud(), len(hs), err)
				}
			}
			return rc.WaitHostsGone(90 * time.Second)
		},
		Steps: []resource.TestStep{
			{
				Config: migConfig(rc, img, compose, "digitalocean", "digitalocean", "private"),
				Check: resource.ComposeTestCheckFunc(
					recordIDs(before),
					checkRunning(migCluster, map[string]int{"counter_web": 4, "counter_front": 3}),
				),
			},
			{
				// Moving managers while the swarm advertises private
				// addresses is refused at plan time; nothing changes.
				Config:      migConfig(rc, img, compose, "aws", "digitalocean", "private"),
				ExpectError: regexp.MustCompile(`Migration needs public addresses`),
			},
			{
				// Rolling to public addresses first is an in-place update of
				// the cluster, and the node group follows (its credentials
				// change). Locally a host has one address for both, so no
				// host is replaced; TestRollAdvertiseAddress replaces them
				// on hosts whose two addresses differ.
				Config: migConfig(rc, img, compose, "digitalocean", "digitalocean"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(migCluster, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(migGroup, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					checkSameIDs(before, migCluster, migGroup, migStack),
					resource.TestCheckResourceAttr(migCluster, "advertise_address", "public"),
					func(s *terraform.State) error {
						var err error
						if docker, err = acctest.HostDocker(s, migCluster); err != nil {
							return err
						}
						managers = testload.Follow(managerURLs([]cloud.Driver{rc.Driver, rc.AWSDriver}, "mig-manager-"), 0)
						load = &testload.Load{Targets: managers.URLs, RetryOther: true}
						load.Start()
						started = time.Now()
						return nil
					},
				),
			},
			{
				// The workers move: only the group changes.
				PreConfig: sample,
				Config:    migConfig(rc, img, compose, "digitalocean", "aws"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(migCluster, plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction(migGroup, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(migStack, plancheck.ResourceActionNoop),
				}},
				Check: resource.ComposeTestCheckFunc(
					step("the node group moved (2 workers)"),
					checkSameIDs(before, migCluster, migGroup, migStack),
					checkOnCloud(migGroup, 2, "aws"),
					checkOnCloud(migCluster, 3, "digitalocean"),
					resource.TestCheckResourceAttr(migGroup, "rollout.#", "2"),
					resource.TestCheckResourceAttr(migGroup, "rollout.0.changes.0", "cloud digitalocean → aws"),
				),
			},
			{
				// Then the managers, one at a time, quorum kept.
				PreConfig: sample,
				Config:    migConfig(rc, img, compose, "aws", "aws"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(migCluster, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					step("the managers moved (3 managers)"),
					checkSameIDs(before, migCluster, migGroup, migStack),
					checkOnCloud(migCluster, 3, "aws"),
					checkOnCloud(migGroup, 2, "aws"),
					checkRunning(migCluster, map[string]int{"counter_web": 4, "counter_front": 3}),
					func(*terraform.State) error {
						res := load.Stop()
						load = nil
						fmt.Printf("migrating 3 managers and 2 workers from digitalocean to aws through terraform apply under load: %s; %d failed after a retry, %d first attempts failed\n", res, res.Failed, res.FirstFailed)
						do, _ := rc.Driver.ListHosts(context.Background(), cloud.ManagedTag)
						aws, _ := rc.AWSDriver.ListHosts(context.Background(), cloud.ManagedTag)
						if len(do) != 0 || len(aws) != 5 {
							return fmt.Errorf("after the migration: %d hosts on digitalocean, %d on aws; want 0 and 5", len(do), len(aws))
						}
						if res.Failed != 0 || res.OK == 0 {
							return fmt.Errorf("%d of %d requests failed even after a retry:\n%s", res.Failed, res.Requests, strings.Join(res.Failures, "\n"))
						}
						return nil
					},
				),
			},
			{
				Config:           migConfig(rc, img, compose, "aws", "aws"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func migConfig(rc *acctest.RealCloud, img string, compose []byte, managersCloud, workersCloud string, advertise ...string) string {
	adv := "public"
	if len(advertise) > 0 {
		adv = advertise[0]
	}
	return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "demo" {
  name              = "mig"
  advertise_address = %[5]q
  managers = {
    count  = 3
    cloud  = %[1]q
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_node_group" "workers" {
  cluster_id          = haddock_swarm_cluster.demo.id
  cluster_credentials = haddock_swarm_cluster.demo.credentials
  name                = "workers"
  node_count          = 2
  cloud               = %[2]q
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
  labels              = { tier = "app" }
}

resource "haddock_stack" "counter" {
  cluster_id          = haddock_swarm_cluster.demo.id
  cluster_credentials = haddock_swarm_cluster.demo.client_credentials
  name                = "counter"
  env                 = { IMAGE = %[3]q }
  compose             = %[4]q
  depends_on          = [haddock_node_group.workers]
}
`, managersCloud, workersCloud, img, strings.ReplaceAll(string(compose), "${", "$${"), adv)
}

// checkOnCloud checks that the group has n nodes, all ready on vendor c.
func checkOnCloud(addr string, n int, c string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[addr].Primary.Attributes
		if a["nodes.#"] != fmt.Sprint(n) {
			return fmt.Errorf("%s has %s nodes, want %d", addr, a["nodes.#"], n)
		}
		for i := range n {
			p := fmt.Sprintf("nodes.%d.", i)
			if !strings.HasPrefix(a[p+"host_id"], c+"/") || a[p+"state"] != "ready" {
				return fmt.Errorf("%s: node %s is %s (%s), want a ready host on %s", addr, a[p+"name"], a[p+"host_id"], a[p+"state"], c)
			}
		}
		return nil
	}
}

// managerURLs lists the stack's front on the managers that exist now,
// on every vendor: what a client that follows the cluster's DNS knows.
func managerURLs(drivers []cloud.Driver, prefix string) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		var urls []string
		for _, d := range drivers {
			hs, err := d.ListHosts(ctx, cloud.ManagedTag)
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				if strings.HasPrefix(h.Name, prefix) && h.Status == cloud.HostActive && h.PublicIPv4 != "" {
					urls = append(urls, "http://"+h.PublicIPv4+"/api")
				}
			}
		}
		return urls, nil
	}
}
