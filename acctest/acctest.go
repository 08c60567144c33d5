// Package acctest is the acceptance-test harness: it serves the provider to
// the real Terraform CLI (terraform-plugin-testing), runs localcloud
// in-process with DigitalOcean's OpenAPI contract checked on every request
// and response, and fails — never skips — when something it needs is
// missing while TF_ACC asks for acceptance tests.
package acctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awselbv2"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsrds"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
	"github.com/haddockhq/terraform-provider-haddock/provider"
)

// NamePrefix starts every name the tests create, so sweepers and people can
// tell test leftovers apart.
const NamePrefix = "tf-acc-test-"

// Token is the token the in-process localcloud accepts.
const Token = "tf-acc-localcloud-token"

// BootDelay is how long localcloud keeps a droplet "new": long enough that
// every Create really waits, short enough for a fast suite.
const BootDelay = 300 * time.Millisecond

// ProviderFactories serves the provider in-process to Terraform.
var ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"haddock": providerserver.NewProtocol6WithError(provider.New("acctest")()),
}

var (
	suite struct {
		run       *localcloud.Running
		validator *contract.Validator
		do        *digitalocean.Driver
		doAPI     *lcdo.API
		// The EC2 API of the same localcloud, on its own listener, and
		// the check of its exchanges against AWS's service model.
		awsURL       string
		awsValidator *awsmodel.Validator
		elbURL       string
		elbValidator *awsmodel.Validator
		rdsURL       string
		secretsURL   string
	}
)

// Main runs a test binary's tests with localcloud up; use it as TestMain.
// After the run, any contract violation recorded fails the binary.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("TF_ACC") != "" {
		if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
			tf, err := exec.LookPath("terraform")
			if err != nil {
				fmt.Fprintln(os.Stderr, "acctest: TF_ACC is set but no terraform is on PATH and TF_ACC_TERRAFORM_PATH is empty; install Terraform 1.11+ (nothing here downloads it)")
				return 1
			}
			_ = os.Setenv("TF_ACC_TERRAFORM_PATH", tf)
		}
		_ = os.Setenv("CHECKPOINT_DISABLE", "1")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := contract.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "acctest: loading DigitalOcean's OpenAPI spec for the contract check: %v\n", err)
		return 1
	}
	av, err := awsmodel.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "acctest: loading AWS's EC2 service model for the contract check: %v\n", err)
		return 1
	}
	ev, err := awsmodel.NewELBv2()
	if err != nil {
		fmt.Fprintf(os.Stderr, "acctest: loading AWS's ELBv2 service model for the contract check: %v\n", err)
		return 1
	}
	rv, err := awsmodel.NewRDS()
	if err != nil {
		fmt.Fprintf(os.Stderr, "acctest: loading AWS's RDS service model for the contract check: %v\n", err)
		return 1
	}
	ec2API, rdsAPI := lcaws.New(lcaws.Config{}), awsrds.New(awsrds.Config{})
	suite.doAPI = lcdo.New(lcdo.Config{})
	lc, err := localcloud.Start(ctx, localcloud.Config{
		Token:      Token,
		BootDelay:  BootDelay,
		Middleware: contractMiddleware(v, av, ev, rv),
		APIs:       []localcloud.API{suite.doAPI, ec2API, awselbv2.New(awselbv2.Config{Instances: ec2API}), rdsAPI, rdsAPI.Secrets()},
		APIAddrs: map[string]string{lcaws.Name: "127.0.0.1:0", awselbv2.Name: "127.0.0.1:0",
			awsrds.Name: "127.0.0.1:0", awsrds.SecretsName: "127.0.0.1:0"},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "acctest: starting localcloud: %v\n", err)
		return 1
	}
	defer func() { _ = lc.Close() }()
	suite.run, suite.validator = lc, v
	suite.awsURL, suite.awsValidator = lc.APIURLs[lcaws.Name], av
	suite.elbURL, suite.elbValidator = lc.APIURLs[awselbv2.Name], ev
	suite.rdsURL, suite.secretsURL = lc.APIURLs[awsrds.Name], lc.APIURLs[awsrds.SecretsName]
	_ = os.Setenv(provider.EnvDigitalOceanURL, lc.URL)
	_ = os.Setenv(provider.EnvDigitalOceanToken, Token)
	suite.do, err = digitalocean.New(digitalocean.Config{Token: Token, APIEndpoint: lc.URL, PollInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Fprintf(os.Stderr, "acctest: %v\n", err)
		return 1
	}

	code := m.Run()

	if err := v.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "\nFAIL: localcloud broke DigitalOcean's API contract during the suite:\n%v\n", err)
		return 1
	}
	fmt.Printf("contract: %d requests and responses checked against DigitalOcean's OpenAPI spec, no violation\n", v.Checked())
	if err := av.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "\nFAIL: localcloud broke AWS's EC2 API contract during the suite:\n%v\n", err)
		return 1
	}
	fmt.Printf("contract: %s\n", av.Summary())
	if err := ev.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "\nFAIL: localcloud broke AWS's ELBv2 API contract during the suite:\n%v\n", err)
		return 1
	}
	fmt.Printf("contract: %s\n", ev.Summary())
	if err := rv.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "\nFAIL: localcloud broke AWS's RDS API contract during the suite:\n%v\n", err)
		return 1
	}
	fmt.Printf("contract: %s\n", rv.Summary())
	return code
}

