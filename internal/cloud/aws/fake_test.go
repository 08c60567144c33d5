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
	createTags                    func(*ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error)
	deleteTags                    func(*ec2.DeleteTagsInput) (*ec2.DeleteTagsOutput, error)
	describeVpcs                  func(*ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error)
	describeSecurityGroups        func(*ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error)
	createSecurityGroup           func(*ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error)
	authorizeSecurityGroupIngress func(*ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
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

var _ EC2API = (*fakeEC2)(nil)

func call[I, O any](f *fakeEC2, name string, hook func(I) (O, error), in I) (O, error) {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
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

func (f *fakeEC2) RunInstances(_ context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	return call(f, "RunInstances", f.runInstances, in)
}
func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return call(f, "DescribeInstances", f.describeInstances, in)
}
func (f *fakeEC2) TerminateInstances(_ context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return call(f, "TerminateInstances", f.terminateInstances, in)
}
func (f *fakeEC2) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return call(f, "CreateTags", f.createTags, in)
}
func (f *fakeEC2) DeleteTags(_ context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	return call(f, "DeleteTags", f.deleteTags, in)
}
func (f *fakeEC2) DescribeVpcs(_ context.Context, in *ec2.DescribeVpcsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error) {
	return call(f, "DescribeVpcs", f.describeVpcs, in)
}
func (f *fakeEC2) DescribeSecurityGroups(_ context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	return call(f, "DescribeSecurityGroups", f.describeSecurityGroups, in)
}
func (f *fakeEC2) CreateSecurityGroup(_ context.Context, in *ec2.CreateSecurityGroupInput, _ ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error) {
	return call(f, "CreateSecurityGroup", f.createSecurityGroup, in)
}
func (f *fakeEC2) AuthorizeSecurityGroupIngress(_ context.Context, in *ec2.AuthorizeSecurityGroupIngressInput, _ ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return call(f, "AuthorizeSecurityGroupIngress", f.authorizeSecurityGroupIngress, in)
}
func (f *fakeEC2) DescribeInstanceTypes(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	return call(f, "DescribeInstanceTypes", f.describeInstanceTypes, in)
}
func (f *fakeEC2) DescribeInstanceTypeOfferings(_ context.Context, in *ec2.DescribeInstanceTypeOfferingsInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
	return call(f, "DescribeInstanceTypeOfferings", f.describeTypeOfferings, in)
}
func (f *fakeEC2) DescribeRegions(_ context.Context, in *ec2.DescribeRegionsInput, _ ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error) {
	return call(f, "DescribeRegions", f.describeRegions, in)
}
func (f *fakeEC2) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return call(f, "DescribeImages", f.describeImages, in)
}
func (f *fakeEC2) AllocateAddress(_ context.Context, in *ec2.AllocateAddressInput, _ ...func(*ec2.Options)) (*ec2.AllocateAddressOutput, error) {
	return call(f, "AllocateAddress", f.allocateAddress, in)
}
func (f *fakeEC2) DescribeAddresses(_ context.Context, in *ec2.DescribeAddressesInput, _ ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error) {
	return call(f, "DescribeAddresses", f.describeAddresses, in)
}
func (f *fakeEC2) AssociateAddress(_ context.Context, in *ec2.AssociateAddressInput, _ ...func(*ec2.Options)) (*ec2.AssociateAddressOutput, error) {
	return call(f, "AssociateAddress", f.associateAddress, in)
}
func (f *fakeEC2) DisassociateAddress(_ context.Context, in *ec2.DisassociateAddressInput, _ ...func(*ec2.Options)) (*ec2.DisassociateAddressOutput, error) {
	return call(f, "DisassociateAddress", f.disassociateAddress, in)
}
func (f *fakeEC2) ReleaseAddress(_ context.Context, in *ec2.ReleaseAddressInput, _ ...func(*ec2.Options)) (*ec2.ReleaseAddressOutput, error) {
	return call(f, "ReleaseAddress", f.releaseAddress, in)
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
