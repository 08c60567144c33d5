package aws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// keysOf is the keys of the rules of permissions, sorted.
func keysOf(perms []types.IpPermission) []string { return ruleKeys(ingressRules(perms)) }

func TestIngressRulesRoundTrip(t *testing.T) {
	want := []ingressRule{
		portRule("tcp", 80, anyIPv4, "", "a"),
		portRule("tcp", 80, anyIPv6, "", "a"),
		portRule("udp", 53, "", "sg-1", "b"),
		portRule("tcp", 5432, "10.0.0.7/32", "", ""),
	}
	got := ingressRules(permissions(want))
	if !slices.Equal(got, want) {
		t.Errorf("ingressRules(permissions(rules)) = %+v, want %+v", got, want)
	}
	// All ports, all protocols: described without ports.
	all := ingressRules([]types.IpPermission{{IpProtocol: awssdk.String("-1"), IpRanges: []types.IpRange{{CidrIp: awssdk.String("10.0.0.0/8")}}}})
	if len(all) != 1 || all[0].from != -1 || all[0].to != -1 {
		t.Errorf("ingressRules(-1) = %+v, want ports -1", all)
	}
}

func TestReconcileIngress(t *testing.T) {
	have := permissions([]ingressRule{
		portRule("tcp", 80, anyIPv4, "", "old description"), // wanted: kept as is
		portRule("tcp", 22, anyIPv4, "", "stale"),           // owned, not wanted: revoked
		portRule("tcp", 22, "10.0.0.0/8", "", "by hand"),    // not owned: left
	})
	want := []ingressRule{
		portRule("tcp", 80, anyIPv4, "", "listener"),
		portRule("tcp", 443, anyIPv4, "", "listener"),
		portRule("tcp", 443, anyIPv4, "", "listener"), // repeated: added once
	}
	var authorized, revoked []string
	f := &fakeEC2{
		authorizeSecurityGroupIngress: func(in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
			authorized = append(authorized, keysOf(in.IpPermissions)...)
			return &ec2.AuthorizeSecurityGroupIngressOutput{}, nil
		},
		revokeSecurityGroupIngress: func(in *ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error) {
			// The description goes back as described: moto matches it.
			if d := awssdk.ToString(in.IpPermissions[0].IpRanges[0].Description); d != "stale" {
				t.Errorf("revoked with description %q, want the described one", d)
			}
			revoked = append(revoked, keysOf(in.IpPermissions)...)
			return &ec2.RevokeSecurityGroupIngressOutput{}, nil
		},
	}
	f.t = t
	if err := reconcileIngress(context.Background(), f, "sg-1", have, want, ingressRule.anywhere); err != nil {
		t.Fatalf("reconcileIngress: %v", err)
	}
	if w := []string{"tcp 443-443 0.0.0.0/0 "}; !slices.Equal(authorized, w) {
		t.Errorf("authorized %q, want %q", authorized, w)
	}
	if w := []string{"tcp 22-22 0.0.0.0/0 "}; !slices.Equal(revoked, w) {
		t.Errorf("revoked %q, want %q", revoked, w)
	}
}

