package provider_test

import (
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/acctest"
)

// TestMain runs the package against an in-process localcloud whose every
// request and response is checked against DigitalOcean's OpenAPI spec.
func TestMain(m *testing.M) { acctest.Main(m) }
