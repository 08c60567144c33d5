package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws/mototest"
)

// Integration tests of the databases against moto_server. They fail
// rather than skip when moto is missing and CI (or HADDOCK_REQUIRE_MOTO=1)
// is set: mototest.StartMoto decides.
//
// moto's RDS is API-only: no database server runs, nothing listens on the
// endpoint, and no connection is tried here. Where it differs from AWS the
// test says so rather than loosening the driver:
//   - an instance is "available" as soon as CreateDBInstance answers, and
//     a modification applies at once, with nothing pending (AWS: creating
//     and modifying for minutes, the change pending meanwhile); deleting
//     makes it unknown at once (AWS: deleting for minutes);
//   - it keeps EngineVersion as given ("15", "8.0"; AWS answers the
//     minor it picked, "15.x");
//   - the master user secret it makes for ManageMasterUserPassword holds
//     a fixed {"username": "admin", "password": "P@55w0rd!"} (AWS: the
//     instance's master user name and a generated password);
//   - it validates neither instance classes nor storage steps (the driver
//     refuses those RDS refuses or rounds), nor that the security groups
//     exist, and gives instances no DBSubnetGroup (AWS: the default VPC's).

type motoDBEnv struct {
	d       *Driver
	rds     *rds.Client
	ec2     *ec2.Client
	secrets *secretsmanager.Client
}