// A rule added (or revoked) concurrently fails the batch: the rules are
// retried one by one, skipping it.
func TestReconcileIngressConcurrent(t *testing.T) {
	want := []ingressRule{portRule("tcp", 80, "", "sg-lb", ""), portRule("tcp", 81, "", "sg-lb", "")}
	have := permissions([]ingressRule{portRule("tcp", 90, "", "sg-lb", "")})
	var authorizeCalls, revokeCalls int
	f := &fakeEC2{
		authorizeSecurityGroupIngress: func(in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
			authorizeCalls++
			if len(in.IpPermissions) > 1 || awssdk.ToInt32(in.IpPermissions[0].FromPort) == 80 {
				return nil, apiErr(errCodePermissionDuplicate)
			}
			return &ec2.AuthorizeSecurityGroupIngressOutput{}, nil
		},
		revokeSecurityGroupIngress: func(*ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error) {
			revokeCalls++
			return nil, apiErr(errCodePermissionNotFound)
		},
	}
	f.t = t
	owned := func(r ingressRule) bool { return r.group == "sg-lb" }
	if err := reconcileIngress(context.Background(), f, "sg-hosts", have, want, owned); err != nil {
		t.Fatalf("reconcileIngress = %v, want duplicates and missing rules skipped", err)
	}
	if authorizeCalls != 3 || revokeCalls != 2 {
		t.Errorf("%d authorize and %d revoke calls, want 3 (batch, then each) and 2", authorizeCalls, revokeCalls)
	}

	f.authorizeSecurityGroupIngress = func(*ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
		return nil, apiErr("RulesPerSecurityGroupLimitExceeded")
	}
	err := reconcileIngress(context.Background(), f, "sg-hosts", nil, want, owned)
	if !errors.Is(err, cloud.ErrQuota) || !strings.Contains(err.Error(), "sg-hosts") {
		t.Errorf("reconcileIngress(limit) = %v, want ErrQuota naming the group", err)
	}
}

func TestDeleteOwnGroup(t *testing.T) {
	ctx := context.Background()
	var n int
	f := &fakeEC2{deleteSecurityGroup: func(*ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
		n++
		if n < 3 {
			return nil, apiErr(errCodeDependencyViolation) // the ENIs linger
		}
		return &ec2.DeleteSecurityGroupOutput{}, nil
	}}
	d := newFakeDriver(t, f)
	if err := d.deleteOwnGroup(ctx, f, "sg-1"); err != nil || n != 3 {
		t.Errorf("deleteOwnGroup = %v after %d calls, want nil after 3", err, n)
	}

	f.deleteSecurityGroup = func(*ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
		return nil, apiErr(errCodeGroupNotFound)
	}
	if err := d.deleteOwnGroup(ctx, f, "sg-1"); err != nil {
		t.Errorf("deleteOwnGroup(gone) = %v, want nil", err)
	}

	d.timing.stateChange = 200 * time.Millisecond
	f.deleteSecurityGroup = func(*ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
		return nil, apiErr(errCodeDependencyViolation)
	}
	err := d.deleteOwnGroup(ctx, f, "sg-1")
	if !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), "still in use") || !strings.Contains(err.Error(), "describe-network-interfaces") {
		t.Errorf("deleteOwnGroup(in use for ever) = %v, want ErrConflict saying how to find the users", err)
	}
}

func TestEnsureOwnGroup(t *testing.T) {
	ctx := context.Background()
	existing := types.SecurityGroup{GroupId: awssdk.String("sg-x"), GroupName: awssdk.String("haddock-lb-web")}
	f := &fakeEC2{describeSecurityGroups: func(*ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
		return &ec2.DescribeSecurityGroupsOutput{SecurityGroups: []types.SecurityGroup{existing}}, nil
	}}
	f.t = t
	if _, _, err := ensureOwnGroup(ctx, f, "vpc-1", "haddock-lb-web", "d"); !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), "not Haddock's") {
		t.Errorf("ensureOwnGroup(someone else's group of that name) = %v, want ErrConflict", err)
	}
	existing.Tags = []types.Tag{ec2Tag(cloud.ManagedTag)}
	if sg, created, err := ensureOwnGroup(ctx, f, "vpc-1", "haddock-lb-web", "d"); err != nil || created || awssdk.ToString(sg.GroupId) != "sg-x" {
		t.Errorf("ensureOwnGroup(Haddock's) = %v, %v, %v; want sg-x, found", sg, created, err)
	}

	var tags []types.Tag
	f.describeSecurityGroups = func(*ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
		return &ec2.DescribeSecurityGroupsOutput{}, nil
	}
	f.createSecurityGroup = func(in *ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error) {
		tags = in.TagSpecifications[0].Tags
		return &ec2.CreateSecurityGroupOutput{GroupId: awssdk.String("sg-new")}, nil
	}
	sg, created, err := ensureOwnGroup(ctx, f, "vpc-1", "haddock-lb-web", "d")
	if err != nil || !created || awssdk.ToString(sg.GroupId) != "sg-new" || !isManaged(tags) {
		t.Errorf("ensureOwnGroup(missing) = %v, %v, %v with tags %v; want sg-new, created, managed", sg, created, err, tags)
	}
}

