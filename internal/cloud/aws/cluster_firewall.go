package aws

// Cluster firewalls (cloud.Firewalls) are security groups, one per
// firewall, beside the hosts' group (securitygroup.go) and the load
// balancers' and databases' own (firewall.go).
//
// A firewall is, in the driver's region:
//
//   - the security group "haddock-fw-<name>" (fwSecurityGroupName) in the
//     default VPC, tagged with the managed tag, Name, and
//     "haddock:firewall-target" = the spec's target tag (the neutral tag:
//     it reads back from there);
//   - ingress exactly the spec's inbound rules, one EC2 rule per source:
//     tcp and udp on the rule's ports (every port is 0-65535), ICMP of
//     every type (-1: icmp from IPv4 sources, icmpv6 from IPv6 ones, both
//     from the group: an icmp rule admits no IPv6 packet), from each CIDR
//     (IPv4 or IPv6) and, for FromTargets, from the group itself, whose
//     members are the firewall's hosts. Every
//     rule of the group is the driver's: rules the spec does not hold are
//     revoked. EC2 identifies a rule without its description, so a rule
//     whose description alone changed keeps the old one. Egress is EC2's
//     default: everything;
//   - attached to every instance of the default VPC that carries the
//     target tag and is pending, running, stopping or stopped: the
//     instance's groups become its current ones plus this one (the hosts'
//     group stays: the load balancers' and databases' groups admit its
//     members). Instances that have the group and no longer carry the tag
//     lose it. EC2 has no group that follows a tag: a host created (or
//     tagged) later gets the group on the next EnsureFirewall, which the
//     engine calls after it creates hosts.
//
// Security groups union their rules: what a cluster firewall lists is
// admitted on top of the hosts' group, which admits SSH and the Docker API
// (2376, mutual TLS) from anywhere and Swarm's ports from every Haddock
// host of the region. A firewall therefore adds (published ports, say) and
// cannot narrow what the hosts' group opens; standalone hosts rely on that
// group, so its rules stay as they are.
//
// Each call lists the default VPC's live instances once and picks those to
// change itself; a pending one is waited for until it has started. An
// instance's groups are read, then set whole (ModifyInstanceAttribute
// takes the full set): a change made to the same instance meanwhile may be
// lost, and the next EnsureFirewall puts this group back. An instance
// takes 5 security groups by default, a group 60 inbound rules per IP
// family: beyond those EC2 refuses, with cloud.ErrQuota.
//
// DeleteFirewall takes the group off every instance that has it (an
// instance left without any group gets the hosts' group back), revokes the
// hosts' group's rules that reference it, and deletes it, retrying while
// it is still in use; a group already gone is not an error. A group that
// EnsureFirewall created before failing is left for the next call to take
// over.

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var _ cloud.Firewalls = (*Driver)(nil)

const (
	// fwSecurityGroupPrefix starts the name of a firewall's security group.
	fwSecurityGroupPrefix = "haddock-fw-"
	// fwTargetTagKey is the tag of a firewall's security group that
	// records its target tag.
	fwTargetTagKey = "haddock:firewall-target"
	// maxSecurityGroupNameLen is EC2's limit on group names.
	maxSecurityGroupNameLen = 255
	// maxTagValueLen is EC2's limit on tag values.
	maxTagValueLen = 256
	// protoICMPv6 is ICMP for IPv6 as EC2 takes it (and describes it; it
	// may say "58").
	protoICMPv6 = "icmpv6"
	// fwAllPortsTo ends every port's range (0-65535), as EC2 takes it for
	// tcp and udp.
	fwAllPortsTo = 65535

	errCodeGroupsPerInterfaceLimit = "SecurityGroupsPerInterfaceLimitExceeded"
)

// fwInstanceStates are the states in which an instance's groups can
// change (and that it keeps them in).
var fwInstanceStates = []string{
	string(types.InstanceStateNamePending), string(types.InstanceStateNameRunning),
	string(types.InstanceStateNameStopping), string(types.InstanceStateNameStopped),
}

func fwSecurityGroupName(name string) string { return fwSecurityGroupPrefix + name }

// fwSecurityGroupDescription describes the group; EC2 cannot change a
// group's description, so it holds nothing that may change.
func fwSecurityGroupDescription(name string) string {
	return fmt.Sprintf("Haddock firewall %s: admits its inbound rules to the hosts carrying its target tag (managed by Haddock)", name)
}

// fwPlan is a firewall spec checked.
type fwPlan struct {
	spec  cloud.FirewallSpec
	group string // the security group's name
}

