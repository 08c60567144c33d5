package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
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
			{
				Config:            cfg,
				Check:             checkRunning("haddock_swarm_cluster.s", map[string]int{"app_web": 2}),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{secretsOnlyWhereSensitive{}}},
				ConfigStateChecks: []statecheck.StateCheck{secretsOnlyWhereSensitive{}},
			},
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

// secretsOnlyWhereSensitive checks `terraform show -json` of the state
// (statecheck) or of a plan (plancheck): every value holding a secret —
// a token, the AWS secret, a private key, a join token — sits at a path the
// schema marks sensitive.
type secretsOnlyWhereSensitive struct{}

var secretRE = regexp.MustCompile(regexp.QuoteMeta(acctest.Token) + `|` + regexp.QuoteMeta(lcaws.DevSecretKey) + `|PRIVATE KEY|SWMTKN-1-`)

func (secretsOnlyWhereSensitive) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil {
		resp.Error = fmt.Errorf("no state")
		return
	}
	n, err := secretsOutsideSensitive(req.State.Values.RootModule)
	if err == nil && n == 0 {
		err = fmt.Errorf("no value in the state holds a secret (the credentials do): the check checks nothing")
	}
	resp.Error = err
}

func (secretsOnlyWhereSensitive) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if req.Plan == nil || req.Plan.PlannedValues == nil {
		resp.Error = fmt.Errorf("no plan")
		return
	}
	_, resp.Error = secretsOutsideSensitive(req.Plan.PlannedValues.RootModule)
}

// secretsOutsideSensitive returns how many secrets sit where the schema
// keeps them, and an error naming each one that does not.
func secretsOutsideSensitive(m *tfjson.StateModule) (int, error) {
	if m == nil {
		return 0, fmt.Errorf("no root module")
	}
	var errs []error
	checked := 0
	for _, r := range m.Resources {
		var mask any
		if len(r.SensitiveValues) > 0 {
			if err := json.Unmarshal(r.SensitiveValues, &mask); err != nil {
				return 0, err
			}
		}
		walkSecrets(r.Address, r.AttributeValues, mask, &checked, &errs)
	}
	return checked, errors.Join(errs...)
}

// walkSecrets walks v beside its sensitivity mask (true: sensitive).
func walkSecrets(at string, v, mask any, checked *int, errs *[]error) {
	if b, ok := mask.(bool); ok && b {
		if s, ok := v.(string); ok && secretRE.MatchString(s) {
			*checked++ // a secret where the schema says it is kept
		}
		return
	}
	switch x := v.(type) {
	case map[string]any:
		mm, _ := mask.(map[string]any)
		for k, vv := range x {
			walkSecrets(at+"."+k, vv, mm[k], checked, errs)
		}
	case []any:
		ml, _ := mask.([]any)
		for i, vv := range x {
			var mi any
			if i < len(ml) {
				mi = ml[i]
			}
			walkSecrets(fmt.Sprintf("%s[%d]", at, i), vv, mi, checked, errs)
		}
	case string:
		if secretRE.MatchString(x) {
			*errs = append(*errs, fmt.Errorf("%s holds a secret and is not marked sensitive", at))
		}
	}
}
