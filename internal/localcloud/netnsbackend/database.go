package netnsbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// A database is a real PostgreSQL (Debian's postgresql-15: initdb and
// pg_ctl, run as the postgres user, which refuses root) in a namespace of
// its own (a netns appliance: an address on the bridge, no dockerd),
// listening there on port 25060 with TLS on (a certificate the API's CA
// signs). The firewall is pg_hba.conf: TLS connections from the trusted
// ranges only, with a password (SCRAM); localcloud itself administers it
// over the server's unix socket. Its data lives in
// <StateDir>/pg/<host id>/data, survives localcloud restarts (Restore
// starts it again) and goes with DeleteDatabase or Down.

var _ localcloud.DatabaseBackend = (*Backend)(nil)

const (
	// PostgresPort is where localcloud's databases listen, DigitalOcean's
	// port.
	PostgresPort = 25060
	pgDirName    = "pg"
	pgUser       = "postgres"
)

// PostgresBinDir is where initdb, pg_ctl and psql are; "" finds them on
// PATH, then in /usr/lib/postgresql/15/bin.
var PostgresBinDir = ""

func pgTool(name string) (string, error) {
	if PostgresBinDir != "" {
		return filepath.Join(PostgresBinDir, name), nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/lib/postgresql/15/bin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: apt-get install -y postgresql-15", name)
}

// dbHostID is the netns host id of database id (see lbHostID).
func dbHostID(id string) string {
	hex := strings.ReplaceAll(id, "-", "")
	return "db-" + hex[:min(12, len(hex))]
}

// pgDir is database host hid's directory, which the postgres user owns.
func (b *Backend) pgDir(hid string) string { return filepath.Join(b.stateDir, pgDirName, hid) }

// ApplyDatabase implements localcloud.DatabaseBackend.
func (b *Backend) ApplyDatabase(ctx context.Context, id string, cfg localcloud.DatabaseConfig) (localcloud.DatabaseAddrs, error) {
	if cfg.Engine != "pg" {
		return localcloud.DatabaseAddrs{}, fmt.Errorf("localcloud runs PostgreSQL only, not %q", cfg.Engine)
	}
	if len(cfg.Users) == 0 {
		return localcloud.DatabaseAddrs{}, errors.New("no admin user")
	}
	hid := dbHostID(id)
	// Clients come from their public addresses (see publicOf).
	pub := b.publicOf()
	trusted := slices.Clone(cfg.Trusted)
	for _, t := range cfg.Trusted {
		if a, ok := pub[t.Addr()]; ok && t.IsSingleIP() {
			trusted = append(trusted, netip.PrefixFrom(a, 32))
		}
	}
	cfg.Trusted = trusted
	h, err := b.m.Get(hid)
	if errors.Is(err, netns.ErrNotFound) {
		h, err = b.m.Provision(ctx, netns.HostSpec{ID: hid, Hostname: "db", Appliance: true})
	}
	if err != nil {
		return localcloud.DatabaseAddrs{}, err
	}
	pg, err := b.pgServer(h)
	if err != nil {
		return localcloud.DatabaseAddrs{}, err
	}
	if _, err := os.Stat(filepath.Join(pg.data, "PG_VERSION")); err != nil {
		if err := pg.initdb(ctx, cfg); err != nil {
			return localcloud.DatabaseAddrs{}, err
		}
	}
	if err := pg.configure(cfg, h.IPv4); err != nil {
		return localcloud.DatabaseAddrs{}, err
	}
	if err := pg.start(ctx, h); err != nil {
		return localcloud.DatabaseAddrs{}, err
	}
	if err := pg.reload(ctx); err != nil {
		return localcloud.DatabaseAddrs{}, err
	}
	if err := pg.sync(ctx, cfg); err != nil {
		return localcloud.DatabaseAddrs{}, err
	}
	return localcloud.DatabaseAddrs{Addr: h.IPv4, Port: PostgresPort}, nil
}

// DeleteDatabase implements localcloud.DatabaseBackend: the appliance goes
// with every process in it, then the data.
func (b *Backend) DeleteDatabase(ctx context.Context, id string) error {
	hid := dbHostID(id)
	err := b.m.Destroy(ctx, hid)
	if err != nil && !errors.Is(err, netns.ErrNotFound) {
		return err
	}
	return os.RemoveAll(b.pgDir(hid))
}

// pgServer is one PostgreSQL server's files and tools.
type pgServer struct {
	dir, data, sock      string
	initdb_, pgctl, psql string
	isready              string
	uid, gid             int
	netnsPath            string
}

func (b *Backend) pgServer(h netns.Host) (*pgServer, error) {
	u, err := user.Lookup(pgUser)
	if err != nil {
		return nil, fmt.Errorf("user postgres not found: apt-get install -y postgresql-15")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s := &pgServer{dir: b.pgDir(h.ID), uid: uid, gid: gid, netnsPath: h.NetnsPath}
	s.data = filepath.Join(s.dir, "data")
	s.sock = s.dir
	for _, t := range []struct {
		dst  *string
		name string
	}{{&s.initdb_, "initdb"}, {&s.pgctl, "pg_ctl"}, {&s.psql, "psql"}, {&s.isready, "pg_isready"}} {
		if *t.dst, err = pgTool(t.name); err != nil {
			return nil, err
		}
	}
	// The postgres user must reach its directory: the state directory and
	// pg/ let it through (no listing), its own directory is its own.
	for _, d := range []string{b.stateDir, filepath.Join(b.stateDir, pgDirName)} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
		fi, err := os.Stat(d)
		if err != nil {
			return nil, err
		}
		if fi.Mode().Perm()&0o011 != 0o011 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return nil, err
			}
		}
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(s.dir, uid, gid); err != nil {
		return nil, err
	}
	return s, nil
}

