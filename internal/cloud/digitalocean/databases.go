package digitalocean

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

var (
	_ cloud.Databases            = (*Driver)(nil)
	_ cloud.AdminPasswordRotator = (*Driver)(nil)
)

// Managed databases. DigitalOcean generates the admin user's (doadmin)
// password and cannot be given one: SetAdminPassword is refused, and
// RotateAdminPassword has it generate a new one (reset_auth). Trusted
// sources are the cluster's firewall rules: a cidr is an ip_addr rule, a
// tag a tag rule (DigitalOcean follows the tagged droplets as they come
// and go), a host a droplet rule. Storage is storage_size_mib (GiB ×
// 1024). Requests that godo would send with fields DigitalOcean's spec
// refuses (an empty project_id, null rules, read-only rule fields) go
// with bodies of their own.

const dbEnginePG = "pg"

// CreateDatabase creates the cluster and waits until it is online. The
// HTTP client never repeats a create; after a 5xx or a broken connection
// the clusters are listed and one of that name is the one it made (names
// are unique on DigitalOcean). A create refused because the name is taken
// continues with that cluster when it is Haddock's (adoptDatabase).
func (d *Driver) CreateDatabase(ctx context.Context, spec cloud.DatabaseSpec) (*cloud.Database, error) {
	engine, err := doEngine(spec.Engine)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"name": spec.Name, "engine": engine, "size": spec.Size, "region": spec.Region, "num_nodes": max(spec.NodeCount, 1)}
	if spec.Version != "" {
		body["version"] = spec.Version
	}
	if spec.StorageGiB > 0 {
		body["storage_size_mib"] = spec.StorageGiB * 1024
	}
	if len(spec.Tags) > 0 {
		body["tags"] = spec.Tags
	}
	if len(spec.TrustedSources) > 0 {
		body["rules"] = doRules(spec.TrustedSources)
	}
	var id string
	for attempt := 0; ; attempt++ {
		var root struct {
			Database *godo.Database `json:"database"`
		}
		err = d.send(ctx, http.MethodPost, "v2/databases", body, &root)
		if err == nil && root.Database != nil {
			id = root.Database.ID
			break
		}
		if err == nil {
			return nil, fmt.Errorf("DigitalOcean answered the database create without a database")
		}
		if isStatus(err, http.StatusUnprocessableEntity) || isStatus(err, http.StatusConflict) {
			found, aerr := d.adoptDatabase(ctx, spec, engine, err)
			if aerr != nil {
				return nil, aerr
			}
			id = found.ID
			break
		}
		if !maybeCreated(ctx, err) || attempt >= d.cfg.HTTPRetryMax {
			return nil, apiError(err)
		}
		if serr := wait.Sleep(ctx, backoff(d.cfg.RetryWaitMin, d.cfg.RetryWaitMax, attempt, nil)); serr != nil {
			return nil, apiError(err)
		}
		all, lerr := d.ListDatabases(ctx)
		if lerr != nil {
			return nil, fmt.Errorf("%w (and listing databases to find one it may have made: %v)", apiError(err), lerr)
		}
		if found := findDatabase(all, spec.Name); found != nil {
			tflog.SubsystemWarn(ctx, logSubsystem, "found the database a failed create made", map[string]any{"database": found.ID, "error": err.Error()})
			id = found.ID
			break
		}
		tflog.SubsystemWarn(ctx, logSubsystem, "creating the database again after a failure the server may have acted on", map[string]any{"name": spec.Name, "error": err.Error()})
	}
	db, err := d.waitDatabaseOnline(ctx, id)
	if err != nil {
		return &cloud.Database{ID: id, Spec: spec, Status: cloud.DatabaseCreating}, err
	}
	return db, nil
}

// adoptDatabase is CreateDatabase's answer to a create refused (createErr)
// when a cluster of that name may exist already: one carrying the managed
// tag, of the same engine and not being deleted, is Haddock's, left by an
// apply that died before saving it (names are unique on DigitalOcean), and
// the create continues with it, as the AWS driver does. Otherwise the
// refusal stands, saying what to do when a cluster of that name is there.
func (d *Driver) adoptDatabase(ctx context.Context, spec cloud.DatabaseSpec, engine string, createErr error) (*cloud.Database, error) {
	all, err := d.ListDatabases(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (and listing databases to find one of that name: %v)", apiError(createErr), err)
	}
	found := findDatabase(all, spec.Name)
	if found == nil {
		return nil, apiError(createErr)
	}
	foundEngine, _ := doEngine(found.Spec.Engine)
	if !slices.Contains(found.Spec.Tags, cloud.ManagedTag) || foundEngine != engine || found.Status == cloud.DatabaseDeleting {
		return nil, &cloud.APIError{Cloud: cloud.DigitalOcean, Kind: cloud.ErrConflict, Code: "conflict", Message: fmt.Sprintf(
			"a database cluster named %s exists already (%s, %s, id %s) and is not a Haddock %s database: choose another name, or delete it",
			spec.Name, found.Spec.Engine, found.Status, found.ID, spec.Engine)}
	}
	tflog.SubsystemInfo(ctx, logSubsystem, "continuing with the existing database cluster of that name", map[string]any{"database": found.ID, "name": spec.Name, "status": string(found.Status)})
	return found, nil
}

