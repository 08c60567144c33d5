package aws

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws/mototest"
)

// Integration tests of the load balancers against moto_server. They fail
// rather than skip when moto is missing and CI (or HADDOCK_REQUIRE_MOTO=1)
// is set: mototest.StartMoto decides.
//
// moto's ELBv2 is API-only, and where it differs from AWS the test says so
// rather than loosening the driver:
//   - it runs no traffic and no health checks: a registered target is
//     "healthy" at once (AWS: "initial" until the checks pass), a
//     deregistered one "unused" at once (AWS: "draining" for the
//     deregistration delay);
//   - a load balancer is "provisioning" in CreateLoadBalancer's answer and
//     "active" from the next DescribeLoadBalancers (AWS: minutes);
//   - it accepts a second load balancer of the same name (AWS:
//     DuplicateLoadBalancerName), so adopting one is unit-tested only;
//   - it takes an IAM server certificate ARN without checking that it
//     exists (AWS checks), and refuses an unknown ACM one with the Classic
//     ELB code CertificateNotFoundException (AWS: CertificateNotFound);
//   - it gives a load balancer created without security groups none (AWS:
//     an ALB gets the VPC's default group), lets a network load balancer
//     created without any get some later (AWS refuses), and deletes a
//     security group other groups' rules still reference (AWS:
//     DependencyViolation; unit-tested with fakes);
//   - it keeps two rules from one group that differ only in description
//     (AWS: InvalidPermission.Duplicate) and revokes one only when given
//     its description (AWS ignores it), so the driver revokes rules as
//     described.

// testCertificate is an IAM server certificate ARN, which moto's
// CreateListener does not look up.
const testCertificate = "arn:aws:iam::" + mototest.AccountID + ":server-certificate/haddock-test"

type motoLBEnv struct {
	d   *Driver
	elb *elb.Client
	ec2 *ec2.Client
}

