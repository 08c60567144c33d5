package awselbv2

import (
	"fmt"
	"net/netip"
	"time"

	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
)

// state is ELBv2's records, saved in the API's part of the state file.
type state struct {
	// Next numbers the ids the API hands out.
	Next         uint64                   `json:"next"`
	LoadBalancer map[string]*loadBalancer `json:"load_balancers"` // by ARN
	TargetGroups map[string]*targetGroup  `json:"target_groups"`  // by ARN
	Listeners    map[string]*listener     `json:"listeners"`      // by ARN
}

func (st *state) init() {
	*st = state{}
	st.index()
}

func (st *state) index() {
	if st.LoadBalancer == nil {
		st.LoadBalancer = map[string]*loadBalancer{}
	}
	if st.TargetGroups == nil {
		st.TargetGroups = map[string]*targetGroup{}
	}
	if st.Listeners == nil {
		st.Listeners = map[string]*listener{}
	}
}

// newID is a fresh 16-hex-digit id, as ELBv2's ARNs end.
func (st *state) newID() string {
	st.Next++
	// An odd multiplier is a bijection on uint64: ids never repeat, and do
	// not look sequential.
	return fmt.Sprintf("%016x", st.Next*0x9E3779B97F4A7C15)
}

type loadBalancer struct {
	ARN            string     `json:"arn"`
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Region         string     `json:"region"`
	Type           string     `json:"type"` // application or network
	Scheme         string     `json:"scheme"`
	IPAddressType  string     `json:"ip_address_type"`
	VpcID          string     `json:"vpc_id"`
	Subnets        []string   `json:"subnets"`
	SecurityGroups []string   `json:"security_groups"`
	Tags           []tag      `json:"tags"`
	State          string     `json:"state"` // provisioning, active, failed
	Reason         string     `json:"reason,omitempty"`
	IP             netip.Addr `json:"ip,omitzero"`
	CreatedAt      time.Time  `json:"created_at"`
}

// backendID is the load balancer's id at the core's backend.
func (lb *loadBalancer) backendID() string { return "elbv2-" + lb.ID }

type targetGroup struct {
	ARN        string            `json:"arn"`
	Name       string            `json:"name"`
	Region     string            `json:"region"`
	Protocol   string            `json:"protocol"`
	Port       int               `json:"port"`
	VpcID      string            `json:"vpc_id"`
	TargetType string            `json:"target_type"`
	Check      healthCheck       `json:"health_check"`
	Attrs      map[string]string `json:"attributes"`
	Tags       []tag             `json:"tags"`
	Targets    []*target         `json:"targets"`
}

type healthCheck struct {
	Enabled   bool   `json:"enabled"`
	Protocol  string `json:"protocol"`
	Port      string `json:"port"` // traffic-port or a number
	Path      string `json:"path,omitempty"`
	Interval  int    `json:"interval"`
	Timeout   int    `json:"timeout"`
	Healthy   int    `json:"healthy"`
	Unhealthy int    `json:"unhealthy"`
	Matcher   string `json:"matcher,omitempty"`
}

// target is a registered instance; DrainUntil set: deregistered, draining
// until then, then gone.
type target struct {
	ID         string    `json:"id"`
	Port       int       `json:"port"`
	HostID     int       `json:"host_id"`
	DrainUntil time.Time `json:"drain_until,omitzero"`
}

type listener struct {
	ARN          string   `json:"arn"`
	LBARN        string   `json:"lb_arn"`
	Port         int      `json:"port"`
	Protocol     string   `json:"protocol"`
	SslPolicy    string   `json:"ssl_policy,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Actions      []action `json:"actions"`
	Tags         []tag    `json:"tags"`
}

type action struct {
	Type           string    `json:"type"`
	Order          int       `json:"order,omitempty"`
	TargetGroupARN string    `json:"target_group_arn,omitempty"`
	Redirect       *redirect `json:"redirect,omitempty"`
}

type redirect struct {
	Protocol   string `json:"protocol,omitempty"`
	Port       string `json:"port,omitempty"`
	Host       string `json:"host,omitempty"`
	Path       string `json:"path,omitempty"`
	Query      string `json:"query,omitempty"`
	StatusCode string `json:"status_code"`
}

// findRegion reports whether the EC2 API serves region.
func findRegion(name string) (lcaws.Region, bool) {
	for _, r := range lcaws.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return lcaws.Region{}, false
}

// subnetZone finds the zone of a default subnet of region.
func subnetZone(region, id string) (string, bool) {
	r, ok := findRegion(region)
	if !ok {
		return "", false
	}
	for _, c := range r.Zones {
		if z := region + string(c); lcaws.SubnetID(z) == id {
			return z, true
		}
	}
	return "", false
}
