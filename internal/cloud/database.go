package cloud

import (
	"context"
	"time"
)

// DatabaseStatus is the portable lifecycle state of a managed database.
type DatabaseStatus string

const (
	DatabaseCreating  DatabaseStatus = "creating"  // being created
	DatabaseOnline    DatabaseStatus = "online"    // accepting connections
	DatabaseResizing  DatabaseStatus = "resizing"  // being resized or changed
	DatabaseMigrating DatabaseStatus = "migrating" // moving (DigitalOcean) or being modified (AWS)
	DatabaseDeleting  DatabaseStatus = "deleting"
	DatabaseError     DatabaseStatus = "error"
)

// Trusted source kinds: who may connect to a database.
const (
	// TrustedCIDR is an address range ("203.0.113.0/24", "198.51.100.7").
	TrustedCIDR = "cidr"
	// TrustedTag is every host carrying a neutral tag (a node group's or a
	// cluster's tag, see internal/cluster): DigitalOcean matches the tag
	// itself, as hosts come and go; AWS has no tag-based rule and allows
	// the tagged hosts' private addresses as of the call.
	TrustedTag = "tag"
	// TrustedHost is one host by vendor id.
	TrustedHost = "host"
)

// TrustedSource is one entry of a database's firewall.
type TrustedSource struct {
	Kind  string
	Value string
}

// DatabaseSpec asks for a managed database cluster. Region and Size are
// vendor-native (DigitalOcean db-s-*, AWS db.t3.*).
type DatabaseSpec struct {
	Name    string
	Region  string
	Engine  string // postgres or mysql
	Version string // major version ("15"); "" is the vendor's default
	Size    string
	// NodeCount is how many nodes serve it: DigitalOcean's node count
	// (primary + standbys), AWS Multi-AZ when more than one.
	NodeCount  int
	StorageGiB int
	// TrustedSources is the firewall: nobody else connects. Empty means
	// the vendor's default (DigitalOcean: everyone with the password).
	TrustedSources []TrustedSource
	// AdminPassword sets the admin user's password; "" lets the vendor
	// generate it (DigitalOcean) or manage it (AWS
	// ManageMasterUserPassword, in Secrets Manager). Never returned.
	AdminPassword string
	Tags          []string
	// FinalSnapshot, on AWS, names the snapshot taken when the database is
	// deleted; "" skips it. DigitalOcean takes none.
	FinalSnapshot string
}

// Database is a managed database as the vendor reports it; it never
// carries a password.
type Database struct {
	ID          string // vendor id: a uuid on DigitalOcean, the DB instance identifier on AWS
	Spec        DatabaseSpec
	Status      DatabaseStatus
	Host        string // public host name
	PrivateHost string // host name on the vendor's private network ("" where none)
	Port        int
	Database    string // default database
	User        string // admin user
	// CACertificate is the PEM of the CA the server's certificate chains
	// to, for sslmode=verify-full.
	CACertificate string
	CreatedAt     time.Time
}

// DatabaseCredentials connect to a database: secret.
type DatabaseCredentials struct {
	Host, PrivateHost string
	Port              int
	Database, User    string
	Password          string
	// URI is a connection string with the password and sslmode=require, as
	// DigitalOcean gives it.
	URI string
}

// Databases is what a vendor driver does with managed databases. Drivers
// that have them implement it beside Driver.
type Databases interface {
	// CreateDatabase creates one and waits until it accepts connections.
	// A non-nil result with an error is a database that exists although
	// the call failed: callers must record it (or delete it).
	CreateDatabase(ctx context.Context, spec DatabaseSpec) (*Database, error)
	// GetDatabase returns an error wrapping ErrNotFound when it is gone.
	GetDatabase(ctx context.Context, id string) (*Database, error)
	// ListDatabases lists every database of the account, all pages.
	ListDatabases(ctx context.Context) ([]Database, error)
	// ResizeDatabase changes size, node count and storage in place (0 and
	// "" keep the current value) and waits until it is online again.
	ResizeDatabase(ctx context.Context, id, size string, nodeCount, storageGiB int) (*Database, error)
	// SetTrustedSources replaces the firewall.
	SetTrustedSources(ctx context.Context, id string, sources []TrustedSource) error
	// SetAdminPassword changes the admin user's password.
	SetAdminPassword(ctx context.Context, id, password string) error
	// Credentials reads what connects, the password included (AWS: from
	// Secrets Manager when the vendor manages it; "" when the caller set
	// it and the vendor cannot tell it).
	Credentials(ctx context.Context, id string) (*DatabaseCredentials, error)
	// DeleteDatabase deletes it (AWS: with the final snapshot
	// finalSnapshot names, none when "") and waits until it is gone; gone
	// already is not an error.
	DeleteDatabase(ctx context.Context, id, finalSnapshot string) error
}

// AdminPasswordRotator is implemented by drivers whose vendor generates
// the admin password and can generate a new one (DigitalOcean), where
// SetAdminPassword is refused.
type AdminPasswordRotator interface {
	RotateAdminPassword(ctx context.Context, id string) error
}
