package aws

// Databases (cloud.Databases) are RDS DB instances.
//
// One database is, in the driver's region:
//
//   - one RDS DB instance whose identifier is spec.Name, which is also the
//     database's id. RDS keeps identifiers in lower case: names are 1 to 63
//     lower-case letters, digits and hyphens, a letter first, with no
//     trailing hyphen and no two hyphens in a row;
//   - engine postgres or mysql ("" is postgres). EngineVersion is
//     spec.Version, a major version, and RDS picks that major's default
//     minor: postgres "15" goes as it is; mysql "8" goes as "8.0" (RDS's
//     MySQL majors are 8.0 and 8.4; "8.0" and "8.4" go as they are); ""
//     is RDS's default. It reads back as the first component ("15.7" →
//     "15", "8.0.40" → "8"), so that a major asked for reads back as
//     asked. moto keeps the version it is given ("15" reads back "15").
//   - DBInstanceClass is Size (db.*); AllocatedStorage is StorageGiB, 20
//     (RDS's smallest for these engines) when 0;
//   - NodeCount 1 (or 0) is a Single-AZ instance, 2 a Multi-AZ one: AWS
//     keeps one synchronous standby in another Availability Zone, which
//     serves nothing until a failover. More is refused with cloud.ErrInvalid:
//     AWS Multi-AZ instances have one standby. It reads back 1 or 2;
//   - the master user is "haddockadmin" (RDS takes letters and digits, 16
//     at most for MySQL). Its password is spec.AdminPassword (8 to 128
//     printable ASCII characters for postgres, 41 for mysql, without
//     / ' " @ or spaces), or, when "", one RDS generates and keeps in
//     Secrets Manager (ManageMasterUserPassword), which Credentials reads;
//   - DBName "defaultdb", the database DigitalOcean makes too;
//   - publicly accessible, storage encrypted (with the account's aws/rds
//     key), tags copied to snapshots; in the default VPC (no DB subnet
//     group: RDS takes the default VPC's), in one security group,
//     "haddock-db-<name>", which admits the trusted sources (below);
//   - the spec's neutral tags and the managed tag, as EC2 resources carry
//     them (tags.go).
//
// Trusted sources are the ingress rules of the database's security group,
// on the engine's port (5432, 3306), tcp:
//
//   - cidr: that CIDR (a bare address is a /32, or a /128);
//   - host: the EC2 instance's private address, /32;
//   - tag: the private addresses, /32, of the region's instances (not
//     terminated) that carry that neutral tag at the time of the call.
//     AWS has no rule that follows a tag: a host tagged later is not
//     admitted, and a removed one stays admitted, until the trusted
//     sources are set again (DigitalOcean follows the tag).
//
// No trusted source means no ingress rule: nobody connects
// (DigitalOcean's default differs: everybody with the password). The
// sources as given are kept as tags of the security group
// ("haddock:trusted:<kind>:<value>"), and read back from there, sorted by
// kind and value. A security group takes 60 inbound rules by default (IPv4
// and IPv6 count apart) and 50 tags (48 trusted sources).
//
// Status, from DBInstanceStatus: creating, backing-up,
// configuring-enhanced-monitoring → creating; available → online;
// modifying, resizing, storage-optimization, storage-initialization,
// upgrading → resizing; deleting, delete-precheck → deleting; failed,
// incompatible-*, inaccessible-encryption-credentials*, restore-error,
// storage-full, insufficient-capacity → error; any other (rebooting,
// maintenance, renaming, resetting-master-credentials, starting,
// stopping, stopped, configuring-*, moving-to-vpc, ...) → migrating,
// cloud's "being modified".
//
// Reading back: Host is Endpoint.Address and PrivateHost the same name:
// RDS gives an instance one endpoint name, which resolves to its private
// address inside the VPC and to its public one outside. Port is
// Endpoint.Port, Database DBName, User MasterUsername. CACertificate is
// "": RDS names the CA its server certificates chain to
// (CACertificateIdentifier, rds-ca-rsa2048-g1 by default) instead of
// serving it, and the driver downloads nothing; for sslmode=verify-full
// use AWS's bundle of the region,
// https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem.
// AdminPassword and FinalSnapshot never read back.
//
// CreateDatabase creates the security group and its rules, then the DB
// instance, and waits until it is available; once the instance exists a
// failure returns it with the error. DBInstanceAlreadyExists continues
// with the existing instance when it is Haddock's and of the same engine.
// ResizeDatabase modifies class, storage and Multi-AZ at once
// (ApplyImmediately) and waits until the instance is available with no
// change pending. RDS storage never shrinks, and grows by 10% at least
// (RDS rounds a smaller step up): both are refused with cloud.ErrInvalid.
// SetAdminPassword sets the password (turning Secrets Manager management
// off), or with "" turns management on, and waits likewise.
// DeleteDatabase deletes the instance, with the final snapshot it names or
// none, waits until it is gone, then deletes its security group (retrying
// while the instance's network interfaces linger). ListDatabases lists
// the instances carrying the managed tag.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