// planFirewall checks spec; what EC2 cannot take is a cloud.ErrInvalid
// error saying what to change.
func (d *Driver) planFirewall(spec cloud.FirewallSpec) (*fwPlan, error) {
	if err := d.checkRegion(spec.Region); err != nil {
		return nil, err
	}
	maxName := maxSecurityGroupNameLen - len(fwSecurityGroupPrefix)
	switch {
	case spec.Name == "":
		return nil, invalidError("InvalidParameterValue", "the firewall has no name")
	case len(spec.Name) > maxName:
		return nil, invalidError("InvalidParameterValue", fmt.Sprintf("firewall name %q: AWS takes at most %d characters (its security group is %s<name>)", spec.Name, maxName, fwSecurityGroupPrefix))
	case strings.IndexFunc(spec.Name, func(c rune) bool { return !isASCIILetter(c) && (c < '0' || c > '9') && c != '-' && c != '.' }) >= 0:
		return nil, invalidError("InvalidParameterValue", fmt.Sprintf("firewall name %q: use letters, digits, '-' and '.'", spec.Name))
	case spec.TargetTag == "":
		return nil, invalidError("InvalidParameterValue", fmt.Sprintf("firewall %s has no target tag: name the tag of the hosts it applies to", spec.Name))
	case len(tagKey(spec.TargetTag)) > maxTagKeyLen || len(spec.TargetTag) > maxTagValueLen:
		return nil, invalidError("InvalidParameterValue", fmt.Sprintf("firewall %s: target tag %q is longer than EC2 tags take (%d characters)", spec.Name, spec.TargetTag, maxTagKeyLen-len(neutralTagPrefix)))
	}
	for i, r := range spec.Inbound {
		if err := checkFirewallRule(r); err != nil {
			return nil, invalidError("InvalidParameterValue", fmt.Sprintf("firewall %s, inbound rule %d: %v", spec.Name, i+1, err))
		}
	}
	return &fwPlan{spec: spec, group: fwSecurityGroupName(spec.Name)}, nil
}

func checkFirewallRule(r cloud.FirewallRule) error {
	switch r.Protocol {
	case cloud.ProtocolTCP, cloud.ProtocolUDP:
		if !r.Ports.All() && (r.Ports.From < 1 || r.Ports.To < r.Ports.From || r.Ports.To > fwAllPortsTo) {
			return fmt.Errorf("port range %d-%d: give ports from 1 to 65535, the first not above the last (or none: every port)", r.Ports.From, r.Ports.To)
		}
	case cloud.ProtocolICMP:
		if !r.Ports.All() {
			return fmt.Errorf("ICMP has no ports (got %s): give none", r.Ports)
		}
	default:
		return fmt.Errorf("protocol %q: use %s, %s or %s", r.Protocol, cloud.ProtocolTCP, cloud.ProtocolUDP, cloud.ProtocolICMP)
	}
	for _, c := range r.CIDRs {
		if !c.IsValid() {
			return fmt.Errorf("source %q is not a CIDR", c)
		}
	}
	return nil
}

// fwPermissions are perms with ICMP for IPv6 named as the driver names it,
// so that a rule described as "58" is not taken for another.
func fwPermissions(perms []types.IpPermission) []types.IpPermission {
	out := slices.Clone(perms)
	for i := range out {
		if awssdk.ToString(out[i].IpProtocol) == "58" {
			out[i].IpProtocol = awssdk.String(protoICMPv6)
		}
	}
	return out
}

// fwPorts is the rule's port range as EC2 takes it.
func fwPorts(r cloud.FirewallRule) (from, to int32) {
	switch {
	case r.Protocol == cloud.ProtocolICMP:
		return -1, -1 // every type and code
	case r.Ports.All():
		return 0, fwAllPortsTo
	default:
		return int32(r.Ports.From), int32(r.Ports.To)
	}
}

// ingress is the group's rules, groupID being the group itself (the
// source of FromTargets rules). A rule without sources admits nothing.
func (p *fwPlan) ingress(groupID string) []ingressRule {
	var out []ingressRule
	for _, r := range p.spec.Inbound {
		from, to := fwPorts(r)
		base := ingressRule{proto: r.Protocol, from: from, to: to, desc: ruleDescription(r.Description)}
		for _, c := range r.CIDRs {
			x := base
			x.cidr = c.Masked().String()
			if r.Protocol == cloud.ProtocolICMP && c.Addr().Is6() {
				x.proto = protoICMPv6
			}
			out = append(out, x)
		}
		if r.FromTargets {
			x := base
			x.group = groupID
			out = append(out, x)
			if r.Protocol == cloud.ProtocolICMP {
				x.proto = protoICMPv6
				out = append(out, x)
			}
		}
	}
	return out
}