func findDatabase(all []cloud.Database, name string) *cloud.Database {
	for i := range all {
		if all[i].Spec.Name == name {
			return &all[i]
		}
	}
	return nil
}

// send sends a request with a body of its own and decodes the answer.
func (d *Driver) send(ctx context.Context, method, path string, body, out any) error {
	req, err := d.client.NewRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	_, err = d.client.Do(ctx, req, out)
	return err
}

// waitDatabaseOnline waits until the cluster is online, logging progress.
func (d *Driver) waitDatabaseOnline(ctx context.Context, id string) (*cloud.Database, error) {
	var out *cloud.Database
	err := wait.Until(ctx, wait.Options{What: "database " + id + " to be online", Interval: d.cfg.PollInterval, MaxInterval: 5 * d.cfg.PollInterval},
		func(ctx context.Context) (bool, string, error) {
			db, err := d.GetDatabase(ctx, id)
			if err != nil {
				return false, "", wait.Retry(err)
			}
			out = db
			if db.Status != cloud.DatabaseOnline {
				tflog.SubsystemDebug(ctx, logSubsystem, "waiting for the database", map[string]any{"database": id, "status": string(db.Status)})
			}
			return db.Status == cloud.DatabaseOnline, string(db.Status), nil
		})
	return out, err
}