const (
	dbEnginePostgres = "postgres"
	dbEngineMySQL    = "mysql"

	// dbMasterUsername is every database's admin user.
	dbMasterUsername = "haddockadmin"
	// dbDefaultName is the database created with the instance.
	dbDefaultName = "defaultdb"

	dbDefaultStorageGiB = 20
	dbMinStorageGiB     = 20
	dbMaxStorageGiB     = 65536
	dbMaxIdentifierLen  = 63
	dbMaxSnapshotIDLen  = 255

	dbSecurityGroupPrefix = "haddock-db-"

	dbStatusAvailable = "available"
	dbStatusDeleting  = "deleting"
)

// dbPorts are the engines' ports.
var dbPorts = map[string]int32{dbEnginePostgres: 5432, dbEngineMySQL: 3306}

// dbPlan is a spec checked and translated to RDS terms.
type dbPlan struct {
	spec    cloud.DatabaseSpec
	engine  string
	version string // EngineVersion; "" for RDS's default
	multiAZ bool
	storage int32
	port    int32
}

func dbSecurityGroupName(id string) string { return dbSecurityGroupPrefix + id }

func dbSecurityGroupDescription(id string) string {
	return fmt.Sprintf("Haddock database %s: its trusted sources (managed by Haddock)", id)
}

// rdsAPI is the driver's RDS client.
func (d *Driver) rdsAPI() (RDSAPI, error) {
	if d.rds == nil {
		return nil, errors.New("aws: this driver has no RDS client; build it with aws.New")
	}
	return d.rds, nil
}

// dbWait bounds the waits for a DB instance.
func (d *Driver) dbWait() time.Duration {
	if d.timing.database > 0 {
		return d.timing.database
	}
	return d.timing.stateChange
}

// CreateDatabase creates the database's security group and the DB
// instance and waits until it is available (see the mapping above).
func (d *Driver) CreateDatabase(ctx context.Context, spec cloud.DatabaseSpec) (*cloud.Database, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("RDS DB instance (%s)", spec.Name)
	api, err := d.rdsAPI()
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	fw, err := d.firewallAPI()
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	p, err := d.planDatabase(spec)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	// Resolved first: a bad source fails before anything is made.
	sources, err := d.resolveTrustedSources(ctx, spec.TrustedSources, p.port)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	vpcID, err := d.databaseVPC(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	sg, sgCreated, err := ensureOwnGroup(ctx, fw, vpcID, dbSecurityGroupName(spec.Name), dbSecurityGroupDescription(spec.Name))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	sgID := awssdk.ToString(sg.GroupId)
	failed := func(err error) (*cloud.Database, error) {
		if sgCreated {
			d.dropGroup(ctx, sgID)
		}
		return nil, fmt.Errorf("creating %s: %w", what, err)
	}
	if err := d.applyTrustedSources(ctx, fw, sg, sources); err != nil {
		return failed(err)
	}

	in := &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: awssdk.String(spec.Name),
		Engine:               awssdk.String(p.engine),
		DBInstanceClass:      awssdk.String(spec.Size),
		AllocatedStorage:     awssdk.Int32(p.storage),
		MultiAZ:              awssdk.Bool(p.multiAZ),
		MasterUsername:       awssdk.String(dbMasterUsername),
		DBName:               awssdk.String(dbDefaultName),
		PubliclyAccessible:   awssdk.Bool(true),
		StorageEncrypted:     awssdk.Bool(true),
		CopyTagsToSnapshot:   awssdk.Bool(true),
		VpcSecurityGroupIds:  []string{sgID},
		Tags:                 rdsTags(spec.Tags),
	}
	if p.version != "" {
		in.EngineVersion = awssdk.String(p.version)
	}
	if spec.AdminPassword != "" {
		in.MasterUserPassword = awssdk.String(spec.AdminPassword)
	} else {
		in.ManageMasterUserPassword = awssdk.Bool(true)
	}
	tflog.SubsystemInfo(ctx, subsystem, "creating RDS DB instance (this takes minutes)", map[string]any{
		"name": spec.Name, "engine": p.engine, "version": p.version, "class": spec.Size, "storage_gib": p.storage,
		"multi_az": p.multiAZ, "managed_password": spec.AdminPassword == "", "security_group": sgID,
	})
	out, err := api.CreateDBInstance(ctx, in)
	var inst *rdstypes.DBInstance
	switch {
	case hasCode(err, errCodeDBInstanceAlreadyExists):
		if inst, err = d.adoptDBInstance(ctx, api, p); err != nil {
			return failed(err)
		}
	case err != nil:
		return failed(mapError(err))
	case out.DBInstance == nil:
		return failed(errors.New("RDS answered without the DB instance"))
	default:
		inst = out.DBInstance
	}

	// From here on the instance exists: a failure returns it, for the
	// caller to record.
	partial := func(err error) (*cloud.Database, error) {
		got := d.databaseFrom(inst, sources.given)
		return got, fmt.Errorf("creating %s: %w (the DB instance exists and is returned with this error: wait for it and read it again, or delete it)", what, err)
	}
	if inst, err = d.ensureGroupAttached(ctx, api, inst, sgID); err != nil {
		return partial(err)
	}
	avail, err := d.waitDatabaseAvailable(ctx, api, spec.Name)
	if err != nil {
		return partial(err)
	}
	return d.databaseFrom(avail, sources.given), nil
}

