package aws

import (
	"context"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws/mototest"
)

// Cluster firewalls against moto_server. They fail rather than skip when
// moto is missing and CI (or HADDOCK_REQUIRE_MOTO=1) is set:
// mototest.StartMoto decides. moto (5.2.1) deletes a security group that
// instances or other groups' rules still use (AWS: DependencyViolation;
// unit-tested with fakes), so the test checks the detaching itself.

// fwScenario is the firewall scenario the moto and localcloud tests share:
// hosts tagged and not, a firewall made, changed, applied to a host made
// later, deleted twice.
type fwScenario struct {
	d      *Driver
	raw    *ec2.Client
	region string
}

// groupsOf is the instance's security groups by name, sorted.
func (s fwScenario) groupsOf(t *testing.T, id string) []string {
	t.Helper()
	inst, err := findInstanceByID(context.Background(), s.raw, id)
	if err != nil {
		t.Fatalf("describing %s: %v", id, err)
	}
	var out []string
	for _, g := range inst.SecurityGroups {
		out = append(out, awssdk.ToString(g.GroupName))
	}
	slices.Sort(out)
	return out
}

// ruleKeysOf is the group's rules, sorted.
func (s fwScenario) ruleKeysOf(t *testing.T, id string) []string {
	t.Helper()
	sg, err := findSecurityGroupByID(context.Background(), s.raw, id)
	if err != nil {
		t.Fatalf("describing %s: %v", id, err)
	}
	return keysOf(sg.IpPermissions)
}

func (s fwScenario) createHosts(t *testing.T, tag string, names ...string) []string {
	t.Helper()
	var specs []cloud.HostSpec
	for _, n := range names {
		specs = append(specs, cloud.HostSpec{Name: n, Region: s.region, Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{tag}})
	}
	hosts, err := s.d.CreateHosts(context.Background(), specs)
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	var ids []string
	for _, h := range hosts {
		ids = append(ids, h.ID)
	}
	if err := s.d.WaitHostsActive(context.Background(), ids, time.Minute); err != nil {
		t.Fatalf("WaitHostsActive: %v", err)
	}
	return ids
}