func newMotoLBEnv(t *testing.T) *motoLBEnv {
	t.Helper()
	endpoint := mototest.StartMoto(t)
	d, err := New(context.Background(), Config{
		Region:      mototest.Region,
		AccessKey:   mototest.AccessKey,
		SecretKey:   mototest.SecretKey,
		Endpoints:   Endpoints{EC2: endpoint, ELBv2: endpoint, STS: endpoint},
		MaxAttempts: 2,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d.timing = fastTiming
	// A plain ELBv2 client, to check what the driver did independently of
	// it.
	raw := elb.New(elb.Options{
		Region:       mototest.Region,
		BaseEndpoint: awssdk.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(mototest.AccessKey, mototest.SecretKey, ""),
	})
	return &motoLBEnv{d: d, elb: raw, ec2: rawClient(endpoint, mototest.Region)}
}

func TestMotoLoadBalancers(t *testing.T) {
	env := newMotoLBEnv(t)
	t.Run("HTTP", func(t *testing.T) { testMotoLoadBalancerHTTP(t, env) })
	t.Run("Network", func(t *testing.T) { testMotoLoadBalancerNetwork(t, env) })
	t.Run("PartialCreate", func(t *testing.T) { testMotoLoadBalancerPartialCreate(t, env) })
	t.Run("DuplicateName", func(t *testing.T) { testMotoLoadBalancerDuplicateName(t, env) })
	t.Run("OrphanTargetGroup", func(t *testing.T) { testMotoLoadBalancerOrphanTargetGroup(t, env) })
	t.Run("NetworkWithoutSecurityGroup", func(t *testing.T) { testMotoLoadBalancerNetworkWithoutGroup(t, env) })
}

func webSpec() cloud.LoadBalancerSpec {
	return cloud.LoadBalancerSpec{
		Name:   "tf-acc-test-web",
		Region: mototest.Region,
		Type:   cloud.LoadBalancerHTTP,
		ForwardingRules: []cloud.ForwardingRule{
			{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 8080},
			{EntryProtocol: "https", EntryPort: 443, TargetProtocol: "http", TargetPort: 8080, CertificateID: testCertificate},
		},
		HealthCheck: cloud.HealthCheck{
			Protocol: "http", Port: 8081, Path: "/healthz",
			Interval: 10 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 2,
		},
		StickyCookie:        "haddock-session",
		StickyTTL:           time.Hour,
		RedirectHTTPToHTTPS: true,
		DeregistrationDelay: 30 * time.Second,
		Tags:                []string{"role:web", "lb-test"},
	}
}

// readBack is spec as it reads back: tags sorted with the managed tag.
func readBack(spec cloud.LoadBalancerSpec) cloud.LoadBalancerSpec {
	spec.Tags = sorted(append(slices.Clone(spec.Tags), cloud.ManagedTag))
	return spec
}

func testMotoLoadBalancerHTTP(t *testing.T, env *motoLBEnv) {
	ctx := context.Background()
	d := env.d
	hosts, err := d.CreateHosts(ctx, []cloud.HostSpec{
		{Name: "tf-acc-test-lb1", Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"lb-test"}},
		{Name: "tf-acc-test-lb2", Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"lb-test"}},
	})
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	h1, h2 := hosts[0].ID, hosts[1].ID
	defer func() {
		for _, h := range hosts {
			_ = d.DeleteHost(ctx, h.ID)
		}
	}()
	if err := d.WaitHostsActive(ctx, []string{h1, h2}, time.Minute); err != nil {
		t.Fatalf("WaitHostsActive: %v", err)
	}

	spec := webSpec()
	lb, err := d.CreateLoadBalancer(ctx, spec)
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	id := lb.ID
	defer func() { _ = d.DeleteLoadBalancer(ctx, id) }()
	if !strings.HasPrefix(id, "arn:aws:elasticloadbalancing:"+mototest.Region+":") || lb.Address == "" ||
		lb.Status != cloud.LoadBalancerActive || lb.CreatedAt.IsZero() || len(lb.Targets) != 0 {
		t.Errorf("CreateLoadBalancer = %+v; want an active load balancer with an ARN, an address and no targets", lb)
	}
	if want := readBack(spec); !reflect.DeepEqual(lb.Spec, want) {
		t.Errorf("spec read back =\n%+v\nwant\n%+v", lb.Spec, want)
	}
	checkMotoWeb(t, env, id, spec)
	lbGroup := checkMotoLBSecurity(t, env, id, spec.Name, []string{"tcp 80", "tcp 443"}, []string{"tcp 8080", "tcp 8081"})
	// Rules added by hand stay.
	handRule := portRule("tcp", 9000, "198.51.100.0/24", "", "by hand")
	if _, err := env.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: awssdk.String(lbGroup), IpPermissions: permissions([]ingressRule{handRule}),
	}); err != nil {
		t.Fatal(err)
	}

	got, err := d.GetLoadBalancer(ctx, id)
	if err != nil {
		t.Fatalf("GetLoadBalancer: %v", err)
	}
	if !reflect.DeepEqual(got, lb) {
		t.Errorf("GetLoadBalancer =\n%+v\nwant what CreateLoadBalancer returned\n%+v", got, lb)
	}
	listed, err := d.ListLoadBalancers(ctx)
	if err != nil {
		t.Fatalf("ListLoadBalancers: %v", err)
	}
	var found *cloud.LoadBalancer
	for i := range listed {
		if listed[i].ID == id {
			found = &listed[i]
		}
	}
	if found == nil || !reflect.DeepEqual(found.Spec, lb.Spec) || found.Address != lb.Address || found.Targets != nil {
		t.Errorf("ListLoadBalancers = %+v; want %s with its spec and no Targets (List skips them)", listed, id)
	}

	// Targets. moto: healthy at once.
	if err := d.AddTargets(ctx, id, []string{h2, h1}); err != nil {
		t.Fatalf("AddTargets: %v", err)
	}
	if err := d.AddTargets(ctx, id, []string{h1}); err != nil {
		t.Errorf("AddTargets(registered already) = %v, want nil", err)
	}
	checkTargets(t, d, id, map[string]cloud.TargetState{h1: cloud.TargetHealthy, h2: cloud.TargetHealthy})
	if err := d.RemoveTargets(ctx, id, []string{h1}); err != nil {
		t.Fatalf("RemoveTargets: %v", err)
	}
	checkTargets(t, d, id, map[string]cloud.TargetState{h2: cloud.TargetHealthy})
	if err := d.RemoveTargets(ctx, id, []string{h1, "i-0123456789abcdef0"}); err != nil {
		t.Errorf("RemoveTargets(not registered) = %v, want nil", err)
	}
	if err := d.AddTargets(ctx, "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/gone/0123456789abcdef", []string{h1}); !cloud.IsNotFound(err) {
		t.Errorf("AddTargets(unknown load balancer) = %v, want not found", err)
	}

	// Update: health check, stickiness off, tags, no redirect (the http:80
	// listener forwards again), one more listener.
	up := spec
	up.HealthCheck.Path, up.HealthCheck.Interval, up.HealthCheck.HealthyThreshold = "/ready", 15*time.Second, 5
	up.HealthCheck.Port = 8082
	up.StickyCookie, up.StickyTTL = "", 0
	up.RedirectHTTPToHTTPS = false
	up.Tags = []string{"lb-test", "role:api"}
	up.ForwardingRules = append(slices.Clone(up.ForwardingRules), cloud.ForwardingRule{EntryProtocol: "http", EntryPort: 8088, TargetProtocol: "http", TargetPort: 8080})
	lb, err = d.UpdateLoadBalancer(ctx, id, up)
	if err != nil {
		t.Fatalf("UpdateLoadBalancer: %v", err)
	}
	if want := readBack(up); !reflect.DeepEqual(lb.Spec, want) {
		t.Errorf("spec after update =\n%+v\nwant\n%+v", lb.Spec, want)
	}
	if !slices.Equal(lb.Targets, []string{h2}) {
		t.Errorf("targets after update = %v, want [%s]", lb.Targets, h2)
	}
	checkMotoWeb(t, env, id, up)
	if g := checkMotoLBSecurity(t, env, id, spec.Name, []string{"tcp 80", "tcp 443", "tcp 8088"}, []string{"tcp 8080", "tcp 8082"}); g != lbGroup {
		t.Errorf("security group after update = %s, want %s still", g, lbGroup)
	}
	if sg := motoGroup(t, env, lbSecurityGroupName(spec.Name)); !slices.Contains(ruleKeys(ingressRules(sg.IpPermissions)), handRule.key()) {
		t.Errorf("the rule added by hand was revoked: %v", ruleKeys(ingressRules(sg.IpPermissions)))
	}

	rename := up
	rename.Name = "tf-acc-test-other"
	if _, err := d.UpdateLoadBalancer(ctx, id, rename); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("UpdateLoadBalancer(new name) = %v, want ErrInvalid", err)
	}
	port := up
	port.ForwardingRules = []cloud.ForwardingRule{{EntryProtocol: "http", EntryPort: 80, TargetProtocol: "http", TargetPort: 9090}}
	if _, err := d.UpdateLoadBalancer(ctx, id, port); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "replace") {
		t.Errorf("UpdateLoadBalancer(new target port) = %v, want ErrInvalid saying to replace it", err)
	}
	// Refused before the security groups change.
	checkMotoLBSecurity(t, env, id, spec.Name, []string{"tcp 80", "tcp 443", "tcp 8088"}, []string{"tcp 8080", "tcp 8082"})

	// Refused before any call: nothing is created.
	bad := spec
	bad.Name = "tf-acc-test-bad"
	bad.ForwardingRules = []cloud.ForwardingRule{{EntryProtocol: "https", EntryPort: 443, TargetProtocol: "https", TargetPort: 443, TLSPassthrough: true}}
	if got, err := d.CreateLoadBalancer(ctx, bad); !errors.Is(err, cloud.ErrInvalid) || got != nil {
		t.Errorf("CreateLoadBalancer(TLS passthrough on http) = %+v, %v; want nil, ErrInvalid", got, err)
	}

	if err := d.DeleteLoadBalancer(ctx, id); err != nil {
		t.Fatalf("DeleteLoadBalancer: %v", err)
	}
	checkMotoLBSecurityGone(t, env, spec.Name, lbGroup)
	if _, err := d.GetLoadBalancer(ctx, id); !cloud.IsNotFound(err) {
		t.Errorf("GetLoadBalancer(deleted) = %v, want not found", err)
	}
	if _, err := env.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{spec.Name}}); !hasCode(err, errCodeTargetGroupNotFound) {
		t.Errorf("target group after delete: %v, want TargetGroupNotFound", err)
	}
	if err := d.DeleteLoadBalancer(ctx, id); err != nil {
		t.Errorf("DeleteLoadBalancer(deleted) = %v, want nil", err)
	}
	listed, err = d.ListLoadBalancers(ctx)
	if err != nil {
		t.Fatalf("ListLoadBalancers: %v", err)
	}
	for _, l := range listed {
		if l.ID == id {
			t.Errorf("ListLoadBalancers after delete lists %s", id)
		}
	}
}