// adoptDBInstance returns the existing instance of p's name when it is
// Haddock's and of p's engine; CreateDatabase continues with it.
func (d *Driver) adoptDBInstance(ctx context.Context, api RDSAPI, p *dbPlan) (*rdstypes.DBInstance, error) {
	inst, err := findDBInstance(ctx, api, p.spec.Name)
	if err != nil {
		return nil, fmt.Errorf("finding the existing DB instance of that name: %w", err)
	}
	status := awssdk.ToString(inst.DBInstanceStatus)
	if !isManaged(ec2TagsOf(inst.TagList)) || awssdk.ToString(inst.Engine) != p.engine || status == dbStatusDeleting {
		return nil, &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrConflict, Code: errCodeDBInstanceAlreadyExists, Message: fmt.Sprintf(
			"a DB instance named %s exists already in %s (%s %s) and is not a Haddock %s database: choose another name, or delete it",
			p.spec.Name, d.region, awssdk.ToString(inst.Engine), status, p.engine)}
	}
	tflog.SubsystemInfo(ctx, subsystem, "continuing with the existing DB instance of that name", map[string]any{"name": p.spec.Name, "status": status})
	return inst, nil
}

// GetDatabase describes the DB instance; a deleted one is an error
// wrapping cloud.ErrNotFound.
func (d *Driver) GetDatabase(ctx context.Context, id string) (*cloud.Database, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("RDS DB instance (%s)", id)
	api, err := d.rdsAPI()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	inst, err := findDBInstance(ctx, api, id)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	sources, err := d.trustedSourcesOf(ctx, []rdstypes.DBInstance{*inst})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return d.databaseFrom(inst, sources[id]), nil
}

// ListDatabases lists the region's DB instances that carry the managed
// tag, all pages.
func (d *Driver) ListDatabases(ctx context.Context) ([]cloud.Database, error) {
	ctx = logContext(ctx)
	api, err := d.rdsAPI()
	if err != nil {
		return nil, fmt.Errorf("listing RDS DB instances: %w", err)
	}
	var insts []rdstypes.DBInstance
	// TagList comes with each instance: no ListTagsForResource per
	// instance.
	pages := rds.NewDescribeDBInstancesPaginator(api, &rds.DescribeDBInstancesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing RDS DB instances: %w", mapError(err))
		}
		for _, inst := range page.DBInstances {
			if isManaged(ec2TagsOf(inst.TagList)) {
				insts = append(insts, inst)
			}
		}
	}
	sources, err := d.trustedSourcesOf(ctx, insts)
	if err != nil {
		return nil, fmt.Errorf("listing RDS DB instances: %w", err)
	}
	out := make([]cloud.Database, len(insts))
	for i := range insts {
		out[i] = *d.databaseFrom(&insts[i], sources[awssdk.ToString(insts[i].DBInstanceIdentifier)])
	}
	return out, nil
}

// ResizeDatabase changes the class, Multi-AZ and storage at once and
// waits until the instance is available again; "" and 0 keep a value.
func (d *Driver) ResizeDatabase(ctx context.Context, id, size string, nodeCount, storageGiB int) (*cloud.Database, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("RDS DB instance (%s)", id)
	api, err := d.rdsAPI()
	if err != nil {
		return nil, fmt.Errorf("resizing %s: %w", what, err)
	}
	inst, err := findDBInstance(ctx, api, id)
	if err != nil {
		return nil, fmt.Errorf("resizing %s: %w", what, err)
	}
	in, err := resizeInput(inst, size, nodeCount, storageGiB)
	if err != nil {
		return nil, fmt.Errorf("resizing %s: %w", what, err)
	}
	if in != nil {
		tflog.SubsystemInfo(ctx, subsystem, "modifying RDS DB instance", map[string]any{
			"name": id, "class": awssdk.ToString(in.DBInstanceClass), "storage_gib": awssdk.ToInt32(in.AllocatedStorage), "multi_az": in.MultiAZ != nil && *in.MultiAZ,
		})
		if _, err := api.ModifyDBInstance(ctx, in); err != nil {
			return nil, fmt.Errorf("resizing %s: %w", what, mapError(err))
		}
	}
	avail, err := d.waitDatabaseAvailable(ctx, api, id)
	if err != nil {
		return nil, fmt.Errorf("resizing %s: %w", what, err)
	}
	sources, err := d.trustedSourcesOf(ctx, []rdstypes.DBInstance{*avail})
	if err != nil {
		return nil, fmt.Errorf("resizing %s: reading it back: %w", what, err)
	}
	return d.databaseFrom(avail, sources[id]), nil
}