func newMotoDBEnv(t *testing.T) *motoDBEnv {
	t.Helper()
	endpoint := mototest.StartMoto(t)
	d, err := New(context.Background(), Config{
		Region:      mototest.Region,
		AccessKey:   mototest.AccessKey,
		SecretKey:   mototest.SecretKey,
		Endpoints:   Endpoints{EC2: endpoint, RDS: endpoint, SecretsManager: endpoint, STS: endpoint},
		MaxAttempts: 2,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d.timing = fastTiming
	creds := credentials.NewStaticCredentialsProvider(mototest.AccessKey, mototest.SecretKey, "")
	// Plain clients, to check what the driver did independently of it.
	return &motoDBEnv{
		d:       d,
		rds:     rds.New(rds.Options{Region: mototest.Region, BaseEndpoint: awssdk.String(endpoint), Credentials: creds}),
		ec2:     rawClient(endpoint, mototest.Region),
		secrets: secretsmanager.New(secretsmanager.Options{Region: mototest.Region, BaseEndpoint: awssdk.String(endpoint), Credentials: creds}),
	}
}

func TestMotoDatabases(t *testing.T) {
	env := newMotoDBEnv(t)
	t.Run("ManagedPassword", func(t *testing.T) { testMotoDatabaseManaged(t, env) })
	t.Run("ExplicitPassword", func(t *testing.T) { testMotoDatabaseExplicit(t, env) })
	t.Run("TrustedSources", func(t *testing.T) { testMotoDatabaseTrustedSources(t, env) })
	t.Run("DuplicateName", func(t *testing.T) { testMotoDatabaseDuplicateName(t, env) })
	t.Run("Refused", func(t *testing.T) { testMotoDatabaseRefused(t, env) })
}

func pgSpec() cloud.DatabaseSpec {
	return cloud.DatabaseSpec{
		Name: "tf-acc-test-pg", Region: mototest.Region, Engine: "postgres", Version: "15",
		Size: "db.t4g.micro", NodeCount: 1, StorageGiB: 20,
		TrustedSources: []cloud.TrustedSource{{Kind: cloud.TrustedCIDR, Value: "203.0.113.0/24"}},
		Tags:           []string{"db-test"},
	}
}

// readBackDB is spec as it reads back: no password, tags sorted with the
// managed tag, sources sorted.
func readBackDB(spec cloud.DatabaseSpec) cloud.DatabaseSpec {
	spec.AdminPassword, spec.FinalSnapshot = "", ""
	spec.Tags = sorted(append(slices.Clone(spec.Tags), cloud.ManagedTag))
	spec.TrustedSources = sortedSources(spec.TrustedSources)
	if spec.NodeCount == 0 {
		spec.NodeCount = 1
	}
	return spec
}

func testMotoDatabaseManaged(t *testing.T, env *motoDBEnv) {
	ctx := context.Background()
	d := env.d
	spec := pgSpec()
	db, err := d.CreateDatabase(ctx, spec)
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	id := db.ID
	defer func() { _ = d.DeleteDatabase(ctx, id, "") }()
	if id != spec.Name || db.Status != cloud.DatabaseOnline || db.Host == "" || db.PrivateHost != db.Host || db.Port != 5432 ||
		db.Database != "defaultdb" || db.User != "haddockadmin" || db.CACertificate != "" || db.CreatedAt.IsZero() {
		t.Errorf("CreateDatabase = %+v; want %s online with an endpoint on 5432, defaultdb, haddockadmin, no CA", db, spec.Name)
	}
	if want := readBackDB(spec); !reflect.DeepEqual(db.Spec, want) {
		t.Errorf("spec read back =\n%+v\nwant\n%+v", db.Spec, want)
	}

	// What RDS was asked for.
	inst := motoDBInstance(t, env, id)
	sgID := checkMotoDBGroup(t, env, inst, []string{"tcp 5432 203.0.113.0/24"}, []string{"cidr:203.0.113.0/24"})
	if awssdk.ToString(inst.Engine) != "postgres" || awssdk.ToString(inst.EngineVersion) != "15" || awssdk.ToBool(inst.MultiAZ) ||
		!awssdk.ToBool(inst.PubliclyAccessible) || !awssdk.ToBool(inst.StorageEncrypted) || inst.MasterUserSecret == nil ||
		awssdk.ToString(inst.DBName) != "defaultdb" || awssdk.ToString(inst.MasterUsername) != "haddockadmin" {
		t.Errorf("DB instance = %s %s multi-AZ %v public %v encrypted %v secret %v db %s user %s",
			awssdk.ToString(inst.Engine), awssdk.ToString(inst.EngineVersion), awssdk.ToBool(inst.MultiAZ), awssdk.ToBool(inst.PubliclyAccessible),
			awssdk.ToBool(inst.StorageEncrypted), inst.MasterUserSecret, awssdk.ToString(inst.DBName), awssdk.ToString(inst.MasterUsername))
	}
	tags := map[string]string{}
	for _, tg := range inst.TagList {
		tags[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
	}
	if tags["haddock"] != "true" || tags["haddock:tag:db-test"] != "" || len(tags) != 2 {
		t.Errorf("RDS tags = %v, want haddock=true and haddock:tag:db-test", tags)
	}

	// Credentials: the password RDS manages, from Secrets Manager (moto:
	// a fixed one), escaped in the URI.
	secret, err := env.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: inst.MasterUserSecret.SecretArn})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	var kv struct{ Password string }
	if err := json.Unmarshal([]byte(awssdk.ToString(secret.SecretString)), &kv); err != nil || kv.Password == "" {
		t.Fatalf("the master user secret holds %v", err)
	}
	creds, err := d.Credentials(ctx, id)
	if err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	if creds.Host != db.Host || creds.PrivateHost != db.Host || creds.Port != 5432 || creds.Database != "defaultdb" || creds.User != "haddockadmin" || creds.Password != kv.Password {
		t.Errorf("Credentials = %+v (password %t); want the endpoint, haddockadmin and the secret's password", *creds, creds.Password == kv.Password)
	}
	checkURI(t, creds.URI, "postgresql", creds, "sslmode=require")

	got, err := d.GetDatabase(ctx, id)
	if err != nil {
		t.Fatalf("GetDatabase: %v", err)
	}
	if !reflect.DeepEqual(got, db) {
		t.Errorf("GetDatabase =\n%+v\nwant what CreateDatabase returned\n%+v", got, db)
	}

	// List: Haddock's only.
	if _, err := env.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: awssdk.String("tf-acc-test-not-haddock"), Engine: awssdk.String("postgres"), DBInstanceClass: awssdk.String("db.t4g.micro"),
		MasterUsername: awssdk.String("someone"), MasterUserPassword: awssdk.String("Passw0rd-Else"), AllocatedStorage: awssdk.Int32(20),
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = env.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: awssdk.String("tf-acc-test-not-haddock"), SkipFinalSnapshot: awssdk.Bool(true)})
	}()
	listed, err := d.ListDatabases(ctx)
	if err != nil {
		t.Fatalf("ListDatabases: %v", err)
	}
	var found *cloud.Database
	for i := range listed {
		if listed[i].ID == "tf-acc-test-not-haddock" {
			t.Errorf("ListDatabases lists an instance without the managed tag")
		}
		if listed[i].ID == id {
			found = &listed[i]
		}
	}
	if found == nil || !reflect.DeepEqual(found, db) {
		t.Errorf("ListDatabases = %+v; want %s as GetDatabase reads it", listed, id)
	}

	// Resize: class and storage up; then Multi-AZ.
	if db, err = d.ResizeDatabase(ctx, id, "db.t4g.small", 0, 30); err != nil {
		t.Fatalf("ResizeDatabase: %v", err)
	}
	if db.Spec.Size != "db.t4g.small" || db.Spec.StorageGiB != 30 || db.Spec.NodeCount != 1 || db.Status != cloud.DatabaseOnline {
		t.Errorf("after resize: %+v; want db.t4g.small, 30 GiB, 1 node, online", db.Spec)
	}
	if inst := motoDBInstance(t, env, id); awssdk.ToString(inst.DBInstanceClass) != "db.t4g.small" || awssdk.ToInt32(inst.AllocatedStorage) != 30 {
		t.Errorf("RDS says %s with %d GiB after the resize", awssdk.ToString(inst.DBInstanceClass), awssdk.ToInt32(inst.AllocatedStorage))
	}
	if db, err = d.ResizeDatabase(ctx, id, "", 2, 0); err != nil || db.Spec.NodeCount != 2 || db.Spec.Size != "db.t4g.small" || db.Spec.StorageGiB != 30 {
		t.Errorf("ResizeDatabase(2 nodes) = %+v, %v; want Multi-AZ, the rest kept", db, err)
	}
	if inst := motoDBInstance(t, env, id); !awssdk.ToBool(inst.MultiAZ) {
		t.Error("RDS says Single-AZ after asking for 2 nodes")
	}
	for _, c := range []struct {
		nodes, storage int
		says           string
	}{{0, 25, "cannot shrink"}, {0, 32, "10%"}, {3, 0, "one standby"}} {
		if _, err := d.ResizeDatabase(ctx, id, "", c.nodes, c.storage); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ResizeDatabase(nodes %d, storage %d) = %v, want ErrInvalid saying %q", c.nodes, c.storage, err, c.says)
		}
	}

	// Deleted with a final snapshot, then again: nothing to do.
	const snapshot = "tf-acc-test-pg-final"
	if err := d.DeleteDatabase(ctx, id, snapshot); err != nil {
		t.Fatalf("DeleteDatabase(with a final snapshot): %v", err)
	}
	snaps, err := env.rds.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: awssdk.String(snapshot)})
	if err != nil || len(snaps.DBSnapshots) != 1 || awssdk.ToString(snaps.DBSnapshots[0].DBInstanceIdentifier) != id {
		t.Errorf("final snapshot = %+v, %v; want %s of %s", snaps, err, snapshot, id)
	}
	checkMotoGroupGone(t, env, sgID)
	if _, err := d.GetDatabase(ctx, id); !cloud.IsNotFound(err) {
		t.Errorf("GetDatabase(deleted) = %v, want not found", err)
	}
	if err := d.DeleteDatabase(ctx, id, snapshot); err != nil {
		t.Errorf("DeleteDatabase(deleted) = %v, want nil", err)
	}
	if _, err := d.Credentials(ctx, id); !cloud.IsNotFound(err) {
		t.Errorf("Credentials(deleted) = %v, want not found", err)
	}
}

