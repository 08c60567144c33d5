package provider_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

// A stack whose image is in a private registry (localcloud's, pulls
// needing its credentials) deploys only with with_registry_auth and the
// registry's login: without them the swarm cannot pull and the deploy
// fails naming the task; with them every task runs.
func TestAccStack_registryAuth(t *testing.T) {
	rc := acctest.RealHostsWith(t, acctest.RealOptions{PrivateRegistry: true})
	img := rc.PushCounter(t, "private")
	config := func(auth string) string {
		return rc.ProviderConfig + fmt.Sprintf(`
resource "haddock_swarm_cluster" "test" {
  name = "priv"
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_stack" "app" {
  cluster_id          = haddock_swarm_cluster.test.id
  cluster_credentials = haddock_swarm_cluster.test.client_credentials
  name                = "app"
  env                 = { IMAGE = %[1]q }
  compose             = <<-YAML
    services:
      web:
        image: $${IMAGE}
        deploy: { replicas: 1 }
  YAML
%[2]s
  timeouts = { create = "60s" }
}
`, img, auth)
	}
	login := fmt.Sprintf(`  with_registry_auth = true
  registry_auth = [{ address = %q, username = "localcloud", password = %q }]`, rc.Registry, acctest.Token)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(60 * time.Second) },
		Steps: []resource.TestStep{
			{
				Config:      config(""),
				ExpectError: regexp.MustCompile(`(?s)Stack did not converge.*app_web.*rejected: No such image`),
			},
			{
				Config: config(login),
				Check: resource.ComposeTestCheckFunc(
					checkStackServices(map[string]int{"web": 1}, "counter:private"),
					resource.TestCheckResourceAttr("haddock_stack.app", "registry_auth.#", "1"),
				),
			},
		},
	})
}

func TestAccStack_registryAuthBadInput(t *testing.T) {
	stackWith := func(extra string) string {
		return acctest.ProviderConfig() + `
resource "haddock_stack" "test" {
  cluster_id          = "abc"
  cluster_credentials = "{}"
  name                = "app"
  compose             = "services: { web: { image: nginx } }"
` + extra + `
}`
	}
	for _, tc := range []struct {
		name, extra string
		err         []string
	}{
		{"logins without with_registry_auth", `registry_auth = [{ address = "r.example", username = "u", password = "p" }]`,
			[]string{"Registry logins not sent", "with_registry_auth = true"}},
		{"login without a password", "with_registry_auth = true\nregistry_auth = [{ address = \"r.example\", username = \"u\" }]",
			[]string{"Incomplete registry login", "with haddock_stack.test", "needs username and password, or identity_token"}},
		{"two logins for one registry", "with_registry_auth = true\nregistry_auth = [{ address = \"r.example\", identity_token = \"t\" }, { address = \"r.example\", identity_token = \"u\" }]",
			[]string{"Duplicate registry login", "with haddock_stack.test", `"r.example" has more than one login`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps:                    []resource.TestStep{{Config: stackWith(tc.extra), PlanOnly: true, ExpectError: acctest.ErrorMatching(tc.err...)}},
			})
		})
	}
}
