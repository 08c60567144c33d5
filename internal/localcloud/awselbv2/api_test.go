package awselbv2_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/awselbv2"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

const region = "eu-central-1"

// clock is a server clock tests move forward.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type rawEnv struct {
	run   *localcloud.Running
	elb   *elb.Client
	ec2   *ec2.Client
	clock *clock
	v     *awsmodel.Validator
}

// startRaw runs both APIs (state in dir when not "") with SDK clients.
func startRaw(t *testing.T, dir string) *rawEnv {
	t.Helper()
	v, err := awsmodel.NewELBv2()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	ec2API := lcaws.New(lcaws.Config{})
	run, err := localcloud.Start(context.Background(), localcloud.Config{
		StateDir: dir,
		Now:      clk.now,
		APIs:     []localcloud.API{ec2API, awselbv2.New(awselbv2.Config{Instances: ec2API})},
		APIAddrs: map[string]string{lcaws.Name: "127.0.0.1:0", awselbv2.Name: "127.0.0.1:0"},
		Middleware: func(h http.Handler) http.Handler {
			return v.OnlyService("elasticloadbalancing", h)
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewStaticCredentialsProvider(lcaws.DevAccessKey, lcaws.DevSecretKey, "")
	return &rawEnv{
		run:   run,
		elb:   elb.New(elb.Options{Region: region, BaseEndpoint: awssdk.String(run.APIURLs[awselbv2.Name]), Credentials: creds}),
		ec2:   ec2.New(ec2.Options{Region: region, BaseEndpoint: awssdk.String(run.APIURLs[lcaws.Name]), Credentials: creds}),
		clock: clk,
		v:     v,
	}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (e *rawEnv) subnets(t *testing.T) []string {
	t.Helper()
	out, err := e.ec2.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: awssdk.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range out.Subnets {
		ids = append(ids, awssdk.ToString(s.SubnetId))
	}
	return ids
}

func (e *rawEnv) vpc(t *testing.T) string {
	t.Helper()
	out, err := e.ec2.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{})
	if err != nil || len(out.Vpcs) == 0 {
		t.Fatal(err)
	}
	return awssdk.ToString(out.Vpcs[0].VpcId)
}

// waitActive polls until the load balancer is active.
func (e *rawEnv) waitActive(t *testing.T, arn string) elbtypes.LoadBalancer {
	t.Helper()
	for range 200 {
		out, err := e.elb.DescribeLoadBalancers(t.Context(), &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		if lb := out.LoadBalancers[0]; lb.State.Code == elbtypes.LoadBalancerStateEnumActive {
			return lb
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("load balancer never became active")
	return elbtypes.LoadBalancer{}
}

// TestErrors checks ELBv2's refusals, raw, with AWS's codes.
func TestErrors(t *testing.T) {
	e := startRaw(t, "")
	defer func() { _ = e.run.Close(); e.v.Report(t) }()
	ctx := t.Context()
	subnets := e.subnets(t)

	// Authentication: another key, or signed for EC2.
	bad := elb.New(elb.Options{Region: region, BaseEndpoint: awssdk.String(e.run.APIURLs[awselbv2.Name]),
		Credentials: credentials.NewStaticCredentialsProvider(lcaws.DevAccessKey, "wrong", "")})
	if _, err := bad.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("wrong secret: %v", err)
	}

	create := func(name string, subnets []string) (*elb.CreateLoadBalancerOutput, error) {
		return e.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: awssdk.String(name), Subnets: subnets})
	}
	out, err := create("web", subnets[:2])
	if err != nil {
		t.Fatal(err)
	}
	arn := awssdk.ToString(out.LoadBalancers[0].LoadBalancerArn)
	if !strings.HasPrefix(arn, "arn:aws:elasticloadbalancing:"+region+":"+lcaws.AccountID+":loadbalancer/app/web/") {
		t.Errorf("ARN %s", arn)
	}
	if again, err := create("web", subnets[:2]); err != nil || awssdk.ToString(again.LoadBalancers[0].LoadBalancerArn) != arn {
		t.Errorf("identical CreateLoadBalancer: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"duplicate", second(create("web", subnets[:3])), "DuplicateLoadBalancerName"},
		{"one zone", second(create("web2", subnets[:1])), "InvalidConfigurationRequest"},
		{"bad name", second(create("-web", subnets[:2])), "ValidationError"},
		{"bad subnet", second(create("web3", []string{"subnet-0123", subnets[0]})), "SubnetNotFound"},
		{"unknown lb", second(e.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"nope"}})), "LoadBalancerNotFound"},
		{"unknown tg", second(e.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"nope"}})), "TargetGroupNotFound"},
		{"unknown listener", second(e.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{arn + "x"}})), "ListenerNotFound"},
	} {
		if code(tc.err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.want)
		}
	}
	e.waitActive(t, arn)

	tgIn := &elb.CreateTargetGroupInput{Name: awssdk.String("web"), Protocol: elbtypes.ProtocolEnumHttp, Port: awssdk.Int32(80), VpcId: awssdk.String(e.vpc(t))}
	tg, err := e.elb.CreateTargetGroup(ctx, tgIn)
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	tgIn.Port = awssdk.Int32(81)
	if _, err := e.elb.CreateTargetGroup(ctx, tgIn); code(err) != "DuplicateTargetGroupName" {
		t.Errorf("duplicate target group: %v", err)
	}
	tgIn.Name, tgIn.HealthCheckProtocol = awssdk.String("tcpcheck"), elbtypes.ProtocolEnumTcp
	if _, err := e.elb.CreateTargetGroup(ctx, tgIn); code(err) != "ValidationError" {
		t.Errorf("TCP check on an HTTP group: %v", err)
	}
	fwd := []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tgARN}}
	lis, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &arn, Port: awssdk.Int32(80), Protocol: elbtypes.ProtocolEnumHttp, DefaultActions: fwd})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &arn, Port: awssdk.Int32(80), Protocol: elbtypes.ProtocolEnumHttp, DefaultActions: fwd}); code(err) != "DuplicateListener" {
		t.Errorf("duplicate listener: %v", err)
	}
	if _, err := e.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: &arn, Port: awssdk.Int32(443), Protocol: elbtypes.ProtocolEnumHttps,
		Certificates: []elbtypes.Certificate{{CertificateArn: awssdk.String("arn:aws:acm:x")}}, DefaultActions: fwd}); code(err) != "CertificateNotFound" {
		t.Errorf("HTTPS listener: %v", err)
	}
	if _, err := e.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: tgARN}); code(err) != "ResourceInUse" {
		t.Errorf("deleting a group in use: %v", err)
	}
	if _, err := e.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: awssdk.String("i-0123456789abcdef0")}}}); code(err) != "InvalidTarget" {
		t.Errorf("unknown instance: %v", err)
	}

	// Draining follows the server's clock.
	run, err := e.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: awssdk.String(debianAMI(t, e.ec2)), InstanceType: ec2types.InstanceTypeT3Small, MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	iid := awssdk.ToString(run.Instances[0].InstanceId)
	var regErr error
	for range 200 { // pending until provisioned: InvalidTarget
		if _, regErr = e.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: &iid}}}); code(regErr) != "InvalidTarget" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if regErr != nil {
		t.Fatal(regErr)
	}
	state := func() string {
		out, err := e.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: &iid}}})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.TargetHealthDescriptions[0].TargetHealth.State)
	}
	if s := state(); s != "healthy" {
		t.Errorf("registered: %s", s)
	}
	if _, err := e.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: &iid}}}); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != "draining" {
		t.Errorf("deregistered: %s", s)
	}
	e.clock.add(301 * time.Second)
	if s := state(); s != "unused" {
		t.Errorf("after the deregistration delay: %s", s)
	}
	if _, err := e.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: &iid}}}); code(err) != "InvalidTarget" {
		t.Errorf("deregistering again: %v", err)
	}

	if _, err := e.elb.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: lis.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.elb.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: lis.Listeners[0].ListenerArn}); code(err) != "ListenerNotFound" {
		t.Errorf("deleting a listener twice: %v", err)
	}
	if _, err := e.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: tgARN}); err != nil {
		t.Errorf("deleting the unused group: %v", err)
	}
	if n := e.run.Server.Requests().Requests["elbv2:DescribeTargetHealth"]; n != 3 {
		t.Errorf("elbv2:DescribeTargetHealth counted %d times", n)
	}
}

