package awsrds

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

const (
	// InstanceLimit is the account's DB instance quota per region.
	InstanceLimit = 40
	// CAIdentifier is every instance's CACertificateIdentifier.
	CAIdentifier = "localcloud-ca"
	// hostedZoneID is the Endpoint.HostedZoneId answered.
	hostedZoneID = "ZLOCALCLOUDRDS"
)

var (
	identRe  = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9]|-[A-Za-z0-9])*$`)
	pgNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
	// otherEngines are RDS engines localcloud does not run.
	otherEngines = []string{"mysql", "mariadb", "aurora-mysql", "aurora-postgresql", "oracle-ee", "oracle-ee-cdb", "oracle-se2", "oracle-se2-cdb",
		"sqlserver-ee", "sqlserver-se", "sqlserver-ex", "sqlserver-web", "db2-se", "db2-ae", "custom-oracle-ee", "custom-sqlserver-ee"}
)

// checkIdentifier applies RDS's rules for DB instance and snapshot
// identifiers.
func checkIdentifier(name, id string, maxLen int) *apiError {
	if len(id) > maxLen || !identRe.MatchString(id) {
		return invalidValue("The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", name)
	}
	return nil
}

// checkPassword applies RDS's rules for PostgreSQL master passwords.
func checkPassword(pw string) *apiError {
	if len(pw) < 8 || len(pw) > 128 {
		return invalidValue("The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters or longer than 128.")
	}
	for _, c := range pw {
		if c <= ' ' || c > '~' || strings.ContainsRune(`/'"@`, c) {
			return invalidValue("The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.")
		}
	}
	return nil
}

// checkEngine refuses what localcloud does not run.
func checkEngine(engine string) *apiError {
	switch {
	case engine == "postgres":
		return nil
	case slices.Contains(otherEngines, engine):
		return invalidCombination("localcloud runs PostgreSQL only: engine %s is not served (use postgres)", engine)
	default:
		return invalidValue("Invalid DB engine: %s", engine)
	}
}

func checkClass(class string) *apiError {
	if !strings.HasPrefix(class, "db.") || len(class) == len("db.") {
		return invalidCombination("RDS does not support creating a DB instance with the following combination: DBInstanceClass=%s, Engine=postgres", class)
	}
	return nil
}

// caPEM is the API's database CA, made on first use (and saved). Call
// with the lock held.
func (a *API) caPEM() (certPEM, keyPEM string, err error) {
	if a.st.CACert == "" {
		ca, err := pki.NewCA("localcloud RDS CA", 10*365*24*time.Hour)
		if err != nil {
			return "", "", err
		}
		a.st.CACert, a.st.CAKey = string(ca.CertPEM()), string(ca.KeyPEM())
	}
	return a.st.CACert, a.st.CAKey, nil
}

// managePassword generates a password kept as db's secret. Call with the
// lock held.
func (a *API) managePassword(db *instance, now time.Time) {
	db.Password = newPassword()
	db.SecretARN = "arn:aws:secretsmanager:" + db.Region + ":" + a.cfg.AccountID + ":secret:" + secretName(db) + "-" + randomString(6, mixedAlnum)
	db.SecretCreated = now
}

// secretName is the name of db's managed secret.
func secretName(db *instance) string { return "rds!db-" + db.ID }

