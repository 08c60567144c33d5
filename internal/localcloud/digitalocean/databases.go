package digitalocean

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/pki"
)

// Managed databases (/v2/databases): each PostgreSQL cluster is a real
// PostgreSQL server of the backend (netnsbackend: in a namespace of its
// own, TLS on with a certificate of this API's CA, served at /ca). Create
// answers "creating"; the cluster turns "online" once the server accepts
// connections. Users and databases are created for real; the firewall is
// enforced by the server (pg_hba.conf): its rules (ip_addr, droplet, tag)
// become the client ranges allowed, droplets and tagged droplets by their
// private addresses, followed as droplets come and go. Resize keeps the
// data (localcloud runs one node whatever num_nodes says). Only engine pg
// runs; mysql and the others are refused with 422.

// DatabaseLimit is the account's database cluster limit.
const DatabaseLimit = 10

// DefaultDBAdmin is the admin user DigitalOcean creates, and the default
// database.
const (
	DefaultDBAdmin = "doadmin"
	DefaultDBName  = "defaultdb"
)

var (
	dbSizes    = []string{"db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb", "db-s-6vcpu-16gb", "db-s-8vcpu-32gb"}
	dbVersions = []string{"13", "14", "15", "16", "17"}
	dbNameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,62}$`)
	dbIdentRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,62}$`)
)

type dbCluster struct {
	ID, Name, Engine, Version, Size, Region string
	NumNodes, StorageMiB                    int
	Tags                                    []string
	Status                                  string
	CreatedAt                               time.Time
	Users                                   []dbUser // the first is the admin
	DBs                                     []string
	Rules                                   []dbRule
	Addr                                    netip.Addr
	Port                                    int
}

type dbUser struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

type dbRule struct {
	UUID      string    `json:"uuid"`
	Type      string    `json:"type"`
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"created_at"`
}

func (a *API) dbRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /v2/databases", a.listDBs)
	m.HandleFunc("POST /v2/databases", a.createDB)
	m.HandleFunc("GET /v2/databases/{database_cluster_uuid}", a.getDB)
	m.HandleFunc("DELETE /v2/databases/{database_cluster_uuid}", a.deleteDB)
	m.HandleFunc("PUT /v2/databases/{database_cluster_uuid}/resize", a.resizeDB)
	m.HandleFunc("GET /v2/databases/{database_cluster_uuid}/firewall", a.getDBFirewall)
	m.HandleFunc("PUT /v2/databases/{database_cluster_uuid}/firewall", a.putDBFirewall)
	m.HandleFunc("GET /v2/databases/{database_cluster_uuid}/ca", a.getDBCA)
	m.HandleFunc("GET /v2/databases/{database_cluster_uuid}/users", a.listDBUsers)
	m.HandleFunc("POST /v2/databases/{database_cluster_uuid}/users", a.addDBUser)
	m.HandleFunc("GET /v2/databases/{database_cluster_uuid}/users/{username}", a.getDBUser)
	m.HandleFunc("DELETE /v2/databases/{database_cluster_uuid}/users/{username}", a.deleteDBUser)
	m.HandleFunc("POST /v2/databases/{database_cluster_uuid}/users/{username}/reset_auth", a.resetDBUser)
	m.HandleFunc("GET /v2/databases/{database_cluster_uuid}/dbs", a.listDBNames)
	m.HandleFunc("POST /v2/databases/{database_cluster_uuid}/dbs", a.addDBName)
	m.HandleFunc("GET /v2/databases/{database_cluster_uuid}/dbs/{database_name}", a.getDBName)
	m.HandleFunc("DELETE /v2/databases/{database_cluster_uuid}/dbs/{database_name}", a.deleteDBName)
}

// dbCA is the API's database CA, made on first use (and saved).
func (a *API) dbCA() (certPEM, keyPEM string, err error) {
	if a.st.dbCACert == "" {
		ca, err := pki.NewCA("localcloud databases CA", 10*365*24*time.Hour)
		if err != nil {
			return "", "", err
		}
		a.st.dbCACert, a.st.dbCAKey = string(ca.CertPEM()), string(ca.KeyPEM())
	}
	return a.st.dbCACert, a.st.dbCAKey, nil
}

func newPassword() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return "AVNS_" + base64.RawURLEncoding.EncodeToString(b[:])
}

type dbConnJSON struct {
	URI      string `json:"uri"`
	Database string `json:"database"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	SSL      bool   `json:"ssl"`
}

type dbUserJSON struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

