package aws

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fakeEC2 is an EC2API whose operations are the hooks a test sets; an
// operation without a hook fails the test. It records the operations
// called, in order.
type fakeEC2 struct {
	t *testing.T

	mu    sync.Mutex
	calls []string

	runInstances                  func(*ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error)
	describeInstances             func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error)
	terminateInstances            func(*ec2.TerminateInstancesInput) (*ec2.TerminateInstancesOutput, error)
	stopInstances                 func(*ec2.StopInstancesInput) (*ec2.StopInstancesOutput, error)
	startInstances                func(*ec2.StartInstancesInput) (*ec2.StartInstancesOutput, error)
	modifyInstanceAttribute       func(*ec2.ModifyInstanceAttributeInput) (*ec2.ModifyInstanceAttributeOutput, error)
	createTags                    func(*ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error)
	deleteTags                    func(*ec2.DeleteTagsInput) (*ec2.DeleteTagsOutput, error)
	describeVpcs                  func(*ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error)
	describeSecurityGroups        func(*ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error)
	createSecurityGroup           func(*ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error)
	authorizeSecurityGroupIngress func(*ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	revokeSecurityGroupIngress    func(*ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error)
	deleteSecurityGroup           func(*ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error)
	describeInstanceTypes         func(*ec2.DescribeInstanceTypesInput) (*ec2.DescribeInstanceTypesOutput, error)
	describeTypeOfferings         func(*ec2.DescribeInstanceTypeOfferingsInput) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
	describeRegions               func(*ec2.DescribeRegionsInput) (*ec2.DescribeRegionsOutput, error)
	describeImages                func(*ec2.DescribeImagesInput) (*ec2.DescribeImagesOutput, error)
	allocateAddress               func(*ec2.AllocateAddressInput) (*ec2.AllocateAddressOutput, error)
	describeAddresses             func(*ec2.DescribeAddressesInput) (*ec2.DescribeAddressesOutput, error)
	associateAddress              func(*ec2.AssociateAddressInput) (*ec2.AssociateAddressOutput, error)
	disassociateAddress           func(*ec2.DisassociateAddressInput) (*ec2.DisassociateAddressOutput, error)
	releaseAddress                func(*ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error)
}

var (
	_ EC2API      = (*fakeEC2)(nil)
	_ FirewallAPI = (*fakeEC2)(nil)
)

// call records the call and runs its hook; like the SDK, it fails at once
// when ctx has ended.
func call[I, O any](ctx context.Context, f *fakeEC2, name string, hook func(I) (O, error), in I) (O, error) {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		var zero O
		return zero, err
	}
	if hook == nil {
		f.t.Errorf("unexpected EC2 call %s", name)
		var zero O
		return zero, fmt.Errorf("fake: unexpected call %s", name)
	}
	return hook(in)
}

func (f *fakeEC2) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == name {
			n++
		}
	}
	return n
}

func (f *fakeEC2) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	return call(ctx, f, "RunInstances", f.runInstances, in)
}
func (f *fakeEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return call(ctx, f, "DescribeInstances", f.describeInstances, in)
}
func (f *fakeEC2) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return call(ctx, f, "TerminateInstances", f.terminateInstances, in)
}
func (f *fakeEC2) StopInstances(ctx context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	return call(ctx, f, "StopInstances", f.stopInstances, in)
}
func (f *fakeEC2) StartInstances(ctx context.Context, in *ec2.StartInstancesInput, _ ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error) {
	return call(ctx, f, "StartInstances", f.startInstances, in)
}
func (f *fakeEC2) ModifyInstanceAttribute(ctx context.Context, in *ec2.ModifyInstanceAttributeInput, _ ...func(*ec2.Options)) (*ec2.ModifyInstanceAttributeOutput, error) {
	return call(ctx, f, "ModifyInstanceAttribute", f.modifyInstanceAttribute, in)
}
func (f *fakeEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return call(ctx, f, "CreateTags", f.createTags, in)
}
func (f *fakeEC2) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	return call(ctx, f, "DeleteTags", f.deleteTags, in)
}
func (f *fakeEC2) DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	return call(ctx, f, "DescribeVpcs", f.describeVpcs, in)
}
func (f *fakeEC2) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	return call(ctx, f, "DescribeSecurityGroups", f.describeSecurityGroups, in)
}
func (f *fakeEC2) CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error) {
	return call(ctx, f, "CreateSecurityGroup", f.createSecurityGroup, in)
}
func (f *fakeEC2) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return call(ctx, f, "AuthorizeSecurityGroupIngress", f.authorizeSecurityGroupIngress, in)
}
func (f *fakeEC2) RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	return call(ctx, f, "RevokeSecurityGroupIngress", f.revokeSecurityGroupIngress, in)
}
func (f *fakeEC2) DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error) {
	return call(ctx, f, "DeleteSecurityGroup", f.deleteSecurityGroup, in)
}
func (f *fakeEC2) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	return call(ctx, f, "DescribeInstanceTypes", f.describeInstanceTypes, in)
}
func (f *fakeEC2) DescribeInstanceTypeOfferings(ctx context.Context, in *ec2.DescribeInstanceTypeOfferingsInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
	return call(ctx, f, "DescribeInstanceTypeOfferings", f.describeTypeOfferings, in)
}
func (f *fakeEC2) DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error) {
	return call(ctx, f, "DescribeRegions", f.describeRegions, in)
}
func (f *fakeEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return call(ctx, f, "DescribeImages", f.describeImages, in)
}
func (f *fakeEC2) AllocateAddress(ctx context.Context, in *ec2.AllocateAddressInput, _ ...func(*ec2.Options)) (*ec2.AllocateAddressOutput, error) {
	return call(ctx, f, "AllocateAddress", f.allocateAddress, in)
}
func (f *fakeEC2) DescribeAddresses(ctx context.Context, in *ec2.DescribeAddressesInput, _ ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error) {
	return call(ctx, f, "DescribeAddresses", f.describeAddresses, in)
}
func (f *fakeEC2) AssociateAddress(ctx context.Context, in *ec2.AssociateAddressInput, _ ...func(*ec2.Options)) (*ec2.AssociateAddressOutput, error) {
	return call(ctx, f, "AssociateAddress", f.associateAddress, in)
}
func (f *fakeEC2) DisassociateAddress(ctx context.Context, in *ec2.DisassociateAddressInput, _ ...func(*ec2.Options)) (*ec2.DisassociateAddressOutput, error) {
	return call(ctx, f, "DisassociateAddress", f.disassociateAddress, in)
}
func (f *fakeEC2) ReleaseAddress(ctx context.Context, in *ec2.ReleaseAddressInput, _ ...func(*ec2.Options)) (*ec2.ReleaseAddressOutput, error) {
	return call(ctx, f, "ReleaseAddress", f.releaseAddress, in)
}

// apiErr builds the error the SDK returns for an EC2 error response.
func apiErr(code string) error {
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "the AWS message for " + code},
		},
		RequestID: "req-" + code,
	}
}

// newFakeDriver is a driver over f with fast timing.
func newFakeDriver(t *testing.T, f *fakeEC2) *Driver {
	t.Helper()
	f.t = t
	d := NewWithAPI("us-east-1", f, nil)
	d.timing = fastTiming
	return d
}
