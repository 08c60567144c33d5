package aws_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

const region = "us-east-1"

// start serves the EC2 API on its own listener, every exchange checked
// against AWS's model.
func start(t *testing.T, cfg localcloud.Config) (*localcloud.Running, *ec2.Client) {
	t.Helper()
	run, _ := awsmodel.StartLocalcloud(t, cfg)
	return run, client(run.APIURLs[lcaws.Name])
}

func client(endpoint string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region: region, BaseEndpoint: awssdk.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(lcaws.DevAccessKey, lcaws.DevSecretKey, ""),
	})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// must returns v, or panics with err: the call in one expression (a test
// panicking fails, its clean-ups run).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestNetworkAndKeys covers what the driver test does not: zones, subnets,
// key pairs, security group rules revoked and groups deleted, image and
// type pagination, and the API under /aws/ on the main listener.
func TestNetworkAndKeys(t *testing.T) {
	run, c := start(t, localcloud.Config{})
	ctx := t.Context()

	zones := must(c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{}))
	subnets := must(c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: awssdk.String("default-for-az"), Values: []string{"true"}}}}))
	if len(zones.AvailabilityZones) != 6 || len(subnets.Subnets) != 6 {
		t.Errorf("%d zones, %d default subnets; want 6 each", len(zones.AvailabilityZones), len(subnets.Subnets))
	}
	vpcs := must(c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))
	if len(vpcs.Vpcs) != 1 || awssdk.ToString(vpcs.Vpcs[0].VpcId) != awssdk.ToString(subnets.Subnets[0].VpcId) {
		t.Errorf("VPCs %+v", vpcs.Vpcs)
	}

	// Pagination: images and types page with NextToken.
	var names []string
	p := ec2.NewDescribeImagesPaginator(c, &ec2.DescribeImagesInput{MaxResults: awssdk.Int32(6)})
	for p.HasMorePages() {
		for _, im := range must(p.NextPage(ctx)).Images {
			names = append(names, awssdk.ToString(im.Name))
		}
	}
	if len(names) != len(lcaws.Images) {
		t.Errorf("paged %d images, want %d", len(names), len(lcaws.Images))
	}
	n := 0
	tp := ec2.NewDescribeInstanceTypesPaginator(c, &ec2.DescribeInstanceTypesInput{MaxResults: awssdk.Int32(5)})
	for tp.HasMorePages() {
		n += len(must(tp.NextPage(ctx)).InstanceTypes)
	}
	if n != len(lcaws.InstanceTypes) {
		t.Errorf("paged %d instance types, want %d", n, len(lcaws.InstanceTypes))
	}

	// Key pairs.
	const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGgRx8VkXlq4nYQqYd1VbHsS8bJm0m0uQm7Xr1y5k0Zb k@h"
	kp := must(c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: awssdk.String("k"), PublicKeyMaterial: []byte(pub)}))
	if _, err := c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: awssdk.String("k"), PublicKeyMaterial: []byte(pub)}); code(err) != "InvalidKeyPair.Duplicate" {
		t.Errorf("importing twice: %v", err)
	}
	keys := must(c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"k"}, IncludePublicKey: awssdk.Bool(true)}))
	if len(keys.KeyPairs) != 1 || awssdk.ToString(keys.KeyPairs[0].KeyPairId) != awssdk.ToString(kp.KeyPairId) || awssdk.ToString(keys.KeyPairs[0].PublicKey) == "" {
		t.Errorf("DescribeKeyPairs = %+v", keys.KeyPairs)
	}
	must(c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: awssdk.String("k")}))
	if _, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"k"}}); code(err) != "InvalidKeyPair.NotFound" {
		t.Errorf("after delete: %v", err)
	}

	// Security groups: rules added, refused twice, revoked; a group in use
	// cannot go.
	sg := must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("web"), Description: awssdk.String("web"), VpcId: vpcs.Vpcs[0].VpcId}))
	perm := []types.IpPermission{{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(80), ToPort: awssdk.Int32(80), IpRanges: []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: perm}))
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: perm}); code(err) != "InvalidPermission.Duplicate" {
		t.Errorf("authorizing twice: %v", err)
	}
	got := must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{awssdk.ToString(sg.GroupId)}}))
	if len(got.SecurityGroups) != 1 || len(got.SecurityGroups[0].IpPermissions) != 1 || awssdk.ToInt32(got.SecurityGroups[0].IpPermissions[0].FromPort) != 80 {
		t.Errorf("DescribeSecurityGroups = %+v", got.SecurityGroups)
	}
	must(c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: perm}))
	if _, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: perm}); code(err) != "InvalidPermission.NotFound" {
		t.Errorf("revoking twice: %v", err)
	}
	img := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{lcaws.DebianOwner}, Filters: []types.Filter{{Name: awssdk.String("name"), Values: []string{"debian-12-amd64-*"}}}}))
	ri := must(c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img.Images[0].ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: awssdk.Int32(2), MaxCount: awssdk.Int32(2), SecurityGroupIds: []string{awssdk.ToString(sg.GroupId)}}))
	if len(ri.Instances) != 2 {
		t.Fatalf("RunInstances launched %d", len(ri.Instances))
	}
	if _, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); code(err) != "DependencyViolation" {
		t.Errorf("deleting a group in use: %v", err)
	}
	ids := []string{awssdk.ToString(ri.Instances[0].InstanceId), awssdk.ToString(ri.Instances[1].InstanceId)}
	stop := must(c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: ids[:1], Force: awssdk.Bool(true)}))
	if stop.StoppingInstances[0].CurrentState.Name != types.InstanceStateNameStopping {
		t.Errorf("StopInstances: %+v", stop.StoppingInstances[0].CurrentState)
	}
	must(c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}))
	must(c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}))

	// The same API under /aws/ on localcloud's main listener.
	regions := must(client(run.URL+"/aws/").DescribeRegions(ctx, &ec2.DescribeRegionsInput{}))
	if len(regions.Regions) != len(lcaws.Regions) {
		t.Errorf("DescribeRegions under /aws/: %d regions", len(regions.Regions))
	}
	if got := run.Server.Requests().Requests["ec2:DescribeRegions"]; got != 1 {
		t.Errorf("ec2:DescribeRegions counted %d times", got)
	}
}