// resizeInput is the ModifyDBInstance call that resizes inst, nil when
// nothing changes; what RDS cannot do is a cloud.ErrInvalid error.
func resizeInput(inst *rdstypes.DBInstance, size string, nodeCount, storageGiB int) (*rds.ModifyDBInstanceInput, error) {
	in := &rds.ModifyDBInstanceInput{DBInstanceIdentifier: inst.DBInstanceIdentifier, ApplyImmediately: awssdk.Bool(true)}
	changed := false
	if size != "" && size != awssdk.ToString(inst.DBInstanceClass) {
		if err := checkDBClass(size); err != nil {
			return nil, err
		}
		in.DBInstanceClass, changed = awssdk.String(size), true
	}
	if nodeCount != 0 {
		multiAZ, err := multiAZFor(nodeCount)
		if err != nil {
			return nil, err
		}
		if multiAZ != awssdk.ToBool(inst.MultiAZ) {
			in.MultiAZ, changed = awssdk.Bool(multiAZ), true
		}
	}
	if cur := int(awssdk.ToInt32(inst.AllocatedStorage)); storageGiB != 0 && storageGiB != cur {
		switch least := (cur*11 + 9) / 10; {
		case storageGiB < cur:
			return nil, invalidError("InvalidStorage", fmt.Sprintf(
				"storage %d GiB is less than the database's %d GiB: RDS storage cannot shrink (to shrink it, dump the data into a new, smaller database)", storageGiB, cur))
		case storageGiB < least:
			return nil, invalidError("InvalidStorage", fmt.Sprintf(
				"storage %d GiB grows the database's %d GiB by less than 10%%, which RDS would round up: ask for %d GiB or more", storageGiB, cur, least))
		case storageGiB > dbMaxStorageGiB:
			return nil, invalidError("InvalidStorage", fmt.Sprintf("storage %d GiB: RDS takes %d GiB at most", storageGiB, dbMaxStorageGiB))
		}
		in.AllocatedStorage, changed = awssdk.Int32(int32(storageGiB)), true
	}
	if !changed {
		return nil, nil
	}
	return in, nil
}

// SetTrustedSources replaces the rules of the database's security group
// (see the mapping above).
func (d *Driver) SetTrustedSources(ctx context.Context, id string, sources []cloud.TrustedSource) error {
	ctx = logContext(ctx)
	what := fmt.Sprintf("RDS DB instance (%s)", id)
	api, err := d.rdsAPI()
	if err != nil {
		return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
	}
	fw, err := d.firewallAPI()
	if err != nil {
		return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
	}
	inst, err := findDBInstance(ctx, api, id)
	if err != nil {
		return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
	}
	resolved, err := d.resolveTrustedSources(ctx, sources, dbPort(inst))
	if err != nil {
		return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
	}
	vpcID := dbVPC(inst)
	if vpcID == "" {
		if vpcID, err = d.databaseVPC(ctx); err != nil {
			return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
		}
	}
	// Made again when it was deleted out of band.
	sg, _, err := ensureOwnGroup(ctx, fw, vpcID, dbSecurityGroupName(id), dbSecurityGroupDescription(id))
	if err != nil {
		return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
	}
	if err := d.applyTrustedSources(ctx, fw, sg, resolved); err != nil {
		return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
	}
	if _, err := d.ensureGroupAttached(ctx, api, inst, awssdk.ToString(sg.GroupId)); err != nil {
		return fmt.Errorf("setting the trusted sources of %s: %w", what, err)
	}
	return nil
}

// ensureGroupAttached adds the database's security group to the
// instance's when it is not among them.
func (d *Driver) ensureGroupAttached(ctx context.Context, api RDSAPI, inst *rdstypes.DBInstance, groupID string) (*rdstypes.DBInstance, error) {
	var groups []string
	for _, g := range inst.VpcSecurityGroups {
		groups = append(groups, awssdk.ToString(g.VpcSecurityGroupId))
	}
	if slices.Contains(groups, groupID) {
		return inst, nil
	}
	groups = append(groups, groupID)
	tflog.SubsystemInfo(ctx, subsystem, "attaching the database's security group", map[string]any{"name": awssdk.ToString(inst.DBInstanceIdentifier), "groups": groups})
	out, err := api.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: inst.DBInstanceIdentifier, VpcSecurityGroupIds: groups, ApplyImmediately: awssdk.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("attaching security group (%s): %w", groupID, mapError(err))
	}
	if out.DBInstance != nil {
		return out.DBInstance, nil
	}
	return inst, nil
}