// checkMotoWeb checks with the raw client what the driver made of spec.
func checkMotoWeb(t *testing.T, env *motoLBEnv, id string, spec cloud.LoadBalancerSpec) {
	t.Helper()
	ctx := context.Background()
	lbs, err := env.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{id}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("DescribeLoadBalancers = %+v, %v", lbs, err)
	}
	lb := lbs.LoadBalancers[0]
	if lb.Type != elbtypes.LoadBalancerTypeEnumApplication || lb.Scheme != elbtypes.LoadBalancerSchemeEnumInternetFacing || len(lb.AvailabilityZones) < 2 {
		t.Errorf("load balancer = %s %s in %d zones; want an internet-facing ALB in 2 or more", lb.Type, lb.Scheme, len(lb.AvailabilityZones))
	}
	tgs, err := env.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{spec.Name}})
	if err != nil || len(tgs.TargetGroups) != 1 {
		t.Fatalf("DescribeTargetGroups(%s) = %+v, %v", spec.Name, tgs, err)
	}
	tg := tgs.TargetGroups[0]
	tgARN := awssdk.ToString(tg.TargetGroupArn)
	if tg.TargetType != elbtypes.TargetTypeEnumInstance || tg.Protocol != elbtypes.ProtocolEnumHttp || awssdk.ToInt32(tg.Port) != 8080 ||
		awssdk.ToString(tg.HealthCheckPath) != spec.HealthCheck.Path || awssdk.ToString(tg.HealthCheckPort) != strconv.Itoa(spec.HealthCheck.Port) {
		t.Errorf("target group = %+v; want instance targets on HTTP:8080, checked on %d %s", tg, spec.HealthCheck.Port, spec.HealthCheck.Path)
	}
	tags, err := env.elb.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{id, tgARN}})
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range tags.TagDescriptions {
		kv := map[string]string{}
		for _, tg := range td.Tags {
			kv[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
		}
		if kv["haddock"] != "true" || len(neutralELBTags(td.Tags)) != len(spec.Tags)+1 {
			t.Errorf("tags of %s = %v; want haddock=true and haddock:tag: keys for %v", awssdk.ToString(td.ResourceArn), kv, spec.Tags)
		}
		if awssdk.ToString(td.ResourceArn) == tgARN && kv[stickyCookieTagKey] != spec.StickyCookie {
			t.Errorf("sticky cookie tag = %q, want %q", kv[stickyCookieTagKey], spec.StickyCookie)
		}
	}
	attrs, err := describeTargetGroupAttributes(ctx, env.elb, tgARN)
	if err != nil {
		t.Fatal(err)
	}
	if attrs[attrDeregistrationDelay] != "30" {
		t.Errorf("deregistration delay = %q, want 30", attrs[attrDeregistrationDelay])
	}
	if spec.StickyCookie != "" && (attrs[attrStickyEnabled] != "true" || attrs[attrStickyType] != "lb_cookie" || attrs[attrStickyDuration] != "3600") {
		t.Errorf("stickiness attributes = %v, want lb_cookie for 3600s", attrs)
	}
	if spec.StickyCookie == "" && attrs[attrStickyEnabled] != "false" {
		t.Errorf("stickiness attributes = %v, want disabled", attrs)
	}

	ls, err := env.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: awssdk.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Listeners) != len(spec.ForwardingRules) {
		t.Errorf("%d listeners, want one per rule (%d)", len(ls.Listeners), len(spec.ForwardingRules))
	}
	for _, l := range ls.Listeners {
		a := l.DefaultActions[0]
		port := awssdk.ToInt32(l.Port)
		switch {
		case port == 80 && spec.RedirectHTTPToHTTPS:
			if !isHTTPSRedirect(&a) {
				t.Errorf("listener 80 action = %+v, want a redirect to HTTPS:443", a)
			}
		case forwardTarget(&a) != tgARN:
			t.Errorf("listener %d action = %+v, want forward to %s", port, a, tgARN)
		}
		if port == 443 && (l.Protocol != elbtypes.ProtocolEnumHttps || firstCertificate(&l) != testCertificate) {
			t.Errorf("listener 443 = %s with %v, want HTTPS with %s", l.Protocol, l.Certificates, testCertificate)
		}
	}
}

