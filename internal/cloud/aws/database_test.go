package aws

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// fakeRDS is an RDSAPI whose DescribeDBInstances is a hook; the other
// operations are not expected (the embedded nil interface).
type fakeRDS struct {
	RDSAPI
	describe func(*rds.DescribeDBInstancesInput) (*rds.DescribeDBInstancesOutput, error)
}

func (f *fakeRDS) DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, _ ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.describe(in)
}

func TestDatabaseStatus(t *testing.T) {
	for s, want := range map[string]cloud.DatabaseStatus{
		"creating":                            cloud.DatabaseCreating,
		"backing-up":                          cloud.DatabaseCreating,
		"configuring-enhanced-monitoring":     cloud.DatabaseCreating,
		"available":                           cloud.DatabaseOnline,
		"modifying":                           cloud.DatabaseResizing,
		"storage-optimization":                cloud.DatabaseResizing,
		"upgrading":                           cloud.DatabaseResizing,
		"deleting":                            cloud.DatabaseDeleting,
		"delete-precheck":                     cloud.DatabaseDeleting,
		"failed":                              cloud.DatabaseError,
		"incompatible-parameters":             cloud.DatabaseError,
		"incompatible-network":                cloud.DatabaseError,
		"inaccessible-encryption-credentials": cloud.DatabaseError,
		"inaccessible-encryption-credentials-recoverable": cloud.DatabaseError,
		"storage-full":                  cloud.DatabaseError,
		"rebooting":                     cloud.DatabaseMigrating,
		"resetting-master-credentials":  cloud.DatabaseMigrating,
		"stopped":                       cloud.DatabaseMigrating,
		"a-state-newer-than-the-driver": cloud.DatabaseMigrating,
	} {
		if got := dbStatus(s); got != want {
			t.Errorf("dbStatus(%s) = %s, want %s", s, got, want)
		}
	}
}

func TestDatabaseErrorKinds(t *testing.T) {
	for code, kind := range map[string]error{
		"DBInstanceNotFound":             cloud.ErrNotFound,
		"ResourceNotFoundException":      cloud.ErrNotFound,
		"DBInstanceAlreadyExists":        cloud.ErrConflict,
		"InvalidDBInstanceState":         cloud.ErrConflict,
		"DBSnapshotAlreadyExists":        cloud.ErrConflict,
		"InstanceQuotaExceeded":          cloud.ErrQuota,
		"InsufficientDBInstanceCapacity": cloud.ErrQuota,
		"AccessDeniedException":          cloud.ErrUnauthorized,
		"InvalidParameterCombination":    cloud.ErrInvalid,
		"InvalidVPCNetworkStateFault":    cloud.ErrInvalid,
	} {
		if err := mapError(apiErr(code)); !errors.Is(err, kind) {
			t.Errorf("mapError(%s) = %v, want kind %v", code, err, kind)
		}
	}
}

func TestPlanDatabase(t *testing.T) {
	d := NewWithAPI("us-east-1", &fakeEC2{}, nil)
	p, err := d.planDatabase(cloud.DatabaseSpec{Name: "app-db", Engine: "mysql", Version: "8", Size: "db.t4g.micro", NodeCount: 2})
	if err != nil {
		t.Fatalf("planDatabase: %v", err)
	}
	if p.engine != "mysql" || p.version != "8.0" || !p.multiAZ || p.storage != 20 || p.port != 3306 {
		t.Errorf("mysql plan = %+v; want 8.0, Multi-AZ, 20 GiB, port 3306", p)
	}
	p, err = d.planDatabase(cloud.DatabaseSpec{Name: "a", Version: "16", Size: "db.m7g.large", StorageGiB: 100, AdminPassword: "Passw0rd-long"})
	if err != nil || p.engine != "postgres" || p.version != "16" || p.multiAZ || p.storage != 100 || p.port != 5432 {
		t.Errorf("postgres plan = %+v, %v; want 16, Single-AZ, 100 GiB, port 5432", p, err)
	}
	if p, err = d.planDatabase(cloud.DatabaseSpec{Name: "a", Engine: "mysql", Version: "8.4", Size: "db.t4g.micro"}); err != nil || p.version != "8.4" {
		t.Errorf("mysql 8.4 plan = %+v, %v; want 8.4 as is", p, err)
	}
}