// testMotoDatabaseExplicit: a mysql database with the caller's password,
// which RDS cannot tell; then one RDS manages, then the caller's again.
func testMotoDatabaseExplicit(t *testing.T, env *motoDBEnv) {
	ctx := context.Background()
	d := env.d
	const password = "s3cret-Passw0rd!"
	spec := cloud.DatabaseSpec{Name: "tf-acc-test-my", Engine: "mysql", Version: "8", Size: "db.t4g.micro", AdminPassword: password}
	db, err := d.CreateDatabase(ctx, spec)
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	defer func() { _ = d.DeleteDatabase(ctx, db.ID, "") }()
	if db.Port != 3306 || db.Spec.Version != "8" || db.Spec.StorageGiB != 20 || db.Spec.Region != mototest.Region || db.Spec.TrustedSources != nil {
		t.Errorf("CreateDatabase(mysql) = %+v; want port 3306, version 8, 20 GiB, no trusted sources", db)
	}
	inst := motoDBInstance(t, env, db.ID)
	if awssdk.ToString(inst.EngineVersion) != "8.0" || inst.MasterUserSecret != nil {
		t.Errorf("RDS says version %s, secret %v; want 8.0 (RDS's major for 8) and no secret", awssdk.ToString(inst.EngineVersion), inst.MasterUserSecret)
	}
	// No trusted source: no ingress at all.
	sgID := checkMotoDBGroup(t, env, inst, nil, nil)

	creds, err := d.Credentials(ctx, db.ID)
	if err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	if creds.Password != "" || creds.Port != 3306 {
		t.Errorf("Credentials = %+v; want no password (the caller set it) on 3306", *creds)
	}
	checkURI(t, creds.URI, "mysql", creds, "ssl-mode=REQUIRED")

	// RDS manages it from now on, then the caller's again.
	if err := d.SetAdminPassword(ctx, db.ID, ""); err != nil {
		t.Fatalf("SetAdminPassword(managed): %v", err)
	}
	if creds, err = d.Credentials(ctx, db.ID); err != nil || creds.Password == "" {
		t.Errorf("Credentials(managed) = %v; want the password from Secrets Manager", err)
	}
	if err := d.SetAdminPassword(ctx, db.ID, "An0ther-Passw0rd"); err != nil {
		t.Fatalf("SetAdminPassword: %v", err)
	}
	if inst := motoDBInstance(t, env, db.ID); inst.MasterUserSecret != nil {
		t.Error("the secret is still managed after setting a password")
	}
	if creds, err = d.Credentials(ctx, db.ID); err != nil || creds.Password != "" {
		t.Errorf("Credentials(set) = %v; want no password", err)
	}
	err = d.SetAdminPassword(ctx, db.ID, "bad@pass-word")
	if !errors.Is(err, cloud.ErrInvalid) || strings.Contains(err.Error(), "bad@pass") {
		t.Errorf("SetAdminPassword(with @) = %v, want ErrInvalid without the password", err)
	}

	// Deleted without a final snapshot.
	if err := d.DeleteDatabase(ctx, db.ID, ""); err != nil {
		t.Fatalf("DeleteDatabase: %v", err)
	}
	snaps, err := env.rds.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: awssdk.String(db.ID), SnapshotType: awssdk.String("manual")})
	if err != nil || len(snaps.DBSnapshots) != 0 {
		t.Errorf("snapshots after a delete without one = %+v, %v; want none", snaps, err)
	}
	checkMotoGroupGone(t, env, sgID)
	if _, err := d.GetDatabase(ctx, db.ID); !cloud.IsNotFound(err) {
		t.Errorf("GetDatabase(deleted) = %v, want not found", err)
	}
}

