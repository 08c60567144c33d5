package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
)

// Name is the API's name: the API of the hosts and addresses it creates
// and its key in the state file.
const Name = "aws"

// Default credentials and listen address.
const (
	DevAccessKey = "localcloud"
	DevSecretKey = "localcloud-dev-secret"
	DefaultAddr  = "127.0.0.1:9081"
	// AccountID owns every resource.
	AccountID = "123456789012"
)

// Config configures the EC2 API. The zero value is usable.
type Config struct {
	// AccessKey and SecretKey are the only credentials accepted; default
	// DevAccessKey and DevSecretKey.
	AccessKey, SecretKey string
	// TerminatedRetention is how long terminated instances stay listed;
	// default an hour, as on EC2.
	TerminatedRetention time.Duration
	// InstanceLimit caps the live instances per region; default 100.
	InstanceLimit int
	// AddressLimit caps the Elastic IPs per region; default 5, as on EC2.
	AddressLimit int
	// Now is the clock signatures are checked against; default time.Now
	// (not the server's clock, which tests may move forward).
	Now func() time.Time
}

// API is the EC2 API as a localcloud.API: list it in
// localcloud.Config.APIs, and give it its own listener with
// localcloud.Config.APIAddrs[Name].
type API struct {
	cfg Config
	s   *localcloud.Server
	st  state // guarded by s.Lock
	// fwMu serializes the pushes of security group rules (syncFirewalls).
	fwMu sync.Mutex
}

var (
	_ localcloud.API              = (*API)(nil)
	_ localcloud.Authenticator    = (*API)(nil)
	_ localcloud.ReadOnlyReporter = (*API)(nil)
)