func TestPlanDatabaseRefuses(t *testing.T) {
	d := NewWithAPI("us-east-1", &fakeEC2{}, nil)
	ok := cloud.DatabaseSpec{Name: "app-db", Engine: "postgres", Size: "db.t4g.micro"}
	with := func(f func(*cloud.DatabaseSpec)) cloud.DatabaseSpec {
		s := ok
		f(&s)
		return s
	}
	for name, c := range map[string]struct {
		spec cloud.DatabaseSpec
		says string
	}{
		"three nodes":     {with(func(s *cloud.DatabaseSpec) { s.NodeCount = 3 }), "AWS Multi-AZ instances have one standby"},
		"negative nodes":  {with(func(s *cloud.DatabaseSpec) { s.NodeCount = -1 }), "node count"},
		"engine":          {with(func(s *cloud.DatabaseSpec) { s.Engine = "mariadb" }), "postgres or mysql"},
		"size":            {with(func(s *cloud.DatabaseSpec) { s.Size = "db-s-1vcpu-1gb" }), "RDS DB instance class"},
		"no name":         {with(func(s *cloud.DatabaseSpec) { s.Name = "" }), "empty"},
		"upper case":      {with(func(s *cloud.DatabaseSpec) { s.Name = "AppDB" }), "lower case"},
		"digit first":     {with(func(s *cloud.DatabaseSpec) { s.Name = "1db" }), "letter first"},
		"double hyphen":   {with(func(s *cloud.DatabaseSpec) { s.Name = "app--db" }), "two hyphens"},
		"trailing hyphen": {with(func(s *cloud.DatabaseSpec) { s.Name = "app-" }), "trailing hyphen"},
		"underscore":      {with(func(s *cloud.DatabaseSpec) { s.Name = "app_db" }), "letters, digits and hyphens"},
		"long name":       {with(func(s *cloud.DatabaseSpec) { s.Name = "a" + strings.Repeat("b", 63) }), "at most 63"},
		"small storage":   {with(func(s *cloud.DatabaseSpec) { s.StorageGiB = 10 }), "20 to 65536"},
		"short password":  {with(func(s *cloud.DatabaseSpec) { s.AdminPassword = "short" }), "8 to 128"},
		"long mysql pw":   {with(func(s *cloud.DatabaseSpec) { s.Engine, s.AdminPassword = "mysql", strings.Repeat("p", 42) }), "8 to 41"},
		"password slash":  {with(func(s *cloud.DatabaseSpec) { s.AdminPassword = "pass/word1" }), "printable ASCII"},
		"password space":  {with(func(s *cloud.DatabaseSpec) { s.AdminPassword = "pass word1" }), "printable ASCII"},
		"other region":    {with(func(s *cloud.DatabaseSpec) { s.Region = "eu-west-2" }), "ForRegion"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := d.planDatabase(c.spec)
			if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("planDatabase = %v, want ErrInvalid saying %q", err, c.says)
			}
			if pw := c.spec.AdminPassword; pw != "" && err != nil && strings.Contains(err.Error(), pw) {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

func TestResizeInput(t *testing.T) {
	inst := &rdstypes.DBInstance{
		DBInstanceIdentifier: awssdk.String("db"), DBInstanceClass: awssdk.String("db.t4g.micro"),
		AllocatedStorage: awssdk.Int32(100), MultiAZ: awssdk.Bool(false),
	}
	if in, err := resizeInput(inst, "", 0, 0); in != nil || err != nil {
		t.Errorf("resizeInput(nothing) = %+v, %v; want no call", in, err)
	}
	if in, err := resizeInput(inst, "db.t4g.micro", 1, 100); in != nil || err != nil {
		t.Errorf("resizeInput(as it is) = %+v, %v; want no call", in, err)
	}
	in, err := resizeInput(inst, "db.t4g.small", 2, 110)
	if err != nil || awssdk.ToString(in.DBInstanceClass) != "db.t4g.small" || !awssdk.ToBool(in.MultiAZ) ||
		awssdk.ToInt32(in.AllocatedStorage) != 110 || !awssdk.ToBool(in.ApplyImmediately) {
		t.Errorf("resizeInput = %+v, %v; want class, Multi-AZ and 110 GiB, applied immediately", in, err)
	}
	if in, err := resizeInput(inst, "", 2, 0); err != nil || in.DBInstanceClass != nil || in.AllocatedStorage != nil || !awssdk.ToBool(in.MultiAZ) {
		t.Errorf("resizeInput(Multi-AZ only) = %+v, %v", in, err)
	}
	for _, c := range []struct {
		size           string
		nodes, storage int
		says           string
	}{
		{"", 0, 99, "cannot shrink"},
		{"", 0, 109, "ask for 110 GiB or more"},
		{"", 0, 70000, "65536"},
		{"", 3, 0, "one standby"},
		{"m5.large", 0, 0, "RDS DB instance class"},
	} {
		if _, err := resizeInput(inst, c.size, c.nodes, c.storage); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("resizeInput(%q, %d, %d) = %v, want ErrInvalid saying %q", c.size, c.nodes, c.storage, err, c.says)
		}
	}
}

func TestDatabaseFrom(t *testing.T) {
	d := NewWithAPI("eu-west-1", &fakeEC2{}, nil)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inst := &rdstypes.DBInstance{
		DBInstanceIdentifier: awssdk.String("app"), DBInstanceStatus: awssdk.String("backing-up"),
		Engine: awssdk.String("postgres"), EngineVersion: awssdk.String("15.7"), DBInstanceClass: awssdk.String("db.t4g.micro"),
		AllocatedStorage: awssdk.Int32(20), MultiAZ: awssdk.Bool(true), DBName: awssdk.String("defaultdb"), MasterUsername: awssdk.String("haddockadmin"),
		Endpoint:           &rdstypes.Endpoint{Address: awssdk.String("app.abc.eu-west-1.rds.amazonaws.com"), Port: awssdk.Int32(5432)},
		InstanceCreateTime: &created,
		TagList:            []rdstypes.Tag{{Key: awssdk.String("haddock"), Value: awssdk.String("true")}, {Key: awssdk.String("haddock:tag:web"), Value: awssdk.String("")}, {Key: awssdk.String("team"), Value: awssdk.String("x")}},
	}
	sources := []cloud.TrustedSource{{Kind: cloud.TrustedCIDR, Value: "10.0.0.0/8"}}
	want := &cloud.Database{
		ID: "app", Status: cloud.DatabaseCreating,
		Spec: cloud.DatabaseSpec{Name: "app", Region: "eu-west-1", Engine: "postgres", Version: "15", Size: "db.t4g.micro", NodeCount: 2, StorageGiB: 20,
			TrustedSources: sources, Tags: []string{cloud.ManagedTag, "web"}},
		Host: "app.abc.eu-west-1.rds.amazonaws.com", PrivateHost: "app.abc.eu-west-1.rds.amazonaws.com", Port: 5432,
		Database: "defaultdb", User: "haddockadmin", CreatedAt: created,
	}
	if got := d.databaseFrom(inst, sources); !reflect.DeepEqual(got, want) {
		t.Errorf("databaseFrom =\n%+v\nwant\n%+v", got, want)
	}
	// Creating: no endpoint yet, the engine's port.
	inst.Endpoint, inst.Engine = nil, awssdk.String("mysql")
	if got := d.databaseFrom(inst, nil); got.Host != "" || got.Port != 3306 {
		t.Errorf("databaseFrom(no endpoint) host %q port %d; want none and 3306", got.Host, got.Port)
	}
}

func TestDatabaseURI(t *testing.T) {
	c := &cloud.DatabaseCredentials{Host: "db.example", Port: 5432, Database: "defaultdb", User: "haddockadmin", Password: "p@ss:w/rd?#%"}
	uri := dbURI("postgres", c)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("URI %q does not parse: %v", uri, err)
	}
	if pw, _ := u.User.Password(); pw != c.Password || u.Scheme != "postgresql" || u.Host != "db.example:5432" || u.Path != "/defaultdb" || u.Query().Get("sslmode") != "require" {
		t.Errorf("postgres URI = %q", uri)
	}
	c.Password, c.Port = "", 3306
	if got, want := dbURI("mysql", c), "mysql://haddockadmin@db.example:3306/defaultdb?ssl-mode=REQUIRED"; got != want {
		t.Errorf("mysql URI without password = %q, want %q", got, want)
	}
}

func TestTrustedSourceHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":   "198.51.100.7/32",
		"203.0.113.9/24": "203.0.113.0/24",
		"2001:db8::1":    "2001:db8::1/128",
		"2001:db8::/32":  "2001:db8::/32",
	} {
		if got, err := parseCIDR(in); err != nil || got != want {
			t.Errorf("parseCIDR(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "example.com", "10.0.0.0/33", "fe80::1%eth0"} {
		if _, err := parseCIDR(bad); err == nil {
			t.Errorf("parseCIDR(%q) succeeded", bad)
		}
	}
	if got := ruleDescription("tag café~x: i-1"); got != "tag caf__x: i-1" {
		t.Errorf("ruleDescription = %q", got)
	}
	if got := len(ruleDescription(strings.Repeat("a", 300))); got != maxRuleDescriptionLen {
		t.Errorf("ruleDescription kept %d characters, want %d", got, maxRuleDescriptionLen)
	}

	sources := []cloud.TrustedSource{
		{Kind: cloud.TrustedTag, Value: "haddock-group:web"},
		{Kind: cloud.TrustedCIDR, Value: "2001:db8::/32"},
		{Kind: cloud.TrustedHost, Value: "i-1"},
		{Kind: cloud.TrustedCIDR, Value: "2001:db8::/32"},
	}
	var tags []types.Tag
	for _, s := range sources {
		tags = append(tags, types.Tag{Key: awssdk.String(trustedTagKey(s)), Value: awssdk.String("")})
	}
	tags = append(tags, ec2Tag(cloud.ManagedTag), types.Tag{Key: awssdk.String(nameTagKey), Value: awssdk.String("haddock-db-x")})
	if got, want := sourcesFromTags(tags), sortedSources(sources); !reflect.DeepEqual(got, want) || len(got) != 3 {
		t.Errorf("sourcesFromTags = %+v, want %+v (3, sorted)", got, want)
	}
}

func TestResolveTrustedSourcesRefuses(t *testing.T) {
	d := newFakeDriver(t, &fakeEC2{}) // any call fails the test
	ctx := context.Background()
	many := make([]cloud.TrustedSource, maxTrustedSources+1)
	for i := range many {
		many[i] = cloud.TrustedSource{Kind: cloud.TrustedCIDR, Value: fmt.Sprintf("10.0.%d.0/24", i)}
	}
	for name, c := range map[string]struct {
		sources []cloud.TrustedSource
		says    string
	}{
		"kind":     {[]cloud.TrustedSource{{Kind: "droplet", Value: "1"}}, "cidr, host or tag"},
		"cidr":     {[]cloud.TrustedSource{{Kind: cloud.TrustedCIDR, Value: "10.0.0.0/40"}}, "not an address or a CIDR"},
		"no tag":   {[]cloud.TrustedSource{{Kind: cloud.TrustedTag}}, "names a tag"},
		"long tag": {[]cloud.TrustedSource{{Kind: cloud.TrustedTag, Value: strings.Repeat("t", 120)}}, "too long"},
		"too many": {many, "at most 48"},
	} {
		if _, err := d.resolveTrustedSources(ctx, c.sources, 5432); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("resolveTrustedSources(%s) = %v, want ErrInvalid saying %q", name, err, c.says)
		}
	}
}