// asPostgres runs a PostgreSQL tool as the postgres user, stdin given.
func (s *pgServer) asPostgres(ctx context.Context, stdin string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid)}}
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "PGHOST=" + s.sock, "PGPORT=" + strconv.Itoa(PostgresPort)}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(name), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// writeOwned writes a file the postgres user owns.
func (s *pgServer) writeOwned(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	return os.Chown(path, s.uid, s.gid)
}

func (s *pgServer) initdb(ctx context.Context, cfg localcloud.DatabaseConfig) error {
	_ = os.RemoveAll(s.data) // what a failed initdb left
	pw := filepath.Join(s.dir, "admin.pw")
	if err := s.writeOwned(pw, []byte(cfg.Users[0].Password+"\n"), 0o600); err != nil {
		return err
	}
	defer func() { _ = os.Remove(pw) }()
	_, err := s.asPostgres(ctx, "", s.initdb_, "-D", s.data, "-U", cfg.Users[0].Name, "--pwfile="+pw,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	if err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	conf, err := os.ReadFile(filepath.Join(s.data, "postgresql.conf"))
	if err != nil {
		return err
	}
	conf = append(conf, []byte("\ninclude 'localcloud.conf'\n")...)
	return s.writeOwned(filepath.Join(s.data, "postgresql.conf"), conf, 0o600)
}

// configure writes the server's settings, certificate and firewall.
func (s *pgServer) configure(cfg localcloud.DatabaseConfig, addr netip.Addr) error {
	ca, err := pki.LoadCA([]byte(cfg.CACertPEM), []byte(cfg.CAKeyPEM))
	if err != nil {
		return fmt.Errorf("the database CA: %w", err)
	}
	kp, err := ca.IssueServer("db.localcloud.internal", []net.IP{addr.AsSlice()}, nil, 5*365*24*time.Hour)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"server.crt", append(kp.CertPEM, cfg.CACertPEM...)},
		{"server.key", kp.KeyPEM},
		{"localcloud.conf", fmt.Appendf(nil, "# written by localcloud\nlisten_addresses = '%s'\nport = %d\nunix_socket_directories = '%s'\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\npassword_encryption = 'scram-sha-256'\n", addr, PostgresPort, s.sock)},
		{"pg_hba.conf", []byte(pgHBA(cfg.Trusted))},
	} {
		if err := s.writeOwned(filepath.Join(s.data, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// pgHBA is the firewall: the unix socket for localcloud, TLS with a
// password from the trusted ranges (everyone when none), nothing else.
func pgHBA(trusted []netip.Prefix) string {
	var b strings.Builder
	b.WriteString("# written by localcloud: the database's firewall\nlocal all all trust\n")
	if len(trusted) == 0 {
		trusted = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	}
	for _, p := range trusted {
		fmt.Fprintf(&b, "hostssl all all %s scram-sha-256\n", p.Masked())
	}
	return b.String()
}

// running reports whether the server answers on its socket. pg_ctl
// status alone is not enough: it trusts the PID in postmaster.pid, and
// after Stop killed the server that PID may already be another process's
// (pid_max is 32768 on many machines), which left a restored database
// unstarted. pg_isready asks the server itself: exit 0 accepting, 1
// starting up or shutting down (running either way), 2 no answer.
func (s *pgServer) running(ctx context.Context) bool {
	if _, err := s.asPostgres(ctx, "", s.pgctl, "-D", s.data, "status"); err != nil {
		return false
	}
	_, err := s.asPostgres(ctx, "", s.isready, "-q", "-t", "5")
	var exit *exec.ExitError
	return err == nil || errors.As(err, &exit) && exit.ExitCode() == 1
}

// start starts the server in the appliance's namespace unless it runs.
func (s *pgServer) start(ctx context.Context, h netns.Host) error {
	if s.running(ctx) {
		return nil
	}
	_ = os.Remove(filepath.Join(s.data, "postmaster.pid")) // killed with its namespace: stale
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+h.NetnsPath, "setpriv", "--reuid="+strconv.Itoa(s.uid), "--regid="+strconv.Itoa(s.gid), "--clear-groups",
		"env", "-i", "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", s.pgctl, "-D", s.data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "start")
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		return fmt.Errorf("starting PostgreSQL: %v: %s %s", err, bytes.TrimSpace(out), lastLines(log, 5))
	}
	return nil
}

func (s *pgServer) reload(ctx context.Context) error {
	_, err := s.asPostgres(ctx, "", s.pgctl, "-D", s.data, "reload")
	return err
}

// sql runs statements as the admin over the unix socket, in the
// postgres database.
func (s *pgServer) sql(ctx context.Context, admin, stmts string) (string, error) {
	out, err := s.asPostgres(ctx, stmts, s.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", admin, "-d", "postgres")
	return string(out), err
}

// sync creates, updates and drops roles and databases as cfg lists them.
func (s *pgServer) sync(ctx context.Context, cfg localcloud.DatabaseConfig) error {
	admin := cfg.Users[0].Name
	var b strings.Builder
	for _, u := range cfg.Users {
		fmt.Fprintf(&b, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %[1]s) THEN CREATE ROLE %[2]s LOGIN; END IF; END $$;\n", pgLiteral(u.Name), pgIdent(u.Name))
		fmt.Fprintf(&b, "ALTER ROLE %s LOGIN PASSWORD %s;\n", pgIdent(u.Name), pgLiteral(u.Password))
	}
	if _, err := s.sql(ctx, admin, b.String()); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	roles, err := s.sql(ctx, admin, "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname <> current_user;")
	if err != nil {
		return err
	}
	for _, r := range strings.Fields(roles) {
		if !slices.ContainsFunc(cfg.Users, func(u localcloud.DatabaseUser) bool { return u.Name == r }) {
			if _, err := s.sql(ctx, admin, fmt.Sprintf("REASSIGN OWNED BY %[1]s TO %[2]s; DROP OWNED BY %[1]s; DROP ROLE %[1]s;", pgIdent(r), pgIdent(admin))); err != nil {
				return fmt.Errorf("dropping user %s: %w", r, err)
			}
		}
	}
	dbs, err := s.sql(ctx, admin, "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres';")
	if err != nil {
		return err
	}
	have := strings.Fields(dbs)
	for _, d := range cfg.Databases {
		if !slices.Contains(have, d) {
			// CREATE DATABASE cannot run inside a DO block or a transaction.
			if _, err := s.sql(ctx, admin, fmt.Sprintf("CREATE DATABASE %s;", pgIdent(d))); err != nil {
				return fmt.Errorf("creating database %s: %w", d, err)
			}
		}
	}
	for _, d := range have {
		if !slices.Contains(cfg.Databases, d) {
			if _, err := s.sql(ctx, admin, fmt.Sprintf("DROP DATABASE %s WITH (FORCE);", pgIdent(d))); err != nil {
				return fmt.Errorf("dropping database %s: %w", d, err)
			}
		}
	}
	return nil
}

func pgIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func pgLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// restoreDatabases starts PostgreSQL again in every database appliance
// whose data exists (localcloud restarted: Stop killed it).
func (b *Backend) restoreDatabases(ctx context.Context) error {
	var errs []error
	for _, h := range b.m.List() {
		if !h.Appliance || !strings.HasPrefix(h.ID, "db-") {
			continue
		}
		if _, err := os.Stat(filepath.Join(b.pgDir(h.ID), "data", "PG_VERSION")); err != nil {
			continue
		}
		pg, err := b.pgServer(h)
		if err == nil {
			err = pg.start(ctx, h)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("database host %s: %w", h.ID, err))
		}
	}
	return errors.Join(errs...)
}
