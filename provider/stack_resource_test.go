package provider_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

const stackAddr = "haddock_stack.app"

// A two-service stack on a real swarm (counter app from localcloud's
// registry), with an overlay network, a config and a secret: deploy, roll
// a new image tag, change replicas, repair a service removed by hand, and
// leave nothing of the namespace after destroy.
func TestAccStack_lifecycle(t *testing.T) {
	rc := acctest.RealHosts(t)
	v1, v2 := rc.PushCounter(t, "1"), rc.PushCounter(t, "2")
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(60 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config: stackConfig(rc, v1, 2),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("services"), knownvalue.ListSizeExact(2)),
					// The stack holds client credentials: no CA key in its state.
					statecheck.ExpectKnownValue(stackAddr, tfjsonpath.New("cluster_credentials"), knownvalue.StringFunc(func(v string) error {
						if strings.Contains(v, `"ca_key"`) || !strings.Contains(v, `"client_key"`) {
							return fmt.Errorf("the stack's cluster_credentials are not client credentials (CA key present or client key missing)")
						}
						return nil
					})),
				},
				Check: checkStackServices(map[string]int{"web": 2, "api": 1}, "counter:1"),
			},
			{
				ResourceName:      stackAddr,
				ImportState:       true,
				ImportStateIdFunc: importID(acctest.DigitalOceanVendor(), stackAddr),
				ImportStateCheck:  checkImported("app"),
			},
			{
				// A new image tag rolls the service.
				Config: stackConfig(rc, v2, 2),
				Check:  checkStackServices(map[string]int{"web": 2, "api": 1}, "counter:2"),
			},
			{
				Config: stackConfig(rc, v2, 3),
				Check:  checkStackServices(map[string]int{"web": 3, "api": 1}, "counter:2"),
			},
			{
				// A service removed by hand shows in the plan...
				Config:             stackConfig(rc, v2, 3),
				Check:              removeServiceByHand("app_api"),
				ExpectNonEmptyPlan: true,
			},
			{
				// ...and the apply puts it back.
				Config: stackConfig(rc, v2, 3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(stackAddr, plancheck.ResourceActionUpdate),
				}},
				Check: checkStackServices(map[string]int{"web": 3, "api": 1}, "counter:2"),
			},
			{
				Config:           stackConfig(rc, v2, 3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Removing the stack leaves nothing of its namespace.
				Config: stackClusterConfig(rc),
				Check:  checkNamespaceEmpty("app"),
			},
		},
	})
}

func stackClusterConfig(rc *acctest.RealCloud) string {
	return rc.ProviderConfig + `
resource "haddock_swarm_cluster" "test" {
  name = "stk"
  managers = {
    count  = 1
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
  node_count          = 2
  cloud               = "digitalocean"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}
`
}

func stackConfig(rc *acctest.RealCloud, image string, replicas int) string {
	return stackClusterConfig(rc) + fmt.Sprintf(`
resource "haddock_stack" "app" {
  cluster_id          = haddock_swarm_cluster.test.id
  cluster_credentials = haddock_swarm_cluster.test.client_credentials
  name                = "app"
  env                 = { IMAGE = %[1]q, REPLICAS = "%[2]d" }
  compose             = <<-YAML
    services:
      web:
        image: $${IMAGE}
        environment: [ "PORT=8080" ]
        deploy:
          replicas: $${REPLICAS}
          update_config: { parallelism: 1, order: stop-first, failure_action: rollback }
        networks: [ back ]
        configs: [ { source: greeting, target: /greeting } ]
      api:
        image: $${IMAGE}
        networks: [ back ]
        secrets: [ token ]
    networks:
      back: { driver: overlay }
    configs:
      greeting: { file: ./greeting.txt }
    secrets:
      token: { file: ./token }
  YAML
  files = { "greeting.txt" = "hello", "token" = "s3cret" }
  depends_on = [haddock_node_group.workers]
}
`, image, replicas)
}

// checkStackServices asks the swarm for the stack's services: replicas
// running and the image each runs.
func checkStackServices(want map[string]int, image string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		d, err := acctest.HostDocker(s, "haddock_swarm_cluster.test")
		if err != nil {
			return err
		}
		for name, n := range want {
			if _, err := acctest.WaitRunning(context.Background(), d, "app_"+name, n, 2*time.Minute); err != nil {
				return err
			}
		}
		a := s.RootModule().Resources[stackAddr].Primary.Attributes
		for i := range len(want) {
			if img := a[fmt.Sprintf("services.%d.image", i)]; !strings.Contains(img, image) {
				return fmt.Errorf("service %s runs %q, want %s", a[fmt.Sprintf("services.%d.name", i)], img, image)
			}
		}
		return nil
	}
}

func removeServiceByHand(name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		d, err := acctest.HostDocker(s, "haddock_swarm_cluster.test")
		if err != nil {
			return err
		}
		cli, err := d.Client(d.Endpoint, d.ServerName)
		if err != nil {
			return err
		}
		defer func() { _ = cli.Close() }()
		return cli.ServiceRemove(context.Background(), name)
	}
}

// checkNamespaceEmpty expects no service, network, config or secret
// labelled with the stack's namespace.
func checkNamespaceEmpty(ns string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		d, err := acctest.HostDocker(s, "haddock_swarm_cluster.test")
		if err != nil {
			return err
		}
		cli, err := d.Client(d.Endpoint, d.ServerName)
		if err != nil {
			return err
		}
		defer func() { _ = cli.Close() }()
		ctx := context.Background()
		f := acctest.NamespaceFilter(ns)
		services, err := cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: f})
		if err != nil {
			return err
		}
		configs, err := cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
		if err != nil {
			return err
		}
		secrets, err := cli.SecretList(ctx, swarm.SecretListOptions{Filters: f})
		if err != nil {
			return err
		}
		networks, err := acctest.StackNetworks(ctx, cli, ns)
		if err != nil {
			return err
		}
		if len(services)+len(configs)+len(secrets)+networks > 0 {
			return fmt.Errorf("namespace %s left %d services, %d configs, %d secrets, %d networks", ns, len(services), len(configs), len(secrets), networks)
		}
		return nil
	}
}
