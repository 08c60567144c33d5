package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// fakeELB is an ELBv2API whose DescribeLoadBalancers is a hook; the other
// operations are not expected (the embedded nil interface).
type fakeELB struct {
	ELBv2API
	describeLoadBalancers func(*elb.DescribeLoadBalancersInput) (*elb.DescribeLoadBalancersOutput, error)
}

func (f *fakeELB) DescribeLoadBalancers(ctx context.Context, in *elb.DescribeLoadBalancersInput, _ ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.describeLoadBalancers(in)
}

func TestLoadBalancerErrorKinds(t *testing.T) {
	cases := map[string]error{
		"LoadBalancerNotFound":      cloud.ErrNotFound,
		"TargetGroupNotFound":       cloud.ErrNotFound,
		"ListenerNotFound":          cloud.ErrNotFound,
		"DuplicateLoadBalancerName": cloud.ErrConflict,
		"ResourceInUse":             cloud.ErrConflict,
		"TooManyLoadBalancers":      cloud.ErrQuota,
		"TooManyTargets":            cloud.ErrQuota,
		"TooManyListeners":          cloud.ErrQuota,
		"ValidationError":           cloud.ErrInvalid,
		"InvalidTarget":             cloud.ErrInvalid,
		"CertificateNotFound":       cloud.ErrInvalid,
		"AccessDenied":              cloud.ErrUnauthorized,
		// EC2's meaning is kept where the services share a code.
		"Throttling": cloud.ErrThrottled,
	}
	for code, kind := range cases {
		err := mapError(&retry.MaxAttemptsError{Attempt: 3, Err: apiErr(code)})
		var ae *cloud.APIError
		if !errors.As(err, &ae) || ae.Code != code || !errors.Is(fmt.Errorf("wrapped: %w", err), kind) {
			t.Errorf("mapError(%s) = %#v, want kind %v", code, err, kind)
		}
	}
}

func TestPlanLoadBalancer(t *testing.T) {
	d := NewWithAPI("us-east-1", &fakeEC2{}, nil)
	spec := webSpec()
	spec.Region = "us-east-1"
	// Rules in any order: listeners by port.
	spec.ForwardingRules = []cloud.ForwardingRule{spec.ForwardingRules[1], spec.ForwardingRules[0]}
	p, err := d.planLoadBalancer(spec)
	if err != nil {
		t.Fatalf("planLoadBalancer: %v", err)
	}
	if p.lbType != elbtypes.LoadBalancerTypeEnumApplication || p.tgProtocol != elbtypes.ProtocolEnumHttp || p.tgPort != 8080 {
		t.Errorf("plan = %s forwarding to %s:%d", p.lbType, p.tgProtocol, p.tgPort)
	}
	want := []listenerPlan{
		{port: 80, protocol: elbtypes.ProtocolEnumHttp, redirect: true},
		{port: 443, protocol: elbtypes.ProtocolEnumHttps, cert: testCertificate},
	}
	if !slices.Equal(p.listeners, want) {
		t.Errorf("listeners = %+v, want %+v", p.listeners, want)
	}
	h := p.health
	if h.protocol != elbtypes.ProtocolEnumHttp || h.port != "8081" || awssdk.ToString(h.path) != "/healthz" ||
		awssdk.ToInt32(h.interval) != 10 || awssdk.ToInt32(h.timeout) != 5 || awssdk.ToInt32(h.healthy) != 3 || awssdk.ToInt32(h.unhealthy) != 2 {
		t.Errorf("health check = %+v", h)
	}
	attrs := map[string]string{}
	for _, a := range p.attrs {
		attrs[awssdk.ToString(a.Key)] = awssdk.ToString(a.Value)
	}
	if attrs[attrDeregistrationDelay] != "30" || attrs[attrStickyEnabled] != "true" || attrs[attrStickyType] != "lb_cookie" || attrs[attrStickyDuration] != "3600" {
		t.Errorf("attributes = %v", attrs)
	}
	if got := neutralELBTags(p.lbTags); !slices.Equal(got, []string{"haddock", "lb-test", "role:web"}) {
		t.Errorf("load balancer tags = %v", got)
	}
	if len(p.tgTags) != len(p.lbTags)+1 || awssdk.ToString(p.tgTags[len(p.tgTags)-1].Value) != "haddock-session" {
		t.Errorf("target group tags = %+v, want the load balancer's and the sticky cookie", p.tgTags)
	}

	// Defaults: an ALB checks with its target protocol on the traffic port,
	// a network load balancer with tcp; no stickiness attributes on NLBs.
	spec = cloud.LoadBalancerSpec{Name: "n", Type: cloud.LoadBalancerNetwork, ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "udp", EntryPort: 53, TargetProtocol: "udp", TargetPort: 53}}}
	if p, err = d.planLoadBalancer(spec); err != nil || p.health.protocol != elbtypes.ProtocolEnumTcp || p.health.port != healthCheckTrafficPort || len(p.attrs) != 1 {
		t.Errorf("network plan = %+v, %v", p, err)
	}
	spec = cloud.LoadBalancerSpec{Name: "a", Type: cloud.LoadBalancerHTTP, ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "https", TargetPort: 443}}}
	if p, err = d.planLoadBalancer(spec); err != nil || p.health.protocol != elbtypes.ProtocolEnumHttps || p.health.path != nil || p.health.interval != nil {
		t.Errorf("http plan = %+v, %v", p, err)
	}
}

