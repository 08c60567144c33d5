package contract

import (
	"context"
	"net/http"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

// StartLocalcloud starts localcloud with cfg (serving DigitalOcean's API
// when cfg.APIs is empty) on a loopback port, every
// exchange checked by a new Validator (outermost, around any
// cfg.Middleware). When the test ends it stops the server and fails tb if
// the Validator recorded a violation. It fails tb at once when the spec
// cannot be loaded.
func StartLocalcloud(tb testing.TB, cfg localcloud.Config) (*localcloud.Running, *Validator) {
	tb.Helper()
	v, err := New()
	if err != nil {
		tb.Fatalf("contract: %v", err)
	}
	inner := cfg.Middleware
	cfg.Middleware = func(h http.Handler) http.Handler {
		if inner != nil {
			h = inner(h)
		}
		return v.Middleware(h)
	}
	if len(cfg.APIs) == 0 {
		cfg.APIs = []localcloud.API{digitalocean.New(digitalocean.Config{})}
	}
	run, err := localcloud.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("starting localcloud: %v", err)
	}
	tb.Cleanup(func() {
		_ = run.Close()
		if err := v.Check(); err != nil {
			tb.Error(err)
		}
	})
	return run, v
}
