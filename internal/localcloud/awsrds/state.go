package awsrds

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"

	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
)

// state is RDS's records, saved in the API's part of the state file; it
// holds passwords, as the vendor does (the state file is 0600).
type state struct {
	// CACert and CAKey are the CA every database server's certificate is
	// signed by (CACertificateIdentifier localcloud-ca), made once.
	CACert string `json:"ca_cert,omitempty"`
	CAKey  string `json:"ca_key,omitempty"`
	// Instances are the DB instances, by region/identifier.
	Instances map[string]*instance `json:"instances"`
	// Snapshots are the final snapshots deleted instances were given, by
	// region/snapshot identifier: recorded only (no snapshot API).
	Snapshots map[string]*snapshot `json:"snapshots,omitempty"`
}

func (st *state) init() {
	*st = state{}
	st.index()
}

func (st *state) index() {
	if st.Instances == nil {
		st.Instances = map[string]*instance{}
	}
	if st.Snapshots == nil {
		st.Snapshots = map[string]*snapshot{}
	}
}

// DB instance statuses.
const (
	statusCreating  = "creating"
	statusAvailable = "available"
	statusDeleting  = "deleting"
	statusFailed    = "failed"
)

type instance struct {
	ID                 string     `json:"id"` // DBInstanceIdentifier, lower case
	Region             string     `json:"region"`
	Zone               string     `json:"zone"`
	ResourceID         string     `json:"resource_id"` // DbiResourceId
	Class              string     `json:"class"`
	Engine             string     `json:"engine"`
	EngineVersion      string     `json:"engine_version"`
	Storage            int        `json:"storage_gib"`
	StorageType        string     `json:"storage_type"`
	MultiAZ            bool       `json:"multi_az"`
	PubliclyAccessible bool       `json:"publicly_accessible"`
	StorageEncrypted   bool       `json:"storage_encrypted"`
	CopyTagsToSnapshot bool       `json:"copy_tags_to_snapshot"`
	MasterUsername     string     `json:"master_username"`
	Password           string     `json:"password"`
	SecretARN          string     `json:"secret_arn,omitempty"` // the managed password's secret
	SecretCreated      time.Time  `json:"secret_created,omitzero"`
	DBName             string     `json:"db_name,omitempty"`
	SecurityGroups     []string   `json:"security_groups,omitempty"`
	Tags               []tag      `json:"tags,omitempty"`
	Status             string     `json:"status"`
	CreatedAt          time.Time  `json:"created_at"`
	Addr               netip.Addr `json:"addr,omitzero"`
	Port               int        `json:"port,omitempty"`
}

// key is the instance's key in state.Instances.
func (db *instance) key() string { return db.Region + "/" + db.ID }

// backendID is the instance's id at the core's backend.
func (db *instance) backendID() string { return "rds-" + db.Region + "-" + db.ID }

type snapshot struct {
	ID         string    `json:"id"`
	Region     string    `json:"region"`
	InstanceID string    `json:"instance_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// arn is the instance's ARN.
func (a *API) arn(db *instance) string {
	return "arn:aws:rds:" + db.Region + ":" + a.cfg.AccountID + ":db:" + db.ID
}

// findRegion is the EC2 API's region name; the zero Region when it serves
// none of that name.
func findRegion(name string) lcaws.Region {
	for _, r := range lcaws.Regions {
		if r.Name == name {
			return r
		}
	}
	return lcaws.Region{}
}

// randomString is n random characters of alphabet.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	mixedAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// newPassword is a generated master password: printable ASCII RDS takes.
func newPassword() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashID is a stable hex id for parts (secret ARN suffixes).
func hashID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "0" + hex.EncodeToString(sum[:8])
}
