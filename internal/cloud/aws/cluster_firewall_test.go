package aws

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var (
	webV4 = netip.MustParsePrefix("203.0.113.0/24")
	webV6 = netip.MustParsePrefix("2001:db8::/32")
)

func TestFirewallIngress(t *testing.T) {
	const self = "sg-fw"
	for _, tc := range []struct {
		name string
		rule cloud.FirewallRule
		want []string // rule keys, sorted
	}{
		{"all tcp ports", cloud.FirewallRule{Protocol: "tcp", CIDRs: []netip.Prefix{webV4}}, []string{"tcp 0-65535 203.0.113.0/24 "}},
		{"all udp ports", cloud.FirewallRule{Protocol: "udp", CIDRs: []netip.Prefix{webV4}}, []string{"udp 0-65535 203.0.113.0/24 "}},
		{"one port", cloud.FirewallRule{Protocol: "tcp", Ports: cloud.Port(443), CIDRs: []netip.Prefix{webV4}}, []string{"tcp 443-443 203.0.113.0/24 "}},
		{"a range", cloud.FirewallRule{Protocol: "udp", Ports: cloud.PortRange{From: 8000, To: 8100}, CIDRs: []netip.Prefix{webV4}}, []string{"udp 8000-8100 203.0.113.0/24 "}},
		{"icmp: every type, icmpv6 for IPv6", cloud.FirewallRule{Protocol: "icmp", CIDRs: cloud.Anywhere()}, []string{"icmp -1--1 0.0.0.0/0 ", "icmpv6 -1--1 ::/0 "}},
		{"icmp from targets: both", cloud.FirewallRule{Protocol: "icmp", FromTargets: true}, []string{"icmp -1--1  sg-fw", "icmpv6 -1--1  sg-fw"}},
		{"v4 and v6, masked", cloud.FirewallRule{Protocol: "tcp", Ports: cloud.Port(80), CIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.7/24"), webV6}},
			[]string{"tcp 80-80 2001:db8::/32 ", "tcp 80-80 203.0.113.0/24 "}},
		{"from targets: the group itself", cloud.FirewallRule{Protocol: "tcp", Ports: cloud.Port(2377), FromTargets: true}, []string{"tcp 2377-2377  sg-fw"}},
		{"targets and a peer", cloud.FirewallRule{Protocol: "udp", Ports: cloud.Port(4789), FromTargets: true, CIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.9/32")}},
			[]string{"udp 4789-4789  sg-fw", "udp 4789-4789 198.51.100.9/32 "}},
		{"no source: nothing", cloud.FirewallRule{Protocol: "tcp", Ports: cloud.Port(2376)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fwPlan{spec: cloud.FirewallSpec{Inbound: []cloud.FirewallRule{tc.rule}}}
			got := p.ingress(self)
			if keys := ruleKeys(got); !slices.Equal(keys, tc.want) {
				t.Errorf("ingress = %q, want %q", keys, tc.want)
			}
			// Every rule goes to EC2 as one permission with one source.
			for _, r := range got {
				if back := ingressRules([]types.IpPermission{r.permission()}); len(back) != 1 || back[0] != r {
					t.Errorf("rule %+v goes to EC2 as %+v", r, back)
				}
			}
		})
	}

	// Descriptions go with each source, in the characters EC2 takes.
	p := &fwPlan{spec: cloud.FirewallSpec{Inbound: []cloud.FirewallRule{{Protocol: "tcp", Ports: cloud.Port(80), CIDRs: []netip.Prefix{webV4, webV6}, FromTargets: true, Description: "published by service web|1"}}}}
	for _, r := range p.ingress(self) {
		if r.desc != "published by service web_1" {
			t.Errorf("rule %s has description %q", r.key(), r.desc)
		}
	}
}

func TestPlanFirewallRefuses(t *testing.T) {
	d := NewWithAPI("us-east-1", &fakeEC2{}, nil)
	ok := cloud.FirewallSpec{Name: "haddock-c1", TargetTag: "haddock-cluster:c1", Inbound: []cloud.FirewallRule{{Protocol: "tcp", Ports: cloud.Port(80), CIDRs: cloud.Anywhere()}}}
	if _, err := d.planFirewall(ok); err != nil {
		t.Fatalf("planFirewall(ok) = %v", err)
	}
	rule := func(r cloud.FirewallRule) cloud.FirewallSpec {
		s := ok
		s.Inbound = []cloud.FirewallRule{r}
		return s
	}
	for _, tc := range []struct {
		name string
		spec cloud.FirewallSpec
		want string
	}{
		{"other region", func() cloud.FirewallSpec { s := ok; s.Region = "eu-west-1"; return s }(), "ForRegion"},
		{"no name", func() cloud.FirewallSpec { s := ok; s.Name = ""; return s }(), "no name"},
		{"long name", func() cloud.FirewallSpec { s := ok; s.Name = strings.Repeat("a", 245); return s }(), "at most 244"},
		{"bad name", func() cloud.FirewallSpec { s := ok; s.Name = "a b"; return s }(), "letters, digits"},
		{"no target", func() cloud.FirewallSpec { s := ok; s.TargetTag = ""; return s }(), "no target tag"},
		{"long target", func() cloud.FirewallSpec { s := ok; s.TargetTag = strings.Repeat("t", 117); return s }(), "longer than EC2 tags take"},
		{"protocol", rule(cloud.FirewallRule{Protocol: "sctp", CIDRs: cloud.Anywhere()}), `protocol "sctp"`},
		{"icmp ports", rule(cloud.FirewallRule{Protocol: "icmp", Ports: cloud.Port(8), CIDRs: cloud.Anywhere()}), "ICMP has no ports"},
		{"range backwards", rule(cloud.FirewallRule{Protocol: "tcp", Ports: cloud.PortRange{From: 90, To: 80}, CIDRs: cloud.Anywhere()}), "port range 90-80"},
		{"range too high", rule(cloud.FirewallRule{Protocol: "udp", Ports: cloud.PortRange{From: 1, To: 70000}, CIDRs: cloud.Anywhere()}), "port range 1-70000"},
		{"bad CIDR", rule(cloud.FirewallRule{Protocol: "tcp", CIDRs: []netip.Prefix{{}}}), "not a CIDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.planFirewall(tc.spec)
			if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("planFirewall = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}

// The rules read back are the spec's, merged by protocol, ports and
// description, sorted.
func TestFirewallRulesReadBack(t *testing.T) {
	spec := cloud.FirewallSpec{Inbound: []cloud.FirewallRule{
		{Protocol: "udp", Ports: cloud.Port(4789), FromTargets: true, Description: "overlay"},
		{Protocol: "tcp", Ports: cloud.Port(80), CIDRs: []netip.Prefix{webV6, webV4}, Description: "web"},
		{Protocol: "icmp", CIDRs: cloud.Anywhere(), FromTargets: true, Description: "ICMP"},
		{Protocol: "tcp", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, FromTargets: true},
		{Protocol: "tcp", Ports: cloud.Port(2376)}, // no source: not there
	}}
	p := &fwPlan{spec: spec}
	perms := permissions(p.ingress("sg-fw"))
	// Another group's source and another protocol: not a firewall's.
	perms = append(perms, portRule("tcp", 80, "", "sg-other", "web").permission(), ingressRule{proto: "50", from: -1, to: -1, cidr: anyIPv4}.permission())
	// EC2 may describe icmpv6 by its number.
	for i := range perms {
		if awssdk.ToString(perms[i].IpProtocol) == protoICMPv6 && len(perms[i].Ipv6Ranges) > 0 {
			perms[i].IpProtocol = awssdk.String("58")
		}
	}
	want := []cloud.FirewallRule{
		{Protocol: "icmp", CIDRs: cloud.Anywhere(), FromTargets: true, Description: "ICMP"},
		{Protocol: "tcp", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, FromTargets: true},
		{Protocol: "tcp", Ports: cloud.Port(80), CIDRs: []netip.Prefix{webV4, webV6}, Description: "web"},
		{Protocol: "udp", Ports: cloud.Port(4789), FromTargets: true, Description: "overlay"},
	}
	if got := firewallRulesOf(perms, "sg-fw"); !reflect.DeepEqual(got, want) {
		t.Errorf("firewallRulesOf =\n%+v\nwant\n%+v", got, want)
	}
	// All ports described without them (as EC2 may): all ports.
	all := []types.IpPermission{{IpProtocol: awssdk.String("tcp"), IpRanges: []types.IpRange{{CidrIp: awssdk.String(anyIPv4)}}}}
	if got := firewallRulesOf(all, "sg-fw"); len(got) != 1 || !got[0].Ports.All() {
		t.Errorf("firewallRulesOf(tcp without ports) = %+v, want every port", got)
	}
}

// fwWorld is an EC2 region held in memory behind fakeEC2's hooks: a
// default VPC, security groups and instances, enough for firewalls.
type fwWorld struct {
	t         *testing.T
	f         *fakeEC2
	groups    map[string]*fwGroup
	instances []*fwInstance
	n         int
	modified  []string // "i-a: sg-1,sg-2", in order
	tagged    int      // CreateTags calls on groups
}

type fwGroup struct {
	id, name string
	tags     []types.Tag
	rules    []ingressRule
}

type fwInstance struct {
	id, state string
	tags      []string // EC2 tag keys
	groups    []string
	// startsOnDescribe: pending until described by id; dieOnModify: it is
	// terminated when its groups are set.
	startsOnDescribe, dieOnModify bool
}

const fwVPC = "vpc-1"

func newFWWorld(t *testing.T) *fwWorld {
	w := &fwWorld{t: t, groups: map[string]*fwGroup{}}
	hosts := w.addGroup(SecurityGroupName, true)
	for _, r := range securityGroupRules {
		hosts.rules = append(hosts.rules, ingressRules([]types.IpPermission{r.permission(hosts.id)})...)
	}
	w.f = &fakeEC2{
		describeVpcs: func(*ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) {
			return &ec2.DescribeVpcsOutput{Vpcs: []types.Vpc{{VpcId: awssdk.String(fwVPC), IsDefault: awssdk.Bool(true)}}}, nil
		},
		describeSecurityGroups:        w.describeSecurityGroups,
		createSecurityGroup:           w.createSecurityGroup,
		authorizeSecurityGroupIngress: w.authorize,
		revokeSecurityGroupIngress:    w.revoke,
		deleteSecurityGroup:           w.deleteSecurityGroup,
		createTags:                    w.createTags,
		describeInstances:             w.describeInstances,
		modifyInstanceAttribute:       w.modifyInstanceAttribute,
	}
	return w
}

func (w *fwWorld) driver() *Driver { return newFakeDriver(w.t, w.f) }

func (w *fwWorld) addGroup(name string, managed bool) *fwGroup {
	w.n++
	g := &fwGroup{id: fmt.Sprintf("sg-%d", w.n), name: name, tags: []types.Tag{{Key: awssdk.String(nameTagKey), Value: awssdk.String(name)}}}
	if managed {
		g.tags = append(g.tags, ec2Tag(cloud.ManagedTag))
	}
	w.groups[g.id] = g
	return g
}

func (w *fwWorld) group(name string) *fwGroup {
	for _, g := range w.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

func (w *fwWorld) instance(id string) *fwInstance {
	for _, in := range w.instances {
		if in.id == id {
			return in
		}
	}
	w.t.Fatalf("no instance %s", id)
	return nil
}

func (w *fwWorld) sg(g *fwGroup) types.SecurityGroup {
	return types.SecurityGroup{GroupId: awssdk.String(g.id), GroupName: awssdk.String(g.name), VpcId: awssdk.String(fwVPC), Tags: slices.Clone(g.tags), IpPermissions: permissions(g.rules)}
}

func filterValues(fs []types.Filter, name string) ([]string, bool) {
	for _, f := range fs {
		if awssdk.ToString(f.Name) == name {
			return f.Values, true
		}
	}
	return nil, false
}

func (w *fwWorld) describeSecurityGroups(in *ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
	out := &ec2.DescribeSecurityGroupsOutput{}
	names, byName := filterValues(in.Filters, filterGroupName)
	for _, id := range in.GroupIds {
		g := w.groups[id]
		if g == nil {
			return nil, apiErr(errCodeGroupNotFound)
		}
		out.SecurityGroups = append(out.SecurityGroups, w.sg(g))
	}
	if byName {
		for _, g := range w.groups {
			if slices.Contains(names, g.name) {
				out.SecurityGroups = append(out.SecurityGroups, w.sg(g))
			}
		}
	}
	return out, nil
}

func (w *fwWorld) createSecurityGroup(in *ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error) {
	if awssdk.ToString(in.VpcId) != fwVPC {
		w.t.Errorf("group created in VPC %q", awssdk.ToString(in.VpcId))
	}
	g := w.addGroup(awssdk.ToString(in.GroupName), false)
	g.tags = in.TagSpecifications[0].Tags
	return &ec2.CreateSecurityGroupOutput{GroupId: awssdk.String(g.id)}, nil
}

func (w *fwWorld) authorize(in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	g := w.groups[awssdk.ToString(in.GroupId)]
	for _, r := range ingressRules(in.IpPermissions) {
		if slices.ContainsFunc(g.rules, func(o ingressRule) bool { return o.key() == r.key() }) {
			return nil, apiErr(errCodePermissionDuplicate)
		}
		g.rules = append(g.rules, r)
	}
	return &ec2.AuthorizeSecurityGroupIngressOutput{}, nil
}

func (w *fwWorld) revoke(in *ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	g := w.groups[awssdk.ToString(in.GroupId)]
	for _, r := range ingressRules(in.IpPermissions) {
		i := slices.IndexFunc(g.rules, func(o ingressRule) bool { return o.key() == r.key() })
		if i < 0 {
			return nil, apiErr(errCodePermissionNotFound)
		}
		g.rules = slices.Delete(g.rules, i, i+1)
	}
	return &ec2.RevokeSecurityGroupIngressOutput{}, nil
}

func (w *fwWorld) deleteSecurityGroup(in *ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
	id := awssdk.ToString(in.GroupId)
	if w.groups[id] == nil {
		return nil, apiErr(errCodeGroupNotFound)
	}
	for _, in := range w.instances {
		if in.state != "terminated" && slices.Contains(in.groups, id) {
			return nil, apiErr(errCodeDependencyViolation)
		}
	}
	delete(w.groups, id)
	return &ec2.DeleteSecurityGroupOutput{}, nil
}

func (w *fwWorld) createTags(in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
	g := w.groups[in.Resources[0]]
	if g == nil {
		w.t.Fatalf("CreateTags on %v: only groups are tagged here", in.Resources)
	}
	w.tagged++
	for _, t := range in.Tags {
		g.tags = slices.DeleteFunc(g.tags, func(o types.Tag) bool { return awssdk.ToString(o.Key) == awssdk.ToString(t.Key) })
		g.tags = append(g.tags, t)
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (w *fwWorld) describeInstances(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	var insts []types.Instance
	for _, x := range w.instances {
		if len(in.InstanceIds) > 0 {
			if !slices.Contains(in.InstanceIds, x.id) {
				continue
			}
			if x.startsOnDescribe {
				x.state = "running"
			}
		}
		ok := true
		for _, f := range in.Filters {
			var have []string
			switch name := awssdk.ToString(f.Name); name {
			case filterTagKey:
				have = x.tags
			case filterVPCID:
				have = []string{fwVPC}
			case filterStateName:
				have = []string{x.state}
			default:
				w.t.Fatalf("DescribeInstances filter %s", name)
			}
			ok = ok && slices.ContainsFunc(f.Values, func(v string) bool { return slices.Contains(have, v) })
		}
		if !ok {
			continue
		}
		inst := types.Instance{InstanceId: awssdk.String(x.id), State: &types.InstanceState{Name: types.InstanceStateName(x.state)}}
		for _, k := range x.tags {
			inst.Tags = append(inst.Tags, types.Tag{Key: awssdk.String(k), Value: awssdk.String("")})
		}
		for _, g := range x.groups {
			inst.SecurityGroups = append(inst.SecurityGroups, types.GroupIdentifier{GroupId: awssdk.String(g), GroupName: awssdk.String(w.groups[g].name)})
		}
		insts = append(insts, inst)
	}
	return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: insts}}}, nil
}

func (w *fwWorld) modifyInstanceAttribute(in *ec2.ModifyInstanceAttributeInput) (*ec2.ModifyInstanceAttributeOutput, error) {
	x := w.instance(awssdk.ToString(in.InstanceId))
	switch {
	case x.dieOnModify:
		x.state = "terminated"
		return nil, apiErr(errCodeIncorrectInstanceState)
	case x.state != "running" && x.state != "stopped" && x.state != "stopping":
		w.t.Errorf("groups of %s set while %s", x.id, x.state)
	case len(in.Groups) == 0:
		w.t.Errorf("%s left without any security group", x.id)
	}
	x.groups = slices.Clone(in.Groups)
	w.modified = append(w.modified, x.id+": "+strings.Join(in.Groups, ","))
	return &ec2.ModifyInstanceAttributeOutput{}, nil
}

func (w *fwWorld) groupsOf(id string) string { return strings.Join(w.instance(id).groups, ",") }

func TestEnsureFirewall(t *testing.T) {
	ctx := context.Background()
	w := newFWWorld(t)
	hosts := w.group(SecurityGroupName).id
	lb := w.addGroup("haddock-lb-web", true).id
	fw := w.addGroup("haddock-fw-c1", true)
	fw.rules = []ingressRule{
		portRule("tcp", 80, anyIPv4, "", "old description"), // wanted: kept
		portRule("tcp", 22, anyIPv4, "", "by hand"),         // not wanted: revoked
	}
	target := tagKey("cluster:c1")
	w.instances = []*fwInstance{
		{id: "i-a", state: "running", tags: []string{target}, groups: []string{hosts}},
		{id: "i-b", state: "running", tags: []string{target}, groups: []string{hosts, fw.id}},          // has it
		{id: "i-c", state: "running", tags: []string{tagKey("other")}, groups: []string{hosts}},        // not a target
		{id: "i-d", state: "running", tags: []string{tagKey("other")}, groups: []string{hosts, fw.id}}, // untagged since
		{id: "i-e", state: "stopped", tags: []string{target}, groups: []string{hosts, lb}},
		{id: "i-f", state: "terminated", tags: []string{target}, groups: []string{hosts}},
		{id: "i-g", state: "pending", tags: []string{target}, groups: []string{hosts}, startsOnDescribe: true},
		{id: "i-h", state: "running", tags: []string{target}, groups: []string{hosts}, dieOnModify: true},
	}
	d := w.driver()
	spec := cloud.FirewallSpec{Name: "c1", Region: "us-east-1", TargetTag: "cluster:c1", Inbound: []cloud.FirewallRule{
		{Protocol: "tcp", Ports: cloud.Port(80), CIDRs: []netip.Prefix{cloud.AnyIPv4}, Description: "web"},
		{Protocol: "tcp", Ports: cloud.Port(2377), FromTargets: true, Description: "swarm"},
	}}
	got, err := d.EnsureFirewall(ctx, spec)
	if err != nil {
		t.Fatalf("EnsureFirewall: %v", err)
	}
	if got.ID != fw.id || got.Name != "c1" || got.Region != "us-east-1" || got.TargetTag != "cluster:c1" {
		t.Errorf("EnsureFirewall = %+v, want %s named c1 targeting cluster:c1", got, fw.id)
	}
	wantRules := []cloud.FirewallRule{
		{Protocol: "tcp", Ports: cloud.Port(80), CIDRs: []netip.Prefix{cloud.AnyIPv4}, Description: "old description"}, // EC2 keeps the first
		{Protocol: "tcp", Ports: cloud.Port(2377), FromTargets: true, Description: "swarm"},
	}
	if !reflect.DeepEqual(got.Inbound, wantRules) {
		t.Errorf("inbound = %+v, want %+v", got.Inbound, wantRules)
	}
	if keys, want := ruleKeys(fw.rules), []string{"tcp 2377-2377  " + fw.id, "tcp 80-80 0.0.0.0/0 "}; !slices.Equal(keys, want) {
		t.Errorf("the group's rules = %q, want %q", keys, want)
	}
	// Attached keeping what the instances had; detached from the untagged.
	want := []string{"i-a: " + hosts + "," + fw.id, "i-d: " + hosts, "i-e: " + hosts + "," + lb + "," + fw.id, "i-g: " + hosts + "," + fw.id}
	slices.Sort(w.modified)
	if !slices.Equal(w.modified, want) {
		t.Errorf("instances' groups set: %q, want %q", w.modified, want)
	}
	if got := w.groupsOf("i-f"); got != hosts {
		t.Errorf("terminated instance's groups: %s", got)
	}

	// Again, the same: nothing changes.
	w.modified = nil
	tagged := w.tagged
	calls := func() int {
		return w.f.count("AuthorizeSecurityGroupIngress") + w.f.count("RevokeSecurityGroupIngress") + w.f.count("CreateSecurityGroup")
	}
	before := calls()
	if _, err := d.EnsureFirewall(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if len(w.modified) > 0 || calls() != before || w.tagged != tagged {
		t.Errorf("the second EnsureFirewall changed something: groups set %q, %d rule calls, %d tag calls", w.modified, calls()-before, w.tagged-tagged)
	}

	// Another target: the old one's hosts lose the group.
	spec.TargetTag = "other"
	if _, err := d.EnsureFirewall(ctx, spec); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"i-a": hosts, "i-c": hosts + "," + fw.id, "i-d": hosts + "," + fw.id, "i-e": hosts + "," + lb} {
		if got := w.groupsOf(id); got != want {
			t.Errorf("after retargeting, %s is in %s, want %s", id, got, want)
		}
	}
	if v, _ := fwTargetOf(fw.tags); v != "other" {
		t.Errorf("recorded target %q, want other", v)
	}
}

func TestEnsureFirewallCreates(t *testing.T) {
	w := newFWWorld(t)
	got, err := w.driver().EnsureFirewall(context.Background(), cloud.FirewallSpec{Name: "c2", TargetTag: "cluster:c2", Inbound: []cloud.FirewallRule{{Protocol: "icmp", CIDRs: cloud.Anywhere()}}})
	if err != nil {
		t.Fatal(err)
	}
	g := w.group("haddock-fw-c2")
	if g == nil || got.ID != g.id || !isManaged(g.tags) {
		t.Fatalf("EnsureFirewall = %+v; group %+v, want it created and managed", got, g)
	}
	if v, ok := fwTargetOf(g.tags); !ok || v != "cluster:c2" {
		t.Errorf("target tag %q", v)
	}
	if keys, want := ruleKeys(g.rules), []string{"icmp -1--1 0.0.0.0/0 ", "icmpv6 -1--1 ::/0 "}; !slices.Equal(keys, want) {
		t.Errorf("rules %q, want %q", keys, want)
	}

	// A group of that name that is not Haddock's is not taken over.
	w.addGroup("haddock-fw-c3", false)
	if _, err := w.driver().EnsureFirewall(context.Background(), cloud.FirewallSpec{Name: "c3", TargetTag: "t"}); !errors.Is(err, cloud.ErrConflict) {
		t.Errorf("EnsureFirewall(someone else's group) = %v, want ErrConflict", err)
	}
}

func TestDeleteFirewall(t *testing.T) {
	ctx := context.Background()
	w := newFWWorld(t)
	hostsGroup := w.group(SecurityGroupName)
	hosts := hostsGroup.id
	fw := w.addGroup("haddock-fw-c1", true)
	fw.rules = []ingressRule{portRule("tcp", 2377, "", fw.id, "")}
	hostsGroup.rules = append(hostsGroup.rules, portRule("tcp", 9000, "", fw.id, "refers to it"))
	w.instances = []*fwInstance{
		{id: "i-a", state: "running", groups: []string{hosts, fw.id}},
		{id: "i-b", state: "stopped", groups: []string{fw.id}}, // only this one: the hosts' goes back
		{id: "i-c", state: "running", groups: []string{hosts}},
	}
	d := w.driver()
	if err := d.DeleteFirewall(ctx, "us-east-1", "c1"); err != nil {
		t.Fatalf("DeleteFirewall: %v", err)
	}
	for id, want := range map[string]string{"i-a": hosts, "i-b": hosts, "i-c": hosts} {
		if got := w.groupsOf(id); got != want {
			t.Errorf("%s is in %s, want %s", id, got, want)
		}
	}
	if w.groups[fw.id] != nil {
		t.Error("the group is still there")
	}
	if slices.ContainsFunc(hostsGroup.rules, func(r ingressRule) bool { return r.group == fw.id }) {
		t.Error("the hosts' group still refers to it")
	}

	// Gone already: nothing to do.
	n := w.f.count("DeleteSecurityGroup")
	if err := d.DeleteFirewall(ctx, "us-east-1", "c1"); err != nil || w.f.count("DeleteSecurityGroup") != n {
		t.Errorf("DeleteFirewall(gone) = %v after %d deletes, want nil without any", err, w.f.count("DeleteSecurityGroup")-n)
	}
	// Someone else's group of that name is left.
	w.addGroup("haddock-fw-c4", false)
	if err := d.DeleteFirewall(ctx, "", "c4"); err != nil || w.group("haddock-fw-c4") == nil {
		t.Errorf("DeleteFirewall(someone else's) = %v, want nil and the group left", err)
	}
	if err := d.DeleteFirewall(ctx, "eu-west-1", "c1"); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("DeleteFirewall(other region) = %v, want ErrInvalid", err)
	}
}

// The instance limit on groups says what to do.
func TestEnsureFirewallGroupLimit(t *testing.T) {
	w := newFWWorld(t)
	w.instances = []*fwInstance{{id: "i-a", state: "running", tags: []string{tagKey("c")}, groups: []string{w.group(SecurityGroupName).id}}}
	w.f.modifyInstanceAttribute = func(*ec2.ModifyInstanceAttributeInput) (*ec2.ModifyInstanceAttributeOutput, error) {
		return nil, apiErr(errCodeGroupsPerInterfaceLimit)
	}
	_, err := w.driver().EnsureFirewall(context.Background(), cloud.FirewallSpec{Name: "c", TargetTag: "c"})
	if !errors.Is(err, cloud.ErrQuota) || !strings.Contains(err.Error(), "i-a") || !strings.Contains(err.Error(), "quota") {
		t.Errorf("EnsureFirewall = %v, want ErrQuota naming the instance and the quota", err)
	}
}
