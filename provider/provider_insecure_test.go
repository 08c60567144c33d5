package provider_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

// An http:// endpoint that is not loopback would carry the token in clear:
// it is refused unless insecure_http = true. 0.0.0.0 is not loopback, yet
// Linux connects it to this machine, so the insecure case reaches localcloud.
func TestAccProvider_insecureHTTP(t *testing.T) {
	local := acctest.LocalCloudURL()
	remote := strings.Replace(local, "127.0.0.1", "0.0.0.0", 1)
	catalog := `
data "haddock_catalog" "test" {
  cloud = "digitalocean"
}
`
	do := func(insecure, endpoint string) string {
		return fmt.Sprintf(`
provider "haddock" {
  %[1]s
  digitalocean {
    api_endpoint = %[2]q
  }
}
`, insecure, endpoint) + catalog
	}
	aws := func(insecure, ec2 string) string {
		return fmt.Sprintf(`
provider "haddock" {
  %[1]s
  aws {
    region     = "us-east-1"
    access_key = "AKIAEXAMPLE"
    secret_key = "secret"
    endpoints  = { ec2 = %[2]q }
  }
}
`, insecure, ec2) + catalog
	}
	for _, tc := range []struct {
		name, config, err string
	}{
		{"digitalocean loopback", do("", local), ""},
		{"digitalocean localhost", do("", strings.Replace(local, "127.0.0.1", "localhost", 1)), ""},
		{"digitalocean remote", do("", remote), "Unencrypted DigitalOcean API endpoint"},
		{"digitalocean remote insecure", do("insecure_http = true", remote), ""},
		{"aws loopback", aws("", "http://127.0.0.1:5000"), ""},
		{"aws remote", aws("", "http://192.0.2.10:5000"), "Unencrypted AWS endpoint"},
		{"aws remote insecure", aws("insecure_http = true", "http://192.0.2.10:5000"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step := resource.TestStep{Config: tc.config}
			if tc.err != "" {
				step.ExpectError = acctest.ErrorMatching(tc.err)
			}
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { acctest.PreCheck(t) },
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps:                    []resource.TestStep{step},
			})
		})
	}
}