// EnsureFirewall creates the firewall's security group or brings it to
// spec, and attaches it to the instances carrying spec.TargetTag (see the
// top of the file).
func (d *Driver) EnsureFirewall(ctx context.Context, spec cloud.FirewallSpec) (*cloud.Firewall, error) {
	ctx = logContext(ctx)
	what := fmt.Sprintf("firewall security group (%s)", fwSecurityGroupName(spec.Name))
	p, err := d.planFirewall(spec)
	if err != nil {
		return nil, fmt.Errorf("ensuring %s: %w", what, err)
	}
	fw, err := d.firewallAPI()
	if err != nil {
		return nil, fmt.Errorf("ensuring %s: %w", what, err)
	}
	vpcID, err := d.firewallVPC(ctx)
	if err != nil {
		return nil, fmt.Errorf("ensuring %s: %w", what, err)
	}
	sg, _, err := ensureOwnGroup(ctx, fw, vpcID, p.group, fwSecurityGroupDescription(spec.Name))
	if err != nil {
		return nil, fmt.Errorf("ensuring %s: %w", what, err)
	}
	groupID := awssdk.ToString(sg.GroupId)
	if err := d.tagFirewallTarget(ctx, sg, spec.TargetTag); err != nil {
		return nil, fmt.Errorf("ensuring %s: %w", what, err)
	}
	// The group is wholly the driver's: every rule not wanted goes.
	if err := reconcileIngress(ctx, fw, groupID, fwPermissions(sg.IpPermissions), p.ingress(groupID), func(ingressRule) bool { return true }); err != nil {
		return nil, fmt.Errorf("ensuring %s: %w", what, err)
	}
	if err := d.applyFirewall(ctx, vpcID, groupID, spec.TargetTag); err != nil {
		return nil, fmt.Errorf("ensuring %s: %w", what, err)
	}
	got, err := findSecurityGroupByID(ctx, fw, groupID)
	if err != nil {
		return nil, fmt.Errorf("ensuring %s: reading it back: %w", what, err)
	}
	return d.firewallFrom(got), nil
}

// GetFirewall reads the firewall's security group; an error wrapping
// cloud.ErrNotFound when there is none (nor a default VPC).
func (d *Driver) GetFirewall(ctx context.Context, region, name string) (*cloud.Firewall, error) {
	if err := d.checkRegion(region); err != nil {
		return nil, err
	}
	fw, err := d.firewallAPI()
	if err != nil {
		return nil, err
	}
	vpc, err := findDefaultVPC(ctx, d.ec2)
	if err != nil {
		return nil, err
	}
	sg, err := findSecurityGroupByName(ctx, fw, awssdk.ToString(vpc.VpcId), fwSecurityGroupName(name))
	if err != nil {
		return nil, err
	}
	return d.firewallFrom(sg), nil
}

