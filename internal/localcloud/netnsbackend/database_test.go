package netnsbackend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
)

// A managed database is a real PostgreSQL with its own address and TLS:
// a droplet its firewall names connects (verifying the server against the
// API's CA) and writes and reads rows; another droplet, and the machine,
// are refused; users and databases are created for real; a resize keeps
// the data; delete removes the server and its data.
func TestRealDatabase(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatalf("psql not found: apt-get install -y postgresql-15 (%v)", err)
	}
	b, run, c := start(t)
	ctx := t.Context()
	var ids []int
	for _, name := range []string{"app", "other"} {
		d, _, err := c.Droplets.Create(ctx, &godo.DropletCreateRequest{Name: name, Region: "nyc3", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	for _, id := range ids {
		waitActive(ctx, t, c, id)
	}
	var created struct {
		Database godo.Database `json:"database"`
	}
	if err := send(ctx, c, "POST", "v2/databases", map[string]any{
		"name": "orders", "engine": "pg", "version": "15", "size": "db-s-1vcpu-1gb", "region": "nyc3", "num_nodes": 1,
		"rules": []map[string]string{{"type": "droplet", "value": strconv.Itoa(ids[0])}},
	}, &created); err != nil {
		t.Fatal(err)
	}
	db := waitOnline(ctx, t, c, created.Database.ID)
	conn := db.Connection
	t.Logf("database %s at %s:%d", db.ID, conn.Host, conn.Port)
	ca, _, err := c.Databases.GetCA(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.Certificate, 0o600); err != nil {
		t.Fatal(err)
	}
	netnsOf := func(id int) string {
		h, err := b.Manager().Get(netnsbackend.HostID(id))
		if err != nil {
			t.Fatal(err)
		}
		return h.NetnsPath
	}
	dsn := func(user, password, dbname string) string {
		return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=5", conn.Host, conn.Port, user, password, dbname, caFile)
	}
	psql := func(netns, dsn, sql string) (string, error) {
		args := []string{"psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql}
		if netns != "" {
			args = append([]string{"nsenter", "--net=" + netns}, args...)
		}
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	app := netnsOf(ids[0])
	if out, err := psql(app, dsn(conn.User, conn.Password, conn.Database), "CREATE TABLE hits (n int); INSERT INTO hits VALUES (42); SELECT n FROM hits;"); err != nil || out != "42" {
		t.Fatalf("from the trusted droplet: %q, %v", out, err)
	}
	if out, err := psql(netnsOf(ids[1]), dsn(conn.User, conn.Password, conn.Database), "SELECT 1"); err == nil || !strings.Contains(out, "no pg_hba.conf entry") {
		t.Errorf("from a droplet the firewall does not name: %q, %v (want refused)", out, err)
	}
	if out, err := psql("", dsn(conn.User, conn.Password, conn.Database), "SELECT 1"); err == nil || !strings.Contains(out, "no pg_hba.conf entry") {
		t.Errorf("from the machine: %q, %v (want refused)", out, err)
	}
	if out, err := psql(app, dsn(conn.User, "wrong", conn.Database), "SELECT 1"); err == nil || !strings.Contains(out, "password authentication failed") {
		t.Errorf("with a wrong password: %q, %v (want refused)", out, err)
	}

	// A user and a database of its own, for real.
	u, _, err := c.Databases.CreateUser(ctx, db.ID, &godo.DatabaseCreateUserRequest{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Databases.CreateDB(ctx, db.ID, &godo.DatabaseCreateDBRequest{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if out, err := psql(app, dsn("shop", u.Password, "shop"), "SELECT current_user, current_database()"); err != nil || out != "shop|shop" {
		t.Errorf("as the new user: %q, %v", out, err)
	}

	// Resize keeps the data; a firewall naming the machine's range lets it in.
	if _, err := c.Databases.Resize(ctx, db.ID, &godo.DatabaseResizeRequest{SizeSlug: "db-s-2vcpu-4gb", NumNodes: 1}); err != nil {
		t.Fatal(err)
	}
	if err := send(ctx, c, "PUT", "v2/databases/"+db.ID+"/firewall", map[string]any{"rules": []map[string]string{{"type": "ip_addr", "value": "0.0.0.0/0"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if out, err := psql("", dsn(conn.User, conn.Password, conn.Database), "SELECT n FROM hits"); err != nil || out != "42" {
		t.Errorf("after the resize, from the machine now allowed: %q, %v", out, err)
	}

	// localcloud stops (its processes die with Stop) and serves again on
	// the same state: the server is back, with its data and its CA.
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The killed server's PID is another live process's by now, as after
	// a PID wrap (a CI run once left the database unstarted that way).
	reuseStalePID(t, db.ID)
	t0 := time.Now()
	b, _, c = start(t)
	db = waitOnline(ctx, t, c, db.ID)
	if out, err := psql("", dsn(conn.User, conn.Password, conn.Database), "SELECT n FROM hits"); err != nil || out != "42" {
		t.Errorf("after localcloud restarted: %q, %v", out, err)
	}
	t.Logf("database back %s after localcloud restarted, its data there", time.Since(t0).Round(time.Millisecond))

	if _, err := c.Databases.Delete(ctx, db.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(testReal.StateDir, "pg")); err == nil {
		entries, _ := os.ReadDir(filepath.Join(testReal.StateDir, "pg"))
		if len(entries) != 0 {
			t.Errorf("the database's data is still there: %v", entries)
		}
	}
	if out, err := psql("", dsn(conn.User, conn.Password, conn.Database), "SELECT 1"); err == nil {
		t.Errorf("the deleted database still answers: %q", out)
	}
}

func waitOnline(ctx context.Context, t *testing.T, c *godo.Client, id string) *godo.Database {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		db, _, err := c.Databases.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if db.Status == "online" {
			return db
		}
		if time.Now().After(deadline) {
			t.Fatalf("database %s still %s", id, db.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// send sends a body of its own (godo's request shapes break the spec the
// contract validator checks) and decodes the answer into out.
func send(ctx context.Context, c *godo.Client, method, path string, body, out any) error {
	req, err := c.NewRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	_, err = c.Do(ctx, req, &raw)
	if err == nil && out != nil && len(raw) > 0 {
		err = json.Unmarshal(raw, out)
	}
	return err
}

// reuseStalePID points the stopped server's postmaster.pid at a live
// process of the postgres user that is not this server (another
// database's backend, in CI), which pg_ctl status takes for it.
func reuseStalePID(t *testing.T, dbID string) {
	t.Helper()
	pidFiles, _ := filepath.Glob(filepath.Join(testReal.StateDir, "pg", "*", "data", "postmaster.pid"))
	if len(pidFiles) != 1 {
		t.Fatalf("postmaster.pid of database %s: found %v", dbID, pidFiles)
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	other := exec.Command("sleep", "300")
	other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	b, err := os.ReadFile(pidFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 2)
	lines[0] = strconv.Itoa(other.Process.Pid)
	if err := os.WriteFile(pidFiles[0], []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}