// GetDatabase reads a cluster and its CA certificate.
func (d *Driver) GetDatabase(ctx context.Context, id string) (*cloud.Database, error) {
	db, _, err := d.client.Databases.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	out := toDatabase(db)
	rules, _, err := d.client.Databases.GetFirewallRules(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	out.Spec.TrustedSources = fromDORules(rules)
	if db.Status == "online" {
		ca, _, err := d.client.Databases.GetCA(ctx, id)
		if err != nil {
			return nil, apiError(err)
		}
		out.CACertificate = string(ca.Certificate)
	}
	return out, nil
}

// ListDatabases lists every cluster (without firewall or CA: one call).
func (d *Driver) ListDatabases(ctx context.Context) ([]cloud.Database, error) {
	dbs, _, err := d.client.Databases.List(ctx, &godo.ListOptions{PerPage: 200})
	if err != nil {
		return nil, apiError(err)
	}
	out := make([]cloud.Database, len(dbs))
	for i := range dbs {
		out[i] = *toDatabase(&dbs[i])
	}
	return out, nil
}

// ResizeDatabase changes size, node count and storage, and waits.
func (d *Driver) ResizeDatabase(ctx context.Context, id, size string, nodeCount, storageGiB int) (*cloud.Database, error) {
	cur, _, err := d.client.Databases.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	req := &godo.DatabaseResizeRequest{SizeSlug: cur.SizeSlug, NumNodes: cur.NumNodes}
	if size != "" {
		req.SizeSlug = size
	}
	if nodeCount > 0 {
		req.NumNodes = nodeCount
	}
	if storageGiB > 0 {
		req.StorageSizeMib = uint64(storageGiB) * 1024
	}
	if _, err := d.client.Databases.Resize(ctx, id, req); err != nil {
		return nil, apiError(err)
	}
	tflog.SubsystemInfo(ctx, logSubsystem, "resizing the database", map[string]any{"database": id, "size": req.SizeSlug, "nodes": req.NumNodes})
	return d.waitDatabaseOnline(ctx, id)
}

// SetTrustedSources replaces the cluster's firewall rules.
func (d *Driver) SetTrustedSources(ctx context.Context, id string, sources []cloud.TrustedSource) error {
	rules := doRules(sources)
	if rules == nil {
		rules = []map[string]string{}
	}
	return apiErrorOrNil(d.send(ctx, http.MethodPut, "v2/databases/"+id+"/firewall", map[string]any{"rules": rules}, nil))
}

// SetAdminPassword is refused: DigitalOcean generates passwords.
func (d *Driver) SetAdminPassword(context.Context, string, string) error {
	return &cloud.APIError{Cloud: cloud.DigitalOcean, Kind: cloud.ErrInvalid,
		Message: "DigitalOcean generates database passwords and cannot be given one: leave the password unset and rotate it (a new password_version)"}
}

// RotateAdminPassword has DigitalOcean generate a new admin password.
func (d *Driver) RotateAdminPassword(ctx context.Context, id string) error {
	db, _, err := d.client.Databases.Get(ctx, id)
	if err != nil {
		return apiError(err)
	}
	user := "doadmin"
	if db.Connection != nil && db.Connection.User != "" {
		user = db.Connection.User
	}
	return apiErrorOrNil(d.send(ctx, http.MethodPost, "v2/databases/"+id+"/users/"+user+"/reset_auth", map[string]any{}, nil))
}

// Credentials reads the admin connection, password included.
func (d *Driver) Credentials(ctx context.Context, id string) (*cloud.DatabaseCredentials, error) {
	db, _, err := d.client.Databases.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	c := db.Connection
	if c == nil {
		return nil, fmt.Errorf("database %s has no connection yet (status %s): wait until it is online", id, db.Status)
	}
	out := &cloud.DatabaseCredentials{Host: c.Host, Port: c.Port, Database: c.Database, User: c.User, Password: c.Password, URI: c.URI}
	if p := db.PrivateConnection; p != nil {
		out.PrivateHost = p.Host
	}
	return out, nil
}

// DeleteDatabase deletes the cluster and waits until it is gone.
// DigitalOcean takes no final snapshot (its backups go with it).
func (d *Driver) DeleteDatabase(ctx context.Context, id, _ string) error {
	if _, err := d.client.Databases.Delete(ctx, id); err != nil && !isStatus(err, http.StatusNotFound) {
		return apiError(err)
	}
	return wait.Until(ctx, wait.Options{What: "database " + id + " to be deleted", Interval: d.cfg.PollInterval, MaxInterval: 4 * d.cfg.PollInterval},
		func(ctx context.Context) (bool, string, error) {
			_, _, err := d.client.Databases.Get(ctx, id)
			if isStatus(err, http.StatusNotFound) {
				return true, "gone", nil
			}
			if err != nil {
				return false, "", wait.Retry(apiError(err))
			}
			return false, "still there", nil
		})
}

func apiErrorOrNil(err error) error {
	if err == nil {
		return nil
	}
	return apiError(err)
}

func doEngine(e string) (string, error) {
	switch e {
	case "postgres", "":
		return dbEnginePG, nil
	case "mysql":
		return "mysql", nil
	}
	return "", &cloud.APIError{Cloud: cloud.DigitalOcean, Kind: cloud.ErrInvalid, Message: fmt.Sprintf("engine %q: use postgres or mysql", e)}
}

func doRules(sources []cloud.TrustedSource) []map[string]string {
	var out []map[string]string
	for _, s := range sources {
		typ := map[string]string{cloud.TrustedCIDR: "ip_addr", cloud.TrustedTag: "tag", cloud.TrustedHost: "droplet"}[s.Kind]
		out = append(out, map[string]string{"type": typ, "value": s.Value})
	}
	return out
}

func fromDORules(rules []godo.DatabaseFirewallRule) []cloud.TrustedSource {
	var out []cloud.TrustedSource
	for _, r := range rules {
		kind := map[string]string{"ip_addr": cloud.TrustedCIDR, "tag": cloud.TrustedTag, "droplet": cloud.TrustedHost}[r.Type]
		if kind == "" {
			kind = r.Type // k8s, app: shown as DigitalOcean names them
		}
		out = append(out, cloud.TrustedSource{Kind: kind, Value: r.Value})
	}
	return out
}

func toDatabase(db *godo.Database) *cloud.Database {
	engine := db.EngineSlug
	if engine == dbEnginePG {
		engine = "postgres"
	}
	out := &cloud.Database{
		ID: db.ID, CreatedAt: db.CreatedAt,
		Spec: cloud.DatabaseSpec{Name: db.Name, Region: db.RegionSlug, Engine: engine, Version: db.VersionSlug, Size: db.SizeSlug,
			NodeCount: db.NumNodes, StorageGiB: int(db.StorageSizeMib / 1024), Tags: db.Tags},
	}
	switch db.Status {
	case "online":
		out.Status = cloud.DatabaseOnline
	case "resizing":
		out.Status = cloud.DatabaseResizing
	case "migrating":
		out.Status = cloud.DatabaseMigrating
	default: // creating, forking
		out.Status = cloud.DatabaseCreating
	}
	if c := db.Connection; c != nil {
		out.Host, out.Port, out.Database, out.User = c.Host, c.Port, c.Database, c.User
	}
	if p := db.PrivateConnection; p != nil {
		out.PrivateHost = p.Host
	}
	if out.Port == 0 {
		out.Port = 25060
	}
	return out
}