func (a *API) createDBInstance(c *call) {
	p := c.p
	if !c.valid(p.required("DBInstanceIdentifier", "DBInstanceClass", "Engine")) {
		return
	}
	id := strings.ToLower(p.get("DBInstanceIdentifier"))
	storage, serr := p.integer("AllocatedStorage", 0, 20, 65536, "Invalid storage size for engine name postgres and storage type gp2: "+p.get("AllocatedStorage"))
	multiAZ, merr := p.boolean("MultiAZ")
	managed, gerr := p.boolean("ManageMasterUserPassword")
	public, perr := p.boolean("PubliclyAccessible")
	encrypted, eerr := p.boolean("StorageEncrypted")
	copyTags, cerr := p.boolean("CopyTagsToSnapshot")
	tags, terr := p.tags()
	if !c.valid(checkIdentifier("DBInstanceIdentifier", p.get("DBInstanceIdentifier"), 63), checkEngine(p.get("Engine")), checkClass(p.get("DBInstanceClass")),
		serr, merr, gerr, perr, eerr, cerr, terr) {
		return
	}
	if storage == 0 {
		c.fail(invalidValue("Invalid storage size for engine name postgres and storage type gp2: 0"))
		return
	}
	user, pw := p.get("MasterUsername"), p.get("MasterUserPassword")
	switch {
	case user == "":
		c.fail(invalidValue("The parameter MasterUsername must be provided and must not be blank."))
		return
	case !pgNameRe.MatchString(user) || strings.EqualFold(user, "rdsadmin") || strings.HasPrefix(strings.ToLower(user), "pg_"):
		c.fail(invalidValue("MasterUsername %s cannot be used as it is a reserved word used by the engine, or is not 1 to 63 letters, digits and underscores starting with a letter", user))
		return
	case managed && pw != "":
		c.fail(invalidCombination("You can't specify MasterUserPassword and ManageMasterUserPassword together."))
		return
	case !managed && pw == "":
		c.fail(invalidValue("The parameter MasterUserPassword must be provided and must not be blank."))
		return
	case !managed:
		if !c.valid(checkPassword(pw)) {
			return
		}
	}
	dbName := p.get("DBName")
	if dbName != "" && (!pgNameRe.MatchString(dbName) || dbName == "postgres" || strings.HasPrefix(dbName, "template") || strings.HasPrefix(dbName, "rdsadmin")) {
		c.fail(invalidValue("DBName %s is not 1 to 63 letters, digits and underscores starting with a letter, or is reserved", dbName))
		return
	}
	reg, _ := findRegion(c.region)
	zone := p.get("AvailabilityZone")
	if zone == "" {
		zone = c.region + string(reg.Zones[0])
	} else if z, ok := strings.CutPrefix(zone, c.region); !ok || len(z) != 1 || !strings.Contains(reg.Zones, z) {
		c.fail(invalidValue("Invalid Availability Zone: %s", zone))
		return
	}
	version := p.get("EngineVersion")
	if version == "" {
		version = "17.4"
	}
	storageType := p.get("StorageType")
	if storageType == "" {
		storageType = "gp2"
	}

	a.s.Lock()
	key := c.region + "/" + id
	if a.st.Instances[key] != nil {
		a.s.Unlock()
		c.fail(errf(400, "DBInstanceAlreadyExists", "DB instance already exists"))
		return
	}
	n := 0
	for _, db := range a.st.Instances {
		if db.Region == c.region {
			n++
		}
	}
	if n >= InstanceLimit {
		a.s.Unlock()
		c.fail(errf(400, "InstanceQuotaExceeded", "DB Instance quota exceeded"))
		return
	}
	if _, _, err := a.caPEM(); err != nil {
		a.s.Unlock()
		c.fail(errf(500, "InternalFailure", "making the database CA: %v", err))
		return
	}
	db := &instance{
		ID: id, Region: c.region, Zone: zone, ResourceID: "db-" + randomString(26, upperAlnum), Class: p.get("DBInstanceClass"),
		Engine: "postgres", EngineVersion: version, Storage: storage, StorageType: storageType, MultiAZ: multiAZ, PubliclyAccessible: public,
		StorageEncrypted: encrypted, CopyTagsToSnapshot: copyTags, MasterUsername: user, Password: pw, DBName: dbName,
		SecurityGroups: p.list("VpcSecurityGroupIds", "VpcSecurityGroupId"), Tags: tags, Status: statusCreating, CreatedAt: c.now,
	}
	if managed {
		a.managePassword(db, c.now)
	}
	a.st.Instances[key] = db
	a.s.Unlock()
	a.s.Background(func(context.Context) { a.applyDB(key, true) })
	a.answer(c, db)
}

// answer answers the action with db as <DBInstance>.
func (a *API) answer(c *call, db *instance) {
	a.s.Lock()
	defer a.s.Unlock()
	c.ok(func(x *xw) {
		x.open("DBInstance")
		a.writeInstance(x, db)
		x.close("DBInstance")
	})
}