type dbRuleJSON struct {
	UUID        string `json:"uuid,omitempty"`
	ClusterUUID string `json:"cluster_uuid,omitempty"`
	Type        string `json:"type"`
	Value       string `json:"value"`
	CreatedAt   string `json:"created_at,omitempty"`
}

type dbJSON struct {
	ID                 string       `json:"id"`
	Name               string       `json:"name"`
	Engine             string       `json:"engine"`
	Version            string       `json:"version"`
	NumNodes           int          `json:"num_nodes"`
	Size               string       `json:"size"`
	Region             string       `json:"region"`
	Status             string       `json:"status"`
	CreatedAt          string       `json:"created_at"`
	PrivateNetworkUUID string       `json:"private_network_uuid"`
	Tags               []string     `json:"tags"`
	DBNames            []string     `json:"db_names"`
	Connection         *dbConnJSON  `json:"connection,omitempty"`
	PrivateConnection  *dbConnJSON  `json:"private_connection,omitempty"`
	Users              []dbUserJSON `json:"users"`
	StorageSizeMiB     int          `json:"storage_size_mib"`
	Rules              []dbRuleJSON `json:"rules"`
}

func (a *API) renderDB(db *dbCluster) dbJSON {
	out := dbJSON{
		ID: db.ID, Name: db.Name, Engine: db.Engine, Version: db.Version, NumNodes: db.NumNodes, Size: db.Size, Region: db.Region,
		Status: db.Status, CreatedAt: ts(db.CreatedAt), PrivateNetworkUUID: vpcUUID(db.Region), Tags: slices.Clone(db.Tags),
		DBNames: slices.Clone(db.DBs), StorageSizeMiB: db.StorageMiB, Users: []dbUserJSON{}, Rules: []dbRuleJSON{},
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	for i, u := range db.Users {
		role := "normal"
		if i == 0 {
			role = "primary"
		}
		out.Users = append(out.Users, dbUserJSON{Name: u.Name, Role: role, Password: u.Password})
	}
	for _, r := range db.Rules {
		out.Rules = append(out.Rules, renderDBRule(db, r))
	}
	if db.Addr.IsValid() {
		c := dbConn(db, db.Users[0], DefaultDBName)
		out.Connection, out.PrivateConnection = &c, &c
	}
	return out
}

func renderDBRule(db *dbCluster, r dbRule) dbRuleJSON {
	return dbRuleJSON{UUID: r.UUID, ClusterUUID: db.ID, Type: r.Type, Value: r.Value, CreatedAt: ts(r.CreatedAt)}
}

// dbConn is how user u reaches database name: the server's one address is
// its public and private host (localcloud has one network).
func dbConn(db *dbCluster, u dbUser, name string) dbConnJSON {
	host := db.Addr.String()
	uri := (&url.URL{Scheme: "postgresql", User: url.UserPassword(u.Name, u.Password), Host: host + ":" + strconv.Itoa(db.Port), Path: "/" + name, RawQuery: "sslmode=require"}).String()
	return dbConnJSON{URI: uri, Database: name, Host: host, Port: db.Port, User: u.Name, Password: u.Password, SSL: true}
}

func (a *API) listDBs(w http.ResponseWriter, r *http.Request) {
	tag := r.URL.Query().Get("tag_name")
	a.s.Lock()
	dbs := make([]*dbCluster, 0, len(a.st.dbs))
	for _, db := range a.st.dbs {
		if tag == "" || slices.Contains(db.Tags, tag) {
			dbs = append(dbs, db)
		}
	}
	slices.SortFunc(dbs, func(x, y *dbCluster) int { return x.CreatedAt.Compare(y.CreatedAt) })
	out := make([]dbJSON, len(dbs))
	for i, db := range dbs {
		out[i] = a.renderDB(db)
	}
	a.s.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"databases": out})
}

// dbOf is the cluster of the request's path, answering 404 when there is
// none. Call with the lock held.
func (a *API) dbOf(w http.ResponseWriter, r *http.Request) *dbCluster {
	db := a.st.dbs[r.PathValue("database_cluster_uuid")]
	if db == nil {
		ew(w).notFound()
	}
	return db
}

func (a *API) getDB(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	defer a.s.Unlock()
	if db := a.dbOf(w, r); db != nil {
		writeJSON(w, http.StatusOK, map[string]any{"database": a.renderDB(db)})
	}
}