func second[T any](_ T, err error) error { return err }

func debianAMI(t *testing.T, c *ec2.Client) string {
	t.Helper()
	out, err := c.DescribeImages(t.Context(), &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: awssdk.String("name"), Values: []string{"debian-12-amd64-*"}}}})
	if err != nil || len(out.Images) == 0 {
		t.Fatal(err)
	}
	return awssdk.ToString(out.Images[0].ImageId)
}

// TestPersistence saves the records and loads them in a new localcloud on
// the same state directory.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	e := startRaw(t, dir)
	out, err := e.elb.CreateLoadBalancer(t.Context(), &elb.CreateLoadBalancerInput{Name: awssdk.String("kept"), Subnets: e.subnets(t)[:2],
		Tags: []elbtypes.Tag{{Key: awssdk.String("k"), Value: awssdk.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := awssdk.ToString(out.LoadBalancers[0].LoadBalancerArn)
	lb := e.waitActive(t, arn)
	_ = e.run.Close()
	e.v.Report(t)

	e = startRaw(t, dir)
	defer func() { _ = e.run.Close(); e.v.Report(t) }()
	got := e.waitActive(t, arn)
	if awssdk.ToString(got.DNSName) != awssdk.ToString(lb.DNSName) {
		t.Errorf("address %s after restart, was %s", awssdk.ToString(got.DNSName), awssdk.ToString(lb.DNSName))
	}
	tags, err := e.elb.DescribeTags(t.Context(), &elb.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil || len(tags.TagDescriptions[0].Tags) != 1 {
		t.Errorf("tags after restart: %+v, %v", tags, err)
	}
}

// TestMalformed sends requests the SDK would not.
func TestMalformed(t *testing.T) {
	e := startRaw(t, "")
	defer func() { _ = e.run.Close() }()
	// Unsigned: refused in ELBv2's error shape.
	resp, err := http.Post(e.run.APIURLs[awselbv2.Name], "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeLoadBalancers&Version=2015-12-01"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<ErrorResponse") || !strings.Contains(string(body), "<Code>InvalidClientTokenId</Code>") {
		t.Errorf("unsigned: %d %s", resp.StatusCode, body)
	}
}