func TestPlanLoadBalancerRefuses(t *testing.T) {
	d := NewWithAPI("us-east-1", &fakeEC2{}, nil)
	http := func(rules ...cloud.ForwardingRule) cloud.LoadBalancerSpec {
		return cloud.LoadBalancerSpec{Name: "web", Type: cloud.LoadBalancerHTTP, ForwardingRules: rules}
	}
	rule := cloud.ForwardingRule{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}
	with := func(f func(*cloud.LoadBalancerSpec)) cloud.LoadBalancerSpec {
		s := http(rule)
		f(&s)
		return s
	}
	cases := map[string]struct {
		spec cloud.LoadBalancerSpec
		says string
	}{
		"other region":       {with(func(s *cloud.LoadBalancerSpec) { s.Region = "eu-west-2" }), "ForRegion"},
		"no name":            {with(func(s *cloud.LoadBalancerSpec) { s.Name = "" }), "needs a name"},
		"long name":          {with(func(s *cloud.LoadBalancerSpec) { s.Name = strings.Repeat("a", 33) }), "at most 32"},
		"underscore":         {with(func(s *cloud.LoadBalancerSpec) { s.Name = "my_lb" }), "letters, digits and hyphens"},
		"hyphen end":         {with(func(s *cloud.LoadBalancerSpec) { s.Name = "web-" }), "hyphen"},
		"internal prefix":    {with(func(s *cloud.LoadBalancerSpec) { s.Name = "internal-web" }), "internal-"},
		"type":               {with(func(s *cloud.LoadBalancerSpec) { s.Type = "classic" }), "classic"},
		"no rules":           {http(), "at least one forwarding rule"},
		"http2":              {http(cloud.ForwardingRule{EntryProtocol: "http2", EntryPort: 443, TargetProtocol: "http", TargetPort: 80, CertificateID: "c"}), "use https"},
		"tcp on http":        {http(cloud.ForwardingRule{EntryProtocol: "tcp", EntryPort: 22, TargetProtocol: "tcp", TargetPort: 22}), "http and https"},
		"https without cert": {http(cloud.ForwardingRule{EntryProtocol: "https", EntryPort: 443, TargetProtocol: "http", TargetPort: 8080}), "CertificateID"},
		"cert on http":       {http(cloud.ForwardingRule{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080, CertificateID: "c"}), "only https"},
		"passthrough":        {http(cloud.ForwardingRule{EntryProtocol: "https", EntryPort: 443, TargetProtocol: "https", TargetPort: 443, TLSPassthrough: true}), "network load balancer"},
		"two targets":        {http(rule, cloud.ForwardingRule{EntryProtocol: "http", EntryPort: 81, TargetProtocol: "http", TargetPort: 9090}), "must target http:8080"},
		"same port":          {http(rule, rule), "port 80 already"},
		"port":               {http(cloud.ForwardingRule{EntryProtocol: "http", EntryPort: 0, TargetProtocol: "http", TargetPort: 8080}), "1 to 65535"},
		"redirect":           {with(func(s *cloud.LoadBalancerSpec) { s.RedirectHTTPToHTTPS, s.ForwardingRules[0].EntryPort = true, 8000 }), "http:80"},
		"tcp check on http":  {with(func(s *cloud.LoadBalancerSpec) { s.HealthCheck.Protocol = "tcp" }), "not tcp"},
		"check protocol":     {with(func(s *cloud.LoadBalancerSpec) { s.HealthCheck.Protocol = "grpc" }), "grpc"},
		"sub-second":         {with(func(s *cloud.LoadBalancerSpec) { s.HealthCheck.Interval = 1500 * time.Millisecond }), "whole"},
		"negative delay":     {with(func(s *cloud.LoadBalancerSpec) { s.DeregistrationDelay = -time.Second }), "whole"},
		"network forwards udp to tcp": {cloud.LoadBalancerSpec{Name: "n", Type: cloud.LoadBalancerNetwork,
			ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "udp", EntryPort: 53, TargetProtocol: "tcp", TargetPort: 53}}}, "tcp to tcp"},
		"network path": {cloud.LoadBalancerSpec{Name: "n", Type: cloud.LoadBalancerNetwork, HealthCheck: cloud.HealthCheck{Path: "/"},
			ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "tcp", EntryPort: 53, TargetProtocol: "tcp", TargetPort: 53}}}, "no path"},
		"network sticky": {cloud.LoadBalancerSpec{Name: "n", Type: cloud.LoadBalancerNetwork, StickyCookie: "c",
			ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "tcp", EntryPort: 53, TargetProtocol: "tcp", TargetPort: 53}}}, "cookie stickiness"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := d.planLoadBalancer(c.spec)
			if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("planLoadBalancer = %v, want ErrInvalid saying %q", err, c.says)
			}
		})
	}
}