// applyDB has the backend serve instance key as its record says; a first
// apply that fails leaves it "failed" and logs why. It takes Serialize.
func (a *API) applyDB(key string, first bool) {
	defer a.s.Serialize()()
	a.s.Lock()
	db := a.st.Instances[key]
	if db == nil || db.Status == statusDeleting {
		a.s.Unlock()
		return
	}
	caCert, caKey, err := a.caPEM()
	// Security groups live in the EC2 API: localcloud does not enforce
	// them, and the server admits every client with the password.
	cfg := localcloud.DatabaseConfig{Engine: "pg", Version: db.EngineVersion, Users: []localcloud.DatabaseUser{{Name: db.MasterUsername, Password: db.Password}},
		CACertPEM: caCert, CAKeyPEM: caKey}
	if db.DBName != "" {
		cfg.Databases = []string{db.DBName}
	}
	id := db.backendID()
	a.s.Unlock()
	var addrs localcloud.DatabaseAddrs
	if err == nil {
		addrs, err = a.s.ApplyDatabase(id, cfg)
	}
	a.s.Lock()
	defer a.s.Unlock()
	if err != nil {
		a.s.Logf("localcloud: rds: %v", err)
		if first && db.Status == statusCreating {
			db.Status = statusFailed
		}
		return
	}
	db.Addr, db.Port = addrs.Addr, addrs.Port
	if db.Status == statusCreating || db.Status == statusFailed {
		db.Status = statusAvailable
	}
}

// dropDB deletes instance key's server, then its record. It takes
// Serialize.
func (a *API) dropDB(key string) {
	defer a.s.Serialize()()
	a.s.Lock()
	db := a.st.Instances[key]
	a.s.Unlock()
	if db == nil {
		return
	}
	if err := a.s.DeleteDatabase(db.backendID()); err != nil {
		a.s.Logf("localcloud: rds: deleting %s: %v", db.ID, err)
	}
	a.s.Lock()
	if a.st.Instances[key] == db {
		delete(a.st.Instances, key)
	}
	a.s.Unlock()
}

// lookup finds the instance a DBInstanceIdentifier (or its ARN) names in
// the call's region. Call with the lock held.
func (a *API) lookup(c *call, ident string) *instance {
	if rest, ok := strings.CutPrefix(ident, "arn:aws:rds:"+c.region+":"+a.cfg.AccountID+":db:"); ok {
		ident = rest
	}
	return a.st.Instances[c.region+"/"+strings.ToLower(ident)]
}

func (a *API) describeDBInstances(c *call) {
	p := c.p
	size, err := p.integer("MaxRecords", 100, 20, 100, "")
	if !c.valid(err) {
		return
	}
	if p.has("Filters.Filter.1.Name") {
		c.fail(invalidCombination("localcloud does not serve DescribeDBInstances Filters: list all, or name one DBInstanceIdentifier"))
		return
	}
	a.s.Lock()
	defer a.s.Unlock()
	var list []*instance
	if ident := p.get("DBInstanceIdentifier"); ident != "" {
		db := a.lookup(c, ident)
		if db == nil {
			c.fail(notFound(ident))
			return
		}
		list = []*instance{db}
	} else {
		for _, db := range a.st.Instances {
			if db.Region == c.region {
				list = append(list, db)
			}
		}
		slices.SortFunc(list, func(x, y *instance) int { return strings.Compare(x.ID, y.ID) })
	}
	list, next, perr := page(list, func(db *instance) string { return db.ID }, p.get("Marker"), size)
	if !c.valid(perr) {
		return
	}
	c.ok(func(x *xw) {
		items(x, "DBInstances", "DBInstance", list, func(db *instance) { a.writeInstance(x, db) })
		x.opt("Marker", next)
	})
}