// DeleteFirewall detaches the firewall's security group from its
// instances and deletes it; one already gone is not an error.
func (d *Driver) DeleteFirewall(ctx context.Context, region, name string) error {
	ctx = logContext(ctx)
	group := fwSecurityGroupName(name)
	what := fmt.Sprintf("firewall security group (%s)", group)
	if err := d.checkRegion(region); err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	fw, err := d.firewallAPI()
	if err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	vpc, err := findDefaultVPC(ctx, d.ec2)
	if cloud.IsNotFound(err) {
		return nil // no default VPC, no group
	}
	if err != nil {
		return fmt.Errorf("deleting %s: finding the default VPC: %w", what, err)
	}
	vpcID := awssdk.ToString(vpc.VpcId)
	sg, err := findSecurityGroupByName(ctx, fw, vpcID, group)
	if cloud.IsNotFound(err) {
		tflog.SubsystemDebug(ctx, subsystem, "firewall security group already gone", map[string]any{"name": group})
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	groupID := awssdk.ToString(sg.GroupId)
	if !isManaged(sg.Tags) {
		tflog.SubsystemWarn(ctx, subsystem, "leaving a security group of a firewall's name that is not Haddock's", map[string]any{"name": group, "group": groupID})
		return nil
	}
	if err := d.applyFirewall(ctx, vpcID, groupID, ""); err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	if err := revokeReferences(ctx, fw, vpcID, groupID); err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	if err := d.deleteOwnGroup(ctx, fw, groupID); err != nil {
		return fmt.Errorf("deleting %s: %w", what, err)
	}
	return nil
}

// firewallVPC is the default VPC, where firewalls' groups go.
func (d *Driver) firewallVPC(ctx context.Context) (string, error) {
	vpc, err := findDefaultVPC(ctx, d.ec2)
	if cloud.IsNotFound(err) {
		return "", invalidError("NoDefaultVPC", fmt.Sprintf("region %s has no default VPC: Haddock keeps hosts and their firewalls in the default VPC; create one with `aws ec2 create-default-vpc --region %s`", d.region, d.region))
	}
	if err != nil {
		return "", fmt.Errorf("finding the default VPC: %w", err)
	}
	return awssdk.ToString(vpc.VpcId), nil
}

// tagFirewallTarget records the target tag on the group, unless it holds
// it already.
func (d *Driver) tagFirewallTarget(ctx context.Context, sg *types.SecurityGroup, target string) error {
	if have, ok := fwTargetOf(sg.Tags); ok && have == target {
		return nil
	}
	groupID := awssdk.ToString(sg.GroupId)
	tflog.SubsystemDebug(ctx, subsystem, "recording the firewall's target tag", map[string]any{"group": groupID, "target_tag": target})
	_, err := d.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{groupID}, Tags: []types.Tag{{Key: awssdk.String(fwTargetTagKey), Value: awssdk.String(target)}}})
	if err != nil {
		return fmt.Errorf("tagging security group (%s): %w", groupID, mapError(err))
	}
	return nil
}

// fwTargetOf is the target tag a group records, and whether it records one.
func fwTargetOf(tags []types.Tag) (string, bool) {
	for _, t := range tags {
		if awssdk.ToString(t.Key) == fwTargetTagKey {
			return awssdk.ToString(t.Value), true
		}
	}
	return "", false
}