// contractMiddleware checks DigitalOcean's paths against its OpenAPI spec
// and the AWS APIs' exchanges against AWS's service models (EC2, and ELBv2
// and RDS when given), each validator seeing its own service only.
func contractMiddleware(do *contract.Validator, ec2, elb, rds *awsmodel.Validator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		aws := next
		if rds != nil {
			aws = rds.OnlyService("rds", aws)
		}
		if elb != nil {
			aws = elb.OnlyService("elasticloadbalancing", aws)
		}
		d, e := do.Middleware(next), ec2.OnlyService("ec2", aws)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v2/") || strings.HasPrefix(r.URL.Path, "/_localcloud/") {
				d.ServeHTTP(w, r)
				return
			}
			e.ServeHTTP(w, r)
		})
	}
}

// PreCheck fails the test when the harness is not up.
func PreCheck(t testing.TB) {
	t.Helper()
	if suite.run == nil {
		t.Fatal("acctest: localcloud is not running: the package's TestMain must call acctest.Main")
	}
}

// ProviderConfig is the provider block every test uses: localcloud comes from
// the environment, polling and retries are quick.
func ProviderConfig() string {
	return `
provider "haddock" {
  digitalocean {
    poll_interval       = 0.1
    http_retry_wait_min = 0.05
    http_retry_wait_max = 2
  }
}
`
}

// RandomName is a fresh name under NamePrefix.
func RandomName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return NamePrefix + hex.EncodeToString(b)
}

// LocalCloudURL is the in-process localcloud's base URL.
func LocalCloudURL() string { return suite.run.URL }

// DigitalOcean is a driver on the in-process localcloud, for checks made
// behind Terraform's back (CheckDestroy, deleting out of band).
func DigitalOcean() cloud.Driver { return suite.do }

// Cloud gives tests localcloud's fault injection and request counters.
type Cloud struct{ s *localcloud.Server }

// LocalCloud is the in-process localcloud.
func LocalCloud(t *testing.T) Cloud {
	t.Helper()
	PreCheck(t)
	return Cloud{s: suite.run.Server}
}

// Fault makes the next count requests matching method and path prefix
// answer status (with Retry-After retryAfter seconds).
func (c Cloud) Fault(t *testing.T, method, pathPrefix string, status, count, retryAfter int) {
	t.Helper()
	err := c.s.InjectFault(localcloud.Fault{Method: method, PathPrefix: pathPrefix, Status: status, Count: count, RetryAfterSeconds: retryAfter})
	if err != nil {
		t.Fatalf("injecting a fault: %v", err)
	}
	t.Cleanup(c.s.ClearFaults)
}

// PendingFaults counts injected faults not served yet.
func (c Cloud) PendingFaults(t *testing.T) int {
	t.Helper()
	n := 0
	for _, f := range c.s.Faults() {
		n += f.Count
	}
	return n
}

// Requests is localcloud's request counters.
func (c Cloud) Requests() localcloud.RequestCounts { return c.s.Requests() }

// ErrorMatching builds an ExpectError pattern from fragments that must
// appear in order; spaces match any white space, since Terraform wraps
// diagnostics at its terminal width.
func ErrorMatching(fragments ...string) *regexp.Regexp {
	q := make([]string, len(fragments))
	for i, f := range fragments {
		q[i] = strings.ReplaceAll(regexp.QuoteMeta(f), " ", `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(q, ".*"))
}