type dbCreateRequest struct {
	Name               string   `json:"name"`
	Engine             string   `json:"engine"`
	Version            string   `json:"version"`
	Size               string   `json:"size"`
	Region             string   `json:"region"`
	NumNodes           int      `json:"num_nodes"`
	StorageSizeMiB     int      `json:"storage_size_mib"`
	Tags               []string `json:"tags"`
	PrivateNetworkUUID string   `json:"private_network_uuid"`
	ProjectID          string   `json:"project_id"`
	Rules              []dbRule `json:"rules"`
}

func checkDBSize(size string, nodes, storage int) string {
	switch {
	case !slices.Contains(dbSizes, size):
		return fmt.Sprintf("invalid size %q: one of %s", size, strings.Join(dbSizes, ", "))
	case nodes < 1 || nodes > 3:
		return "num_nodes must be 1, 2 or 3"
	case size == "db-s-1vcpu-1gb" && nodes > 1:
		return "db-s-1vcpu-1gb clusters have one node: choose a larger size for standby nodes"
	case storage < 0 || storage%1024 != 0:
		return "storage_size_mib must be a multiple of 1024"
	}
	return ""
}

func (a *API) createDB(w http.ResponseWriter, r *http.Request) {
	var req dbCreateRequest
	if !decodeBody(w, r, &req) {
		return
	}
	now := a.s.Now()
	msg := ""
	reg, ok := findRegion(req.Region)
	switch {
	case !dbNameRe.MatchString(req.Name):
		msg = "name must be 3 to 63 lower-case letters, digits and hyphens, starting with a letter or digit"
	case req.Engine != "pg":
		msg = fmt.Sprintf("localcloud runs PostgreSQL (engine pg) only, not %q", req.Engine)
	case !ok:
		msg = "You specified an invalid region."
	case !reg.Available:
		msg = "Region is not available."
	case req.Version != "" && !slices.Contains(dbVersions, req.Version):
		msg = fmt.Sprintf("invalid version %q for pg: one of %s", req.Version, strings.Join(dbVersions, ", "))
	default:
		msg = checkDBSize(req.Size, req.NumNodes, req.StorageSizeMiB)
	}
	if msg == "" {
		msg = a.checkDBRules(req.Rules, now)
	}
	a.s.Lock()
	if msg == "" && len(a.st.dbs) >= DatabaseLimit {
		msg = fmt.Sprintf("You have reached your database cluster limit of %d.", DatabaseLimit)
	}
	for _, db := range a.st.dbs {
		if msg == "" && db.Name == req.Name {
			msg = "A database cluster with this name already exists."
		}
	}
	var db *dbCluster
	if msg == "" {
		version := req.Version
		if version == "" {
			version = "15"
		}
		db = &dbCluster{
			ID: localcloud.NewUUID(), Name: req.Name, Engine: "pg", Version: version, Size: req.Size, Region: reg.Slug, NumNodes: req.NumNodes,
			StorageMiB: req.StorageSizeMiB, Tags: slices.Clone(req.Tags), Status: "creating", CreatedAt: now, Port: localcloudPGPort,
			Users: []dbUser{{Name: DefaultDBAdmin, Password: newPassword()}}, DBs: []string{DefaultDBName},
		}
		for _, rule := range req.Rules {
			db.Rules = append(db.Rules, dbRule{UUID: localcloud.NewUUID(), Type: rule.Type, Value: rule.Value, CreatedAt: now})
		}
		if _, _, err := a.dbCA(); err != nil {
			msg = "making the database CA: " + err.Error()
		} else {
			a.st.dbs[db.ID] = db
		}
	}
	var out dbJSON
	if db != nil && msg == "" {
		out = a.renderDB(db)
	}
	a.s.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}
	a.s.Background(func(context.Context) { _ = a.applyDB(db.ID, true) }) // a failure is logged and shown as the status
	writeJSON(w, http.StatusCreated, map[string]any{"database": out})
}

// localcloudPGPort is the port the backend's servers listen on
// (DigitalOcean's).
const localcloudPGPort = 25060