func checkTargets(t *testing.T, d *Driver, id string, want map[string]cloud.TargetState) {
	t.Helper()
	ctx := context.Background()
	states, err := d.TargetStates(ctx, id)
	if err != nil || !reflect.DeepEqual(states, want) {
		t.Errorf("TargetStates = %v, %v; want %v", states, err, want)
	}
	lb, err := d.GetLoadBalancer(ctx, id)
	if err != nil {
		t.Fatalf("GetLoadBalancer: %v", err)
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	if !slices.Equal(lb.Targets, sorted(ids)) {
		t.Errorf("Targets = %v, want %v", lb.Targets, sorted(ids))
	}
}

func testMotoLoadBalancerNetwork(t *testing.T, env *motoLBEnv) {
	ctx := context.Background()
	d := env.d
	spec := cloud.LoadBalancerSpec{
		Name: "tf-acc-test-nlb", Type: cloud.LoadBalancerNetwork,
		ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "tcp", EntryPort: 443, TargetProtocol: "tcp", TargetPort: 8443}},
	}
	lb, err := d.CreateLoadBalancer(ctx, spec)
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	defer func() { _ = d.DeleteLoadBalancer(ctx, lb.ID) }()
	if lb.Spec.Type != cloud.LoadBalancerNetwork || lb.Spec.Region != mototest.Region || lb.Spec.HealthCheck.Protocol != "tcp" ||
		lb.Spec.StickyCookie != "" || lb.Spec.DeregistrationDelay != 0 || !reflect.DeepEqual(lb.Spec.ForwardingRules, spec.ForwardingRules) {
		t.Errorf("network load balancer spec = %+v", lb.Spec)
	}
	lbGroup := checkMotoLBSecurity(t, env, lb.ID, spec.Name, []string{"tcp 443"}, []string{"tcp 8443"})
	sticky := spec
	sticky.Name, sticky.StickyCookie = "tf-acc-test-nlb2", "c"
	if _, err := d.CreateLoadBalancer(ctx, sticky); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("CreateLoadBalancer(network, sticky cookie) = %v, want ErrInvalid", err)
	}
	if err := d.DeleteLoadBalancer(ctx, lb.ID); err != nil {
		t.Fatalf("DeleteLoadBalancer: %v", err)
	}
	checkMotoLBSecurityGone(t, env, spec.Name, lbGroup)
}