// SetAdminPassword sets the master user's password, turning Secrets
// Manager management off; "" turns it on (RDS generates a password and
// keeps it there). It waits until the instance is available with no
// change pending. The password is never logged.
func (d *Driver) SetAdminPassword(ctx context.Context, id, password string) error {
	ctx = logContext(ctx)
	what := fmt.Sprintf("RDS DB instance (%s)", id)
	api, err := d.rdsAPI()
	if err != nil {
		return fmt.Errorf("setting the admin password of %s: %w", what, err)
	}
	inst, err := findDBInstance(ctx, api, id)
	if err != nil {
		return fmt.Errorf("setting the admin password of %s: %w", what, err)
	}
	managed := inst.MasterUserSecret != nil
	in := &rds.ModifyDBInstanceInput{DBInstanceIdentifier: inst.DBInstanceIdentifier, ApplyImmediately: awssdk.Bool(true)}
	switch {
	case password == "" && managed:
		return nil
	case password == "":
		in.ManageMasterUserPassword = awssdk.Bool(true)
	default:
		if err := checkDBPassword(awssdk.ToString(inst.Engine), password); err != nil {
			return fmt.Errorf("setting the admin password of %s: %w", what, err)
		}
		in.MasterUserPassword = awssdk.String(password)
		if managed {
			in.ManageMasterUserPassword = awssdk.Bool(false)
		}
	}
	tflog.SubsystemInfo(ctx, subsystem, "changing the RDS master user password", map[string]any{"name": id, "managed": password == ""})
	if _, err := api.ModifyDBInstance(ctx, in); err != nil {
		return fmt.Errorf("setting the admin password of %s: %w", what, mapError(err))
	}
	if _, err := d.waitDatabaseAvailable(ctx, api, id); err != nil {
		return fmt.Errorf("setting the admin password of %s: %w", what, err)
	}
	return nil
}

// Credentials reads the endpoint and, when RDS manages the password, the
// password from Secrets Manager; a password the caller set is "" (RDS
// cannot tell it).
func (d *Driver) Credentials(ctx context.Context, id string) (*cloud.DatabaseCredentials, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("RDS DB instance (%s)", id)
	api, err := d.rdsAPI()
	if err != nil {
		return nil, fmt.Errorf("reading the credentials of %s: %w", what, err)
	}
	inst, err := findDBInstance(ctx, api, id)
	if err != nil {
		return nil, fmt.Errorf("reading the credentials of %s: %w", what, err)
	}
	if inst.Endpoint == nil || awssdk.ToString(inst.Endpoint.Address) == "" {
		return nil, fmt.Errorf("reading the credentials of %s: %w", what, &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrConflict, Code: errCodeInvalidDBInstanceState,
			Message: fmt.Sprintf("the DB instance has no endpoint yet (status %s): wait until it is available", awssdk.ToString(inst.DBInstanceStatus))})
	}
	c := &cloud.DatabaseCredentials{
		Host:        awssdk.ToString(inst.Endpoint.Address),
		PrivateHost: awssdk.ToString(inst.Endpoint.Address),
		Port:        int(awssdk.ToInt32(inst.Endpoint.Port)),
		Database:    awssdk.ToString(inst.DBName),
		User:        awssdk.ToString(inst.MasterUsername),
	}
	if s := inst.MasterUserSecret; s != nil && awssdk.ToString(s.SecretArn) != "" {
		if c.Password, err = d.masterPassword(ctx, awssdk.ToString(s.SecretArn)); err != nil {
			return nil, fmt.Errorf("reading the credentials of %s: %w", what, err)
		}
	}
	c.URI = dbURI(awssdk.ToString(inst.Engine), c)
	return c, nil
}

// masterPassword reads the password of an RDS master user secret.
func (d *Driver) masterPassword(ctx context.Context, arn string) (string, error) {
	if d.secrets == nil {
		return "", errors.New("aws: this driver has no Secrets Manager client; build it with aws.New")
	}
	var out *secretsmanager.GetSecretValueOutput
	// A secret RDS has just made may not be readable at once.
	err := d.retryWhen(ctx, d.timing.propagation, func() error {
		var err error
		out, err = d.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(arn)})
		return err
	}, errCodeSecretNotFound)
	if err != nil {
		return "", fmt.Errorf("reading the master user secret (%s) from Secrets Manager: %w", arn, mapError(err))
	}
	var secret struct {
		Password string `json:"password"`
	}
	// The error would quote the secret: it is not wrapped.
	if json.Unmarshal([]byte(awssdk.ToString(out.SecretString)), &secret) != nil || secret.Password == "" {
		return "", fmt.Errorf("the master user secret (%s) holds no JSON password: RDS keeps {\"username\": ..., \"password\": ...} there; was it edited?", arn)
	}
	return secret.Password, nil
}

// dbURI is a connection string with the password and TLS required, as
// DigitalOcean gives it.
func dbURI(engine string, c *cloud.DatabaseCredentials) string {
	u := url.URL{Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), Path: "/" + c.Database}
	if c.Password != "" {
		u.User = url.UserPassword(c.User, c.Password)
	} else {
		u.User = url.User(c.User)
	}
	if engine == dbEngineMySQL {
		u.Scheme, u.RawQuery = "mysql", "ssl-mode=REQUIRED"
	} else {
		u.Scheme, u.RawQuery = "postgresql", "sslmode=require"
	}
	return u.String()
}