// checkDBRules validates firewall rules.
func (a *API) checkDBRules(rules []dbRule, now time.Time) string {
	for _, r := range rules {
		switch r.Type {
		case "ip_addr":
			if _, err := parsePrefix(r.Value); err != nil {
				return fmt.Sprintf("firewall rule ip_addr %q is not an IP address or CIDR range", r.Value)
			}
		case "droplet":
			id, err := strconv.Atoi(r.Value)
			a.s.Lock()
			_, ok := a.getDroplet(id, now)
			a.s.Unlock()
			if err != nil || !ok {
				return fmt.Sprintf("firewall rule droplet %q: droplet not found", r.Value)
			}
		case "tag":
			if r.Value == "" {
				return "firewall rule tag: the tag is empty"
			}
		default:
			return fmt.Sprintf("firewall rule type %q: localcloud takes ip_addr, droplet and tag", r.Type)
		}
	}
	return ""
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// dbTrusted is the client ranges db's rules allow, droplets by their
// private addresses as of now; none when it has no rule. Call with the
// lock held.
func (a *API) dbTrusted(db *dbCluster, now time.Time) []netip.Prefix {
	var out []netip.Prefix
	add := func(id int) {
		if addr, ok := a.s.TargetAddr(id); ok {
			out = append(out, netip.PrefixFrom(addr, 32))
		}
	}
	for _, r := range db.Rules {
		switch r.Type {
		case "ip_addr":
			if p, err := parsePrefix(r.Value); err == nil {
				out = append(out, p)
			}
		case "droplet":
			if id, err := strconv.Atoi(r.Value); err == nil {
				add(id)
			}
		case "tag":
			for _, d := range a.liveDroplets(now) {
				if d.HasTag(r.Value) {
					add(d.ID)
				}
			}
		}
	}
	if len(db.Rules) > 0 && len(out) == 0 {
		// Rules that match nobody yet: nobody connects, rather than all.
		out = []netip.Prefix{netip.MustParsePrefix("255.255.255.255/32")}
	}
	return out
}

// applyDB has the backend serve database id as its record says; a first
// apply that fails leaves the cluster "creating" (DigitalOcean shows no
// errored state) and logs why. It takes Serialize.
func (a *API) applyDB(id string, first bool) error {
	defer a.s.Serialize()()
	now := a.s.Now()
	a.s.Lock()
	db := a.st.dbs[id]
	if db == nil {
		a.s.Unlock()
		return nil
	}
	caCert, caKey, err := a.dbCA()
	cfg := localcloud.DatabaseConfig{Engine: db.Engine, Version: db.Version, Databases: slices.Clone(db.DBs), Trusted: a.dbTrusted(db, now), CACertPEM: caCert, CAKeyPEM: caKey}
	for _, u := range db.Users {
		cfg.Users = append(cfg.Users, localcloud.DatabaseUser{Name: u.Name, Password: u.Password})
	}
	a.s.Unlock()
	if err != nil {
		return err
	}
	addrs, err := a.s.ApplyDatabase(id, cfg)
	a.s.Lock()
	defer a.s.Unlock()
	if err != nil {
		a.s.Logf("localcloud: %v", err)
		return err
	}
	db.Addr, db.Port = addrs.Addr, addrs.Port
	if first || db.Status == "resizing" {
		db.Status = "online"
	}
	return nil
}

// changeDB checks and applies a change of the request's cluster (under
// the lock; change returns a 422 message or ""), then has the backend
// apply it before answering with answer.
func (a *API) changeDB(w http.ResponseWriter, r *http.Request, change func(db *dbCluster, now time.Time) string, answer func(db *dbCluster)) {
	now := a.s.Now()
	a.s.Lock()
	db := a.dbOf(w, r)
	if db == nil {
		a.s.Unlock()
		return
	}
	msg := ""
	if db.Status == "creating" {
		msg = "The database cluster is still being created: try again when it is online."
	} else {
		msg = change(db, now)
	}
	a.s.Unlock()
	if msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}
	if err := a.applyDB(db.ID, false); err != nil {
		ew(w).error(http.StatusInternalServerError, "server_error", "applying the change to the database server: "+err.Error())
		return
	}
	a.s.Lock()
	defer a.s.Unlock()
	answer(db)
}

func (a *API) deleteDB(w http.ResponseWriter, r *http.Request) {
	defer a.s.Serialize()()
	a.s.Lock()
	db := a.dbOf(w, r)
	if db != nil {
		delete(a.st.dbs, db.ID)
	}
	a.s.Unlock()
	if db == nil {
		return
	}
	if err := a.s.DeleteDatabase(db.ID); err != nil {
		a.s.Logf("localcloud: deleting database %s: %v", db.ID, err)
	}
	noContent(w, true)
}

