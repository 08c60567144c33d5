package awsmodel

import (
	"context"
	"net/http"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
)

// StartLocalcloud starts localcloud with cfg, serving the EC2 API (a new
// one when cfg.APIs is empty) on a listener of its own (127.0.0.1:0 unless
// cfg.APIAddrs says otherwise; its URL is Running.APIURLs[aws.Name]),
// every exchange checked by a new Validator (outermost, around any
// cfg.Middleware). When the test ends it stops the server, logs how many
// exchanges were checked and fails tb on a violation. It fails tb at once
// when the model cannot be loaded.
func StartLocalcloud(tb testing.TB, cfg localcloud.Config) (*localcloud.Running, *Validator) {
	tb.Helper()
	v, err := New()
	if err != nil {
		tb.Fatalf("awsmodel: %v", err)
	}
	cfg.Middleware = v.Wrap(cfg.Middleware)
	if len(cfg.APIs) == 0 {
		cfg.APIs = []localcloud.API{lcaws.New(lcaws.Config{})}
	}
	if cfg.APIAddrs == nil {
		cfg.APIAddrs = map[string]string{lcaws.Name: "127.0.0.1:0"}
	}
	if cfg.Logf == nil {
		cfg.Logf = tb.Logf
	}
	run, err := localcloud.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("starting localcloud: %v", err)
	}
	tb.Cleanup(func() {
		_ = run.Close()
		v.Report(tb)
	})
	return run, v
}

// Wrap is a Config.Middleware checking every exchange, around inner (when
// not nil).
func (v *Validator) Wrap(inner func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		if inner != nil {
			h = inner(h)
		}
		return v.Middleware(h)
	}
}

// Report logs Summary to tb and fails it when Check finds violations.
func (v *Validator) Report(tb testing.TB) {
	tb.Helper()
	tb.Log(v.Summary())
	if err := v.Check(); err != nil {
		tb.Error(err)
	}
}
