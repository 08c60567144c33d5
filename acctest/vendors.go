package acctest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws/mototest"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
)

// Vendor is one cloud the cross-vendor acceptance tests run against:
// DigitalOcean on the in-process localcloud, AWS on a moto_server started
// for the test (an independent emulator), and AWS on the same localcloud's
// EC2 API.
type Vendor struct {
	// Name tells the vendor's emulations apart: digitalocean, aws-moto,
	// aws-localcloud.
	Name  string
	Cloud string
	// ProviderConfig is the provider block reaching this vendor.
	ProviderConfig string
	// Driver checks the vendor behind Terraform's back (region-bound for
	// AWS: the tests use the portable region "us-east").
	Driver cloud.Driver
	// Region, Size and Image are what "us-east", "small" and "debian-12"
	// become on this vendor.
	Region, Size string
	// ImportID maps a resource's state id to an import id that exercises
	// the vendor's import forms.
	ImportID func(id string) string
}

// FloatingIPs is the vendor's floating IP capability.
func (v Vendor) FloatingIPs() cloud.FloatingIPs {
	f, _ := v.Driver.(cloud.FloatingIPs)
	return f
}

// Vendors lists every vendor, starting what they need for this test.
func Vendors(t *testing.T) []Vendor {
	t.Helper()
	PreCheck(t)
	return []Vendor{DigitalOceanVendor(), AWSVendor(t), AWSLocalcloudVendor(t)}
}

// DigitalOceanVendor is DigitalOcean on the in-process localcloud.
func DigitalOceanVendor() Vendor {
	return Vendor{
		Name:           "digitalocean",
		Cloud:          string(cloud.DigitalOcean),
		ProviderConfig: ProviderConfig(),
		Driver:         suite.do,
		Region:         "nyc3",
		Size:           "s-1vcpu-2gb",
		ImportID:       func(id string) string { return id },
	}
}

// AWSVendor is AWS on a moto_server of this test's own. Without moto the
// test fails when CI asks for it (CI or HADDOCK_REQUIRE_MOTO=1), else skips.
func AWSVendor(t *testing.T) Vendor {
	t.Helper()
	endpoint := mototest.StartMoto(t)
	return awsVendor(t, "aws-moto", mototest.Region, mototest.AccessKey, mototest.SecretKey,
		aws.Endpoints{EC2: endpoint, ELBv2: endpoint, RDS: endpoint, SecretsManager: endpoint, STS: endpoint})
}

// AWSLocalcloudVendor is AWS on the in-process localcloud's EC2 API, its
// exchanges checked against AWS's own service model.
func AWSLocalcloudVendor(t *testing.T) Vendor {
	t.Helper()
	return awsVendor(t, "aws-localcloud", "us-east-1", lcaws.DevAccessKey, lcaws.DevSecretKey, aws.Endpoints{EC2: suite.awsURL, ELBv2: suite.elbURL, RDS: suite.rdsURL, SecretsManager: suite.secretsURL})
}

// awsVendor is AWS at endpoints (EC2, and STS when set) with static keys.
func awsVendor(t *testing.T, name, region, key, secret string, ep aws.Endpoints) Vendor {
	t.Helper()
	drv, err := aws.New(context.Background(), aws.Config{Region: region, AccessKey: key, SecretKey: secret, Endpoints: ep})
	if err != nil {
		t.Fatalf("configuring the AWS driver (%s): %v", name, err)
	}
	more := ""
	for _, e := range []struct{ name, url string }{{"elbv2", ep.ELBv2}, {"rds", ep.RDS}, {"secretsmanager", ep.SecretsManager}, {"sts", ep.STS}} {
		if e.url != "" {
			more += fmt.Sprintf("\n      %s = %q", e.name, e.url)
		}
	}
	return Vendor{
		Name:  name,
		Cloud: string(cloud.AWS),
		ProviderConfig: fmt.Sprintf(`
provider "haddock" {
  digitalocean {
    poll_interval = 0.1
  }
  aws {
    region     = %[1]q
    access_key = %[2]q
    secret_key = %[3]q
    endpoints = {
      ec2 = %[4]q%[5]s
    }
  }
}
`, region, key, secret, ep.EC2, more),
		Driver: drv,
		Region: region,
		Size:   "t3.small",
		// aws/<region>/<id> is the form for hosts outside the default region.
		ImportID: func(id string) string {
			return "aws/" + region + "/" + id[len("aws/"):]
		},
	}
}

// AgeUnsaved makes what the suite's DigitalOcean holds in its unsaved
// project (the resource urn, e.g. "do:floatingip:1.2.3.4") look as if it
// got there two hours ago: what a killed apply leaves once an hour has
// passed (DigitalOcean keeps no deadline with it, see the driver). Other
// vendors carry the deadline in the mark itself: nothing to do.
func AgeUnsaved(t testing.TB, v Vendor, urn string) {
	t.Helper()
	if v.Name != "digitalocean" {
		return
	}
	if err := suite.doAPI.Age(urn, 2*time.Hour); err != nil {
		t.Fatalf("ageing %s in localcloud: %v", urn, err)
	}
}
