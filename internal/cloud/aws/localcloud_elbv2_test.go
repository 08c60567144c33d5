package aws_test

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	awsdriver "github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awselbv2"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

const region = "eu-central-1"

// recordingBackend is the memory backend, remembering the last
// configuration of every load balancer.
type recordingBackend struct {
	*localcloud.MemoryBackend
	mu   sync.Mutex
	cfgs map[string]localcloud.LoadBalancerConfig
}

func (b *recordingBackend) ApplyLoadBalancer(ctx context.Context, id string, cfg localcloud.LoadBalancerConfig) (netip.Addr, error) {
	b.mu.Lock()
	b.cfgs[id] = cfg
	b.mu.Unlock()
	return b.MemoryBackend.ApplyLoadBalancer(ctx, id, cfg)
}

func (b *recordingBackend) DeleteLoadBalancer(ctx context.Context, id string) error {
	b.mu.Lock()
	delete(b.cfgs, id)
	b.mu.Unlock()
	return b.MemoryBackend.DeleteLoadBalancer(ctx, id)
}

func (b *recordingBackend) only(t *testing.T) localcloud.LoadBalancerConfig {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.cfgs) != 1 {
		t.Fatalf("backend has %d load balancers, want 1", len(b.cfgs))
	}
	for _, c := range b.cfgs {
		return c
	}
	return localcloud.LoadBalancerConfig{}
}

type env struct {
	run     *localcloud.Running
	d       *awsdriver.Driver
	backend *recordingBackend
	elbV    *awsmodel.Validator
}