// TestFaults checks injected faults answer in EC2's error shape, and the
// SDK retries them.
func TestFaults(t *testing.T) {
	run, c := start(t, localcloud.Config{})
	if err := run.Server.InjectFault(localcloud.Fault{PathPrefix: "/aws/", Status: http.StatusTooManyRequests, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{})
	if code(err) != "RequestLimitExceeded" {
		t.Fatalf("with a 429 fault: %v, want RequestLimitExceeded", err)
	}
	if _, err := c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{}); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
}

// TestPersistence restarts localcloud on its state directory: instances,
// tags, groups and Elastic IPs come back.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	run, c := start(t, localcloud.Config{StateDir: dir})
	img := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{{Name: awssdk.String("name"), Values: []string{"debian-12-amd64-20250610-2140"}}}}))
	ri := must(c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img.Images[0].ImageId, InstanceType: types.InstanceTypeT3Small, MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String("p")}}}}}))
	id := ri.Instances[0].InstanceId
	eip := must(c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc}))
	must(c.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: eip.AllocationId, InstanceId: id}))
	_ = run.Close()

	run2, c2 := start(t, localcloud.Config{StateDir: dir})
	_ = run2
	out := must(c2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{awssdk.ToString(id)}}))
	inst := out.Reservations[0].Instances[0]
	if inst.State.Name != types.InstanceStateNameRunning || awssdk.ToString(inst.PublicIpAddress) != awssdk.ToString(eip.PublicIp) || awssdk.ToString(inst.Tags[0].Value) != "p" {
		t.Errorf("after a restart: %s, public %s (want %s), tags %+v", inst.State.Name, awssdk.ToString(inst.PublicIpAddress), awssdk.ToString(eip.PublicIp), inst.Tags)
	}
	addrs := must(c2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{}))
	if len(addrs.Addresses) != 1 || awssdk.ToString(addrs.Addresses[0].InstanceId) != awssdk.ToString(id) {
		t.Errorf("addresses after a restart: %+v", addrs.Addresses)
	}
}

// TestLaunchLifecycle: a launch retried with its ClientToken launches
// nothing more; a terminated instance is listed for an hour, then gone.
func TestLaunchLifecycle(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, c := start(t, localcloud.Config{Now: clock})
	ctx := t.Context()
	img := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []types.Filter{{Name: awssdk.String("name"), Values: []string{"debian-12-amd64-20250610-2140"}}}}))
	in := &ec2.RunInstancesInput{ImageId: img.Images[0].ImageId, InstanceType: types.InstanceTypeT3Small, MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), ClientToken: awssdk.String("launch-1")}
	first := must(c.RunInstances(ctx, in))
	again := must(c.RunInstances(ctx, in))
	if awssdk.ToString(again.ReservationId) != awssdk.ToString(first.ReservationId) || awssdk.ToString(again.Instances[0].InstanceId) != awssdk.ToString(first.Instances[0].InstanceId) {
		t.Errorf("a retried launch: %s, want %s", awssdk.ToString(again.ReservationId), awssdk.ToString(first.ReservationId))
	}
	id := awssdk.ToString(first.Instances[0].InstanceId)
	if n := len(must(c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})).Reservations); n != 1 {
		t.Errorf("%d reservations, want 1", n)
	}
	ch := must(c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}))
	if ch.TerminatingInstances[0].PreviousState.Name != types.InstanceStateNameRunning {
		t.Errorf("terminating: %+v", ch.TerminatingInstances[0].PreviousState)
	}
	out := must(c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}))
	if st := out.Reservations[0].Instances[0]; st.State.Name != types.InstanceStateNameTerminated || awssdk.ToString(st.StateReason.Code) != "Client.UserInitiatedShutdown" {
		t.Errorf("after TerminateInstances: %s %+v", st.State.Name, st.StateReason)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Minute)
	mu.Unlock()
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}); code(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("an hour after termination: %v, want InvalidInstanceID.NotFound", err)
	}
}