// New returns the EC2 API for cfg, to mount on one Server.
func New(cfg Config) *API {
	if cfg.AccessKey == "" {
		cfg.AccessKey = DevAccessKey
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = DevSecretKey
	}
	if cfg.TerminatedRetention == 0 {
		cfg.TerminatedRetention = time.Hour
	}
	if cfg.InstanceLimit == 0 {
		cfg.InstanceLimit = 100
	}
	if cfg.AddressLimit == 0 {
		cfg.AddressLimit = 5
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

// Prefix implements localcloud.API: on localcloud's main listener the API
// is served under /aws/ (an EC2 endpoint of http://127.0.0.1:9080/aws/);
// on its own listener at every path.
func (a *API) Prefix() string { return "/aws/" }

// Mount implements localcloud.API.
func (a *API) Mount(s *localcloud.Server) {
	if a.s != nil {
		panic("aws: API mounted twice")
	}
	a.s = s
}

// Authenticate implements localcloud.Authenticator: the request must carry
// a valid Signature Version 4 signature by the configured access key for
// service ec2 and a region this API serves.
func (a *API) Authenticate(r *http.Request) bool {
	region, err := verifySignature(r, a.cfg.AccessKey, a.cfg.SecretKey, a.cfg.Now())
	if err == nil {
		if _, ok := findRegion(region); !ok {
			err = fmt.Errorf("region %q is not served", region)
		}
	}
	if err != nil {
		a.s.Logf("localcloud: aws: refusing %s %s: %v", r.Method, r.URL.Path, err)
		return false
	}
	return true
}

// Route implements localcloud.API: "ec2:<Action>".
func (a *API) Route(r *http.Request) string {
	_ = r.ParseForm()
	return "ec2:" + r.Form.Get("Action")
}

// ReadOnly implements localcloud.ReadOnlyReporter: Describe* actions
// change nothing, so the core does not save the state after them.
func (a *API) ReadOnly(r *http.Request) bool {
	return strings.HasPrefix(r.Form.Get("Action"), "Describe")
}

// Refuse implements localcloud.API: AuthFailure for 401, and for injected
// faults RequestLimitExceeded (429), InternalError (500), Unavailable
// (503) or the status's own words.
func (a *API) Refuse(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusUnauthorized:
		writeError(w, errf(status, "AuthFailure", "AWS was not able to validate the provided access credentials"))
	case http.StatusTooManyRequests:
		writeError(w, errf(status, "RequestLimitExceeded", "Request limit exceeded."))
	case http.StatusInternalServerError:
		writeError(w, errf(status, "InternalError", "An internal error has occurred"))
	case http.StatusServiceUnavailable:
		writeError(w, errf(status, "Unavailable", "The service is unavailable. Please try again shortly."))
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
	region Region
	now    time.Time
}

// ok answers the action's XML.
func (c *call) ok(body func(x *xw)) { writeXML(c.w, c.action, body) }

// fail answers e.
func (c *call) fail(e *apiError) { writeError(c.w, e) }

// valid answers the first of errs that is not nil and reports false, or
// reports true when all are nil.
func (c *call) valid(errs ...*apiError) bool {
	for _, e := range errs {
		if e != nil {
			c.fail(e)
			return false
		}
	}
	return true
}

// handlers serve the actions.
var handlers = map[string]func(a *API, c *call){
	"DescribeRegions":               (*API).describeRegions,
	"DescribeAvailabilityZones":     (*API).describeAvailabilityZones,
	"DescribeInstanceTypes":         (*API).describeInstanceTypes,
	"DescribeInstanceTypeOfferings": (*API).describeInstanceTypeOfferings,
	"DescribeImages":                (*API).describeImages,
	"DescribeVpcs":                  (*API).describeVpcs,
	"DescribeSubnets":               (*API).describeSubnets,

	"ImportKeyPair":    (*API).importKeyPair,
	"DescribeKeyPairs": (*API).describeKeyPairs,
	"DeleteKeyPair":    (*API).deleteKeyPair,

	"CreateSecurityGroup":           (*API).createSecurityGroup,
	"DescribeSecurityGroups":        (*API).describeSecurityGroups,
	"AuthorizeSecurityGroupIngress": (*API).authorizeIngress,
	"RevokeSecurityGroupIngress":    (*API).revokeIngress,
	"DeleteSecurityGroup":           (*API).deleteSecurityGroup,

	"RunInstances":            (*API).runInstances,
	"DescribeInstances":       (*API).describeInstances,
	"TerminateInstances":      (*API).terminateInstances,
	"StopInstances":           (*API).stopInstances,
	"StartInstances":          (*API).startInstances,
	"ModifyInstanceAttribute": (*API).modifyInstanceAttribute,
	"CreateTags":              (*API).createTags,
	"DeleteTags":              (*API).deleteTags,

	"AllocateAddress":     (*API).allocateAddress,
	"AssociateAddress":    (*API).associateAddress,
	"DisassociateAddress": (*API).disassociateAddress,
	"ReleaseAddress":      (*API).releaseAddress,
	"DescribeAddresses":   (*API).describeAddresses,
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
		writeError(w, errf(400, "InvalidParameterValue", "The request could not be parsed: %v", err))
		return
	}
	reg, _ := findRegion(awsauth.Region(r.Header.Get("Authorization"))) // Authenticate checked it
	c := &call{w: w, r: r, p: params{r.Form}, action: r.Form.Get("Action"), region: reg, now: a.s.Now()}
	h, ok := handlers[c.action]
	switch {
	case r.Method != http.MethodPost && r.Method != http.MethodGet:
		c.fail(errf(400, "InvalidAction", "The action %s is not valid for this web service.", r.Method))
	case c.action == "":
		c.fail(errf(400, "MissingAction", "The request must contain the parameter Action"))
	case !ok:
		c.fail(errf(400, "InvalidAction", "The action %s is not valid for this web service.", c.action))
	case c.p.get("Version") == "":
		c.fail(missing("Version"))
	case c.p.get("DryRun") == "true":
		c.fail(errf(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."))
	default:
		h(a, c)
	}
}

// HostProvisioned implements localcloud.API: an instance whose host could
// not be provisioned is terminated, with EC2's state reason; one that was
// gets its security groups' rules (firewallProvisioned).
func (a *API) HostProvisioned(h *localcloud.Host, err error, now time.Time) {
	in := a.st.byHost[h.ID]
	if in == nil {
		return
	}
	if err == nil {
		a.firewallProvisioned(in)
		return
	}
	in.TerminatedAt = now
	in.StateReason = "Server.InternalError"
	in.StateMessage = "Server.InternalError: Internal error on launch"
	if err == localcloud.ErrInterrupted {
		in.StateMessage = "Server.InternalError: localcloud stopped while the instance was launching"
	}
}

// SaveState implements localcloud.API. The first save after a load also
// pushes every instance's security group rules again: the core loads the
// state (LoadState), then has the backend restore its hosts, then saves,
// so only then can the backend take them.
func (a *API) SaveState() any {
	if a.st.fwResync {
		a.st.fwResync = false
		a.s.Background(func(context.Context) { a.syncFirewalls(true) })
	}
	return &a.st
}

// LoadState implements localcloud.API.
func (a *API) LoadState(raw json.RawMessage) error {
	a.st.init()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, &a.st); err != nil {
		return err
	}
	a.st.index()
	a.st.fwResync = true
	return nil
}
