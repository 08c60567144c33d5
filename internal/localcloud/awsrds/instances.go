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
	if !c.Valid(p.required("DBInstanceIdentifier", "DBInstanceClass", "Engine")) {
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
	if !c.Valid(checkIdentifier("DBInstanceIdentifier", p.get("DBInstanceIdentifier"), 63), checkEngine(p.get("Engine")), checkClass(p.get("DBInstanceClass")),
		serr, merr, gerr, perr, eerr, cerr, terr) {
		return
	}
	if storage == 0 {
		c.Fail(invalidValue("Invalid storage size for engine name postgres and storage type gp2: 0"))
		return
	}
	user, pw := p.get("MasterUsername"), p.get("MasterUserPassword")
	switch {
	case user == "":
		c.Fail(invalidValue("The parameter MasterUsername must be provided and must not be blank."))
		return
	case !pgNameRe.MatchString(user) || strings.EqualFold(user, "rdsadmin") || strings.HasPrefix(strings.ToLower(user), "pg_"):
		c.Fail(invalidValue("MasterUsername %s cannot be used as it is a reserved word used by the engine, or is not 1 to 63 letters, digits and underscores starting with a letter", user))
		return
	case managed && pw != "":
		c.Fail(invalidCombination("You can't specify MasterUserPassword and ManageMasterUserPassword together."))
		return
	case !managed && pw == "":
		c.Fail(invalidValue("The parameter MasterUserPassword must be provided and must not be blank."))
		return
	case !managed:
		if !c.Valid(checkPassword(pw)) {
			return
		}
	}
	dbName := p.get("DBName")
	if dbName != "" && (!pgNameRe.MatchString(dbName) || dbName == "postgres" || strings.HasPrefix(dbName, "template") || strings.HasPrefix(dbName, "rdsadmin")) {
		c.Fail(invalidValue("DBName %s is not 1 to 63 letters, digits and underscores starting with a letter, or is reserved", dbName))
		return
	}
	reg := findRegion(c.region)
	zone := p.get("AvailabilityZone")
	if zone == "" {
		zone = c.region + string(reg.Zones[0])
	} else if z, ok := strings.CutPrefix(zone, c.region); !ok || len(z) != 1 || !strings.Contains(reg.Zones, z) {
		c.Fail(invalidValue("Invalid Availability Zone: %s", zone))
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
		c.Fail(errf(400, "DBInstanceAlreadyExists", "DB instance already exists"))
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
		c.Fail(errf(400, "InstanceQuotaExceeded", "DB Instance quota exceeded"))
		return
	}
	if _, _, err := a.caPEM(); err != nil {
		a.s.Unlock()
		c.Fail(errf(500, "InternalFailure", "making the database CA: %v", err))
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
	c.OK(func(x *xw) {
		x.Open("DBInstance")
		a.writeInstance(x, db)
		x.Close("DBInstance")
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
	if !c.Valid(err) {
		return
	}
	if p.has("Filters.Filter.1.Name") {
		c.Fail(invalidCombination("localcloud does not serve DescribeDBInstances Filters: list all, or name one DBInstanceIdentifier"))
		return
	}
	a.s.Lock()
	defer a.s.Unlock()
	var list []*instance
	if ident := p.get("DBInstanceIdentifier"); ident != "" {
		db := a.lookup(c, ident)
		if db == nil {
			c.Fail(notFound(ident))
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
	if !c.Valid(perr) {
		return
	}
	c.OK(func(x *xw) {
		items(x, "DBInstances", "DBInstance", list, func(db *instance) { a.writeInstance(x, db) })
		x.Opt("Marker", next)
	})
}

func (a *API) modifyDBInstance(c *call) {
	p := c.p
	if !c.Valid(p.required("DBInstanceIdentifier")) {
		return
	}
	storage, serr := p.integer("AllocatedStorage", 0, 20, 65536, "Invalid storage size for engine name postgres: "+p.get("AllocatedStorage"))
	multiAZ, merr := p.boolean("MultiAZ")
	managed, gerr := p.boolean("ManageMasterUserPassword")
	public, perr := p.boolean("PubliclyAccessible")
	copyTags, cerr := p.boolean("CopyTagsToSnapshot")
	_, aerr := p.boolean("ApplyImmediately")
	if !c.Valid(serr, merr, gerr, perr, cerr, aerr) {
		return
	}
	pw := p.get("MasterUserPassword")
	if pw != "" && !c.Valid(checkPassword(pw)) {
		return
	}
	if class := p.get("DBInstanceClass"); class != "" && !c.Valid(checkClass(class)) {
		return
	}
	if managed && pw != "" {
		c.Fail(invalidCombination("You can't specify MasterUserPassword and ManageMasterUserPassword together."))
		return
	}
	if p.get("NewDBInstanceIdentifier") != "" || p.get("EngineVersion") != "" || p.get("DBPortNumber") != "" {
		c.Fail(invalidCombination("localcloud does not rename, upgrade or move DB instances"))
		return
	}
	a.s.Lock()
	db := a.lookup(c, p.get("DBInstanceIdentifier"))
	switch {
	case db == nil:
		a.s.Unlock()
		c.Fail(notFound(p.get("DBInstanceIdentifier")))
		return
	case db.Status != statusAvailable:
		a.s.Unlock()
		c.Fail(errf(400, "InvalidDBInstanceState", "Database instance is not in available state."))
		return
	case storage != 0 && storage < db.Storage:
		a.s.Unlock()
		c.Fail(invalidValue("Invalid storage size for engine name postgres: allocated storage cannot be reduced (%d GiB to %d GiB)", db.Storage, storage))
		return
	case storage != 0 && storage != db.Storage && storage < (db.Storage*11+9)/10:
		a.s.Unlock()
		c.Fail(invalidValue("Invalid storage size: the storage must grow by at least 10%% (to %d GiB or more)", (db.Storage*11+9)/10))
		return
	case p.has("ManageMasterUserPassword") && !managed && pw == "" && db.SecretARN != "":
		a.s.Unlock()
		c.Fail(invalidCombination("To turn off ManageMasterUserPassword, specify MasterUserPassword."))
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
	if !c.Valid(p.required("DBInstanceIdentifier")) {
		return
	}
	skip, err := p.boolean("SkipFinalSnapshot")
	if !c.Valid(err) {
		return
	}
	snap := p.get("FinalDBSnapshotIdentifier")
	switch {
	case skip && snap != "":
		c.Fail(invalidCombination("FinalDBSnapshotIdentifier can not be specified when deleting a database instance with SkipFinalSnapshot set to true."))
		return
	case !skip && snap == "":
		c.Fail(invalidCombination("FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."))
		return
	case snap != "":
		if !c.Valid(checkIdentifier("FinalDBSnapshotIdentifier", snap, 255)) {
			return
		}
	}
	a.s.Lock()
	db := a.lookup(c, p.get("DBInstanceIdentifier"))
	switch {
	case db == nil:
		a.s.Unlock()
		c.Fail(notFound(p.get("DBInstanceIdentifier")))
		return
	case db.Status == statusDeleting:
		a.s.Unlock()
		c.Fail(errf(400, "InvalidDBInstanceState", "Instance %s is already being deleted.", db.ID))
		return
	case snap != "" && a.st.Snapshots[c.region+"/"+strings.ToLower(snap)] != nil:
		a.s.Unlock()
		c.Fail(errf(400, "DBSnapshotAlreadyExists", "Cannot create the snapshot because a snapshot with the identifier %s already exists.", snap))
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
	x.Leaf("DBInstanceIdentifier", db.ID)
	x.Leaf("DBInstanceClass", db.Class)
	x.Leaf("Engine", db.Engine)
	x.Leaf("DBInstanceStatus", db.Status)
	x.Leaf("MasterUsername", db.MasterUsername)
	x.Opt("DBName", db.DBName)
	if db.Addr.IsValid() && db.Status != statusCreating {
		x.Open("Endpoint")
		x.Leaf("Address", db.Addr.String())
		x.Int("Port", db.Port)
		x.Leaf("HostedZoneId", hostedZoneID)
		x.Close("Endpoint")
	}
	x.Int("AllocatedStorage", db.Storage)
	x.Time("InstanceCreateTime", db.CreatedAt)
	x.Leaf("PreferredBackupWindow", "03:00-03:30")
	x.Int("BackupRetentionPeriod", 1)
	items(x, "DBSecurityGroups", "DBSecurityGroup", []string(nil), func(string) {})
	items(x, "VpcSecurityGroups", "VpcSecurityGroupMembership", db.SecurityGroups, func(g string) {
		x.Leaf("VpcSecurityGroupId", g)
		x.Leaf("Status", "active")
	})
	x.Leaf("AvailabilityZone", db.Zone)
	x.Open("DBSubnetGroup")
	x.Leaf("DBSubnetGroupName", "default")
	x.Leaf("DBSubnetGroupDescription", "default")
	x.Leaf("VpcId", lcaws.VPCID(db.Region))
	x.Leaf("SubnetGroupStatus", "Complete")
	reg := findRegion(db.Region)
	items(x, "Subnets", "Subnet", []byte(reg.Zones), func(z byte) {
		x.Leaf("SubnetIdentifier", lcaws.SubnetID(db.Region+string(z)))
		x.Open("SubnetAvailabilityZone")
		x.Leaf("Name", db.Region+string(z))
		x.Close("SubnetAvailabilityZone")
		x.Leaf("SubnetStatus", "Active")
	})
	x.Close("DBSubnetGroup")
	x.Leaf("PreferredMaintenanceWindow", "sun:05:00-sun:05:30")
	x.Bool("MultiAZ", db.MultiAZ)
	x.Leaf("EngineVersion", db.EngineVersion)
	x.Bool("AutoMinorVersionUpgrade", true)
	x.Leaf("LicenseModel", "postgresql-license")
	if db.MultiAZ {
		reg := findRegion(db.Region)
		for _, z := range reg.Zones {
			if zone := db.Region + string(z); zone != db.Zone {
				x.Leaf("SecondaryAvailabilityZone", zone)
				break
			}
		}
	}
	x.Bool("PubliclyAccessible", db.PubliclyAccessible)
	x.Leaf("StorageType", db.StorageType)
	x.Int("DbInstancePort", 0)
	x.Bool("StorageEncrypted", db.StorageEncrypted)
	x.Leaf("DbiResourceId", db.ResourceID)
	x.Leaf("CACertificateIdentifier", CAIdentifier)
	x.Bool("CopyTagsToSnapshot", db.CopyTagsToSnapshot)
	x.Leaf("DBInstanceArn", a.arn(db))
	x.Bool("IAMDatabaseAuthenticationEnabled", false)
	x.Bool("DeletionProtection", false)
	items(x, "TagList", "Tag", db.Tags, func(t tag) {
		x.Leaf("Key", t.Key)
		x.Leaf("Value", t.Value)
	})
	if db.SecretARN != "" {
		x.Open("MasterUserSecret")
		x.Leaf("SecretArn", db.SecretARN)
		x.Leaf("SecretStatus", "active")
		x.Close("MasterUserSecret")
	}
}

// secretJSON is a managed secret's SecretString.
func secretJSON(db *instance) string {
	b, _ := json.Marshal(map[string]string{"username": db.MasterUsername, "password": db.Password})
	return string(b)
}