func (a *API) resizeDB(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Size           string `json:"size"`
		NumNodes       int    `json:"num_nodes"`
		StorageSizeMiB int    `json:"storage_size_mib"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	a.changeDB(w, r, func(db *dbCluster, _ time.Time) string {
		storage := req.StorageSizeMiB
		if storage == 0 {
			storage = db.StorageMiB
		}
		if msg := checkDBSize(req.Size, req.NumNodes, storage); msg != "" {
			return msg
		}
		if storage < db.StorageMiB {
			return "storage_size_mib cannot shrink"
		}
		db.Size, db.NumNodes, db.StorageMiB = req.Size, req.NumNodes, storage
		return ""
	}, func(*dbCluster) { w.WriteHeader(http.StatusAccepted) })
}

func (a *API) getDBFirewall(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	defer a.s.Unlock()
	if db := a.dbOf(w, r); db != nil {
		rules := []dbRuleJSON{}
		for _, rule := range db.Rules {
			rules = append(rules, renderDBRule(db, rule))
		}
		writeJSON(w, http.StatusOK, map[string]any{"rules": rules})
	}
}

func (a *API) putDBFirewall(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Rules []dbRule `json:"rules"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if msg := a.checkDBRules(req.Rules, a.s.Now()); msg != "" {
		ew(w).unprocessable("%s", msg)
		return
	}
	a.changeDB(w, r, func(db *dbCluster, now time.Time) string {
		db.Rules = nil
		for _, rule := range req.Rules {
			db.Rules = append(db.Rules, dbRule{UUID: localcloud.NewUUID(), Type: rule.Type, Value: rule.Value, CreatedAt: now})
		}
		return ""
	}, func(*dbCluster) { noContent(w, true) })
}