func (s fwScenario) run(t *testing.T) {
	ctx := context.Background()
	d := s.d
	const target = "tf-acc-test-fw-cluster"
	tagged := s.createHosts(t, target, "tf-acc-test-fw-1", "tf-acc-test-fw-2")
	other := s.createHosts(t, "tf-acc-test-fw-other", "tf-acc-test-fw-3")[0]
	fwName := fwSecurityGroupName("tf-acc-test-fw")
	withFW, without := []string{fwName, SecurityGroupName}, []string{SecurityGroupName}

	peer := netip.MustParsePrefix("198.51.100.7/32")
	spec := cloud.FirewallSpec{Name: "tf-acc-test-fw", Region: s.region, TargetTag: target, Inbound: []cloud.FirewallRule{
		{Protocol: cloud.ProtocolTCP, Ports: cloud.Port(2377), FromTargets: true, CIDRs: []netip.Prefix{peer}, Description: "Swarm cluster management"},
		{Protocol: cloud.ProtocolTCP, Ports: cloud.Port(8080), CIDRs: cloud.Anywhere(), Description: "published by service web"},
		{Protocol: cloud.ProtocolUDP, Ports: cloud.PortRange{From: 8000, To: 8100}, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Description: "a range"},
		{Protocol: cloud.ProtocolICMP, CIDRs: cloud.Anywhere(), Description: "ICMP"},
	}}
	fw, err := d.EnsureFirewall(ctx, spec)
	if err != nil {
		t.Fatalf("EnsureFirewall: %v", err)
	}
	wantRules := []cloud.FirewallRule{
		{Protocol: cloud.ProtocolICMP, CIDRs: cloud.Anywhere(), Description: "ICMP"},
		{Protocol: cloud.ProtocolTCP, Ports: cloud.Port(2377), FromTargets: true, CIDRs: []netip.Prefix{peer}, Description: "Swarm cluster management"},
		{Protocol: cloud.ProtocolTCP, Ports: cloud.Port(8080), CIDRs: cloud.Anywhere(), Description: "published by service web"},
		{Protocol: cloud.ProtocolUDP, Ports: cloud.PortRange{From: 8000, To: 8100}, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Description: "a range"},
	}
	if fw.Name != spec.Name || fw.Region != s.region || fw.TargetTag != target || !reflect.DeepEqual(fw.Inbound, wantRules) {
		t.Errorf("EnsureFirewall =\n%+v\nwant %s in %s targeting %s with\n%+v", fw, spec.Name, s.region, target, wantRules)
	}
	if got, err := d.GetFirewall(ctx, "", spec.Name); err != nil || !reflect.DeepEqual(got, fw) {
		t.Errorf("GetFirewall = %+v, %v; want %+v", got, err, fw)
	}
	sg, err := findSecurityGroupByID(ctx, s.raw, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if awssdk.ToString(sg.GroupName) != fwName || !isManaged(sg.Tags) {
		t.Errorf("group %s named %s, tags %+v; want %s, managed", fw.ID, awssdk.ToString(sg.GroupName), sg.Tags, fwName)
	}
	if v, ok := fwTargetOf(sg.Tags); !ok || v != target {
		t.Errorf("the group records target %q, want %s", v, target)
	}
	wantKeys := []string{
		"icmp -1--1 0.0.0.0/0 ", "icmpv6 -1--1 ::/0 ",
		"tcp 2377-2377  " + fw.ID, "tcp 2377-2377 198.51.100.7/32 ",
		"tcp 8080-8080 0.0.0.0/0 ", "tcp 8080-8080 ::/0 ",
		"udp 8000-8100 10.0.0.0/8 ",
	}
	if got := s.ruleKeysOf(t, fw.ID); !slices.Equal(got, wantKeys) {
		t.Errorf("rules = %q, want %q", got, wantKeys)
	}
	for _, id := range tagged {
		if got := s.groupsOf(t, id); !slices.Equal(got, withFW) {
			t.Errorf("tagged %s is in %v, want %v", id, got, withFW)
		}
	}
	if got := s.groupsOf(t, other); !slices.Equal(got, without) {
		t.Errorf("untagged %s is in %v, want %v", other, got, without)
	}

	// Again with other rules: the group's become exactly those.
	spec.Inbound = []cloud.FirewallRule{
		{Protocol: cloud.ProtocolTCP, Ports: cloud.Port(2377), FromTargets: true, Description: "Swarm cluster management"},
		{Protocol: cloud.ProtocolTCP, CIDRs: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}, Description: "every port"},
	}
	if fw, err = d.EnsureFirewall(ctx, spec); err != nil {
		t.Fatalf("EnsureFirewall(changed): %v", err)
	}
	wantKeys = []string{"tcp 0-65535 2001:db8::/32 ", "tcp 2377-2377  " + fw.ID}
	if got := s.ruleKeysOf(t, fw.ID); !slices.Equal(got, wantKeys) {
		t.Errorf("rules after the change = %q, want %q", got, wantKeys)
	}
	if len(fw.Inbound) != 2 || !fw.Inbound[0].Ports.All() || !fw.Inbound[1].FromTargets {
		t.Errorf("read back after the change: %+v", fw.Inbound)
	}

	// A host tagged later gets the group on the next EnsureFirewall; one
	// untagged loses it.
	later := s.createHosts(t, target, "tf-acc-test-fw-4")[0]
	if got := s.groupsOf(t, later); !slices.Equal(got, without) {
		t.Errorf("a new host is in %v before EnsureFirewall, want %v", got, without)
	}
	if err := d.TagHost(ctx, tagged[1], nil, []string{target}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.EnsureFirewall(ctx, spec); err != nil {
		t.Fatalf("EnsureFirewall(new host): %v", err)
	}
	if got := s.groupsOf(t, later); !slices.Equal(got, withFW) {
		t.Errorf("the new host is in %v, want %v", got, withFW)
	}
	if got := s.groupsOf(t, tagged[1]); !slices.Equal(got, without) {
		t.Errorf("the untagged host is in %v, want %v", got, without)
	}

	// A host whose only group is the firewall's gets the hosts' group
	// back when it goes.
	if _, err := s.raw.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: awssdk.String(tagged[0]), Groups: []string{fw.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteFirewall(ctx, s.region, spec.Name); err != nil {
		t.Fatalf("DeleteFirewall: %v", err)
	}
	for _, id := range []string{tagged[0], tagged[1], other, later} {
		if got := s.groupsOf(t, id); !slices.Equal(got, without) {
			t.Errorf("after DeleteFirewall %s is in %v, want %v", id, got, without)
		}
	}
	out, err := s.raw.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: awssdk.String(filterGroupName), Values: []string{fwName}}}})
	if err != nil || len(out.SecurityGroups) != 0 {
		t.Errorf("after DeleteFirewall: groups %+v, %v; want none named %s", out, err, fwName)
	}
	if err := d.DeleteFirewall(ctx, s.region, spec.Name); err != nil {
		t.Errorf("DeleteFirewall again = %v, want nil", err)
	}
	if _, err := d.GetFirewall(ctx, s.region, spec.Name); !cloud.IsNotFound(err) {
		t.Errorf("GetFirewall after DeleteFirewall = %v, want not found", err)
	}
}

func TestMotoFirewalls(t *testing.T) {
	env := newMotoEnv(t)
	fwScenario{d: env.d, raw: env.raw, region: mototest.Region}.run(t)
}
