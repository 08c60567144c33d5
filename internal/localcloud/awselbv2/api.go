package awselbv2

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery"
)

// Name is the API's name: its key in the state file and in
// localcloud.Config.APIAddrs.
const Name = "elbv2"

// sigService is the service ELBv2 requests are signed for.
const sigService = "elasticloadbalancing"

// DefaultAddr is where `localcloud serve` would put the API's own
// listener, beside EC2's 127.0.0.1:9081.
const DefaultAddr = "127.0.0.1:9082"

// InstanceResolver maps EC2 instance ids to the core's hosts and back: an
// ELBv2 instance target "i-..." is the host the EC2 API launched. The EC2
// API (package localcloud/aws) implements it. Its methods are called
// without the server's lock held (they may take it).
type InstanceResolver interface {
	// HostOfInstance is the host of instance id; ok false when there is no
	// such instance (or it is terminated).
	HostOfInstance(id string) (hostID int, ok bool)
	// InstanceOfHost is the instance id of host hostID.
	InstanceOfHost(hostID int) (id string, ok bool)
}

// Config configures the ELBv2 API. Instances is required for instance
// targets; the rest has defaults.
type Config struct {
	// AccessKey and SecretKey are the only credentials accepted; default
	// the EC2 API's DevAccessKey and DevSecretKey.
	AccessKey, SecretKey string
	// AccountID is in every ARN; default the EC2 API's AccountID.
	AccountID string
	// Instances resolves instance targets; without it RegisterTargets
	// refuses every instance (InvalidTarget).
	Instances InstanceResolver
	// Now is the clock signatures are checked against; default time.Now.
	Now func() time.Time
}

// API is ELBv2 as a localcloud.API: list it in localcloud.Config.APIs
// beside the EC2 API and give it its own listener with
// localcloud.Config.APIAddrs[Name].
type API struct {
	cfg Config
	s   *localcloud.Server
	st  state // guarded by s.Lock
}

var (
	_ localcloud.API              = (*API)(nil)
	_ localcloud.Authenticator    = (*API)(nil)
	_ localcloud.ReadOnlyReporter = (*API)(nil)
)

// New returns the ELBv2 API for cfg, to mount on one Server.
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
	return a
}

// Name implements localcloud.API.
func (a *API) Name() string { return Name }

// Prefix implements localcloud.API: under /elbv2/ on localcloud's main
// listener, at every path on its own.
func (a *API) Prefix() string { return "/elbv2/" }

// Mount implements localcloud.API.
func (a *API) Mount(s *localcloud.Server) {
	if a.s != nil {
		panic("awselbv2: API mounted twice")
	}
	a.s = s
}

// Authenticate implements localcloud.Authenticator: a valid SigV4
// signature by the configured key for service elasticloadbalancing and a
// region the EC2 API serves.
func (a *API) Authenticate(r *http.Request) bool {
	return awsquery.Authenticate(a.s.Logf, "elbv2", r, sigService, a.cfg.AccessKey, a.cfg.SecretKey, a.cfg.Now(), lcaws.Serves)
}

// Route implements localcloud.API: "elbv2:<Action>".
func (a *API) Route(r *http.Request) string { return "elbv2:" + awsquery.Route(r) }

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
	"CreateLoadBalancer":    (*API).createLoadBalancer,
	"DescribeLoadBalancers": (*API).describeLoadBalancers,
	"DeleteLoadBalancer":    (*API).deleteLoadBalancer,
	"SetSecurityGroups":     (*API).setSecurityGroups,

	"CreateTargetGroup":             (*API).createTargetGroup,
	"DescribeTargetGroups":          (*API).describeTargetGroups,
	"ModifyTargetGroup":             (*API).modifyTargetGroup,
	"DescribeTargetGroupAttributes": (*API).describeTargetGroupAttributes,
	"ModifyTargetGroupAttributes":   (*API).modifyTargetGroupAttributes,
	"DeleteTargetGroup":             (*API).deleteTargetGroup,

	"CreateListener":    (*API).createListener,
	"DescribeListeners": (*API).describeListeners,
	"ModifyListener":    (*API).modifyListener,
	"DeleteListener":    (*API).deleteListener,

	"RegisterTargets":      (*API).registerTargets,
	"DeregisterTargets":    (*API).deregisterTargets,
	"DescribeTargetHealth": (*API).describeTargetHealth,

	"AddTags":      (*API).addTags,
	"RemoveTags":   (*API).removeTags,
	"DescribeTags": (*API).describeTags,
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

// HostProvisioned implements localcloud.API: ELBv2 has no hosts.
func (a *API) HostProvisioned(*localcloud.Host, error, time.Time) {}

// SaveState implements localcloud.API.
func (a *API) SaveState() any { return &a.st }

// LoadState implements localcloud.API: a load balancer still provisioning
// when localcloud stopped has failed; the others' addresses are restored
// at the backend. (Their backend configuration is applied again by the
// next change; netnsbackend restores its load balancers itself.)
func (a *API) LoadState(raw json.RawMessage) error {
	a.st.init()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, &a.st); err != nil {
		return err
	}
	a.st.index()
	for _, lb := range a.st.LoadBalancer {
		if lb.State == "provisioning" {
			lb.State, lb.Reason = "failed", "localcloud stopped while the load balancer was provisioning"
		}
		if lb.IP.IsValid() {
			a.s.RestoreLoadBalancer(lb.backendID(), lb.IP)
		}
	}
	return nil
}
