package digitalocean_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

// TestCreateDatabaseNameTaken drives localcloud's DigitalOcean API (memory
// backend) with the driver: a create whose name is taken by a Haddock
// database of the same engine (left by an apply killed before it saved
// it) continues with that database; one taken by a database that is not
// Haddock's is refused, saying so.
func TestCreateDatabaseNameTaken(t *testing.T) {
	d := startLocalcloud(t, lcdo.New(lcdo.Config{}), nil)
	ctx := t.Context()
	spec := cloud.DatabaseSpec{Name: "orders", Region: "fra1", Engine: "postgres", Size: "db-s-1vcpu-1gb", NodeCount: 1, Tags: []string{cloud.ManagedTag}}
	first, err := d.CreateDatabase(ctx, spec)
	if err != nil {
		t.Fatalf("first create: %v", err)
	}
	again, err := d.CreateDatabase(ctx, spec)
	if err != nil {
		t.Fatalf("create of a name a Haddock database holds: %v", err)
	}
	if again.ID != first.ID || again.Status != cloud.DatabaseOnline {
		t.Errorf("continued with %s (%s), want %s online", again.ID, again.Status, first.ID)
	}
	if all, err := d.ListDatabases(ctx); err != nil || len(all) != 1 {
		t.Errorf("databases after the second create: %d, %v; want 1", len(all), err)
	}

	foreign := cloud.DatabaseSpec{Name: "billing", Region: "fra1", Engine: "postgres", Size: "db-s-1vcpu-1gb", NodeCount: 1}
	if _, err := d.CreateDatabase(ctx, foreign); err != nil {
		t.Fatalf("creating a database without the managed tag: %v", err)
	}
	_, err = d.CreateDatabase(ctx, cloud.DatabaseSpec{Name: "billing", Region: "fra1", Engine: "postgres", Size: "db-s-1vcpu-1gb", NodeCount: 1, Tags: []string{cloud.ManagedTag}})
	if !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), "is not a Haddock postgres database") {
		t.Errorf("create of a name another database holds: %v, want a conflict saying it is not Haddock's", err)
	}
}
