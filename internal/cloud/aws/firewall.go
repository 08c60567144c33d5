package aws

// Security groups of the driver's own besides the hosts' one: a load
// balancer's ("haddock-lb-<name>", loadbalancer_security.go) and a
// database's ("haddock-db-<name>", database.go). Each lives in the default
// VPC, carries the managed tag and a Name tag, and its ingress rules are
// reconciled as sets of ingressRule: what is missing is authorized, what
// the driver owns and no longer wants is revoked, anything else is left
// alone.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// errCodeDependencyViolation: a security group still in use (by an
// ENI that outlives its load balancer or database for minutes, or by a
// rule of another group).
const errCodeDependencyViolation = "DependencyViolation"

// ingressRule is one ingress rule with one source: a CIDR (IPv4 or IPv6)
// or a security group.
type ingressRule struct {
	proto    string // tcp or udp; others as EC2 describes them ("-1", "50")
	from, to int32
	cidr     string // "" for a group source
	group    string // security group id; "" for a CIDR source
	desc     string
}

// key identifies the rule as EC2 does: the description is not part of it.
func (r ingressRule) key() string {
	return fmt.Sprintf("%s %d-%d %s %s", r.proto, r.from, r.to, r.cidr, r.group)
}

func (r ingressRule) anywhere() bool { return r.cidr == anyIPv4 || r.cidr == anyIPv6 }

// permission is the rule as EC2 takes it. The description goes with it:
// moto (5.2.1) matches it when revoking a group source, AWS ignores it.
func (r ingressRule) permission() types.IpPermission {
	p := types.IpPermission{IpProtocol: awssdk.String(r.proto), FromPort: awssdk.Int32(r.from), ToPort: awssdk.Int32(r.to)}
	var desc *string
	if r.desc != "" {
		desc = awssdk.String(r.desc)
	}
	switch {
	case r.group != "":
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: awssdk.String(r.group), Description: desc}}
	case strings.Contains(r.cidr, ":"):
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: awssdk.String(r.cidr), Description: desc}}
	default:
		p.IpRanges = []types.IpRange{{CidrIp: awssdk.String(r.cidr), Description: desc}}
	}
	return p
}

// portRule is a rule for one port.
func portRule(proto string, port int32, cidr, group, desc string) ingressRule {
	return ingressRule{proto: proto, from: port, to: port, cidr: cidr, group: group, desc: desc}
}

// ingressRules flattens described permissions to one rule per source.
// Prefix list sources are left out: the driver sets none.
func ingressRules(perms []types.IpPermission) []ingressRule {
	var out []ingressRule
	for _, p := range perms {
		r := ingressRule{proto: awssdk.ToString(p.IpProtocol), from: awssdk.ToInt32(p.FromPort), to: awssdk.ToInt32(p.ToPort)}
		if p.FromPort == nil && p.ToPort == nil {
			r.from, r.to = -1, -1 // all ports: described without them
		}
		for _, ip := range p.IpRanges {
			c := r
			c.cidr, c.desc = awssdk.ToString(ip.CidrIp), awssdk.ToString(ip.Description)
			out = append(out, c)
		}
		for _, ip := range p.Ipv6Ranges {
			c := r
			c.cidr, c.desc = awssdk.ToString(ip.CidrIpv6), awssdk.ToString(ip.Description)
			out = append(out, c)
		}
		for _, g := range p.UserIdGroupPairs {
			c := r
			c.group, c.desc = awssdk.ToString(g.GroupId), awssdk.ToString(g.Description)
			out = append(out, c)
		}
	}
	return out
}

// FirewallAPI manages the driver's own security groups (load balancers',
// databases') and the hosts' group rules that admit them. It is apart from
// EC2API so that EC2 fakes need not implement it; *ec2.Client does, and the
// load balancer and database methods ask the driver's EC2 client for it.
type FirewallAPI interface {
	NetworkAPI
	RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
}

var _ FirewallAPI = (*ec2.Client)(nil)

// firewallAPI is the driver's EC2 client as a FirewallAPI.
func (d *Driver) firewallAPI() (FirewallAPI, error) {
	fw, ok := d.ec2.(FirewallAPI)
	if !ok {
		return nil, errors.New("aws: this driver's EC2 client cannot revoke security group rules or delete security groups; build it with aws.New")
	}
	return fw, nil
}

