package aws_test

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	awsdriver "github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsrds"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

// TestLocalcloudRDSDriver drives localcloud's RDS (and its Secrets
// Manager) with Haddock's AWS driver on the memory backend: a database
// with a managed password, one with a password given, get, list, resize,
// delete; every RDS exchange checked against RDS's service model.
func TestLocalcloudRDSDriver(t *testing.T) {
	ec2V, err := awsmodel.New()
	if err != nil {
		t.Fatal(err)
	}
	rdsV, err := awsmodel.NewRDS()
	if err != nil {
		t.Fatal(err)
	}
	ec2 := lcaws.New(lcaws.Config{})
	rds := awsrds.New(awsrds.Config{})
	run, err := localcloud.Start(context.Background(), localcloud.Config{
		Backend:  localcloud.NewMemoryBackend(),
		APIs:     []localcloud.API{ec2, rds, rds.Secrets()},
		APIAddrs: map[string]string{lcaws.Name: "127.0.0.1:0", awsrds.Name: "127.0.0.1:0", awsrds.SecretsName: "127.0.0.1:0"},
		Middleware: func(h http.Handler) http.Handler {
			return ec2V.OnlyService("ec2", rdsV.OnlyService("rds", h))
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = run.Close()
		ec2V.Report(t)
		rdsV.Report(t)
		if rdsV.Checked() == 0 {
			t.Error("no RDS exchange was checked")
		}
	})
	d, err := awsdriver.New(context.Background(), awsdriver.Config{
		Region: region, AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey,
		Endpoints: awsdriver.Endpoints{EC2: run.APIURLs[lcaws.Name], RDS: run.APIURLs[awsrds.Name], SecretsManager: run.APIURLs[awsrds.SecretsName]},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// A managed password: Credentials reads it from Secrets Manager.
	managed, err := d.CreateDatabase(ctx, cloud.DatabaseSpec{Name: "lc-db-managed", Region: region, Engine: "postgres", Version: "15",
		Size: "db.t4g.micro", NodeCount: 1, StorageGiB: 20, Tags: []string{cloud.ManagedTag, "lc-db"}})
	if err != nil {
		t.Fatalf("CreateDatabase (managed password): %v", err)
	}
	if managed.Status != cloud.DatabaseOnline || managed.Spec.Version != "15" || managed.Spec.Size != "db.t4g.micro" || managed.Spec.StorageGiB != 20 ||
		managed.Database != "defaultdb" || managed.User != "haddockadmin" || managed.Port != 25060 || !netip.MustParseAddr(managed.Host).IsValid() {
		t.Errorf("created %+v", managed)
	}
	if !slices.Equal(managed.Spec.Tags, []string{cloud.ManagedTag, "lc-db"}) {
		t.Errorf("tags read back: %v", managed.Spec.Tags)
	}
	creds, err := d.Credentials(ctx, managed.ID)
	if err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	if len(creds.Password) < 8 || creds.Host != managed.Host || creds.User != "haddockadmin" || creds.Database != "defaultdb" {
		t.Errorf("credentials %+v", creds)
	}

	// A password given: Credentials cannot tell it.
	given, err := d.CreateDatabase(ctx, cloud.DatabaseSpec{Name: "lc-db-given", Region: region, Size: "db.m7g.large", NodeCount: 2,
		StorageGiB: 100, AdminPassword: "s3cret-Passw0rd", Tags: []string{cloud.ManagedTag}})
	if err != nil {
		t.Fatalf("CreateDatabase (password given): %v", err)
	}
	if given.Status != cloud.DatabaseOnline || given.Spec.NodeCount != 2 || given.Spec.StorageGiB != 100 {
		t.Errorf("created %+v", given)
	}
	if c, err := d.Credentials(ctx, given.ID); err != nil || c.Password != "" {
		t.Errorf("Credentials of a given password = %+v, %v", c, err)
	}
	if err := d.SetAdminPassword(ctx, given.ID, "an0ther-Passw0rd"); err != nil {
		t.Errorf("SetAdminPassword: %v", err)
	}

	got, err := d.GetDatabase(ctx, managed.ID)
	if err != nil || got.Host != managed.Host || got.Status != cloud.DatabaseOnline {
		t.Fatalf("GetDatabase = %+v, %v", got, err)
	}
	all, err := d.ListDatabases(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("ListDatabases = %+v, %v", all, err)
	}

	// Resize: class and storage up.
	up, err := d.ResizeDatabase(ctx, managed.ID, "db.t4g.small", 1, 40)
	if err != nil {
		t.Fatalf("ResizeDatabase: %v", err)
	}
	if up.Spec.Size != "db.t4g.small" || up.Spec.StorageGiB != 40 || up.Status != cloud.DatabaseOnline {
		t.Errorf("resized %+v", up.Spec)
	}

	// Delete without a final snapshot, and with one.
	if err := d.DeleteDatabase(ctx, managed.ID, ""); err != nil {
		t.Fatalf("DeleteDatabase: %v", err)
	}
	if _, err := d.GetDatabase(ctx, managed.ID); !cloud.IsNotFound(err) {
		t.Errorf("GetDatabase after delete = %v, want not found", err)
	}
	if err := d.DeleteDatabase(ctx, given.ID, "lc-db-given-final"); err != nil {
		t.Fatalf("DeleteDatabase with a final snapshot: %v", err)
	}
	if all, err := d.ListDatabases(ctx); err != nil || len(all) != 0 {
		t.Errorf("ListDatabases after delete = %+v, %v", all, err)
	}

	counts := run.Server.Requests().Requests
	for _, op := range []string{"CreateDBInstance", "DescribeDBInstances", "ModifyDBInstance", "DeleteDBInstance"} {
		if counts["rds:"+op] == 0 {
			t.Errorf("no %s request counted: %v", op, counts)
		}
	}
	if counts["secretsmanager:GetSecretValue"] == 0 {
		t.Errorf("no GetSecretValue request counted: %v", counts)
	}
	if err := rdsV.Check(); err != nil {
		t.Error(err)
	}
	t.Logf("%s", rdsV.Summary())
}
