package stack

import (
	"context"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
	hswarm "github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// TestEngineOf: the Engine of a Haddock client is the SDK client behind it
// (Connect does not contact the engine).
func TestEngineOf(t *testing.T) {
	ca, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueClient("provider", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := hswarm.Connect(context.Background(), hswarm.Endpoint{Host: "tcp://192.0.2.1:2376",
		CACertPEM: ca.CertPEM(), CertPEM: kp.CertPEM, KeyPEM: kp.KeyPEM, Identity: pki.HostIdentity("h1")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	e, err := EngineOf(c)
	if err != nil || e == nil {
		t.Fatalf("EngineOf = %v, %v", e, err)
	}
	if _, err := EngineOf(nil); err == nil {
		t.Error("EngineOf(nil) succeeded")
	}
}
