package localcloud

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// DatabaseBackend is implemented by a HostBackend that runs database
// servers (netnsbackend: a real PostgreSQL in a namespace of its own, TLS
// on; MemoryBackend: only the address). The vendor APIs keep the records
// (ids, statuses, sizes as their vendor spells them) and ask the backend
// for the effect only.
type DatabaseBackend interface {
	// ApplyDatabase creates database server id or brings it to cfg (its
	// users, databases and firewall), and returns its address once it
	// accepts connections. Data survives every change but DeleteDatabase.
	ApplyDatabase(ctx context.Context, id string, cfg DatabaseConfig) (DatabaseAddrs, error)
	// DeleteDatabase stops it and removes its data; an unknown id is not
	// an error.
	DeleteDatabase(ctx context.Context, id string) error
}

// DatabaseConfig is what a database server holds, in neutral terms.
type DatabaseConfig struct {
	Engine  string // "pg" (PostgreSQL); the only one localcloud runs
	Version string
	// Users are the roles with their passwords; the first is the admin
	// (superuser) the server is created with.
	Users []DatabaseUser
	// Databases are created when missing (and dropped when gone from the
	// list, the default database excepted).
	Databases []string
	// Trusted are the client ranges allowed to connect; none allows all
	// (DigitalOcean's default: anyone with the password).
	Trusted []netip.Prefix
	// CACertPEM and CAKeyPEM sign the server's certificate (the API's CA,
	// served at /ca).
	CACertPEM, CAKeyPEM string
}

// DatabaseUser is a role.
type DatabaseUser struct {
	Name, Password string
}

// DatabaseAddrs is where a database server answers.
type DatabaseAddrs struct {
	Addr netip.Addr
	Port int
}

// errNoDatabases: the backend runs none.
var errNoDatabases = errors.New("this localcloud backend runs no databases")

// ApplyDatabase has the backend create or change database server id. Hold
// Serialize; call without the lock.
func (s *Server) ApplyDatabase(id string, cfg DatabaseConfig) (DatabaseAddrs, error) {
	db, ok := s.backend.(DatabaseBackend)
	if !ok {
		return DatabaseAddrs{}, errNoDatabases
	}
	a, err := db.ApplyDatabase(s.ctx, id, cfg)
	if err != nil {
		return DatabaseAddrs{}, fmt.Errorf("database %s: %w", id, err)
	}
	return a, nil
}

// DeleteDatabase has the backend remove database server id and its data.
// Hold Serialize; call without the lock.
func (s *Server) DeleteDatabase(id string) error {
	db, ok := s.backend.(DatabaseBackend)
	if !ok {
		return nil
	}
	if err := db.DeleteDatabase(s.ctx, id); err != nil {
		return fmt.Errorf("database %s: %w", id, err)
	}
	return nil
}

// ApplyDatabase implements DatabaseBackend: the server gets a pool
// address and nothing answers there.
func (b *MemoryBackend) ApplyDatabase(ctx context.Context, id string, _ DatabaseConfig) (DatabaseAddrs, error) {
	addr, err := b.ApplyLoadBalancer(ctx, "db:"+id, LoadBalancerConfig{})
	return DatabaseAddrs{Addr: addr, Port: 25060}, err
}

// DeleteDatabase implements DatabaseBackend.
func (b *MemoryBackend) DeleteDatabase(ctx context.Context, id string) error {
	return b.DeleteLoadBalancer(ctx, "db:"+id)
}