// DeleteDatabase deletes the DB instance, with a final snapshot named
// finalSnapshot or none when "", waits until it is gone, then deletes its
// security group. Gone already is not an error; a security group an
// interrupted delete left behind is deleted then.
func (d *Driver) DeleteDatabase(ctx context.Context, id, finalSnapshot string) error {
	ctx = logContext(ctx)
	what := fmt.Sprintf("RDS DB instance (%s)", id)
	api, err := d.rdsAPI()
	if err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	if finalSnapshot != "" {
		if err := checkDBIdentifier("final snapshot", finalSnapshot, dbMaxSnapshotIDLen, false); err != nil {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
	}
	inst, err := findDBInstance(ctx, api, id)
	if cloud.IsNotFound(err) {
		if err := d.deleteDatabaseGroup(ctx, "", id); err != nil {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	vpcID := dbVPC(inst)

	in := &rds.DeleteDBInstanceInput{DBInstanceIdentifier: awssdk.String(id), SkipFinalSnapshot: awssdk.Bool(finalSnapshot == "")}
	if finalSnapshot != "" {
		in.FinalDBSnapshotIdentifier = awssdk.String(finalSnapshot)
	}
	tflog.SubsystemInfo(ctx, subsystem, "deleting RDS DB instance", map[string]any{"name": id, "final_snapshot": finalSnapshot})
	_, err = api.DeleteDBInstance(ctx, in)
	switch {
	case err == nil, hasCode(err, errCodeDBInstanceNotFound):
	case hasCode(err, errCodeInvalidDBInstanceState) && awssdk.ToString(inst.DBInstanceStatus) == dbStatusDeleting:
		// Being deleted already: waited for below.
	case hasCode(err, errCodeDBSnapshotAlreadyExists):
		return fmt.Errorf("deleting %s: %w", what, &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrConflict, Code: errCodeDBSnapshotAlreadyExists,
			Message: fmt.Sprintf("a DB snapshot named %s exists already in %s: name another final snapshot, or delete that one", finalSnapshot, d.region)})
	default:
		return fmt.Errorf("deleting %s: %w", what, mapError(err))
	}
	w := rds.NewDBInstanceDeletedWaiter(api, func(o *rds.DBInstanceDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.waiterDelays()
	})
	if err := w.Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: awssdk.String(id)}, d.dbWait()); err != nil {
		return fmt.Errorf("deleting %s: waiting for it to be gone: %w", what, mapError(err))
	}
	if err := d.deleteDatabaseGroup(ctx, vpcID, id); err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	return nil
}

// deleteDatabaseGroup deletes the security group of database id in vpcID
// (the default VPC when ""), when it is Haddock's.
func (d *Driver) deleteDatabaseGroup(ctx context.Context, vpcID, id string) error {
	fw, err := d.firewallAPI()
	if err != nil {
		return err
	}
	if vpcID == "" {
		vpc, err := findDefaultVPC(ctx, d.ec2)
		if cloud.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("finding the default VPC: %w", err)
		}
		vpcID = awssdk.ToString(vpc.VpcId)
	}
	name := dbSecurityGroupName(id)
	sg, err := findSecurityGroupByName(ctx, fw, vpcID, name)
	if cloud.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding security group (%s): %w", name, err)
	}
	if !isManaged(sg.Tags) {
		return nil
	}
	return d.deleteOwnGroup(ctx, fw, awssdk.ToString(sg.GroupId))
}

// dropGroup deletes the security group a failed creation made, on a
// context of its own; a failure is logged, not returned: the call already
// fails, and the next creation takes the group over.
func (d *Driver) dropGroup(ctx context.Context, groupID string) {
	fw, err := d.firewallAPI()
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := d.deleteOwnGroup(cctx, fw, groupID); err != nil {
		tflog.SubsystemWarn(ctx, subsystem, "could not delete the security group of a resource that was not created", map[string]any{"group": groupID, "error": err.Error()})
	}
}

// waitDatabaseAvailable waits until the instance is available with no
// change pending: right after ModifyDBInstance it may still say
// available, with the change pending.
func (d *Driver) waitDatabaseAvailable(ctx context.Context, api RDSAPI, id string) (*rdstypes.DBInstance, error) {
	w := rds.NewDBInstanceAvailableWaiter(api, func(o *rds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.waiterDelays()
		sdk := o.Retryable
		o.Retryable = func(ctx context.Context, in *rds.DescribeDBInstancesInput, out *rds.DescribeDBInstancesOutput, err error) (bool, error) {
			if err == nil && out != nil && len(out.DBInstances) > 0 {
				inst := &out.DBInstances[0]
				status := awssdk.ToString(inst.DBInstanceStatus)
				switch {
				case status == dbStatusAvailable && pendingChange(inst):
					return true, nil
				case dbStatus(status) == cloud.DatabaseError:
					return false, fmt.Errorf("the DB instance is %s", status)
				}
				tflog.SubsystemDebug(ctx, subsystem, "waiting for the RDS DB instance", map[string]any{"name": id, "status": status})
			}
			return sdk(ctx, in, out, err)
		}
	})
	out, err := w.WaitForOutput(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: awssdk.String(id)}, d.dbWait())
	if err != nil {
		return nil, fmt.Errorf("waiting for it to be available: %w", mapError(err))
	}
	if len(out.DBInstances) == 0 {
		return nil, fmt.Errorf("waiting for it to be available: %w", cloud.NotFoundError(cloud.AWS, "RDS DB instance", id))
	}
	return &out.DBInstances[0], nil
}