// applyFirewall attaches group groupID to the live instances of vpcID
// that carry target and lack it, and takes it off those that have it and
// do not carry target ("" takes it off every one). It lists the VPC's live
// instances and picks them itself, in one listing for both: moto (5.2.1)
// matches the instance.group-id filter against an instance's first group
// only.
func (d *Driver) applyFirewall(ctx context.Context, vpcID, groupID, target string) error {
	insts, err := findInstances(ctx, d.ec2, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: awssdk.String(filterVPCID), Values: []string{vpcID}},
		{Name: awssdk.String(filterStateName), Values: fwInstanceStates},
	}})
	if err != nil {
		return fmt.Errorf("listing the instances of %s: %w", vpcID, err)
	}
	key := tagKey(target)
	for i := range insts {
		inst := &insts[i]
		want := target != "" && slices.ContainsFunc(inst.Tags, func(t types.Tag) bool { return awssdk.ToString(t.Key) == key })
		has := slices.Contains(groupIDs(inst), groupID)
		switch {
		case want && !has:
			err = d.setInstanceGroups(ctx, inst, func(have []string) ([]string, error) {
				if slices.Contains(have, groupID) {
					return have, nil // attached while it started
				}
				return append(have, groupID), nil
			})
		case has && !want:
			err = d.setInstanceGroups(ctx, inst, func(have []string) ([]string, error) {
				if out := slices.DeleteFunc(have, func(g string) bool { return g == groupID }); len(out) > 0 {
					return out, nil
				}
				// An instance keeps one group at least: the hosts' one.
				hosts, err := d.securityGroupID(ctx)
				return []string{hosts}, err
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// groupIDs are the ids of the instance's security groups.
func groupIDs(inst *types.Instance) []string {
	out := make([]string, 0, len(inst.SecurityGroups))
	for _, g := range inst.SecurityGroups {
		out = append(out, awssdk.ToString(g.GroupId))
	}
	return out
}

// setInstanceGroups sets the instance's security groups to change(its
// current ones). A pending instance is waited for first; one terminated
// meanwhile is skipped.
func (d *Driver) setInstanceGroups(ctx context.Context, inst *types.Instance, change func(have []string) ([]string, error)) error {
	id := awssdk.ToString(inst.InstanceId)
	if instanceState(inst) == types.InstanceStateNamePending {
		started, err := waitInstanceStarted(ctx, d.ec2, id, d.timing.stateChange, d.timing.poll)
		if cloud.IsNotFound(err) {
			return nil // terminated at launch
		}
		if err != nil {
			return err
		}
		inst = started
	}
	before := groupIDs(inst)
	groups, err := change(slices.Clone(before))
	if err != nil || slices.Equal(groups, before) {
		return err
	}
	tflog.SubsystemInfo(ctx, subsystem, "setting an instance's security groups", map[string]any{"instance": id, "from": before, "to": groups})
	_, err = d.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: inst.InstanceId, Groups: groups})
	switch {
	case err == nil:
		return nil
	case hasCode(err, errCodeIncorrectInstanceState, errCodeInstanceNotFound):
		// Terminated since it was listed: nothing to do.
		now, ferr := findInstanceByID(ctx, d.ec2, id)
		if cloud.IsNotFound(ferr) || ferr == nil && instanceState(now) == types.InstanceStateNameShuttingDown {
			tflog.SubsystemDebug(ctx, subsystem, "instance gone before its security groups were set", map[string]any{"instance": id})
			return nil
		}
	case hasCode(err, errCodeGroupsPerInterfaceLimit):
		return fmt.Errorf("setting the security groups of EC2 instance (%s) to %v: %w", id, groups, &cloud.APIError{
			Cloud: cloud.AWS, Kind: cloud.ErrQuota, Code: errCodeGroupsPerInterfaceLimit,
			Message: fmt.Sprintf("the instance has %d security groups, more than its network interface takes (5 by default): "+
				"take it out of groups it does not need, or ask AWS for a higher \"Security groups per network interface\" quota", len(groups))})
	}
	return fmt.Errorf("setting the security groups of EC2 instance (%s) to %v: %w", id, groups, mapError(err))
}

// firewallFrom reads a firewall's security group back.
func (d *Driver) firewallFrom(sg *types.SecurityGroup) *cloud.Firewall {
	groupID := awssdk.ToString(sg.GroupId)
	fw := &cloud.Firewall{
		ID:      groupID,
		Name:    strings.TrimPrefix(awssdk.ToString(sg.GroupName), fwSecurityGroupPrefix),
		Region:  d.region,
		Inbound: firewallRulesOf(sg.IpPermissions, groupID),
	}
	fw.TargetTag, _ = fwTargetOf(sg.Tags)
	return fw
}

// firewallRulesOf reads ingress permissions back as firewall rules: one
// per protocol, port range and description, sorted so; its CIDRs sorted,
// and the group's own members as FromTargets. What a firewall cannot hold
// (other protocols, other groups as sources) is left out.
func firewallRulesOf(perms []types.IpPermission, groupID string) []cloud.FirewallRule {
	type key struct {
		proto    string
		from, to int32
		desc     string
	}
	byKey := map[key]*cloud.FirewallRule{}
	var keys []key
	for _, r := range ingressRules(fwPermissions(perms)) {
		var ports cloud.PortRange
		switch r.proto {
		case cloud.ProtocolTCP, cloud.ProtocolUDP:
			// Every port: 0-65535, or described without ports.
			if all := r.from == 0 && r.to == fwAllPortsTo || r.from < 0; !all {
				ports = cloud.PortRange{From: int(r.from), To: int(r.to)}
			}
		case cloud.ProtocolICMP:
		case protoICMPv6:
			r.proto = cloud.ProtocolICMP
		default:
			continue
		}
		k := key{r.proto, int32(ports.From), int32(ports.To), r.desc}
		fr := byKey[k]
		if fr == nil {
			fr = &cloud.FirewallRule{Protocol: r.proto, Ports: ports, Description: r.desc}
			byKey[k] = fr
			keys = append(keys, k)
		}
		switch {
		case r.group == groupID:
			fr.FromTargets = true
		case r.cidr != "":
			if c, err := netip.ParsePrefix(r.cidr); err == nil {
				fr.CIDRs = append(fr.CIDRs, c)
			}
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		switch {
		case a.proto != b.proto:
			return strings.Compare(a.proto, b.proto)
		case a.from != b.from:
			return cmp.Compare(a.from, b.from)
		case a.to != b.to:
			return cmp.Compare(a.to, b.to)
		}
		return strings.Compare(a.desc, b.desc)
	})
	var out []cloud.FirewallRule
	for _, k := range keys {
		fr := byKey[k]
		if len(fr.CIDRs) == 0 && !fr.FromTargets {
			continue // other groups' sources only
		}
		slices.SortFunc(fr.CIDRs, func(a, b netip.Prefix) int {
			if c := a.Addr().Compare(b.Addr()); c != 0 {
				return c
			}
			return a.Bits() - b.Bits()
		})
		out = append(out, *fr)
	}
	return out
}