// testMotoLoadBalancerPartialCreate: a listener that cannot be created
// leaves a load balancer, returned with the error; updating it to a good
// spec finishes it.
func testMotoLoadBalancerPartialCreate(t *testing.T, env *motoLBEnv) {
	ctx := context.Background()
	d := env.d
	spec := webSpec()
	spec.Name = "tf-acc-test-partial"
	good := spec.ForwardingRules[1].CertificateID
	spec.ForwardingRules[1].CertificateID = "arn:aws:acm:us-east-1:" + mototest.AccountID + ":certificate/00000000-0000-0000-0000-000000000000"
	lb, err := d.CreateLoadBalancer(ctx, spec)
	if err == nil || lb == nil || lb.ID == "" {
		t.Fatalf("CreateLoadBalancer(unknown certificate) = %+v, %v; want the load balancer and an error", lb, err)
	}
	defer func() { _ = d.DeleteLoadBalancer(ctx, lb.ID) }()
	if lb.Spec.Name != spec.Name || !strings.Contains(err.Error(), lb.ID) {
		t.Errorf("partial load balancer = %+v, error %v; want it named and its ARN in the error", lb, err)
	}

	spec.ForwardingRules[1].CertificateID = good
	got, err := d.UpdateLoadBalancer(ctx, lb.ID, spec)
	if err != nil {
		t.Fatalf("UpdateLoadBalancer(finishing it): %v", err)
	}
	if want := readBack(spec); !reflect.DeepEqual(got.Spec, want) {
		t.Errorf("spec after finishing =\n%+v\nwant\n%+v", got.Spec, want)
	}
	if err := d.DeleteLoadBalancer(ctx, lb.ID); err != nil {
		t.Fatalf("DeleteLoadBalancer: %v", err)
	}
}

// duplicateName answers CreateLoadBalancer as AWS does for a name in use
// with other settings; moto would create a second load balancer.
type duplicateName struct{ ELBv2API }

func (duplicateName) CreateLoadBalancer(context.Context, *elb.CreateLoadBalancerInput, ...func(*elb.Options)) (*elb.CreateLoadBalancerOutput, error) {
	return nil, apiErr(errCodeDuplicateLBName)
}