// The wait goes on while a change is pending, though the instance says
// available, and ends at once on a failed instance.
func TestWaitDatabaseAvailable(t *testing.T) {
	d := newFakeDriver(t, &fakeEC2{})
	d.timing.database = time.Second
	answer := func(states ...rdstypes.DBInstance) *fakeRDS {
		var n atomic.Int32
		return &fakeRDS{describe: func(*rds.DescribeDBInstancesInput) (*rds.DescribeDBInstancesOutput, error) {
			i := min(int(n.Add(1))-1, len(states)-1)
			return &rds.DescribeDBInstancesOutput{DBInstances: []rdstypes.DBInstance{states[i]}}, nil
		}}
	}
	state := func(s string, pending *rdstypes.PendingModifiedValues) rdstypes.DBInstance {
		return rdstypes.DBInstance{DBInstanceIdentifier: awssdk.String("db"), DBInstanceStatus: awssdk.String(s), PendingModifiedValues: pending}
	}
	ctx := context.Background()
	f := answer(
		state("available", &rdstypes.PendingModifiedValues{DBInstanceClass: awssdk.String("db.t4g.small")}),
		state("modifying", nil),
		state("available", &rdstypes.PendingModifiedValues{}),
	)
	inst, err := d.waitDatabaseAvailable(ctx, f, "db")
	if err != nil || awssdk.ToString(inst.DBInstanceStatus) != "available" || inst.PendingModifiedValues == nil {
		t.Errorf("wait = %+v, %v; want the third answer", inst, err)
	}
	start := time.Now()
	_, err = d.waitDatabaseAvailable(ctx, answer(state("creating", nil), state("incompatible-parameters", nil)), "db")
	if err == nil || !strings.Contains(err.Error(), "incompatible-parameters") || time.Since(start) > d.timing.database/2 {
		t.Errorf("wait(incompatible-parameters) = %v after %s; want the state at once", err, time.Since(start))
	}
	if _, err := d.waitDatabaseAvailable(ctx, answer(state("creating", nil)), "db"); err == nil {
		t.Error("wait(creating for ever) succeeded")
	}
}

func TestDatabasesNeedTheRDSClient(t *testing.T) {
	d := newFakeDriver(t, &fakeEC2{}) // NewWithAPI: no RDS client
	ctx := context.Background()
	if _, err := d.CreateDatabase(ctx, cloud.DatabaseSpec{Name: "a", Size: "db.t4g.micro"}); err == nil || !strings.Contains(err.Error(), "no RDS client") {
		t.Errorf("CreateDatabase = %v, want an error naming the missing client", err)
	}
	if _, err := d.ListDatabases(ctx); err == nil {
		t.Error("ListDatabases succeeded without an RDS client")
	}
	if err := d.DeleteDatabase(ctx, "a", ""); err == nil {
		t.Error("DeleteDatabase succeeded without an RDS client")
	}
	if _, err := d.masterPassword(ctx, "arn"); err == nil || !strings.Contains(err.Error(), "no Secrets Manager client") {
		t.Errorf("masterPassword = %v, want an error naming the missing client", err)
	}
}
