package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// SecurityGroupName is the security group the driver puts every host in. It
// lives in the region's default VPC and is created, with the rules below,
// the first time a host is created there. Existing groups of that name get
// any missing rule added; rules added by hand are left alone.
const SecurityGroupName = "haddock-hosts"

// sgRule is one ingress rule: from anywhere (IPv4 and IPv6) or from the
// group's own members.
type sgRule struct {
	proto    string
	from, to int32
	anywhere bool // 0.0.0.0/0 and ::/0; else members only (self-reference)
	what     string
}

// securityGroupRules are the hosts' ingress rules. Egress is EC2's
// default: everything.
//
//	tcp 22    anywhere  SSH
//	tcp 2376  anywhere  Docker API over TLS (mutual TLS: only holders of the cluster CA's client certificates get in)
//	tcp 2377  members   Swarm cluster management (Raft)
//	tcp 7946  members   Swarm node gossip
//	udp 7946  members   Swarm node gossip
//	udp 4789  members   overlay network traffic (VXLAN)
//	ESP (50)  members   encrypted overlay networks (IPsec)
var securityGroupRules = []sgRule{
	{proto: "tcp", from: 22, to: 22, anywhere: true, what: "SSH"},
	{proto: "tcp", from: 2376, to: 2376, anywhere: true, what: "Docker API over TLS"},
	{proto: "tcp", from: 2377, to: 2377, what: "Swarm cluster management"},
	{proto: "tcp", from: 7946, to: 7946, what: "Swarm node gossip"},
	{proto: "udp", from: 7946, to: 7946, what: "Swarm node gossip"},
	{proto: "udp", from: 4789, to: 4789, what: "Swarm overlay network (VXLAN)"},
	{proto: "50", from: -1, to: -1, what: "Swarm encrypted overlay (ESP)"},
}

const (
	anyIPv4 = "0.0.0.0/0"
	anyIPv6 = "::/0"
)

func (r sgRule) permission(groupID string) types.IpPermission {
	// Ports are -1 for ESP: AWS ignores them for protocols without ports,
	// and moto 5.2.1 fails (HTTP 500) when they are missing.
	p := types.IpPermission{IpProtocol: awssdk.String(r.proto), FromPort: awssdk.Int32(r.from), ToPort: awssdk.Int32(r.to)}
	if r.anywhere {
		p.IpRanges = []types.IpRange{{CidrIp: awssdk.String(anyIPv4), Description: awssdk.String(r.what)}}
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: awssdk.String(anyIPv6), Description: awssdk.String(r.what)}}
	} else {
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: awssdk.String(groupID), Description: awssdk.String(r.what)}}
	}
	return p
}

// present reports whether existing permissions already grant r.
func (r sgRule) present(existing []types.IpPermission, groupID string) bool {
	for _, p := range existing {
		if awssdk.ToString(p.IpProtocol) != r.proto {
			continue
		}
		if r.proto == "tcp" || r.proto == "udp" {
			if awssdk.ToInt32(p.FromPort) != r.from || awssdk.ToInt32(p.ToPort) != r.to {
				continue
			}
		}
		if r.anywhere {
			v4, v6 := false, false
			for _, ip := range p.IpRanges {
				v4 = v4 || awssdk.ToString(ip.CidrIp) == anyIPv4
			}
			for _, ip := range p.Ipv6Ranges {
				v6 = v6 || awssdk.ToString(ip.CidrIpv6) == anyIPv6
			}
			if v4 && v6 {
				return true
			}
			continue
		}
		for _, g := range p.UserIdGroupPairs {
			if awssdk.ToString(g.GroupId) == groupID {
				return true
			}
		}
	}
	return false
}

// securityGroupID returns the hosts' security group, creating it and its
// rules when missing. The id is cached per driver; invalidateSecurityGroup
// forgets it when EC2 says the group is gone.
func (d *Driver) securityGroupID(ctx context.Context) (string, error) {
	d.sg.mu.Lock()
	defer d.sg.mu.Unlock()
	if d.sg.id != "" {
		return d.sg.id, nil
	}
	id, err := ensureSecurityGroup(ctx, d.ec2, d.region)
	if err != nil {
		return "", err
	}
	d.sg.id = id
	return id, nil
}

func (d *Driver) invalidateSecurityGroup() {
	d.sg.mu.Lock()
	d.sg.id = ""
	d.sg.mu.Unlock()
}

func ensureSecurityGroup(ctx context.Context, conn NetworkAPI, region string) (string, error) {
	vpc, err := findDefaultVPC(ctx, conn)
	if cloud.IsNotFound(err) {
		return "", invalidError("NoDefaultVPC", fmt.Sprintf("region %s has no default VPC: Haddock launches hosts in the default VPC; create one with `aws ec2 create-default-vpc --region %s`", region, region))
	}
	if err != nil {
		return "", fmt.Errorf("finding the default VPC: %w", err)
	}
	vpcID := awssdk.ToString(vpc.VpcId)

	sg, err := findSecurityGroupByName(ctx, conn, vpcID, SecurityGroupName)
	if cloud.IsNotFound(err) {
		out, cerr := conn.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName:   awssdk.String(SecurityGroupName),
			Description: awssdk.String("Haddock Docker Swarm hosts (managed by Haddock)"),
			VpcId:       vpc.VpcId,
			TagSpecifications: []types.TagSpecification{{
				ResourceType: types.ResourceTypeSecurityGroup,
				Tags:         []types.Tag{ec2Tag(cloud.ManagedTag), {Key: awssdk.String(nameTagKey), Value: awssdk.String(SecurityGroupName)}},
			}},
		})
		switch {
		case hasCode(cerr, errCodeGroupDuplicate): // created concurrently
			sg, err = findSecurityGroupByName(ctx, conn, vpcID, SecurityGroupName)
		case cerr != nil:
			return "", fmt.Errorf("creating security group (%s): %w", SecurityGroupName, mapError(cerr))
		default:
			sg, err = &types.SecurityGroup{GroupId: out.GroupId, GroupName: awssdk.String(SecurityGroupName)}, nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("finding security group (%s): %w", SecurityGroupName, err)
	}
	groupID := awssdk.ToString(sg.GroupId)

	var missing []types.IpPermission
	for _, r := range securityGroupRules {
		if !r.present(sg.IpPermissions, groupID) {
			missing = append(missing, r.permission(groupID))
		}
	}
	if len(missing) == 0 {
		return groupID, nil
	}
	_, err = conn.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: missing})
	if hasCode(err, errCodePermissionDuplicate) {
		// Added concurrently, or present in a form present() did not
		// recognise: add the rules one by one, skipping duplicates.
		err = nil
		for _, p := range missing {
			_, aerr := conn.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []types.IpPermission{p}})
			if aerr != nil && !hasCode(aerr, errCodePermissionDuplicate) {
				err = aerr
				break
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("authorizing ingress on security group (%s): %w", groupID, mapError(err))
	}
	return groupID, nil
}
