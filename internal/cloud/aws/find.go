package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// Finders in the style of terraform-provider-aws: find<Thing>By<Key>
// returns the SDK object, or an error wrapping cloud.ErrNotFound when the
// thing is gone (a terminated instance is gone).

// findInstanceByID returns the instance, or a not-found error when EC2 does
// not know it or it is terminated. The error for a terminated instance
// carries EC2's state reason (e.g. Server.InsufficientInstanceCapacity), so
// an instance that died at launch says why.
func findInstanceByID(ctx context.Context, conn InstancesAPI, id string) (*types.Instance, error) {
	out, err := conn.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return nil, mapError(err)
	}
	for _, r := range out.Reservations {
		for i := range r.Instances {
			inst := &r.Instances[i]
			if awssdk.ToString(inst.InstanceId) != id {
				continue
			}
			if instanceState(inst) == types.InstanceStateNameTerminated {
				msg := fmt.Sprintf("EC2 instance %q is terminated", id)
				if inst.StateReason != nil && awssdk.ToString(inst.StateReason.Message) != "" {
					msg += " (" + awssdk.ToString(inst.StateReason.Message) + ")"
				}
				return nil, &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrNotFound, StatusCode: 404, Code: errCodeInstanceNotFound, Message: msg}
			}
			return inst, nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "EC2 instance", id)
}

// findInstances lists every instance matching in, all pages.
func findInstances(ctx context.Context, conn InstancesAPI, in *ec2.DescribeInstancesInput) ([]types.Instance, error) {
	var out []types.Instance
	p := ec2.NewDescribeInstancesPaginator(conn, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapError(err)
		}
		for _, r := range page.Reservations {
			out = append(out, r.Instances...)
		}
	}
	return out, nil
}

// findInstancesByIDs lists the instances among ids EC2 still knows,
// terminated ones included, without failing on ids it does not know.
func findInstancesByIDs(ctx context.Context, conn InstancesAPI, ids []string) ([]types.Instance, error) {
	var out []types.Instance
	const chunk = 200 // EC2's limit of values per filter
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		got, err := findInstances(ctx, conn, &ec2.DescribeInstancesInput{
			Filters: []types.Filter{{Name: awssdk.String(filterInstanceID), Values: ids[:n]}},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		ids = ids[n:]
	}
	return out, nil
}

// findAddressByAllocationID returns the Elastic IP, or a not-found error.
func findAddressByAllocationID(ctx context.Context, conn AddressesAPI, id string) (*types.Address, error) {
	out, err := conn.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{id}})
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.Addresses {
		if awssdk.ToString(out.Addresses[i].AllocationId) == id {
			return &out.Addresses[i], nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "Elastic IP", id)
}

// findImageByID returns the AMI, or a not-found error.
func findImageByID(ctx context.Context, conn CatalogAPI, id string) (*types.Image, error) {
	out, err := conn.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.Images {
		if awssdk.ToString(out.Images[i].ImageId) == id {
			return &out.Images[i], nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "AMI", id)
}

// findImages lists the AMIs matching in, all pages.
func findImages(ctx context.Context, conn CatalogAPI, in *ec2.DescribeImagesInput) ([]types.Image, error) {
	var out []types.Image
	p := ec2.NewDescribeImagesPaginator(conn, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapError(err)
		}
		out = append(out, page.Images...)
	}
	return out, nil
}

// findDefaultVPC returns the region's default VPC, or a not-found error.
func findDefaultVPC(ctx context.Context, conn NetworkAPI) (*types.Vpc, error) {
	out, err := conn.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{
		Filters: []types.Filter{{Name: awssdk.String(filterVPCIsDefault), Values: []string{"true"}}},
	})
	if err != nil {
		return nil, mapError(err)
	}
	if len(out.Vpcs) == 0 {
		return nil, cloud.NotFoundError(cloud.AWS, "default VPC", "")
	}
	return &out.Vpcs[0], nil
}

// findSecurityGroupByName returns the security group of that name in vpcID,
// or a not-found error.
func findSecurityGroupByName(ctx context.Context, conn NetworkAPI, vpcID, name string) (*types.SecurityGroup, error) {
	out, err := conn.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []types.Filter{
			{Name: awssdk.String(filterVPCID), Values: []string{vpcID}},
			{Name: awssdk.String(filterGroupName), Values: []string{name}},
		},
	})
	if err != nil {
		return nil, mapError(err)
	}
	for i := range out.SecurityGroups {
		if awssdk.ToString(out.SecurityGroups[i].GroupName) == name {
			return &out.SecurityGroups[i], nil
		}
	}
	return nil, cloud.NotFoundError(cloud.AWS, "security group", name)
}

func instanceState(inst *types.Instance) types.InstanceStateName {
	if inst.State == nil {
		return ""
	}
	return inst.State.Name
}