// pendingChange reports whether a change the driver makes is still to be
// applied.
func pendingChange(inst *rdstypes.DBInstance) bool {
	p := inst.PendingModifiedValues
	return p != nil && (p.DBInstanceClass != nil || p.AllocatedStorage != nil || p.MultiAZ != nil || p.MasterUserPassword != nil)
}

// findDBInstance returns the DB instance, or a not-found error.
func findDBInstance(ctx context.Context, api RDSAPI, id string) (*rdstypes.DBInstance, error) {
	out, err := api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: awssdk.String(id)})
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.DBInstances {
		if awssdk.ToString(out.DBInstances[i].DBInstanceIdentifier) == id {
			return &out.DBInstances[i], nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "RDS DB instance", id)
}

// databaseVPC is the default VPC, where databases go.
func (d *Driver) databaseVPC(ctx context.Context) (string, error) {
	vpc, err := findDefaultVPC(ctx, d.ec2)
	if cloud.IsNotFound(err) {
		return "", invalidError("NoDefaultVPC", fmt.Sprintf("region %s has no default VPC: Haddock places databases in the default VPC; create one with `aws ec2 create-default-vpc --region %s`", d.region, d.region))
	}
	if err != nil {
		return "", fmt.Errorf("finding the default VPC: %w", err)
	}
	return awssdk.ToString(vpc.VpcId), nil
}

// dbVPC is the VPC of the instance, or "" when RDS does not say.
func dbVPC(inst *rdstypes.DBInstance) string {
	if inst.DBSubnetGroup == nil {
		return ""
	}
	return awssdk.ToString(inst.DBSubnetGroup.VpcId)
}

// dbPort is the instance's port, or its engine's.
func dbPort(inst *rdstypes.DBInstance) int32 {
	if inst.Endpoint != nil && awssdk.ToInt32(inst.Endpoint.Port) != 0 {
		return awssdk.ToInt32(inst.Endpoint.Port)
	}
	if p := awssdk.ToInt32(inst.DbInstancePort); p != 0 {
		return p
	}
	return dbPorts[awssdk.ToString(inst.Engine)]
}

// databaseFrom maps what RDS says of an instance; sources are its trusted
// sources as read from its security group.
func (d *Driver) databaseFrom(inst *rdstypes.DBInstance, sources []cloud.TrustedSource) *cloud.Database {
	engine := awssdk.ToString(inst.Engine)
	_, tags := neutralTags(ec2TagsOf(inst.TagList))
	nodes := 1
	if awssdk.ToBool(inst.MultiAZ) {
		nodes = 2
	}
	db := &cloud.Database{
		ID:     awssdk.ToString(inst.DBInstanceIdentifier),
		Status: dbStatus(awssdk.ToString(inst.DBInstanceStatus)),
		Spec: cloud.DatabaseSpec{
			Name:           awssdk.ToString(inst.DBInstanceIdentifier),
			Region:         d.region,
			Engine:         engine,
			Version:        majorVersion(awssdk.ToString(inst.EngineVersion)),
			Size:           awssdk.ToString(inst.DBInstanceClass),
			NodeCount:      nodes,
			StorageGiB:     int(awssdk.ToInt32(inst.AllocatedStorage)),
			TrustedSources: sources,
			Tags:           tags,
		},
		Database:  awssdk.ToString(inst.DBName),
		User:      awssdk.ToString(inst.MasterUsername),
		Port:      int(dbPort(inst)),
		CreatedAt: awssdk.ToTime(inst.InstanceCreateTime),
	}
	if inst.Endpoint != nil {
		db.Host = awssdk.ToString(inst.Endpoint.Address)
		db.PrivateHost = db.Host
	}
	return db
}

// dbStatus maps an RDS DB instance status (see the mapping above).
func dbStatus(s string) cloud.DatabaseStatus {
	switch {
	case s == "creating", s == "backing-up", s == "configuring-enhanced-monitoring":
		return cloud.DatabaseCreating
	case s == dbStatusAvailable:
		return cloud.DatabaseOnline
	case s == "modifying", s == "resizing", s == "storage-optimization", s == "storage-initialization", s == "upgrading":
		return cloud.DatabaseResizing
	case s == dbStatusDeleting, s == "delete-precheck":
		return cloud.DatabaseDeleting
	case s == "failed", strings.HasPrefix(s, "incompatible-"), strings.HasPrefix(s, "inaccessible-encryption-credentials"),
		s == "restore-error", s == "storage-full", s == "insufficient-capacity":
		return cloud.DatabaseError
	default:
		return cloud.DatabaseMigrating
	}
}

// majorVersion is the first component of an engine version.
func majorVersion(v string) string {
	major, _, _ := strings.Cut(v, ".")
	return major
}