func testMotoDatabaseTrustedSources(t *testing.T, env *motoDBEnv) {
	ctx := context.Background()
	d := env.d
	hosts, err := d.CreateHosts(ctx, []cloud.HostSpec{
		{Name: "tf-acc-test-db1", Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"db-clients"}},
		{Name: "tf-acc-test-db2", Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"db-clients"}},
		{Name: "tf-acc-test-db3", Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"db-other"}},
	})
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	defer func() {
		for _, h := range hosts {
			_ = d.DeleteHost(ctx, h.ID)
		}
	}()
	ip := map[string]string{}
	for _, h := range hosts {
		got, err := d.GetHost(ctx, h.ID)
		if err != nil || got.PrivateIPv4 == "" {
			t.Fatalf("GetHost(%s) = %+v, %v; want a private address", h.ID, got, err)
		}
		ip[h.ID] = got.PrivateIPv4
	}

	spec := pgSpec()
	spec.Name, spec.TrustedSources = "tf-acc-test-trust", nil
	db, err := d.CreateDatabase(ctx, spec)
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	defer func() { _ = d.DeleteDatabase(ctx, db.ID, "") }()

	sources := []cloud.TrustedSource{
		{Kind: cloud.TrustedTag, Value: "db-clients"},
		{Kind: cloud.TrustedCIDR, Value: "198.51.100.7"},
		{Kind: cloud.TrustedHost, Value: hosts[2].ID},
		{Kind: cloud.TrustedTag, Value: "nobody-has-it"}, // no rule, recorded all the same
		{Kind: cloud.TrustedCIDR, Value: "2001:db8::/32"},
	}
	if err := d.SetTrustedSources(ctx, db.ID, sources); err != nil {
		t.Fatalf("SetTrustedSources: %v", err)
	}
	inst := motoDBInstance(t, env, db.ID)
	checkMotoDBGroup(t, env, inst,
		[]string{"tcp 5432 198.51.100.7/32", "tcp 5432 2001:db8::/32", "tcp 5432 " + ip[hosts[0].ID] + "/32", "tcp 5432 " + ip[hosts[1].ID] + "/32", "tcp 5432 " + ip[hosts[2].ID] + "/32"},
		[]string{"cidr:198.51.100.7", "cidr:2001:db8::/32", "host:" + hosts[2].ID, "tag:db-clients", "tag:nobody-has-it"})
	got, err := d.GetDatabase(ctx, db.ID)
	if err != nil {
		t.Fatalf("GetDatabase: %v", err)
	}
	if want := sortedSources(sources); !reflect.DeepEqual(got.Spec.TrustedSources, want) {
		t.Errorf("trusted sources read back = %+v, want %+v", got.Spec.TrustedSources, want)
	}

	// Replaced: what is no longer asked for is revoked.
	if err := d.SetTrustedSources(ctx, db.ID, []cloud.TrustedSource{{Kind: cloud.TrustedHost, Value: hosts[0].ID}}); err != nil {
		t.Fatalf("SetTrustedSources(one host): %v", err)
	}
	checkMotoDBGroup(t, env, inst, []string{"tcp 5432 " + ip[hosts[0].ID] + "/32"}, []string{"host:" + hosts[0].ID})
	if err := d.SetTrustedSources(ctx, db.ID, nil); err != nil {
		t.Fatalf("SetTrustedSources(none): %v", err)
	}
	checkMotoDBGroup(t, env, inst, nil, nil)
	if got, err := d.GetDatabase(ctx, db.ID); err != nil || got.Spec.TrustedSources != nil {
		t.Errorf("GetDatabase after clearing = %+v, %v; want no trusted sources", got, err)
	}

	for _, s := range []cloud.TrustedSource{
		{Kind: cloud.TrustedHost, Value: "i-0123456789abcdef0"},
		{Kind: cloud.TrustedCIDR, Value: "not-an-address"},
		{Kind: "k8s", Value: "x"},
	} {
		if err := d.SetTrustedSources(ctx, db.ID, []cloud.TrustedSource{s}); !errors.Is(err, cloud.ErrInvalid) {
			t.Errorf("SetTrustedSources(%+v) = %v, want ErrInvalid", s, err)
		}
	}
	if err := d.SetTrustedSources(ctx, "tf-acc-test-nosuchdb", nil); !cloud.IsNotFound(err) {
		t.Errorf("SetTrustedSources(unknown database) = %v, want not found", err)
	}
}