// start runs localcloud with the EC2 and ELBv2 APIs on listeners of their
// own, every exchange checked against its service model, and the AWS
// driver on both.
func start(t *testing.T) *env {
	t.Helper()
	ec2V, err := awsmodel.New()
	if err != nil {
		t.Fatal(err)
	}
	elbV, err := awsmodel.NewELBv2()
	if err != nil {
		t.Fatal(err)
	}
	ec2 := lcaws.New(lcaws.Config{})
	elb := awselbv2.New(awselbv2.Config{Instances: ec2})
	backend := &recordingBackend{MemoryBackend: localcloud.NewMemoryBackend(), cfgs: map[string]localcloud.LoadBalancerConfig{}}
	run, err := localcloud.Start(context.Background(), localcloud.Config{
		Backend:  backend,
		APIs:     []localcloud.API{ec2, elb},
		APIAddrs: map[string]string{lcaws.Name: "127.0.0.1:0", awselbv2.Name: "127.0.0.1:0"},
		Middleware: func(h http.Handler) http.Handler {
			return ec2V.OnlyService("ec2", elbV.OnlyService("elasticloadbalancing", h))
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = run.Close()
		ec2V.Report(t)
		elbV.Report(t)
		if elbV.Checked() == 0 {
			t.Error("no ELBv2 exchange was checked")
		}
	})
	d, err := awsdriver.New(context.Background(), awsdriver.Config{
		Region: region, AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey,
		Endpoints: awsdriver.Endpoints{EC2: run.APIURLs[lcaws.Name], ELBv2: run.APIURLs[awselbv2.Name]},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{run: run, d: d, backend: backend, elbV: elbV}
}

// TestDriver drives ELBv2 with Haddock's AWS driver: an application load
// balancer with a health check and a sticky cookie, two instances as
// targets, one removed (drained), an update, the delete.
func TestLocalcloudELBv2Driver(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	d := e.d

	spec := cloud.LoadBalancerSpec{
		Name: "lc-web", Region: region, Type: cloud.LoadBalancerHTTP,
		ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}},
		HealthCheck: cloud.HealthCheck{Protocol: "http", Path: "/healthz", Interval: 10 * time.Second, Timeout: 3 * time.Second,
			HealthyThreshold: 3, UnhealthyThreshold: 2},
		StickyCookie: "AWSALB", StickyTTL: time.Hour,
		DeregistrationDelay: time.Second,
		Tags:                []string{cloud.ManagedTag, "lc-web"},
	}
	lb, err := d.CreateLoadBalancer(ctx, spec)
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	if lb.Status != cloud.LoadBalancerActive || !netip.MustParseAddr(lb.Address).Is4() {
		t.Fatalf("created %+v: want active with an IPv4 address as DNS name", lb)
	}
	if hc := lb.Spec.HealthCheck; hc.Path != "/healthz" || hc.Interval != 10*time.Second || hc.Timeout != 3*time.Second || hc.HealthyThreshold != 3 || hc.UnhealthyThreshold != 2 {
		t.Errorf("health check read back: %+v", hc)
	}
	if lb.Spec.StickyCookie != "AWSALB" || lb.Spec.StickyTTL != time.Hour || lb.Spec.DeregistrationDelay != time.Second {
		t.Errorf("stickiness/delay read back: %q %s %s", lb.Spec.StickyCookie, lb.Spec.StickyTTL, lb.Spec.DeregistrationDelay)
	}
	if !slices.Equal(lb.Spec.Tags, []string{cloud.ManagedTag, "lc-web"}) || len(lb.Spec.ForwardingRules) != 1 || lb.Spec.ForwardingRules[0] != spec.ForwardingRules[0] {
		t.Errorf("tags/rules read back: %v %+v", lb.Spec.Tags, lb.Spec.ForwardingRules)
	}
	cfg := e.backend.only(t)
	if cfg.StickyCookie != "AWSALB" || cfg.StickyTTL != time.Hour || cfg.Check.Path != "/healthz" || cfg.Check.Protocol != "http" ||
		cfg.Check.Interval != 10*time.Second || cfg.Check.Healthy != 3 || cfg.Check.Unhealthy != 2 ||
		len(cfg.Rules) != 1 || cfg.Rules[0] != (localcloud.LBRule{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080}) {
		t.Errorf("backend config: %+v", cfg)
	}

	got, err := d.GetLoadBalancer(ctx, lb.ID)
	if err != nil || got.Address != lb.Address || len(got.Targets) != 0 {
		t.Fatalf("GetLoadBalancer = %+v, %v", got, err)
	}
	all, err := d.ListLoadBalancers(ctx)
	if err != nil || len(all) != 1 || all[0].ID != lb.ID {
		t.Fatalf("ListLoadBalancers = %+v, %v", all, err)
	}

	// Two instances, as targets.
	hosts, err := d.CreateHosts(ctx, []cloud.HostSpec{
		{Name: "lc-web-1", Region: region, Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{cloud.ManagedTag}},
		{Name: "lc-web-2", Region: region, Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{cloud.ManagedTag}},
	})
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	ids := []string{hosts[0].ID, hosts[1].ID}
	if err := d.WaitHostsActive(ctx, ids, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.AddTargets(ctx, lb.ID, ids); err != nil {
		t.Fatalf("AddTargets: %v", err)
	}
	states, err := d.TargetStates(ctx, lb.ID)
	if err != nil || len(states) != 2 || states[ids[0]] != cloud.TargetHealthy || states[ids[1]] != cloud.TargetHealthy {
		t.Fatalf("TargetStates = %v, %v", states, err)
	}
	if cfg := e.backend.only(t); len(cfg.Targets) != 2 {
		t.Errorf("backend targets after AddTargets: %+v", cfg.Targets)
	}
	if got, err := d.GetLoadBalancer(ctx, lb.ID); err != nil || !slices.Equal(got.Targets, slices.Sorted(slices.Values(ids))) {
		t.Errorf("targets read back: %+v, %v", got, err)
	}

	// Removing one returns once it drained.
	begin := time.Now()
	if err := d.RemoveTargets(ctx, lb.ID, ids[:1]); err != nil {
		t.Fatalf("RemoveTargets: %v", err)
	}
	t.Logf("RemoveTargets returned after %s", time.Since(begin).Round(time.Millisecond))
	states, err = d.TargetStates(ctx, lb.ID)
	if err != nil || len(states) != 1 || states[ids[1]] != cloud.TargetHealthy {
		t.Fatalf("TargetStates after removing %s = %v, %v", ids[0], states, err)
	}
	if cfg := e.backend.only(t); len(cfg.Targets) != 1 {
		t.Errorf("backend targets after RemoveTargets: %+v", cfg.Targets)
	}

	// Update: another health check, no stickiness, a second rule.
	spec.HealthCheck.Path = "/ready"
	spec.StickyCookie, spec.StickyTTL = "", 0
	spec.ForwardingRules = append(spec.ForwardingRules, cloud.ForwardingRule{EntryProtocol: "http", EntryPort: 8000, TargetProtocol: "http", TargetPort: 8080})
	up, err := d.UpdateLoadBalancer(ctx, lb.ID, spec)
	if err != nil {
		t.Fatalf("UpdateLoadBalancer: %v", err)
	}
	if up.Spec.HealthCheck.Path != "/ready" || up.Spec.StickyCookie != "" || len(up.Spec.ForwardingRules) != 2 {
		t.Errorf("updated: %+v", up.Spec)
	}
	if cfg := e.backend.only(t); cfg.Check.Path != "/ready" || cfg.StickyCookie != "" || len(cfg.Rules) != 2 || len(cfg.Targets) != 1 {
		t.Errorf("backend config after update: %+v", cfg)
	}

	// Delete, then it is gone.
	if err := d.DeleteLoadBalancer(ctx, lb.ID); err != nil {
		t.Fatalf("DeleteLoadBalancer: %v", err)
	}
	if _, err := d.GetLoadBalancer(ctx, lb.ID); !cloud.IsNotFound(err) {
		t.Errorf("GetLoadBalancer after delete = %v, want not found", err)
	}
	if all, err := d.ListLoadBalancers(ctx); err != nil || len(all) != 0 {
		t.Errorf("ListLoadBalancers after delete = %+v, %v", all, err)
	}
	e.backend.mu.Lock()
	left := len(e.backend.cfgs)
	e.backend.mu.Unlock()
	if left != 0 {
		t.Errorf("backend still has %d load balancers", left)
	}

	counts := e.run.Server.Requests().Requests
	for _, op := range []string{"CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "RegisterTargets", "DeregisterTargets", "DeleteTargetGroup"} {
		if counts["elbv2:"+op] == 0 {
			t.Errorf("no %s request counted: %v", op, counts)
		}
	}
	if err := e.elbV.Check(); err != nil {
		t.Error(err)
	}
	t.Logf("%s", e.elbV.Summary())
}
