package aws

// Security groups of the load balancers: what lets traffic reach the
// hosts.
//
// Every load balancer, application or network, is created with a security
// group of its own, "haddock-lb-<name>" (lbSecurityGroupName), in the
// default VPC, tagged with the managed tag and Name. It admits each
// forwarding rule's entry port from anywhere (0.0.0.0/0 and ::/0; tcp for
// http, https and tcp rules, udp for udp ones). The hosts' group
// (SecurityGroupName) admits, from members of that group, the target port
// (in the target protocol) and the health check port (tcp; the target
// port for "traffic-port"). Egress is EC2's default: everything.
//
// Network load balancers get one too, although AWS lets them go without:
// an NLB preserves the client's address for instance targets (always for
// udp), so a hosts' rule from the VPC's CIDR would admit only the health
// checks, and one from anywhere would open the target port of every host
// to the internet, past the load balancer. A rule that references the
// NLB's security group admits its clients' traffic, client addresses
// preserved or not (AWS, "Security groups for your Network Load Balancer").
// AWS attaches security groups to an NLB only when it is created: an NLB
// created without any (by hand, or by a driver before this one) is refused
// by UpdateLoadBalancer, with what to do; an ALB without Haddock's group
// gets it added to its groups.
//
// Creating and updating bring the rules in line with the spec: the missing
// ones are added before the listeners and the health check change, and
// once they have, the load balancer group's rules from anywhere and the
// hosts' group's rules from the load balancer group that the spec no
// longer needs are revoked; other rules (added by hand) are left alone.
// DeleteLoadBalancer revokes the hosts' rules that reference the group,
// once the load balancer is gone, and deletes the group (retrying while
// the load balancer's network interfaces linger).

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// lbSecurityGroupPrefix starts the name of a load balancer's security
// group.
const lbSecurityGroupPrefix = "haddock-lb-"

func lbSecurityGroupName(lbName string) string { return lbSecurityGroupPrefix + lbName }

func lbSecurityGroupDescription(lbName string) string {
	return fmt.Sprintf("Haddock load balancer %s: its listeners (managed by Haddock)", lbName)
}

// sgProtocol is the security group protocol of a listener or target
// protocol.
func sgProtocol(p elbtypes.ProtocolEnum) string {
	if p == elbtypes.ProtocolEnumUdp {
		return "udp"
	}
	return "tcp" // HTTP, HTTPS, TCP
}

// entryRules are the load balancer group's rules: every listener from
// anywhere.
func (p *lbPlan) entryRules() []ingressRule {
	var out []ingressRule
	for _, lp := range p.listeners {
		desc := fmt.Sprintf("listener %s:%d", lp.protocol, lp.port)
		proto := sgProtocol(lp.protocol)
		out = append(out, portRule(proto, lp.port, anyIPv4, "", desc), portRule(proto, lp.port, anyIPv6, "", desc))
	}
	return out
}

// targetRules are the hosts' group rules that admit the load balancer
// (group lbGroup): its traffic to the targets and its health checks.
func (p *lbPlan) targetRules(lbGroup string) []ingressRule {
	name := p.spec.Name
	out := []ingressRule{portRule(sgProtocol(p.tgProtocol), p.tgPort, "", lbGroup, "load balancer "+name+": targets")}
	port := p.tgPort
	if n, err := strconv.Atoi(p.health.port); err == nil {
		port = int32(n)
	}
	if port != p.tgPort || sgProtocol(p.tgProtocol) != "tcp" {
		out = append(out, portRule("tcp", port, "", lbGroup, "load balancer "+name+": health checks"))
	}
	return out
}

// createLBSecurityGroup makes the security group CreateLoadBalancer
// attaches; created says this call made it (and a failed creation deletes
// it).
func (d *Driver) createLBSecurityGroup(ctx context.Context, vpcID, lbName string) (id string, created bool, err error) {
	fw, err := d.firewallAPI()
	if err != nil {
		return "", false, err
	}
	sg, created, err := ensureOwnGroup(ctx, fw, vpcID, lbSecurityGroupName(lbName), lbSecurityGroupDescription(lbName))
	if err != nil {
		return "", false, err
	}
	return awssdk.ToString(sg.GroupId), created, nil
}