// testMotoDatabaseDuplicateName: CreateDatabase continues with a Haddock
// database of that name (moto answers DBInstanceAlreadyExists as AWS
// does) and refuses anyone else's, without leaving a security group.
func testMotoDatabaseDuplicateName(t *testing.T, env *motoDBEnv) {
	ctx := context.Background()
	d := env.d
	spec := pgSpec()
	spec.Name = "tf-acc-test-dup"
	first, err := d.CreateDatabase(ctx, spec)
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	defer func() { _ = d.DeleteDatabase(ctx, first.ID, "") }()
	again, err := d.CreateDatabase(ctx, spec)
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Errorf("CreateDatabase(again) = %+v, %v; want the same database", again, err)
	}
	mysql := spec
	mysql.Engine, mysql.Version = "mysql", "8"
	if db, err := d.CreateDatabase(ctx, mysql); !errors.Is(err, cloud.ErrConflict) || db != nil {
		t.Errorf("CreateDatabase(same name, other engine) = %+v, %v; want nil, ErrConflict", db, err)
	}

	const foreign = "tf-acc-test-foreign-db"
	if _, err := env.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: awssdk.String(foreign), Engine: awssdk.String("postgres"), DBInstanceClass: awssdk.String("db.t4g.micro"),
		MasterUsername: awssdk.String("someone"), MasterUserPassword: awssdk.String("Passw0rd-Else"), AllocatedStorage: awssdk.Int32(20),
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = env.rds.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: awssdk.String(foreign), SkipFinalSnapshot: awssdk.Bool(true)})
	}()
	spec.Name = foreign
	if db, err := d.CreateDatabase(ctx, spec); !errors.Is(err, cloud.ErrConflict) || db != nil || !strings.Contains(err.Error(), "choose another name") {
		t.Errorf("CreateDatabase(someone else's name) = %+v, %v; want nil, ErrConflict", db, err)
	}
	if sg := motoGroupByName(t, env.ec2, dbSecurityGroupName(foreign)); sg != nil {
		t.Errorf("a failed CreateDatabase left its security group %s", awssdk.ToString(sg.GroupId))
	}
}