// testMotoLoadBalancerDuplicateName: CreateLoadBalancer continues with a
// Haddock load balancer of that name (one a failed call left without
// listeners, here), and refuses anyone else's.
func testMotoLoadBalancerDuplicateName(t *testing.T, env *motoLBEnv) {
	ctx := context.Background()
	_, subnets, err := env.d.defaultSubnets(ctx)
	if err != nil {
		t.Fatalf("defaultSubnets: %v", err)
	}
	rawCreate := func(name string, tags []elbtypes.Tag) string {
		t.Helper()
		out, err := env.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: awssdk.String(name), Subnets: subnets, Tags: tags})
		if err != nil {
			t.Fatalf("CreateLoadBalancer(%s): %v", name, err)
		}
		return awssdk.ToString(out.LoadBalancers[0].LoadBalancerArn)
	}
	d := *env.d
	d.elbv2 = duplicateName{env.d.elbv2}

	spec := webSpec()
	spec.Name = "tf-acc-test-dup"
	arn := rawCreate(spec.Name, elbTags(spec.Tags))
	defer func() { _ = env.d.DeleteLoadBalancer(ctx, arn) }()
	lb, err := d.CreateLoadBalancer(ctx, spec)
	if err != nil || lb.ID != arn {
		t.Fatalf("CreateLoadBalancer(name of a Haddock load balancer) = %+v, %v; want %s, finished", lb, err, arn)
	}
	if want := readBack(spec); !reflect.DeepEqual(lb.Spec, want) {
		t.Errorf("spec =\n%+v\nwant\n%+v", lb.Spec, want)
	}
	// Created without security groups: Haddock's is added.
	checkMotoLBSecurity(t, env, arn, spec.Name, []string{"tcp 80", "tcp 443"}, []string{"tcp 8080", "tcp 8081"})

	foreign := rawCreate("tf-acc-test-foreign", nil)
	defer func() {
		_, _ = env.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: awssdk.String(foreign)})
	}()
	spec.Name = "tf-acc-test-foreign"
	if lb, err := d.CreateLoadBalancer(ctx, spec); !errors.Is(err, cloud.ErrConflict) || lb != nil || !strings.Contains(err.Error(), "choose another name") {
		t.Errorf("CreateLoadBalancer(name of someone else's load balancer) = %+v, %v; want nil, ErrConflict", lb, err)
	}
	if sg := motoGroup(t, env, lbSecurityGroupName(spec.Name)); sg != nil {
		t.Errorf("a failed CreateLoadBalancer left its security group %s", awssdk.ToString(sg.GroupId))
	}
}

// testMotoLoadBalancerOrphanTargetGroup: deleting a load balancer that is
// gone deletes the target group an interrupted delete left behind.
func testMotoLoadBalancerOrphanTargetGroup(t *testing.T, env *motoLBEnv) {
	ctx := context.Background()
	spec := webSpec()
	spec.Name = "tf-acc-test-orphan"
	lb, err := env.d.CreateLoadBalancer(ctx, spec)
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	lbGroup := awssdk.ToString(motoGroup(t, env, lbSecurityGroupName(spec.Name)).GroupId)
	if _, err := env.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: awssdk.String(lb.ID)}); err != nil {
		t.Fatal(err)
	}
	if err := env.d.DeleteLoadBalancer(ctx, lb.ID); err != nil {
		t.Fatalf("DeleteLoadBalancer(gone, its target group left): %v", err)
	}
	if _, err := env.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{spec.Name}}); !hasCode(err, errCodeTargetGroupNotFound) {
		t.Errorf("target group after delete: %v, want TargetGroupNotFound", err)
	}
	checkMotoLBSecurityGone(t, env, spec.Name, lbGroup)
}