// reconcileLBSecurity attaches the load balancer's security group (made
// when missing) and adds the rules p needs to it and to the hosts' group;
// prune also revokes the driver's rules p no longer needs.
func (d *Driver) reconcileLBSecurity(ctx context.Context, api ELBv2API, lb *elbtypes.LoadBalancer, p *lbPlan, prune bool) error {
	fw, err := d.firewallAPI()
	if err != nil {
		return err
	}
	name, arn := awssdk.ToString(lb.LoadBalancerName), awssdk.ToString(lb.LoadBalancerArn)
	if lb.Type == elbtypes.LoadBalancerTypeEnumNetwork && len(lb.SecurityGroups) == 0 {
		return invalidError("InvalidSecurityGroup", fmt.Sprintf(
			"the network load balancer %s was created without a security group, and AWS cannot add one later; "+
				"without one its traffic cannot be admitted to the hosts (an NLB preserves client addresses): replace the load balancer (delete it and create it again)", name))
	}
	sg, _, err := ensureOwnGroup(ctx, fw, awssdk.ToString(lb.VpcId), lbSecurityGroupName(name), lbSecurityGroupDescription(name))
	if err != nil {
		return err
	}
	groupID := awssdk.ToString(sg.GroupId)
	if !slices.Contains(lb.SecurityGroups, groupID) {
		groups := append(slices.Clone(lb.SecurityGroups), groupID)
		tflog.SubsystemInfo(ctx, subsystem, "attaching the load balancer's security group", map[string]any{"arn": arn, "groups": groups})
		if _, err := api.SetSecurityGroups(ctx, &elb.SetSecurityGroupsInput{LoadBalancerArn: lb.LoadBalancerArn, SecurityGroups: groups}); err != nil {
			return fmt.Errorf("attaching security group (%s): %w", groupID, mapError(err))
		}
		lb.SecurityGroups = groups
	}
	ownEntry := func(r ingressRule) bool { return prune && r.anywhere() }
	if err := reconcileIngress(ctx, fw, groupID, sg.IpPermissions, p.entryRules(), ownEntry); err != nil {
		return err
	}
	hosts, err := d.hostsGroup(ctx)
	if err != nil {
		return err
	}
	ownTarget := func(r ingressRule) bool { return prune && r.group == groupID }
	return reconcileIngress(ctx, fw, awssdk.ToString(hosts.GroupId), hosts.IpPermissions, p.targetRules(groupID), ownTarget)
}

// deleteLBSecurity revokes the hosts' rules that admit the load balancer
// lbName of vpcID and deletes its security group; call it once the load
// balancer is gone. A group that is missing, or not Haddock's, is left.
func (d *Driver) deleteLBSecurity(ctx context.Context, vpcID, lbName string) error {
	fw, err := d.firewallAPI()
	if err != nil {
		return err
	}
	name := lbSecurityGroupName(lbName)
	sg, err := findSecurityGroupByName(ctx, fw, vpcID, name)
	if cloud.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding security group (%s): %w", name, err)
	}
	if !isManaged(sg.Tags) {
		return nil
	}
	groupID := awssdk.ToString(sg.GroupId)
	if err := revokeReferences(ctx, fw, vpcID, groupID); err != nil {
		return err
	}
	return d.deleteOwnGroup(ctx, fw, groupID)
}

// deleteOrphanLBSecurity deletes the security group of the load balancer
// lbARN, which is gone, when no load balancer of that name exists again.
func (d *Driver) deleteOrphanLBSecurity(ctx context.Context, api ELBv2API, lbARN string) error {
	name := lbNameFromARN(lbARN)
	if name == "" {
		return nil
	}
	if _, err := findLoadBalancerByName(ctx, api, name); !cloud.IsNotFound(err) {
		return err // nil: a new load balancer of that name owns the group
	}
	vpc, err := findDefaultVPC(ctx, d.ec2)
	if cloud.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding the default VPC: %w", err)
	}
	return d.deleteLBSecurity(ctx, awssdk.ToString(vpc.VpcId), name)
}