// planDatabase checks spec and translates it; what RDS cannot do is a
// cloud.ErrInvalid error saying what to change.
func (d *Driver) planDatabase(spec cloud.DatabaseSpec) (*dbPlan, error) {
	if err := d.checkRegion(spec.Region); err != nil {
		return nil, err
	}
	if err := checkDBIdentifier("database name", spec.Name, dbMaxIdentifierLen, true); err != nil {
		return nil, err
	}
	p := &dbPlan{spec: spec, engine: spec.Engine}
	switch spec.Engine {
	case "", dbEnginePostgres:
		p.engine = dbEnginePostgres
		p.version = spec.Version
	case dbEngineMySQL:
		p.version = spec.Version
		if p.version == "8" {
			p.version = "8.0" // RDS's MySQL majors are 8.0 and 8.4
		}
	default:
		return nil, invalidError("InvalidEngine", fmt.Sprintf("engine %q: use %s or %s", spec.Engine, dbEnginePostgres, dbEngineMySQL))
	}
	p.port = dbPorts[p.engine]
	if err := checkDBClass(spec.Size); err != nil {
		return nil, err
	}
	var err error
	if p.multiAZ, err = multiAZFor(spec.NodeCount); err != nil {
		return nil, err
	}
	switch {
	case spec.StorageGiB == 0:
		p.storage = dbDefaultStorageGiB
	case spec.StorageGiB < dbMinStorageGiB || spec.StorageGiB > dbMaxStorageGiB:
		return nil, invalidError("InvalidStorage", fmt.Sprintf("storage %d GiB: RDS takes %d to %d GiB for %s", spec.StorageGiB, dbMinStorageGiB, dbMaxStorageGiB, p.engine))
	default:
		p.storage = int32(spec.StorageGiB)
	}
	if spec.AdminPassword != "" {
		if err := checkDBPassword(p.engine, spec.AdminPassword); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// multiAZFor maps a node count: 1 (or 0) is Single-AZ, 2 Multi-AZ.
func multiAZFor(nodeCount int) (bool, error) {
	switch {
	case nodeCount < 0:
		return false, invalidError("InvalidNodeCount", fmt.Sprintf("node count %d: use 1, or 2 for a Multi-AZ instance", nodeCount))
	case nodeCount > 2:
		return false, invalidError("InvalidNodeCount", fmt.Sprintf(
			"node count %d: AWS Multi-AZ instances have one standby: use 1, or 2 for a Multi-AZ instance", nodeCount))
	}
	return nodeCount == 2, nil
}

func checkDBClass(size string) error {
	if !strings.HasPrefix(size, "db.") || len(size) == len("db.") {
		return invalidError("InvalidDBInstanceClass", fmt.Sprintf("size %q is not an RDS DB instance class (db.t4g.micro, db.m7g.large, ...)", size))
	}
	return nil
}

// checkDBIdentifier applies RDS's rules for DB instance and snapshot
// identifiers; lower says upper-case letters are refused (RDS stores
// instance identifiers in lower case, so they would not read back).
func checkDBIdentifier(what, id string, maxLen int, lower bool) error {
	bad := func(msg string) error {
		return invalidError("InvalidParameterValue", fmt.Sprintf("%s %q: %s", what, id, msg))
	}
	switch {
	case id == "":
		return invalidError("InvalidParameterValue", what+" is empty")
	case len(id) > maxLen:
		return bad(fmt.Sprintf("RDS takes at most %d characters", maxLen))
	case !isASCIILetter(rune(id[0])):
		return bad("RDS wants a letter first")
	case strings.HasSuffix(id, "-") || strings.Contains(id, "--"):
		return bad("RDS takes no trailing hyphen and no two hyphens in a row")
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c >= 'A' && c <= 'Z' && !lower:
		case c >= 'A' && c <= 'Z':
			return bad("RDS keeps identifiers in lower case: use lower-case letters")
		default:
			return bad("RDS takes letters, digits and hyphens only")
		}
	}
	return nil
}

func isASCIILetter(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// checkDBPassword applies RDS's rules for master passwords. The password
// is never quoted back.
func checkDBPassword(engine, pw string) error {
	maxLen := 128
	if engine == dbEngineMySQL {
		maxLen = 41
	}
	if len(pw) < 8 || len(pw) > maxLen {
		return invalidError("InvalidParameterValue", fmt.Sprintf("the admin password has %d characters: RDS takes 8 to %d for %s", len(pw), maxLen, engine))
	}
	for _, c := range pw {
		if c <= ' ' || c > '~' || strings.ContainsRune(`/'"@`, c) {
			return invalidError("InvalidParameterValue", `the admin password has a character RDS refuses: use printable ASCII without spaces, /, ', " or @`)
		}
	}
	return nil
}

// rdsTags maps neutral tags to RDS tags, as ec2Tags does to EC2 tags.
func rdsTags(neutral []string) []rdstypes.Tag {
	ts := ec2Tags(neutral)
	out := make([]rdstypes.Tag, len(ts))
	for i, t := range ts {
		out[i] = rdstypes.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// ec2TagsOf reads RDS tags as EC2 tags, for neutralTags and isManaged.
func ec2TagsOf(tags []rdstypes.Tag) []types.Tag {
	out := make([]types.Tag, len(tags))
	for i, t := range tags {
		out[i] = types.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}
