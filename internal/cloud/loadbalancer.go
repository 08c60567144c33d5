package cloud

import (
	"context"
	"time"
)

// LoadBalancerType is the portable kind of load balancer.
type LoadBalancerType string

const (
	// LoadBalancerHTTP is a layer-7 load balancer: a DigitalOcean REGIONAL
	// load balancer, an AWS Application Load Balancer.
	LoadBalancerHTTP LoadBalancerType = "http"
	// LoadBalancerNetwork is a layer-4 load balancer: a DigitalOcean
	// REGIONAL_NETWORK load balancer, an AWS Network Load Balancer.
	LoadBalancerNetwork LoadBalancerType = "network"
)

// LoadBalancerStatus is the portable lifecycle state of a load balancer.
type LoadBalancerStatus string

const (
	LoadBalancerNew    LoadBalancerStatus = "new"    // being provisioned
	LoadBalancerActive LoadBalancerStatus = "active" // serving
	LoadBalancerError  LoadBalancerStatus = "errored"
)

// ForwardingRule sends what arrives at EntryPort to TargetPort of every
// target. Protocols are http, https, http2, tcp or udp (lower case).
type ForwardingRule struct {
	EntryProtocol  string
	EntryPort      int
	TargetProtocol string
	TargetPort     int
	// CertificateID names a vendor certificate that terminates TLS
	// (DigitalOcean certificate id, AWS ACM ARN); "" with TLSPassthrough
	// passes TLS through to the targets.
	CertificateID  string
	TLSPassthrough bool
}

// HealthCheck is how the load balancer decides a target serves.
type HealthCheck struct {
	Protocol           string // http, https or tcp
	Port               int
	Path               string // http(s) only
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
}

// DeregistrationWait is how long a target keeps getting traffic after it is
// removed, at most, when the vendor reports no per-target state to wait
// for (DigitalOcean): the health check's interval × unhealthy threshold.
func (h HealthCheck) DeregistrationWait() time.Duration {
	return h.Interval * time.Duration(max(h.UnhealthyThreshold, 1))
}

// LoadBalancerSpec asks for a load balancer. Region is vendor-native.
type LoadBalancerSpec struct {
	Name            string
	Region          string
	Type            LoadBalancerType
	ForwardingRules []ForwardingRule
	HealthCheck     HealthCheck
	// StickyCookie, when not "", pins a client to a target with this
	// cookie, for StickyTTL.
	StickyCookie        string
	StickyTTL           time.Duration
	RedirectHTTPToHTTPS bool
	// DeregistrationDelay is how long a removed target's connections may
	// finish (AWS target group attribute; DigitalOcean has none).
	DeregistrationDelay time.Duration
	Tags                []string
}

// LoadBalancer is a load balancer as the vendor reports it.
type LoadBalancer struct {
	ID   string // vendor id: a uuid on DigitalOcean, the ARN on AWS
	Spec LoadBalancerSpec
	// Address is what clients reach: an IP (DigitalOcean) or a DNS name
	// (AWS).
	Address string
	Status  LoadBalancerStatus
	// Targets are the vendor host ids registered, sorted.
	Targets   []string
	CreatedAt time.Time
	// UnsavedUntil is zero unless the load balancer is marked unsaved (see
	// UnsavedLoadBalancers): then it is when its creator's apply ends at
	// the latest; one still unsaved after that was left by an apply killed
	// before its state was saved.
	UnsavedUntil time.Time
}

// UnsavedLoadBalancers is implemented by drivers whose load balancers a
// killed create would otherwise leak: DigitalOcean's, whose names are not
// unique and which take no tags (AWS's are found again by their unique
// name and tags). As with floating IPs (UnsavedFloatingIPs), the creator
// marks it unsaved until its state holds it, so that a later run can tell
// what an apply killed in between left from every other load balancer.
type UnsavedLoadBalancers interface {
	// CreateUnsavedLoadBalancer is CreateLoadBalancer with the load
	// balancer marked unsaved until the time given, at least.
	CreateUnsavedLoadBalancer(ctx context.Context, spec LoadBalancerSpec, until time.Time) (*LoadBalancer, error)
	// MarkLoadBalancerSaved removes the mark; none is not an error.
	MarkLoadBalancerSaved(ctx context.Context, id string) error
}

// TargetState is a registered target as the vendor sees it.
type TargetState string

const (
	TargetHealthy   TargetState = "healthy"
	TargetUnhealthy TargetState = "unhealthy"
	TargetInitial   TargetState = "initial"  // registered, checks not passed yet
	TargetDraining  TargetState = "draining" // deregistered, connections finishing
	TargetUnknown   TargetState = "unknown"  // the vendor does not say
)

// LoadBalancers is what a vendor driver does with load balancers. Drivers
// that have them implement it beside Driver. Membership is changed by
// host id, so that a group of hosts owns its registrations.
type LoadBalancers interface {
	// CreateLoadBalancer creates one and waits until it is active. A
	// non-nil result with an error is a load balancer that exists although
	// the call failed: callers must record it (or delete it).
	CreateLoadBalancer(ctx context.Context, spec LoadBalancerSpec) (*LoadBalancer, error)
	// GetLoadBalancer returns an error wrapping ErrNotFound when it is
	// gone.
	GetLoadBalancer(ctx context.Context, id string) (*LoadBalancer, error)
	// ListLoadBalancers lists every load balancer of the account, all
	// pages.
	ListLoadBalancers(ctx context.Context) ([]LoadBalancer, error)
	// UpdateLoadBalancer changes it in place to spec (Name, Region and
	// Type may not change).
	UpdateLoadBalancer(ctx context.Context, id string, spec LoadBalancerSpec) (*LoadBalancer, error)
	// DeleteLoadBalancer deletes it and waits until it is gone; gone
	// already is not an error.
	DeleteLoadBalancer(ctx context.Context, id string) error
	// AddTargets registers hosts; registered already is not an error.
	AddTargets(ctx context.Context, id string, hostIDs []string) error
	// RemoveTargets deregisters hosts and returns once the load balancer
	// sends them no new traffic: the vendor's own state where it reports
	// one (AWS: the targets are gone from the target group), else the
	// health check's DeregistrationWait. Not registered is not an error.
	RemoveTargets(ctx context.Context, id string, hostIDs []string) error
	// TargetStates reports each registered target's state, by host id.
	TargetStates(ctx context.Context, id string) (map[string]TargetState, error)
}