// testMotoDatabaseRefused: what RDS cannot do is refused before any call.
func testMotoDatabaseRefused(t *testing.T, env *motoDBEnv) {
	ctx := context.Background()
	for name, change := range map[string]func(*cloud.DatabaseSpec){
		"three nodes":  func(s *cloud.DatabaseSpec) { s.NodeCount = 3 },
		"upper case":   func(s *cloud.DatabaseSpec) { s.Name = "Tf-Acc-Test" },
		"engine":       func(s *cloud.DatabaseSpec) { s.Engine = "mariadb" },
		"size":         func(s *cloud.DatabaseSpec) { s.Size = "t3.micro" },
		"other region": func(s *cloud.DatabaseSpec) { s.Region = "eu-west-2" },
	} {
		spec := pgSpec()
		spec.Name = "tf-acc-test-refused"
		change(&spec)
		if db, err := env.d.CreateDatabase(ctx, spec); !errors.Is(err, cloud.ErrInvalid) || db != nil {
			t.Errorf("CreateDatabase(%s) = %+v, %v; want nil, ErrInvalid", name, db, err)
		}
		if sg := motoGroupByName(t, env.ec2, dbSecurityGroupName(spec.Name)); sg != nil {
			t.Errorf("CreateDatabase(%s) made security group %s", name, awssdk.ToString(sg.GroupId))
		}
	}
	if err := env.d.DeleteDatabase(ctx, "tf-acc-test-nosuchdb", "bad--snapshot"); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("DeleteDatabase(bad snapshot name) = %v, want ErrInvalid", err)
	}
}

