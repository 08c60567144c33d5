// Package dotest builds the DigitalOcean driver on a localcloud for tests,
// so that localcloud's own test harness (localcloudtest) imports no driver.
package dotest

import (
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/digitalocean"
)

// Driver is the DigitalOcean driver on the localcloud at url with token,
// polling every poll. It fails tb when the driver cannot be made.
func Driver(tb testing.TB, url, token string, poll time.Duration) *digitalocean.Driver {
	tb.Helper()
	d, err := digitalocean.New(digitalocean.Config{Token: token, APIEndpoint: url, PollInterval: poll})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