// reconcileIngress makes group groupID, whose ingress is have, admit every
// rule of want, and revokes the rules owned says are the driver's that want
// does not hold. Rules present in another description count as present;
// rules added or revoked concurrently are not errors.
func reconcileIngress(ctx context.Context, fw FirewallAPI, groupID string, have []types.IpPermission, want []ingressRule, owned func(ingressRule) bool) error {
	current := map[string]bool{}
	var revoke []ingressRule
	wanted := map[string]bool{}
	for _, r := range want {
		wanted[r.key()] = true
	}
	for _, r := range ingressRules(have) {
		current[r.key()] = true
		if owned(r) && !wanted[r.key()] {
			revoke = append(revoke, r)
		}
	}
	var add []ingressRule
	for _, r := range want {
		if !current[r.key()] {
			add = append(add, r)
			current[r.key()] = true // want may repeat a rule
		}
	}
	if len(add) > 0 {
		tflog.SubsystemInfo(ctx, subsystem, "authorizing security group ingress", map[string]any{"group": groupID, "rules": ruleKeys(add)})
		err := batchOrEach(add, errCodePermissionDuplicate, func(rs []ingressRule) error {
			_, err := fw.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: awssdk.String(groupID), IpPermissions: permissions(rs)})
			return err
		})
		if err != nil {
			return fmt.Errorf("authorizing ingress on security group (%s): %w", groupID, mapError(err))
		}
	}
	if len(revoke) > 0 {
		tflog.SubsystemInfo(ctx, subsystem, "revoking security group ingress", map[string]any{"group": groupID, "rules": ruleKeys(revoke)})
		err := batchOrEach(revoke, errCodePermissionNotFound, func(rs []ingressRule) error {
			_, err := fw.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: awssdk.String(groupID), IpPermissions: permissions(rs)})
			return err
		})
		if err != nil {
			return fmt.Errorf("revoking ingress on security group (%s): %w", groupID, mapError(err))
		}
	}
	return nil
}

// batchOrEach calls fn with every rule; when EC2 answers with code (one
// rule of the batch is there already, or gone already) it calls fn rule by
// rule, skipping those that answer code.
func batchOrEach(rules []ingressRule, code string, fn func([]ingressRule) error) error {
	err := fn(rules)
	if !hasCode(err, code) {
		return err
	}
	for _, r := range rules {
		if err := fn([]ingressRule{r}); err != nil && !hasCode(err, code) {
			return err
		}
	}
	return nil
}

func permissions(rules []ingressRule) []types.IpPermission {
	out := make([]types.IpPermission, len(rules))
	for i, r := range rules {
		out[i] = r.permission()
	}
	return out
}

func ruleKeys(rules []ingressRule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.key()
	}
	sort.Strings(out)
	return out
}

// ensureOwnGroup returns the Haddock security group of that name in vpcID,
// creating it (tagged with the managed tag and Name) when missing; created
// says this call created it. A group of that name that is not Haddock's is
// a conflict.
func ensureOwnGroup(ctx context.Context, fw FirewallAPI, vpcID, name, description string) (sg *types.SecurityGroup, created bool, err error) {
	sg, err = findSecurityGroupByName(ctx, fw, vpcID, name)
	if cloud.IsNotFound(err) {
		tflog.SubsystemInfo(ctx, subsystem, "creating security group", map[string]any{"name": name, "vpc": vpcID})
		out, cerr := fw.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName:   awssdk.String(name),
			Description: awssdk.String(description),
			VpcId:       awssdk.String(vpcID),
			TagSpecifications: []types.TagSpecification{{
				ResourceType: types.ResourceTypeSecurityGroup,
				Tags:         []types.Tag{ec2Tag(cloud.ManagedTag), {Key: awssdk.String(nameTagKey), Value: awssdk.String(name)}},
			}},
		})
		switch {
		case hasCode(cerr, errCodeGroupDuplicate): // created concurrently
			sg, err = findSecurityGroupByName(ctx, fw, vpcID, name)
		case cerr != nil:
			return nil, false, fmt.Errorf("creating security group (%s): %w", name, mapError(cerr))
		default:
			return &types.SecurityGroup{GroupId: out.GroupId, GroupName: awssdk.String(name), VpcId: awssdk.String(vpcID), Tags: []types.Tag{ec2Tag(cloud.ManagedTag)}}, true, nil
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("finding security group (%s): %w", name, err)
	}
	if !isManaged(sg.Tags) {
		return nil, false, &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrConflict, Code: errCodeGroupDuplicate, Message: fmt.Sprintf(
			"a security group named %s (%s) exists in %s and is not Haddock's (it lacks the tag %s=%s): delete or rename it",
			name, awssdk.ToString(sg.GroupId), vpcID, managedTagKey, managedTagValue)}
	}
	return sg, false, nil
}