func (a *API) getDBCA(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	defer a.s.Unlock()
	if db := a.dbOf(w, r); db != nil {
		cert, _, err := a.dbCA()
		if err != nil {
			ew(w).error(http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ca": map[string]string{"certificate": base64.StdEncoding.EncodeToString([]byte(cert))}})
	}
}

func userJSON(db *dbCluster, i int) dbUserJSON {
	role := "normal"
	if i == 0 {
		role = "primary"
	}
	return dbUserJSON{Name: db.Users[i].Name, Role: role, Password: db.Users[i].Password}
}

func (a *API) listDBUsers(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	defer a.s.Unlock()
	if db := a.dbOf(w, r); db != nil {
		out := make([]dbUserJSON, len(db.Users))
		for i := range db.Users {
			out[i] = userJSON(db, i)
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": out})
	}
}

func userIndex(db *dbCluster, name string) int {
	return slices.IndexFunc(db.Users, func(u dbUser) bool { return u.Name == name })
}

func (a *API) getDBUser(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	defer a.s.Unlock()
	if db := a.dbOf(w, r); db != nil {
		i := userIndex(db, r.PathValue("username"))
		if i < 0 {
			ew(w).notFound()
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(db, i)})
	}
}

func (a *API) addDBUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name     string `json:"name"`
		ReadOnly bool   `json:"readonly"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	a.changeDB(w, r, func(db *dbCluster, _ time.Time) string {
		switch {
		case !dbIdentRe.MatchString(req.Name) || strings.HasPrefix(req.Name, "pg_"):
			return "user name must be 1 to 63 letters, digits, '_' and '-', starting with a letter or '_', not pg_"
		case userIndex(db, req.Name) >= 0:
			return "A user with this name already exists."
		}
		db.Users = append(db.Users, dbUser{Name: req.Name, Password: newPassword()})
		return ""
	}, func(db *dbCluster) {
		writeJSON(w, http.StatusCreated, map[string]any{"user": userJSON(db, userIndex(db, req.Name))})
	})
}

func (a *API) resetDBUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	a.changeDB(w, r, func(db *dbCluster, _ time.Time) string {
		i := userIndex(db, name)
		if i < 0 {
			return fmt.Sprintf("User %s could not be found.", name)
		}
		db.Users[i].Password = newPassword()
		return ""
	}, func(db *dbCluster) {
		writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(db, userIndex(db, name))})
	})
}

func (a *API) deleteDBUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	a.changeDB(w, r, func(db *dbCluster, _ time.Time) string {
		switch i := userIndex(db, name); {
		case i < 0:
			return fmt.Sprintf("User %s could not be found.", name)
		case i == 0:
			return "The primary user cannot be deleted."
		default:
			db.Users = slices.Delete(db.Users, i, i+1)
		}
		return ""
	}, func(*dbCluster) { noContent(w, true) })
}

func (a *API) listDBNames(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	defer a.s.Unlock()
	if db := a.dbOf(w, r); db != nil {
		out := make([]map[string]string, len(db.DBs))
		for i, n := range db.DBs {
			out[i] = map[string]string{"name": n}
		}
		writeJSON(w, http.StatusOK, map[string]any{"dbs": out})
	}
}

func (a *API) getDBName(w http.ResponseWriter, r *http.Request) {
	a.s.Lock()
	defer a.s.Unlock()
	if db := a.dbOf(w, r); db != nil {
		name := r.PathValue("database_name")
		if !slices.Contains(db.DBs, name) {
			ew(w).notFound()
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"db": map[string]string{"name": name}})
	}
}

func (a *API) addDBName(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	a.changeDB(w, r, func(db *dbCluster, _ time.Time) string {
		switch {
		case !dbIdentRe.MatchString(req.Name) || strings.HasPrefix(req.Name, "pg_") || req.Name == "postgres" || strings.HasPrefix(req.Name, "template"):
			return "database name must be 1 to 63 letters, digits, '_' and '-', starting with a letter or '_' (not postgres, template* or pg_*)"
		case slices.Contains(db.DBs, req.Name):
			return "A database with this name already exists."
		}
		db.DBs = append(db.DBs, req.Name)
		return ""
	}, func(*dbCluster) {
		writeJSON(w, http.StatusCreated, map[string]any{"db": map[string]string{"name": req.Name}})
	})
}

func (a *API) deleteDBName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("database_name")
	a.changeDB(w, r, func(db *dbCluster, _ time.Time) string {
		i := slices.Index(db.DBs, name)
		switch {
		case i < 0:
			return fmt.Sprintf("Database %s could not be found.", name)
		case name == DefaultDBName:
			return "The default database cannot be deleted."
		}
		db.DBs = slices.Delete(db.DBs, i, i+1)
		return ""
	}, func(*dbCluster) { noContent(w, true) })
}

// dropletsChanged re-applies the firewall of every database whose rules
// name droplets or tags: they follow droplets as they come and go. Call
// without the lock.
func (a *API) dropletsChanged() {
	a.s.Lock()
	var ids []string
	for id, db := range a.st.dbs {
		if db.Status != "creating" && slices.ContainsFunc(db.Rules, func(r dbRule) bool { return r.Type != "ip_addr" }) {
			ids = append(ids, id)
		}
	}
	a.s.Unlock()
	for _, id := range ids {
		a.s.Background(func(context.Context) { _ = a.applyDB(id, false) }) // a failure is logged
	}
}

// savedDB is a database cluster in the state file; it holds passwords, as
// the vendor does (the state file is 0600).
type savedDB struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Engine     string     `json:"engine"`
	Version    string     `json:"version"`
	Size       string     `json:"size"`
	Region     string     `json:"region"`
	NumNodes   int        `json:"num_nodes"`
	StorageMiB int        `json:"storage_size_mib,omitempty"`
	Tags       []string   `json:"tags,omitempty"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	Users      []dbUser   `json:"users"`
	DBs        []string   `json:"dbs"`
	Rules      []dbRule   `json:"rules,omitempty"`
	Addr       netip.Addr `json:"addr,omitzero"`
	Port       int        `json:"port,omitempty"`
}

func (a *API) saveDBs() []savedDB {
	out := []savedDB{}
	for _, d := range a.st.dbs {
		out = append(out, savedDB{d.ID, d.Name, d.Engine, d.Version, d.Size, d.Region, d.NumNodes, d.StorageMiB, d.Tags, d.Status, d.CreatedAt, d.Users, d.DBs, d.Rules, d.Addr, d.Port})
	}
	slices.SortFunc(out, func(x, y savedDB) int { return strings.Compare(x.ID, y.ID) })
	return out
}

func (a *API) loadDBs(in []savedDB) {
	for _, s := range in {
		d := &dbCluster{ID: s.ID, Name: s.Name, Engine: s.Engine, Version: s.Version, Size: s.Size, Region: s.Region, NumNodes: s.NumNodes, StorageMiB: s.StorageMiB,
			Tags: s.Tags, Status: s.Status, CreatedAt: s.CreatedAt, Users: s.Users, DBs: s.DBs, Rules: s.Rules, Addr: s.Addr, Port: s.Port}
		if d.Addr.IsValid() {
			a.s.RestoreLoadBalancer("db:"+d.ID, d.Addr)
		}
		a.st.dbs[d.ID] = d
		if d.Status == "creating" {
			// localcloud stopped while it was being created: go on.
			a.s.Background(func(context.Context) { _ = a.applyDB(d.ID, true) })
		}
	}
}
