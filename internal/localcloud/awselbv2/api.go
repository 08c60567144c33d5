package awselbv2

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
)

// Name is the API's name: its key in the state file and in
// localcloud.Config.APIAddrs.
const Name = "elbv2"

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
	region, err := verifySignature(r, a.cfg.AccessKey, a.cfg.SecretKey, a.cfg.Now())
	if err == nil {
		if _, ok := findRegion(region); !ok {
			err = fmt.Errorf("region %q is not served", region)
		}
	}
	if err != nil {
		a.s.Logf("localcloud: elbv2: refusing %s %s: %v", r.Method, r.URL.Path, err)
		return false
	}
	return true
}

// Route implements localcloud.API: "elbv2:<Action>".
func (a *API) Route(r *http.Request) string {
	_ = r.ParseForm()
	return "elbv2:" + r.Form.Get("Action")
}

// ReadOnly implements localcloud.ReadOnlyReporter: Describe* actions
// change nothing.
func (a *API) ReadOnly(r *http.Request) bool {
	return strings.HasPrefix(r.Form.Get("Action"), "Describe")
}

// Refuse implements localcloud.API.
func (a *API) Refuse(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusUnauthorized:
		writeError(w, errf(403, "InvalidClientTokenId", "The security token included in the request is invalid."))
	case http.StatusTooManyRequests:
		writeError(w, errf(400, "Throttling", "Rate exceeded"))
	case http.StatusInternalServerError:
		writeError(w, errf(status, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."))
	case http.StatusServiceUnavailable:
		writeError(w, errf(status, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."))
	default:
		writeError(w, errf(status, strings.ReplaceAll(http.StatusText(status), " ", ""), "Injected fault: %s", http.StatusText(status)))
	}
}

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	p      params
	action string
	region string
	now    time.Time
}

// ok answers the action's result.
func (c *call) ok(body func(x *xw)) { writeResult(c.w, c.action, body) }

// fail answers e.
func (c *call) fail(e *apiError) { writeError(c.w, e) }

// valid answers the first of errs that is not nil and reports false.
func (c *call) valid(errs ...*apiError) bool {
	for _, e := range errs {
		if e != nil {
			c.fail(e)
			return false
		}
	}
	return true
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
func Actions() []string {
	out := make([]string, 0, len(handlers))
	for k := range handlers {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ServeHTTP implements localcloud.API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", w.Header().Get("X-Request-Id"))
	if err := r.ParseForm(); err != nil {
		writeError(w, validation("The request could not be parsed: %v", err))
		return
	}
	c := &call{w: w, r: r, p: params{r.Form}, action: r.Form.Get("Action"), region: awsauth.Region(r.Header.Get("Authorization")), now: a.s.Now()} // Authenticate checked it
	h, ok := handlers[c.action]
	switch {
	case r.Method != http.MethodPost && r.Method != http.MethodGet:
		c.fail(errf(400, "InvalidAction", "Could not find operation %s for version %s", r.Method, apiVersion))
	case c.action == "":
		c.fail(errf(400, "MissingAction", "Missing Action"))
	case !ok:
		c.fail(errf(400, "InvalidAction", "Could not find operation %s for version %s", c.action, c.p.get("Version")))
	case c.p.get("Version") != apiVersion:
		c.fail(errf(400, "InvalidAction", "Could not find operation %s for version %s", c.action, c.p.get("Version")))
	default:
		h(a, c)
	}
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
