package provider_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

func TestAccCatalogDataSource_basic(t *testing.T) {
	const addr = "data.haddock_catalog.test"
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: acctest.ProviderConfig() + `
data "haddock_catalog" "test" {
  cloud = "digitalocean"
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("sizes").AtSliceIndex(1), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name":      knownvalue.StringExact("medium"),
						"vcpus":     knownvalue.Int64Exact(2),
						"memory_gb": knownvalue.Int64Exact(4),
						"vendor": knownvalue.MapExact(map[string]knownvalue.Check{
							"digitalocean": knownvalue.StringExact("s-2vcpu-4gb"),
							"aws":          knownvalue.StringExact("t3.medium"),
						}),
					})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("regions").AtSliceIndex(0).AtMapKey("vendor").AtMapKey("digitalocean"), knownvalue.StringExact("nyc3")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("images").AtSliceIndex(0).AtMapKey("name"), knownvalue.StringExact("debian-12")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("vendor_regions"), knownvalue.ListPartial(map[int]knownvalue.Check{0: knownvalue.NotNull()})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("vendor_images"), knownvalue.ListPartial(map[int]knownvalue.Check{0: knownvalue.NotNull()})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("vendor_sizes").AtSliceIndex(0).AtMapKey("slug"), knownvalue.StringExact("s-1vcpu-1gb")),
				},
			},
		},
	})
}

func TestAccCatalogDataSource_portableOnly(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: acctest.ProviderConfig() + `data "haddock_catalog" "test" {}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.haddock_catalog.test", tfjsonpath.New("vendor_sizes"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue("data.haddock_catalog.test", tfjsonpath.New("sizes"), knownvalue.ListSizeExact(4)),
				},
			},
		},
	})
}

func TestAccCatalogDataSource_badCloud(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { acctest.PreCheck(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      acctest.ProviderConfig() + `data "haddock_catalog" "test" { cloud = "gcp" }`,
			PlanOnly:    true,
			ExpectError: acctest.ErrorMatching("Invalid Attribute Value Match", `cloud = "gcp"`, `value must be one of: ["digitalocean" "aws"]`),
		}},
	})
}
