package aws

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsauth"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awsquery"
)

// Name is the API's name: the API of the hosts and addresses it creates
// and its key in the state file.
const Name = "aws"

// sigService is the service EC2 requests are signed for.
const sigService = "ec2"

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
	// fw pushes the instances' security group rules (effectiveRules).
	fw *localcloud.FirewallPusher
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
	a.fw = localcloud.NewFirewallPusher(s, localcloud.FirewallPushConfig{Rules: a.effectiveRules, LogPrefix: "localcloud: aws: ", WaitForAll: true})
}

// Authenticate implements localcloud.Authenticator: the request must carry
// a valid Signature Version 4 signature by the configured access key for
// service ec2 and a region this API serves.
func (a *API) Authenticate(r *http.Request) bool {
	return awsquery.Authenticate(a.s.Logf, "aws", r, sigService, a.cfg.AccessKey, a.cfg.SecretKey, a.cfg.Now(), Serves)
}

// Route implements localcloud.API: "ec2:<Action>".
func (a *API) Route(r *http.Request) string { return "ec2:" + awsquery.Route(r) }

// ReadOnly implements localcloud.ReadOnlyReporter: Describe* actions
// change nothing, so the core does not save the state after them.
func (a *API) ReadOnly(r *http.Request) bool { return awsquery.ReadOnly(r) }

// Refuse implements localcloud.API: AuthFailure for 401, and for injected
// faults RequestLimitExceeded (429), InternalError (500), Unavailable
// (503) or the status's own words.
func (a *API) Refuse(w http.ResponseWriter, r *http.Request, status int) {
	dialect.WriteError(w, dialect.Refusal(status))
}

// call is one request being served: its answer, parameters, region and
// time.
type call struct {
	awsquery.Reply
	p      params
	region Region
	now    time.Time
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
func Actions() []string { return awsquery.Actions(handlers) }

// ServeHTTP implements localcloud.API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	form, action, ok := dialect.Parse(w, r, func(action string) bool { return handlers[action] != nil })
	if !ok {
		return
	}
	reg, _ := findRegion(awsauth.Region(r.Header.Get("Authorization"))) // Authenticate checked it
	handlers[action](a, &call{Reply: dialect.Reply(w, action), p: params{form}, region: reg, now: a.s.Now()})
}

// HostProvisioned implements localcloud.API: an instance whose host could
// not be provisioned is terminated, with EC2's state reason; one that was
// gets its security groups' rules (localcloud.FirewallPusher.Provisioned).
func (a *API) HostProvisioned(h *localcloud.Host, err error, now time.Time) {
	in := a.st.byHost[h.ID]
	if in == nil {
		return
	}
	if err == nil {
		a.fw.Provisioned(in.HostID, true)
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
// pushes every instance's security group rules again
// (localcloud.FirewallPusher.Saved).
func (a *API) SaveState() any {
	a.fw.Saved()
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
	a.fw.Loaded()
	return nil
}