// testMotoLoadBalancerNetworkWithoutGroup: an NLB created without security
// groups is refused by UpdateLoadBalancer (AWS cannot add one), and still
// deleted.
func testMotoLoadBalancerNetworkWithoutGroup(t *testing.T, env *motoLBEnv) {
	ctx := context.Background()
	_, subnets, err := env.d.defaultSubnets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spec := cloud.LoadBalancerSpec{
		Name: "tf-acc-test-nlb-old", Type: cloud.LoadBalancerNetwork,
		ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "tcp", EntryPort: 443, TargetProtocol: "tcp", TargetPort: 8443}},
	}
	out, err := env.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: awssdk.String(spec.Name), Type: elbtypes.LoadBalancerTypeEnumNetwork, Subnets: subnets, Tags: elbTags(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := awssdk.ToString(out.LoadBalancers[0].LoadBalancerArn)
	defer func() { _ = env.d.DeleteLoadBalancer(ctx, arn) }()
	if _, err := env.d.UpdateLoadBalancer(ctx, arn, spec); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "replace the load balancer") {
		t.Errorf("UpdateLoadBalancer(NLB without security groups) = %v, want ErrInvalid saying to replace it", err)
	}
	if sg := motoGroup(t, env, lbSecurityGroupName(spec.Name)); sg != nil {
		t.Errorf("the refused update made security group %s", awssdk.ToString(sg.GroupId))
	}
	if err := env.d.DeleteLoadBalancer(ctx, arn); err != nil {
		t.Errorf("DeleteLoadBalancer(NLB without security groups) = %v", err)
	}
}

// motoGroup is the security group of that name in the default VPC, or nil.
func motoGroup(t *testing.T, env *motoLBEnv, name string) *ec2types.SecurityGroup {
	t.Helper()
	out, err := env.ec2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: awssdk.String("group-name"), Values: []string{name}}},
	})
	if err != nil {
		t.Fatalf("DescribeSecurityGroups(%s): %v", name, err)
	}
	if len(out.SecurityGroups) == 0 {
		return nil
	}
	return &out.SecurityGroups[0]
}

// checkMotoLBSecurity checks with the raw clients that the load balancer
// is in its own group, which admits exactly entry ("tcp 80") from anywhere
// (IPv4 and IPv6), and that the hosts' group admits exactly target from
// it. It returns the group's id.
func checkMotoLBSecurity(t *testing.T, env *motoLBEnv, arn, name string, entry, target []string) string {
	t.Helper()
	sg := motoGroup(t, env, lbSecurityGroupName(name))
	if sg == nil {
		t.Fatalf("no security group %s", lbSecurityGroupName(name))
	}
	id := awssdk.ToString(sg.GroupId)
	if !isManaged(sg.Tags) {
		t.Errorf("security group %s tags = %+v, want the managed tag", id, sg.Tags)
	}
	lbs, err := env.elb.DescribeLoadBalancers(context.Background(), &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("DescribeLoadBalancers = %+v, %v", lbs, err)
	}
	if groups := lbs.LoadBalancers[0].SecurityGroups; !slices.Contains(groups, id) {
		t.Errorf("load balancer security groups = %v, want %s among them", groups, id)
	}
	var open []string
	for _, r := range ingressRules(sg.IpPermissions) {
		if r.cidr == anyIPv4 && slices.Contains(ingressRules(sg.IpPermissions), ingressRule{proto: r.proto, from: r.from, to: r.to, cidr: anyIPv6, desc: r.desc}) {
			open = append(open, fmt.Sprintf("%s %d", r.proto, r.from))
		}
	}
	if slices.Sort(open); !slices.Equal(open, sorted(entry)) {
		t.Errorf("load balancer group %s admits %v from anywhere (IPv4 and IPv6), want %v", id, open, entry)
	}
	if got := motoHostsAdmit(t, env, id); !slices.Equal(got, sorted(target)) {
		t.Errorf("hosts' group admits %v from %s, want %v", got, id, target)
	}
	return id
}

// motoHostsAdmit is what the hosts' group admits from group ("tcp 8080"),
// sorted.
func motoHostsAdmit(t *testing.T, env *motoLBEnv, group string) []string {
	t.Helper()
	hosts := motoGroup(t, env, SecurityGroupName)
	if hosts == nil {
		t.Fatalf("no security group %s", SecurityGroupName)
	}
	var got []string
	for _, r := range ingressRules(hosts.IpPermissions) {
		if r.group == group {
			got = append(got, fmt.Sprintf("%s %d", r.proto, r.from))
		}
	}
	slices.Sort(got)
	return got
}

func checkMotoLBSecurityGone(t *testing.T, env *motoLBEnv, name, group string) {
	t.Helper()
	if sg := motoGroup(t, env, lbSecurityGroupName(name)); sg != nil {
		t.Errorf("security group %s still there after delete", awssdk.ToString(sg.GroupId))
	}
	if got := motoHostsAdmit(t, env, group); len(got) != 0 {
		t.Errorf("hosts' group still admits %v from the deleted load balancer's group %s", got, group)
	}
}