// findSecurityGroupByID returns the security group, or a not-found error.
func findSecurityGroupByID(ctx context.Context, conn NetworkAPI, id string) (*types.SecurityGroup, error) {
	out, err := conn.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	if hasCode(err, errCodeGroupNotFound) {
		return nil, cloud.NotFoundError(cloud.AWS, "security group", id)
	}
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.SecurityGroups {
		if awssdk.ToString(out.SecurityGroups[i].GroupId) == id {
			return &out.SecurityGroups[i], nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "security group", id)
}

// hostsGroup describes the hosts' security group, creating it when
// missing (its rules are needed before the first host is).
func (d *Driver) hostsGroup(ctx context.Context) (*types.SecurityGroup, error) {
	for try := 0; ; try++ {
		id, err := d.securityGroupID(ctx)
		if err != nil {
			return nil, err
		}
		sg, err := findSecurityGroupByID(ctx, d.ec2, id)
		if cloud.IsNotFound(err) && try == 0 {
			d.invalidateSecurityGroup() // deleted out of band: made again
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the hosts' security group (%s): %w", id, err)
		}
		return sg, nil
	}
}

// revokeReferences revokes the rules of the hosts' security group in vpcID
// that admit group groupID, so that it can be deleted. A missing hosts'
// group has none.
func revokeReferences(ctx context.Context, fw FirewallAPI, vpcID, groupID string) error {
	hosts, err := findSecurityGroupByName(ctx, fw, vpcID, SecurityGroupName)
	if cloud.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding the hosts' security group (%s): %w", SecurityGroupName, err)
	}
	return reconcileIngress(ctx, fw, awssdk.ToString(hosts.GroupId), hosts.IpPermissions, nil,
		func(r ingressRule) bool { return r.group == groupID })
}

// deleteOwnGroup deletes a security group, retrying while it is in use
// (the network interfaces of a deleted load balancer or database linger
// for minutes); gone already is not an error.
func (d *Driver) deleteOwnGroup(ctx context.Context, fw FirewallAPI, groupID string) error {
	tflog.SubsystemInfo(ctx, subsystem, "deleting security group", map[string]any{"group": groupID})
	err := d.retryWhen(ctx, d.timing.stateChange, func() error {
		_, err := fw.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: awssdk.String(groupID)})
		return err
	}, errCodeDependencyViolation)
	switch {
	case err == nil, hasCode(err, errCodeGroupNotFound):
		return nil
	case hasCode(err, errCodeDependencyViolation):
		return fmt.Errorf("deleting security group (%s): %w (still in use after %s: a network interface or another group's rule refers to it; "+
			"find them with `aws ec2 describe-network-interfaces --filters Name=group-id,Values=%s` and "+
			"`aws ec2 describe-security-groups --filters Name=ip-permission.group-id,Values=%s`, then delete it again)",
			groupID, mapError(err), d.timing.stateChange, groupID, groupID)
	default:
		return fmt.Errorf("deleting security group (%s): %w", groupID, mapError(err))
	}
}

// isManaged reports whether EC2 tags hold the managed tag.
func isManaged(tags []types.Tag) bool {
	return slices.ContainsFunc(tags, func(t types.Tag) bool {
		return awssdk.ToString(t.Key) == managedTagKey && awssdk.ToString(t.Value) == managedTagValue
	})
}