func (a *API) modifyDBInstance(c *call) {
	p := c.p
	if !c.valid(p.required("DBInstanceIdentifier")) {
		return
	}
	storage, serr := p.integer("AllocatedStorage", 0, 20, 65536, "Invalid storage size for engine name postgres: "+p.get("AllocatedStorage"))
	multiAZ, merr := p.boolean("MultiAZ")
	managed, gerr := p.boolean("ManageMasterUserPassword")
	public, perr := p.boolean("PubliclyAccessible")
	copyTags, cerr := p.boolean("CopyTagsToSnapshot")
	_, aerr := p.boolean("ApplyImmediately")
	if !c.valid(serr, merr, gerr, perr, cerr, aerr) {
		return
	}
	pw := p.get("MasterUserPassword")
	if pw != "" && !c.valid(checkPassword(pw)) {
		return
	}
	if class := p.get("DBInstanceClass"); class != "" && !c.valid(checkClass(class)) {
		return
	}
	if managed && pw != "" {
		c.fail(invalidCombination("You can't specify MasterUserPassword and ManageMasterUserPassword together."))
		return
	}
	if p.get("NewDBInstanceIdentifier") != "" || p.get("EngineVersion") != "" || p.get("DBPortNumber") != "" {
		c.fail(invalidCombination("localcloud does not rename, upgrade or move DB instances"))
		return
	}
	a.s.Lock()
	db := a.lookup(c, p.get("DBInstanceIdentifier"))
	switch {
	case db == nil:
		a.s.Unlock()
		c.fail(notFound(p.get("DBInstanceIdentifier")))
		return
	case db.Status != statusAvailable:
		a.s.Unlock()
		c.fail(errf(400, "InvalidDBInstanceState", "Database instance is not in available state."))
		return
	case storage != 0 && storage < db.Storage:
		a.s.Unlock()
		c.fail(invalidValue("Invalid storage size for engine name postgres: allocated storage cannot be reduced (%d GiB to %d GiB)", db.Storage, storage))
		return
	case storage != 0 && storage != db.Storage && storage < (db.Storage*11+9)/10:
		a.s.Unlock()
		c.fail(invalidValue("Invalid storage size: the storage must grow by at least 10%% (to %d GiB or more)", (db.Storage*11+9)/10))
		return
	case p.has("ManageMasterUserPassword") && !managed && pw == "" && db.SecretARN != "":
		a.s.Unlock()
		c.fail(invalidCombination("To turn off ManageMasterUserPassword, specify MasterUserPassword."))
		return
	}
	// Applied at once, ApplyImmediately or not (localcloud has no
	// maintenance window).
	if class := p.get("DBInstanceClass"); class != "" {
		db.Class = class
	}
	if storage != 0 {
		db.Storage = storage
	}
	if p.has("MultiAZ") {
		db.MultiAZ = multiAZ
	}
	if p.has("PubliclyAccessible") {
		db.PubliclyAccessible = public
	}
	if p.has("CopyTagsToSnapshot") {
		db.CopyTagsToSnapshot = copyTags
	}
	if groups := p.list("VpcSecurityGroupIds", "VpcSecurityGroupId"); len(groups) > 0 {
		db.SecurityGroups = groups
	}
	reapply := false
	switch {
	case managed && db.SecretARN == "":
		a.managePassword(db, c.now)
		reapply = true
	case pw != "":
		db.Password, db.SecretARN, db.SecretCreated = pw, "", time.Time{}
		reapply = true
	}
	key := db.key()
	a.s.Unlock()
	if reapply {
		a.applyDB(key, false) // a failure is logged
	}
	a.answer(c, db)
}