func motoDBInstance(t *testing.T, env *motoDBEnv, id string) *rdsInstance {
	t.Helper()
	out, err := env.rds.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: awssdk.String(id)})
	if err != nil || len(out.DBInstances) != 1 {
		t.Fatalf("DescribeDBInstances(%s) = %+v, %v", id, out, err)
	}
	return &out.DBInstances[0]
}

// checkMotoDBGroup checks with the raw client that the instance is in its
// database's group alone, which admits exactly rules ("tcp 5432
// 10.0.0.7/32") and records exactly sources ("host:i-..."). It returns
// the group's id.
func checkMotoDBGroup(t *testing.T, env *motoDBEnv, inst *rdsInstance, rules, sources []string) string {
	t.Helper()
	id := awssdk.ToString(inst.DBInstanceIdentifier)
	sg := motoGroupByName(t, env.ec2, dbSecurityGroupName(id))
	if sg == nil {
		t.Fatalf("no security group %s", dbSecurityGroupName(id))
	}
	groupID := awssdk.ToString(sg.GroupId)
	if len(inst.VpcSecurityGroups) != 1 || awssdk.ToString(inst.VpcSecurityGroups[0].VpcSecurityGroupId) != groupID {
		t.Errorf("DB instance security groups = %+v, want %s alone", inst.VpcSecurityGroups, groupID)
	}
	if !isManaged(sg.Tags) {
		t.Errorf("security group tags = %+v, want the managed tag", sg.Tags)
	}
	var got []string
	for _, r := range ingressRules(sg.IpPermissions) {
		got = append(got, fmt.Sprintf("%s %d %s%s", r.proto, r.from, r.cidr, r.group))
	}
	if slices.Sort(got); !slices.Equal(got, sorted(rules)) {
		t.Errorf("database group admits %q, want %q", got, sorted(rules))
	}
	var recorded []string
	for _, tg := range sg.Tags {
		if k, ok := strings.CutPrefix(awssdk.ToString(tg.Key), trustedTagPrefix); ok {
			recorded = append(recorded, k)
		}
	}
	if slices.Sort(recorded); !slices.Equal(recorded, sorted(sources)) {
		t.Errorf("database group records %q, want %q", recorded, sorted(sources))
	}
	return groupID
}

func checkMotoGroupGone(t *testing.T, env *motoDBEnv, groupID string) {
	t.Helper()
	out, err := env.ec2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: awssdk.String("group-id"), Values: []string{groupID}}},
	})
	if err != nil || len(out.SecurityGroups) != 0 {
		t.Errorf("security group %s after delete: %+v, %v; want it gone", groupID, out, err)
	}
}

// motoGroupByName is the security group of that name, or nil.
func motoGroupByName(t *testing.T, raw *ec2.Client, name string) *ec2types.SecurityGroup {
	t.Helper()
	out, err := raw.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: awssdk.String("group-name"), Values: []string{name}}},
	})
	if err != nil {
		t.Fatalf("DescribeSecurityGroups(%s): %v", name, err)
	}
	if len(out.SecurityGroups) == 0 {
		return nil
	}
	return &out.SecurityGroups[0]
}

// checkURI checks a connection string against the credentials, the
// password unescaped included.
func checkURI(t *testing.T, uri, scheme string, c *cloud.DatabaseCredentials, query string) {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("URI does not parse: %v", err)
	}
	pw, hasPW := u.User.Password()
	if u.Scheme != scheme || u.User.Username() != c.User || pw != c.Password || hasPW != (c.Password != "") ||
		u.Host != fmt.Sprintf("%s:%d", c.Host, c.Port) || u.Path != "/"+c.Database || u.RawQuery != query {
		t.Errorf("URI = %s://%s@%s%s?%s (password matches: %t); want %s://%s@%s:%d/%s?%s",
			u.Scheme, u.User.Username(), u.Host, u.Path, u.RawQuery, pw == c.Password, scheme, c.User, c.Host, c.Port, c.Database, query)
	}
}

type rdsInstance = rdstypes.DBInstance
