package provider_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

const (
	clusterAddr = "haddock_swarm_cluster.test"
	groupAddr   = "haddock_node_group.workers"
	serviceName = "web"
	replicas    = 6
)

// A real swarm on localcloud's real hosts: managers grow 1 → 3 and shrink
// 3 → 1, workers scale 2 → 4 → 1, and a replicated service keeps all its
// tasks running through every drain.
func TestAccSwarmCluster_scale(t *testing.T) {
	rc := acctest.RealHosts(t)
	name := "tf-acc-" + acctest.RandomName()[len(acctest.NamePrefix):]
	var image string
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { image = rc.PushCounter(t, "1") },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(60 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config: swarmConfig(rc, name, 1, 2),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("nodes"), knownvalue.ListSizeExact(1)),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("leader"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(groupAddr, tfjsonpath.New("nodes"), knownvalue.ListSizeExact(2)),
					statecheck.ExpectKnownValue(groupAddr, tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("role"), knownvalue.StringExact("worker")),
					statecheck.ExpectSensitiveValue(clusterAddr, tfjsonpath.New("credentials")),
				},
				Check: resource.ComposeTestCheckFunc(
					checkNodesReady(clusterAddr, 1), checkNodesReady(groupAddr, 2),
					func(s *terraform.State) error {
						d, err := acctest.HostDocker(s, clusterAddr)
						if err != nil {
							return err
						}
						if err := acctest.CreateService(context.Background(), d, serviceName, image, replicas); err != nil {
							return err
						}
						_, err = acctest.WaitRunning(context.Background(), d, serviceName, replicas, 2*time.Minute)
						return err
					},
				),
			},
			{
				// Import by id, the credentials from the environment: they live
				// only in state (no manager holds the CA key or the client
				// key). Everything else is read back from the cloud and the
				// swarm.
				ResourceName:      clusterAddr,
				ImportState:       true,
				ImportStateIdFunc: importClusterID(t),
				ImportStateVerify: true,
				// Not readable: how the configuration spells the managers'
				// region, size and image (import reads the vendor's values),
				// their user data and SSH keys, and a default Haddock applies
				// to the networks it creates.
				ImportStateVerifyIgnore: []string{"managers.region", "managers.size", "managers.image", "managers.user_data", "managers.ssh_keys", "encrypt_overlay_by_default"},
			},
			{
				// Import by <cluster_id>/<name>: the credentials come back with
				// the configuration, not the import.
				ResourceName:      groupAddr,
				ImportState:       true,
				ImportStateIdFunc: importID(acctest.DigitalOceanVendor(), groupAddr),
				ImportStateCheck:  checkImported("workers"),
			},
			{
				// Grow managers one at a time, workers by two.
				Config: swarmConfig(rc, name, 3, 4),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction(groupAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(checkNodesReady(clusterAddr, 3), checkNodesReady(groupAddr, 4), checkReplicas()),
			},
			{
				// Scale workers down: the newest three are drained first and
				// every task keeps running elsewhere.
				Config: swarmConfig(rc, name, 3, 1),
				Check:  resource.ComposeTestCheckFunc(checkNodesReady(groupAddr, 1), checkReplicas()),
			},
			{
				// A manager host deleted behind Terraform's back shows in the
				// plan...
				Config:             swarmConfig(rc, name, 3, 1),
				Check:              deleteFollower(rc),
				ExpectNonEmptyPlan: true,
			},
			{
				// ...and the apply replaces it: three ready managers again.
				Config: swarmConfig(rc, name, 3, 1),
				Check:  resource.ComposeTestCheckFunc(checkNodesReady(clusterAddr, 3), checkReplicas()),
			},
			{
				// Shrink managers: demoted and removed one at a time, the
				// leader last.
				Config: swarmConfig(rc, name, 1, 1),
				Check:  resource.ComposeTestCheckFunc(checkNodesReady(clusterAddr, 1), checkReplicas()),
			},
			{
				Config:           swarmConfig(rc, name, 1, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// A cluster Terraform forgot is imported again by its id, with its
// credentials from the environment: the first apply after the import
// updates it in place (the configuration's portable region, size and image
// resolve to the vendor values import read), never replaces it.
func TestAccSwarmCluster_import(t *testing.T) {
	rc := acctest.RealHosts(t)
	name := "tf-acc-" + acctest.RandomName()[len(acctest.NamePrefix):]
	cluster := fmt.Sprintf(`
resource "haddock_swarm_cluster" "test" {
  name = %[1]q
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}
`, name)
	forget := `
removed {
  from = haddock_swarm_cluster.test
  lifecycle {
    destroy = false
  }
}
`
	importBlock := `
variable "cluster_id" {
  type = string
}

import {
  to = haddock_swarm_cluster.test
  id = var.cluster_id
}
`
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(60 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config: rc.ProviderConfig + cluster,
				Check: func(s *terraform.State) error {
					// What the operator keeps from the state that created
					// the cluster: its id and credentials.
					var err error
					id, err = importClusterID(t)(s)
					t.Setenv("TF_VAR_cluster_id", id)
					return err
				},
			},
			{Config: rc.ProviderConfig + forget},
			{
				Config: rc.ProviderConfig + importBlock + cluster,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("name"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("managers").AtMapKey("region"), knownvalue.StringExact("eu-central")),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("nodes"), knownvalue.ListSizeExact(1)),
				},
				Check: resource.ComposeTestCheckFunc(checkNodesReady(clusterAddr, 1), func(s *terraform.State) error {
					if got := s.RootModule().Resources[clusterAddr].Primary.ID; got != id {
						return fmt.Errorf("imported cluster has id %s, want %s", got, id)
					}
					return nil
				}),
			},
			{
				Config:           rc.ProviderConfig + importBlock + cluster,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// Bad input is refused at plan time, on the attribute, saying why.
func TestAccSwarmCluster_badInput(t *testing.T) {
	cluster := func(managers int) string {
		return fmt.Sprintf(`
resource "haddock_swarm_cluster" "test" {
  name = "bad"
  managers = {
    count  = %d
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}
`, managers)
	}
	tests := []struct {
		name, config string
		err          []string
	}{
		{name: "even managers", config: cluster(2), err: []string{"Invalid manager count", "2 managers: Raft needs an odd count; an even count adds no fault tolerance"}},
		{name: "too many managers", config: cluster(9), err: []string{"Invalid manager count", "9 managers"}},
		{name: "reserved group name", config: cluster(1) + `
resource "haddock_node_group" "w" {
  cluster_id          = haddock_swarm_cluster.test.id
  cluster_credentials = haddock_swarm_cluster.test.credentials
  name                = "manager"
  node_count          = 1
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}`, err: []string{"Invalid Attribute Value Match", `value must be none of: ["manager"]`}},
		{name: "credentials of nothing", config: groupWithCredentials(`"{}"`), err: []string{"Invalid cluster credentials", "pass haddock_swarm_cluster.<name>.credentials", "as it is"}},
		{name: "client credentials for a node group", config: groupWithCredentials(`jsonencode({ uid = "0123456789abcdef", client_key = "k" })`), err: []string{"Credentials cannot sign hosts", "client_credentials, without the CA key", "Pass haddock_swarm_cluster.<name>.credentials"}},
		{name: "bad drain timeout", config: cluster(1) + `
resource "haddock_node_group" "w" {
  cluster_id          = haddock_swarm_cluster.test.id
  cluster_credentials = haddock_swarm_cluster.test.credentials
  name                = "w"
  node_count          = 1
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
  drain_timeout       = "soon"
}`, err: []string{"Invalid duration", `"soon" must be a duration such as "90s"`}},
		{name: "unknown size in group", config: cluster(1) + `
resource "haddock_node_group" "w" {
  cluster_id          = haddock_swarm_cluster.test.id
  cluster_credentials = haddock_swarm_cluster.test.credentials
  name                = "w"
  node_count          = 1
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "enormous"
  image               = "debian-12"
}`, err: []string{"Invalid size", `unknown size "enormous"`}},
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

// groupWithCredentials is a node group of cluster "abc" given credentials
// (an HCL expression), for plan-time checks.
func groupWithCredentials(creds string) string {
	return `
resource "haddock_node_group" "w" {
  cluster_id          = "abc"
  cluster_credentials = ` + creds + `
  name                = "w"
  node_count          = 1
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}`
}

func swarmConfig(rc *acctest.RealCloud, name string, managers, workers int) string {
	return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "test" {
  name = %[1]q
  managers = {
    count  = %[2]d
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_node_group" "workers" {
  cluster_id          = haddock_swarm_cluster.test.id
  cluster_credentials = haddock_swarm_cluster.test.credentials
  name                = "workers"
  node_count          = %[3]d
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
  labels              = { tier = "app" }
  drain_timeout       = "2m"
}
`, name, managers, workers)
}

// importClusterID returns the cluster's id, and puts its credentials where
// import reads them.
func importClusterID(t *testing.T) resource.ImportStateIdFunc {
	return func(s *terraform.State) (string, error) {
		a := s.RootModule().Resources[clusterAddr].Primary.Attributes
		t.Setenv(importCredentialsEnv, a["credentials"])
		return a["id"], nil
	}
}

// importCredentialsEnv is where haddock_swarm_cluster's import reads the
// cluster's credentials.
const importCredentialsEnv = "HADDOCK_IMPORT_CLUSTER_CREDENTIALS"

// checkImported expects one imported instance with id <cluster_id>/<name>.
func checkImported(name string) resource.ImportStateCheckFunc {
	return func(is []*terraform.InstanceState) error {
		if len(is) != 1 {
			return fmt.Errorf("imported %d instances, want 1", len(is))
		}
		a := is[0].Attributes
		if a["name"] != name || a["id"] != a["cluster_id"]+"/"+name || a["cluster_id"] == "" {
			return fmt.Errorf("imported id %q, cluster_id %q, name %q", a["id"], a["cluster_id"], a["name"])
		}
		return nil
	}
}

// deleteFollower deletes a manager host that is not the leader.
func deleteFollower(rc *acctest.RealCloud) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[clusterAddr].Primary.Attributes
		for i := range 3 {
			if a[fmt.Sprintf("nodes.%d.leader", i)] == "false" {
				_, id, _ := strings.Cut(a[fmt.Sprintf("nodes.%d.host_id", i)], "/")
				return rc.Driver.DeleteHost(context.Background(), id)
			}
		}
		return fmt.Errorf("no follower among the managers")
	}
}

// checkNodesReady expects n nodes in the resource's nodes, all ready.
func checkNodesReady(addr string, n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[addr].Primary.Attributes
		if a["nodes.#"] != fmt.Sprint(n) {
			return fmt.Errorf("%s has %s nodes, want %d", addr, a["nodes.#"], n)
		}
		for i := range n {
			if st := a[fmt.Sprintf("nodes.%d.state", i)]; st != "ready" {
				return fmt.Errorf("%s node %d (%s) is %q, want ready", addr, i, a[fmt.Sprintf("nodes.%d.name", i)], st)
			}
		}
		return nil
	}
}

// checkReplicas expects every task of the service running.
func checkReplicas() resource.TestCheckFunc {
	return func(s *terraform.State) error {
		d, err := acctest.HostDocker(s, clusterAddr)
		if err != nil {
			return err
		}
		_, err = acctest.WaitRunning(context.Background(), d, serviceName, replicas, time.Minute)
		return err
	}
}