func (a *API) deleteDBInstance(c *call) {
	p := c.p
	if !c.valid(p.required("DBInstanceIdentifier")) {
		return
	}
	skip, err := p.boolean("SkipFinalSnapshot")
	if !c.valid(err) {
		return
	}
	snap := p.get("FinalDBSnapshotIdentifier")
	switch {
	case skip && snap != "":
		c.fail(invalidCombination("FinalDBSnapshotIdentifier can not be specified when deleting a database instance with SkipFinalSnapshot set to true."))
		return
	case !skip && snap == "":
		c.fail(invalidCombination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."))
		return
	case snap != "":
		if !c.valid(checkIdentifier("FinalDBSnapshotIdentifier", snap, 255)) {
			return
		}
	}
	a.s.Lock()
	db := a.lookup(c, p.get("DBInstanceIdentifier"))
	switch {
	case db == nil:
		a.s.Unlock()
		c.fail(notFound(p.get("DBInstanceIdentifier")))
		return
	case db.Status == statusDeleting:
		a.s.Unlock()
		c.fail(errf(400, "InvalidDBInstanceState", "Instance %s is already being deleted.", db.ID))
		return
	case snap != "" && a.st.Snapshots[c.region+"/"+strings.ToLower(snap)] != nil:
		a.s.Unlock()
		c.fail(errf(400, "DBSnapshotAlreadyExists", "Cannot create the snapshot because a snapshot with the identifier %s already exists.", snap))
		return
	}
	if snap != "" {
		a.st.Snapshots[c.region+"/"+strings.ToLower(snap)] = &snapshot{ID: strings.ToLower(snap), Region: c.region, InstanceID: db.ID, CreatedAt: c.now}
	}
	db.Status = statusDeleting
	key := db.key()
	a.s.Unlock()
	a.s.Background(func(context.Context) { a.dropDB(key) })
	a.answer(c, db)
}

// writeInstance writes db's DBInstance members. Call with the lock held.
func (a *API) writeInstance(x *xw, db *instance) {
	x.leaf("DBInstanceIdentifier", db.ID)
	x.leaf("DBInstanceClass", db.Class)
	x.leaf("Engine", db.Engine)
	x.leaf("DBInstanceStatus", db.Status)
	x.leaf("MasterUsername", db.MasterUsername)
	x.opt("DBName", db.DBName)
	if db.Addr.IsValid() && db.Status != statusCreating {
		x.open("Endpoint")
		x.leaf("Address", db.Addr.String())
		x.integer("Port", db.Port)
		x.leaf("HostedZoneId", hostedZoneID)
		x.close("Endpoint")
	}
	x.integer("AllocatedStorage", db.Storage)
	x.time("InstanceCreateTime", db.CreatedAt)
	x.leaf("PreferredBackupWindow", "03:00-03:30")
	x.integer("BackupRetentionPeriod", 1)
	items(x, "DBSecurityGroups", "DBSecurityGroup", []string(nil), func(string) {})
	items(x, "VpcSecurityGroups", "VpcSecurityGroupMembership", db.SecurityGroups, func(g string) {
		x.leaf("VpcSecurityGroupId", g)
		x.leaf("Status", "active")
	})
	x.leaf("AvailabilityZone", db.Zone)
	x.open("DBSubnetGroup")
	x.leaf("DBSubnetGroupName", "default")
	x.leaf("DBSubnetGroupDescription", "default")
	x.leaf("VpcId", lcaws.VPCID(db.Region))
	x.leaf("SubnetGroupStatus", "Complete")
	reg, _ := findRegion(db.Region)
	items(x, "Subnets", "Subnet", []byte(reg.Zones), func(z byte) {
		x.leaf("SubnetIdentifier", lcaws.SubnetID(db.Region+string(z)))
		x.open("SubnetAvailabilityZone")
		x.leaf("Name", db.Region+string(z))
		x.close("SubnetAvailabilityZone")
		x.leaf("SubnetStatus", "Active")
	})
	x.close("DBSubnetGroup")
	x.leaf("PreferredMaintenanceWindow", "sun:05:00-sun:05:30")
	x.boolean("MultiAZ", db.MultiAZ)
	x.leaf("EngineVersion", db.EngineVersion)
	x.boolean("AutoMinorVersionUpgrade", true)
	x.leaf("LicenseModel", "postgresql-license")
	if db.MultiAZ {
		reg, _ := findRegion(db.Region)
		for _, z := range reg.Zones {
			if zone := db.Region + string(z); zone != db.Zone {
				x.leaf("SecondaryAvailabilityZone", zone)
				break
			}
		}
	}
	x.boolean("PubliclyAccessible", db.PubliclyAccessible)
	x.leaf("StorageType", db.StorageType)
	x.integer("DbInstancePort", 0)
	x.boolean("StorageEncrypted", db.StorageEncrypted)
	x.leaf("DbiResourceId", db.ResourceID)
	x.leaf("CACertificateIdentifier", CAIdentifier)
	x.boolean("CopyTagsToSnapshot", db.CopyTagsToSnapshot)
	x.leaf("DBInstanceArn", a.arn(db))
	x.boolean("IAMDatabaseAuthenticationEnabled", false)
	x.boolean("DeletionProtection", false)
	items(x, "TagList", "Tag", db.Tags, func(t tag) {
		x.leaf("Key", t.Key)
		x.leaf("Value", t.Value)
	})
	if db.SecretARN != "" {
		x.open("MasterUserSecret")
		x.leaf("SecretArn", db.SecretARN)
		x.leaf("SecretStatus", "active")
		x.close("MasterUserSecret")
	}
}

// secretJSON is a managed secret's SecretString.
func secretJSON(db *instance) string {
	b, _ := json.Marshal(map[string]string{"username": db.MasterUsername, "password": db.Password})
	return string(b)
}