func TestLoadBalancerSecurityRules(t *testing.T) {
	d := NewWithAPI("us-east-1", &fakeEC2{}, nil)
	keys := func(rs []ingressRule) []string { return ruleKeys(rs) }

	p, err := d.planLoadBalancer(webSpec()) // http 80, https 443 → http 8080, checked on 8081
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(p.entryRules()), []string{"tcp 443-443 0.0.0.0/0 ", "tcp 443-443 ::/0 ", "tcp 80-80 0.0.0.0/0 ", "tcp 80-80 ::/0 "}; !slices.Equal(got, want) {
		t.Errorf("ALB entry rules = %q, want %q", got, want)
	}
	if got, want := keys(p.targetRules("sg-lb")), []string{"tcp 8080-8080  sg-lb", "tcp 8081-8081  sg-lb"}; !slices.Equal(got, want) {
		t.Errorf("ALB target rules = %q, want %q", got, want)
	}

	// UDP: the health check is tcp, on the traffic port by default.
	udp := cloud.LoadBalancerSpec{Name: "dns", Type: cloud.LoadBalancerNetwork, ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "udp", EntryPort: 53, TargetProtocol: "udp", TargetPort: 5353}}}
	if p, err = d.planLoadBalancer(udp); err != nil {
		t.Fatal(err)
	}
	if got, want := keys(p.entryRules()), []string{"udp 53-53 0.0.0.0/0 ", "udp 53-53 ::/0 "}; !slices.Equal(got, want) {
		t.Errorf("NLB udp entry rules = %q, want %q", got, want)
	}
	if got, want := keys(p.targetRules("sg-lb")), []string{"tcp 5353-5353  sg-lb", "udp 5353-5353  sg-lb"}; !slices.Equal(got, want) {
		t.Errorf("NLB udp target rules = %q, want %q", got, want)
	}
	tcp := cloud.LoadBalancerSpec{Name: "tls", Type: cloud.LoadBalancerNetwork, ForwardingRules: []cloud.ForwardingRule{{EntryProtocol: "tcp", EntryPort: 443, TargetProtocol: "tcp", TargetPort: 8443}}}
	if p, err = d.planLoadBalancer(tcp); err != nil {
		t.Fatal(err)
	}
	if got, want := keys(p.targetRules("sg-lb")), []string{"tcp 8443-8443  sg-lb"}; !slices.Equal(got, want) {
		t.Errorf("NLB tcp target rules = %q, want %q (the check is on the traffic port)", got, want)
	}
}

// An NLB created without security groups cannot get one: refused before
// any call, saying to replace it.
func TestLoadBalancerSecurityRefusesNLBWithoutGroups(t *testing.T) {
	d := newFakeDriver(t, &fakeEC2{}) // any call fails the test
	lb := &elbtypes.LoadBalancer{
		LoadBalancerName: awssdk.String("old"), LoadBalancerArn: awssdk.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/old/1"),
		Type: elbtypes.LoadBalancerTypeEnumNetwork, VpcId: awssdk.String("vpc-1"),
	}
	err := d.reconcileLBSecurity(context.Background(), nil, lb, &lbPlan{}, true)
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "replace the load balancer") {
		t.Errorf("reconcileLBSecurity(NLB without groups) = %v, want ErrInvalid saying to replace it", err)
	}
}