func TestLoadBalancerStates(t *testing.T) {
	statuses := map[elbtypes.LoadBalancerStateEnum]cloud.LoadBalancerStatus{
		elbtypes.LoadBalancerStateEnumProvisioning:   cloud.LoadBalancerNew,
		elbtypes.LoadBalancerStateEnumActive:         cloud.LoadBalancerActive,
		elbtypes.LoadBalancerStateEnumActiveImpaired: cloud.LoadBalancerActive,
		elbtypes.LoadBalancerStateEnumFailed:         cloud.LoadBalancerError,
	}
	for code, want := range statuses {
		if got := lbStatus(&elbtypes.LoadBalancerState{Code: code}); got != want {
			t.Errorf("lbStatus(%s) = %s, want %s", code, got, want)
		}
	}
	targets := map[elbtypes.TargetHealthStateEnum]cloud.TargetState{
		elbtypes.TargetHealthStateEnumHealthy:           cloud.TargetHealthy,
		elbtypes.TargetHealthStateEnumUnhealthy:         cloud.TargetUnhealthy,
		elbtypes.TargetHealthStateEnumInitial:           cloud.TargetInitial,
		elbtypes.TargetHealthStateEnumDraining:          cloud.TargetDraining,
		elbtypes.TargetHealthStateEnumUnhealthyDraining: cloud.TargetDraining,
		elbtypes.TargetHealthStateEnumUnavailable:       cloud.TargetUnknown,
	}
	for s, want := range targets {
		if got, ok := targetState(s); !ok || got != want {
			t.Errorf("targetState(%s) = %s, %v; want %s", s, got, ok, want)
		}
	}
	if _, ok := targetState(elbtypes.TargetHealthStateEnumUnused); ok {
		t.Error("targetState(unused) reported a state; unused targets are left out")
	}
}

func TestLoadBalancerNameFromARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188": "web",
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/n-1/50dc6c495c0c9188": "n-1",
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/50dc6c495c0c9188":      "",
		"garbage": "",
	} {
		if got := lbNameFromARN(arn); got != want {
			t.Errorf("lbNameFromARN(%s) = %q, want %q", arn, got, want)
		}
	}
}

func TestWaitLoadBalancerActive(t *testing.T) {
	const arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1"
	d := newFakeDriver(t, &fakeEC2{})
	d.timing.stateChange = 500 * time.Millisecond
	answer := func(codes ...elbtypes.LoadBalancerStateEnum) *fakeELB {
		var n atomic.Int32
		return &fakeELB{describeLoadBalancers: func(*elb.DescribeLoadBalancersInput) (*elb.DescribeLoadBalancersOutput, error) {
			i := min(int(n.Add(1))-1, len(codes)-1)
			if codes[i] == "" {
				return nil, apiErr(errCodeLoadBalancerNotFound) // not visible yet
			}
			return &elb.DescribeLoadBalancersOutput{LoadBalancers: []elbtypes.LoadBalancer{{
				LoadBalancerArn: awssdk.String(arn), State: &elbtypes.LoadBalancerState{Code: codes[i], Reason: awssdk.String("no capacity")},
			}}}, nil
		}}
	}
	ctx := context.Background()
	lb, err := d.waitLoadBalancerActive(ctx, answer("", elbtypes.LoadBalancerStateEnumProvisioning, elbtypes.LoadBalancerStateEnumActive), arn)
	if err != nil || lb.State.Code != elbtypes.LoadBalancerStateEnumActive {
		t.Errorf("wait = %+v, %v; want active", lb, err)
	}
	if _, err := d.waitLoadBalancerActive(ctx, answer(elbtypes.LoadBalancerStateEnumActiveImpaired), arn); err != nil {
		t.Errorf("wait(active_impaired) = %v, want done", err)
	}
	start := time.Now()
	_, err = d.waitLoadBalancerActive(ctx, answer(elbtypes.LoadBalancerStateEnumProvisioning, elbtypes.LoadBalancerStateEnumFailed), arn)
	if err == nil || !strings.Contains(err.Error(), "failed: no capacity") || time.Since(start) > d.timing.stateChange/2 {
		t.Errorf("wait(failed) = %v after %s; want the reason at once", err, time.Since(start))
	}
	if _, err := d.waitLoadBalancerActive(ctx, answer(elbtypes.LoadBalancerStateEnumProvisioning), arn); err == nil {
		t.Error("wait(provisioning for ever) succeeded")
	}
}

func TestLoadBalancersNeedTheELBv2Client(t *testing.T) {
	d := newFakeDriver(t, &fakeEC2{}) // NewWithAPI: no ELBv2 client
	ctx := context.Background()
	if _, err := d.CreateLoadBalancer(ctx, webSpec()); err == nil || !strings.Contains(err.Error(), "no ELBv2 client") {
		t.Errorf("CreateLoadBalancer = %v, want an error naming the missing client", err)
	}
	if _, err := d.ListLoadBalancers(ctx); err == nil {
		t.Error("ListLoadBalancers succeeded without an ELBv2 client")
	}
	if err := d.DeleteLoadBalancer(ctx, "arn"); err == nil {
		t.Error("DeleteLoadBalancer succeeded without an ELBv2 client")
	}
}
