package provider_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
)

// A whole scenario on real hosts — a swarm whose manager is on
// DigitalOcean and whose worker is on AWS (a join token crosses), a stack
// pulling from a registry that needs credentials — with Terraform CLI and
// the provider logging at TRACE into one file. No DigitalOcean token, AWS
// secret, registry password, private key or swarm join token may appear in
// it. (The state keeps the private keys its schema says it keeps, marked
// sensitive; `terraform show -json` shows the state.)
func TestAccSecrets_notInTraceLogs(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_ACC_LOG_PATH", logFile) // the CLI and the provider, at TRACE
	t.Setenv("TF_LOG_CORE", "TRACE")
	t.Setenv("TF_LOG_PROVIDER", "TRACE")
	rc := acctest.RealHostsWith(t, acctest.RealOptions{AWS: true, PrivateRegistry: true})
	img := rc.PushCounter(t, "secrets")
	compose := `services:
  web:
    image: ${IMAGE}
    deploy: { replicas: 2 }
`
	// The secrets come from the environment, as they should in a real
	// configuration: the test harness logs the configuration's text.
	t.Setenv("AWS_ACCESS_KEY_ID", lcaws.DevAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", lcaws.DevSecretKey)
	t.Setenv("TF_VAR_registry_password", acctest.Token)
	cfg := fmt.Sprintf(`
provider "haddock" {
  digitalocean {
    api_endpoint  = %[4]q # the token: DIGITALOCEAN_TOKEN
    poll_interval = 0.2
  }
  aws {
    region    = %[5]q # the keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    endpoints = { ec2 = %[6]q }
  }
}

variable "registry_password" {
  type      = string
  sensitive = true
}

resource "haddock_swarm_cluster" "s" {
  name              = "sec"
  advertise_address = "public"
  managers = {
    count  = 1
    cloud  = "digitalocean"
    region = "eu-central"
    size   = "small"
    image  = "debian-12"
  }
}

resource "haddock_node_group" "w" {
  cluster_id          = haddock_swarm_cluster.s.id
  cluster_credentials = haddock_swarm_cluster.s.credentials
  name                = "w"
  node_count          = 1
  cloud               = "aws"
  region              = "eu-central"
  size                = "small"
  image               = "debian-12"
}

resource "haddock_stack" "app" {
  cluster_id          = haddock_swarm_cluster.s.id
  cluster_credentials = haddock_swarm_cluster.s.client_credentials
  name                = "app"
  env                 = { IMAGE = %[1]q }
  compose             = %[2]q
  with_registry_auth  = true
  registry_auth       = [{ address = %[3]q, username = "localcloud", password = var.registry_password }]
  depends_on          = [haddock_node_group.w]
}
`, img, strings.ReplaceAll(compose, "${", "$${"), rc.Registry, rc.URL, acctest.AWSRegion, rc.AWSURL)
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return rc.WaitHostsGone(90 * time.Second) },
		Steps: []resource.TestStep{
			{Config: cfg, Check: checkRunning("haddock_swarm_cluster.s", map[string]int{"app_web": 2})},
			{Config: cfg, PlanOnly: true},
		},
	})
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	// The file holds what the claim is about: Terraform's own trace, the
	// framework's, and Haddock's messages (the engine, the drivers).
	for _, want := range []string{"Terraform version:", "sdk.framework:", "haddock.cluster: creating hosts", "haddock.cluster: joining the swarm", "haddock.aws:"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Fatalf("the trace log (%d bytes) has no %q: the logs did not all reach it", len(b), want)
		}
	}
	secrets := map[string]*regexp.Regexp{
		"the DigitalOcean token (also the registry password)": regexp.MustCompile(regexp.QuoteMeta(acctest.Token)),
		"the AWS secret key": regexp.MustCompile(regexp.QuoteMeta(lcaws.DevSecretKey)),
		"a private key":      regexp.MustCompile(`PRIVATE KEY`),
		"a swarm join token": regexp.MustCompile(`SWMTKN-1-[0-9a-z]{20,}`),
	}
	found := false
	for what, re := range secrets {
		locs := re.FindAllIndex(b, 3)
		for _, l := range locs {
			found = true
			from, to := max(0, l[0]-200), min(len(b), l[1]+100)
			t.Errorf("%s in the trace log at byte %d: …%s…", what, l[0], bytes.ReplaceAll(b[from:to], []byte("\n"), []byte(" ⏎ ")))
		}
	}
	if !found {
		fmt.Printf("secrets: %d bytes of TRACE log (Terraform CLI and provider) scanned: no token, AWS secret, registry password, private key or join token\n", len(b))
	}
}
