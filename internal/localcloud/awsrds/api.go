package awsrds

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery"
)

// Name is the RDS API's name: its key in the state file and in
// localcloud.Config.APIAddrs.
const Name = "rds"

// DefaultAddr is where `localcloud serve` would put the RDS API's own
// listener, beside EC2's 127.0.0.1:9081 and ELBv2's 9082.
const DefaultAddr = "127.0.0.1:9083"

// sigService is the service RDS requests are signed for.
const sigService = "rds"

// Config configures the RDS API (and its Secrets Manager); every field
// has a default.
type Config struct {
	// AccessKey and SecretKey are the only credentials accepted; default
	// the EC2 API's DevAccessKey and DevSecretKey.
	AccessKey, SecretKey string
	// AccountID is in every ARN; default the EC2 API's AccountID.
	AccountID string
	// Now is the clock signatures are checked against; default time.Now.
	Now func() time.Time
}

// API is RDS as a localcloud.API: list it in localcloud.Config.APIs beside
// the EC2 API, with its Secrets Manager (Secrets), and give both their own
// listeners with localcloud.Config.APIAddrs.
type API struct {
	cfg     Config
	s       *localcloud.Server
	st      state // guarded by s.Lock
	secrets *SecretsAPI
}

var (
	_ localcloud.API              = (*API)(nil)
	_ localcloud.Authenticator    = (*API)(nil)
	_ localcloud.ReadOnlyReporter = (*API)(nil)
)

// New returns the RDS API for cfg, to mount on one Server.
func New(cfg Config) *API {
	if cfg.AccessKey == "" {
		cfg.AccessKey = lcaws.DevAccessKey
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = lcaws.DevSecretKey
	}
	if cfg.AccountID == "" {
		cfg.AccountID = lcaws.AccountID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{cfg: cfg}
	a.st.init()
	a.secrets = &SecretsAPI{rds: a}
	return a
}

// Secrets is the Secrets Manager API serving the master user secrets this
// RDS API keeps (GetSecretValue): mount it on the same Server.
func (a *API) Secrets() *SecretsAPI { return a.secrets }

// Name implements localcloud.API.
func (a *API) Name() string { return Name }

// Prefix implements localcloud.API: under /rds/ on localcloud's main
// listener, at every path on its own.
func (a *API) Prefix() string { return "/rds/" }

// Mount implements localcloud.API.
func (a *API) Mount(s *localcloud.Server) {
	if a.s != nil {
		panic("awsrds: API mounted twice")
	}
	a.s = s
}

// authenticate checks r's SigV4 signature for service and a region the
// EC2 API serves.
func authenticate(s *localcloud.Server, cfg Config, r *http.Request, service string) bool {
	return awsquery.Authenticate(s.Logf, service, r, service, cfg.AccessKey, cfg.SecretKey, cfg.Now(), lcaws.Serves)
}

// Authenticate implements localcloud.Authenticator: a valid SigV4
// signature by the configured key for service rds and a region the EC2
// API serves.
func (a *API) Authenticate(r *http.Request) bool { return authenticate(a.s, a.cfg, r, sigService) }

// Route implements localcloud.API: "rds:<Action>".
func (a *API) Route(r *http.Request) string { return "rds:" + awsquery.Route(r) }

// ReadOnly implements localcloud.ReadOnlyReporter: Describe* actions
// change nothing.
func (a *API) ReadOnly(r *http.Request) bool { return awsquery.ReadOnly(r) }

// Refuse implements localcloud.API.
func (a *API) Refuse(w http.ResponseWriter, r *http.Request, status int) {
	dialect.WriteError(w, dialect.Refusal(status))
}

// call is one request being served: its answer, parameters, region and
// time.
type call struct {
	awsquery.Reply
	p      params
	region string
	now    time.Time
}

var handlers = map[string]func(a *API, c *call){
	"CreateDBInstance":    (*API).createDBInstance,
	"DescribeDBInstances": (*API).describeDBInstances,
	"ModifyDBInstance":    (*API).modifyDBInstance,
	"DeleteDBInstance":    (*API).deleteDBInstance,
}

// Actions lists the actions the API serves, sorted.
func Actions() []string { return awsquery.Actions(handlers) }

// ServeHTTP implements localcloud.API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	form, action, ok := dialect.Parse(w, r, func(action string) bool { return handlers[action] != nil })
	if !ok {
		return
	}
	region := awsauth.Region(r.Header.Get("Authorization")) // Authenticate checked it
	handlers[action](a, &call{Reply: dialect.Reply(w, action), p: params{form}, region: region, now: a.s.Now()})
}

// HostProvisioned implements localcloud.API: RDS has no hosts.
func (a *API) HostProvisioned(*localcloud.Host, error, time.Time) {}

// SaveState implements localcloud.API.
func (a *API) SaveState() any { return &a.st }

// LoadState implements localcloud.API: an instance still creating when
// localcloud stopped goes on being created; one being deleted is deleted;
// the others' addresses are restored at the backend (netnsbackend starts
// its database servers again itself).
func (a *API) LoadState(raw json.RawMessage) error {
	a.st.init()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, &a.st); err != nil {
		return err
	}
	a.st.index()
	for key, db := range a.st.Instances {
		if db.Addr.IsValid() {
			a.s.RestoreLoadBalancer("db:"+db.backendID(), db.Addr)
		}
		switch db.Status {
		case statusCreating:
			a.s.Background(func(context.Context) { a.applyDB(key, true) })
		case statusDeleting:
			a.s.Background(func(context.Context) { a.dropDB(key) })
		}
	}
	return nil
}
