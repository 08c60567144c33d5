package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

func TestMapError(t *testing.T) {
	cases := []struct {
		code string
		kind error
	}{
		{"InvalidInstanceID.NotFound", cloud.ErrNotFound},
		{"InvalidAllocationID.NotFound", cloud.ErrNotFound},
		{"InvalidAMIID.NotFound", cloud.ErrNotFound},
		{"UnauthorizedOperation", cloud.ErrUnauthorized},
		{"AuthFailure", cloud.ErrUnauthorized},
		{"InsufficientInstanceCapacity", cloud.ErrQuota},
		{"InstanceLimitExceeded", cloud.ErrQuota},
		{"AddressLimitExceeded", cloud.ErrQuota},
		{"RequestLimitExceeded", cloud.ErrThrottled},
		{"Throttling", cloud.ErrThrottled},
		{"InvalidParameterValue", cloud.ErrInvalid},
		{"IncorrectInstanceState", cloud.ErrConflict},
		{"SomethingNew", nil},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			// As the SDK returns it once its retries are spent.
			err := mapError(&retry.MaxAttemptsError{Attempt: 3, Err: apiErr(c.code)})
			var ae *cloud.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("mapError = %T %v, want *cloud.APIError", err, err)
			}
			if ae.Kind != c.kind || ae.Cloud != cloud.AWS || ae.Code != c.code || ae.StatusCode != 400 ||
				ae.Message != "the AWS message for "+c.code || ae.RequestID != "req-"+c.code {
				t.Errorf("mapError = %+v", ae)
			}
			if c.kind != nil && !errors.Is(fmt.Errorf("wrapped: %w", err), c.kind) {
				t.Errorf("errors.Is(%v, %v) = false", err, c.kind)
			}
		})
	}
	for _, err := range []error{context.Canceled, errors.New("dial tcp: connection refused")} {
		if got := mapError(err); got != err {
			t.Errorf("mapError(%v) = %v, want it unchanged", err, got)
		}
	}
	if mapError(nil) != nil {
		t.Error("mapError(nil) != nil")
	}
}

func TestThrottlingIsRetriedBySDK(t *testing.T) {
	r := retry.NewStandard()
	for _, code := range []string{"RequestLimitExceeded", "Throttling"} {
		if !r.IsErrorRetryable(apiErr(code)) {
			t.Errorf("the SDK retryer does not retry %s", code)
		}
	}
}

func TestHostStatus(t *testing.T) {
	cases := map[types.InstanceStateName]cloud.HostStatus{
		types.InstanceStateNamePending:      cloud.HostPending,
		types.InstanceStateNameRunning:      cloud.HostActive,
		types.InstanceStateNameStopping:     cloud.HostOff,
		types.InstanceStateNameStopped:      cloud.HostOff,
		types.InstanceStateNameShuttingDown: cloud.HostDeleting,
		types.InstanceStateNameTerminated:   cloud.HostDeleting,
	}
	for state, want := range cases {
		if got := hostStatus(state); got != want {
			t.Errorf("hostStatus(%s) = %s, want %s", state, got, want)
		}
	}
}

func TestTagsRoundTrip(t *testing.T) {
	neutral := []string{"role:manager", "cluster-abc", cloud.ManagedTag, "role:manager", ""}
	tags := ec2Tags(neutral)
	got := map[string]string{}
	for _, tg := range tags {
		got[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
	}
	want := map[string]string{"haddock": "true", "haddock:tag:role:manager": "", "haddock:tag:cluster-abc": ""}
	if len(got) != len(want) || len(tags) != len(want) {
		t.Fatalf("ec2Tags = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ec2Tags[%s] = %q, want %q", k, got[k], v)
		}
	}
	withOthers := append(slices.Clone(tags),
		types.Tag{Key: awssdk.String("Name"), Value: awssdk.String("web-1")},
		types.Tag{Key: awssdk.String("CostCenter"), Value: awssdk.String("42")},
		types.Tag{Key: awssdk.String("haddock:tag:"), Value: awssdk.String("")},
	)
	name, back := neutralTags(withOthers)
	if name != "web-1" || !slices.Equal(back, []string{"cluster-abc", cloud.ManagedTag, "role:manager"}) {
		t.Errorf("neutralTags = %q %v", name, back)
	}
	if f := tagFilters("role:manager"); len(f) != 1 || awssdk.ToString(f[0].Name) != "tag-key" || f[0].Values[0] != "haddock:tag:role:manager" {
		t.Errorf("tagFilters = %+v", f)
	}
	if f := tagFilters(cloud.ManagedTag); f[0].Values[0] != "haddock" {
		t.Errorf("tagFilters(managed) = %+v", f)
	}
	if tagFilters("") != nil {
		t.Error("tagFilters(\"\") should not filter")
	}
}

func TestGroupSpecs(t *testing.T) {
	base := cloud.HostSpec{Size: "t3.small", Image: "debian-12-amd64-*", SSHKeys: []string{"k"}, Tags: []string{"a", "b"}, UserData: "x"}
	spec := func(name string, mod func(*cloud.HostSpec)) cloud.HostSpec {
		s := base
		s.Name = name
		s.Tags = slices.Clone(base.Tags)
		if mod != nil {
			mod(&s)
		}
		return s
	}
	specs := []cloud.HostSpec{
		spec("m1", nil),
		spec("w1", func(s *cloud.HostSpec) { s.Size = "t3.medium" }),
		spec("m2", func(s *cloud.HostSpec) { s.Tags = []string{"b", "a", "a"} }), // same tag set
		spec("u1", func(s *cloud.HostSpec) { s.UserData = "y" }),
		spec("w2", func(s *cloud.HostSpec) { s.Size = "t3.medium" }),
		spec("m3", nil),
	}
	groups := groupSpecs(specs)
	var got []string
	for _, g := range groups {
		got = append(got, fmt.Sprint(g.indexes, g.names))
	}
	want := []string{"[0 2 5] [m1 m2 m3]", "[1 4] [w1 w2]", "[3] [u1]"}
	if !slices.Equal(got, want) {
		t.Errorf("groups = %v, want %v", got, want)
	}
}

// hostFake serves CreateHosts: a default VPC, no security group yet, the
// newest of two AMIs, and RunInstances returning instances out of launch
// order.
func hostFake() (*fakeEC2, *[]*ec2.RunInstancesInput, *[]*ec2.CreateTagsInput) {
	var mu sync.Mutex
	var runs []*ec2.RunInstancesInput
	var tags []*ec2.CreateTagsInput
	next := 0
	f := &fakeEC2{
		describeVpcs: func(*ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) {
			return &ec2.DescribeVpcsOutput{Vpcs: []types.Vpc{{VpcId: awssdk.String("vpc-1")}}}, nil
		},
		describeSecurityGroups: func(*ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
			return &ec2.DescribeSecurityGroupsOutput{}, nil
		},
		createSecurityGroup: func(*ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error) {
			return &ec2.CreateSecurityGroupOutput{GroupId: awssdk.String("sg-1")}, nil
		},
		authorizeSecurityGroupIngress: func(*ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
			return &ec2.AuthorizeSecurityGroupIngressOutput{}, nil
		},
		describeImages: func(in *ec2.DescribeImagesInput) (*ec2.DescribeImagesOutput, error) {
			if len(in.ImageIds) > 0 {
				return &ec2.DescribeImagesOutput{Images: []types.Image{{ImageId: awssdk.String(in.ImageIds[0]), State: types.ImageStateAvailable}}}, nil
			}
			return &ec2.DescribeImagesOutput{Images: []types.Image{
				{ImageId: awssdk.String("ami-old"), Name: awssdk.String("debian-12-amd64-20240101-1"), CreationDate: awssdk.String("2024-01-01T00:00:00.000Z")},
				{ImageId: awssdk.String("ami-new"), Name: awssdk.String("debian-12-amd64-20250101-1"), CreationDate: awssdk.String("2025-01-01T00:00:00.000Z")},
			}}, nil
		},
		runInstances: func(in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, in)
			var insts []types.Instance
			for i := int32(0); i < *in.MaxCount; i++ {
				next++
				insts = append(insts, types.Instance{
					InstanceId:     awssdk.String(fmt.Sprintf("i-%d", next)),
					AmiLaunchIndex: awssdk.Int32(i),
					InstanceType:   in.InstanceType,
					ImageId:        in.ImageId,
					State:          &types.InstanceState{Name: types.InstanceStateNamePending},
				})
			}
			slices.Reverse(insts) // EC2 does not promise launch order
			return &ec2.RunInstancesOutput{Instances: insts}, nil
		},
		createTags: func(in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			tags = append(tags, in)
			return &ec2.CreateTagsOutput{}, nil
		},
	}
	return f, &runs, &tags
}

func TestCreateHostsGroupsIntoRunInstances(t *testing.T) {
	f, runs, tagCalls := hostFake()
	d := newFakeDriver(t, f)
	mk := func(name, size string) cloud.HostSpec {
		return cloud.HostSpec{Name: name, Region: "us-east-1", Size: size, Image: "debian-12-amd64-*", SSHKeys: []string{"key"}, Tags: []string{"swarm"}, UserData: "#!/bin/sh\n"}
	}
	specs := []cloud.HostSpec{mk("m1", "t3.small"), mk("w1", "t3.medium"), mk("m2", "t3.small"), mk("m3", "t3.small")}
	hosts, err := d.CreateHosts(context.Background(), specs)
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	if len(*runs) != 2 {
		t.Fatalf("RunInstances called %d times, want 2", len(*runs))
	}
	r := (*runs)[0]
	if *r.MinCount != 3 || *r.MaxCount != 3 || r.InstanceType != "t3.small" || awssdk.ToString(r.ImageId) != "ami-new" ||
		awssdk.ToString(r.KeyName) != "key" || !slices.Equal(r.SecurityGroupIds, []string{"sg-1"}) ||
		r.MetadataOptions.HttpTokens != types.HttpTokensStateRequired {
		t.Errorf("first RunInstances = %+v", r)
	}
	if mo := r.MetadataOptions; awssdk.ToInt32(mo.HttpPutResponseHopLimit) != 1 || mo.HttpEndpoint != types.InstanceMetadataEndpointStateEnabled {
		t.Errorf("metadata options = %+v, want IMDSv2 with hop limit 1: the user data holds the host's TLS key", mo)
	}
	if ud, _ := base64.StdEncoding.DecodeString(awssdk.ToString(r.UserData)); string(ud) != "#!/bin/sh\n" {
		t.Errorf("user data = %q", ud)
	}
	if *(*runs)[1].MinCount != 1 || (*runs)[1].InstanceType != "t3.medium" {
		t.Errorf("second RunInstances = %+v", (*runs)[1])
	}
	// The group of one is named at launch; the group of three by CreateTags.
	if !hasTag((*runs)[1].TagSpecifications[0].Tags, "Name", "w1") || hasTag(r.TagSpecifications[0].Tags, "Name", "m1") {
		t.Errorf("launch tags: %+v / %+v", (*runs)[1].TagSpecifications, r.TagSpecifications)
	}
	for _, ts := range r.TagSpecifications {
		if !hasTag(ts.Tags, "haddock", "true") || !hasTag(ts.Tags, "haddock:tag:swarm", "") {
			t.Errorf("%s tags = %+v", ts.ResourceType, ts.Tags)
		}
	}
	named := map[string]string{}
	for _, c := range *tagCalls {
		named[c.Resources[0]] = awssdk.ToString(c.Tags[0].Value)
	}
	// Hosts come back in spec order, named by launch index.
	wantNames := []string{"m1", "w1", "m2", "m3"}
	for i, h := range hosts {
		if h.Name != wantNames[i] || h.Size != specs[i].Size || h.Status != cloud.HostPending || h.Image != "ami-new" {
			t.Errorf("host %d = %+v, want %s", i, h, wantNames[i])
		}
		if !slices.Equal(h.Tags, []string{cloud.ManagedTag, "swarm"}) {
			t.Errorf("host %d tags = %v", i, h.Tags)
		}
		if specs[i].Size == "t3.small" && named[h.ID] != h.Name {
			t.Errorf("CreateTags named %s %q, want %q", h.ID, named[h.ID], h.Name)
		}
	}
	if hosts[0].ID != "i-1" || hosts[2].ID != "i-2" || hosts[3].ID != "i-3" {
		t.Errorf("ids = %s %s %s, want launch order i-1 i-2 i-3", hosts[0].ID, hosts[2].ID, hosts[3].ID)
	}
	if f.count("DescribeImages") != 1 || f.count("CreateSecurityGroup") != 1 {
		t.Errorf("DescribeImages %d, CreateSecurityGroup %d calls; want 1 each (cached within the call and driver)", f.count("DescribeImages"), f.count("CreateSecurityGroup"))
	}
	// The security group is cached on the driver.
	if _, err := d.CreateHosts(context.Background(), specs[:1]); err != nil || f.count("DescribeVpcs") != 1 {
		t.Errorf("second CreateHosts: %v, DescribeVpcs calls %d; want 1", err, f.count("DescribeVpcs"))
	}
}

func TestCreateHostsRetriesNameOnEventualConsistency(t *testing.T) {
	f, _, _ := hostFake()
	var fails atomic.Int32
	f.createTags = func(*ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
		if fails.Add(1) <= 2 {
			return nil, apiErr("InvalidInstanceID.NotFound")
		}
		return &ec2.CreateTagsOutput{}, nil
	}
	d := newFakeDriver(t, f)
	spec := cloud.HostSpec{Size: "t3.small", Image: "ami-given"}
	a, b := spec, spec
	a.Name, b.Name = "a", "b"
	hosts, err := d.CreateHosts(context.Background(), []cloud.HostSpec{a, b})
	if err != nil || len(hosts) != 2 || hosts[1].Name != "b" || hosts[0].Image != "ami-given" {
		t.Fatalf("CreateHosts = %+v, %v", hosts, err)
	}
	if f.count("CreateTags") != 4 {
		t.Errorf("CreateTags calls = %d, want 4 (2 retries)", f.count("CreateTags"))
	}
}

func TestCreateHostsPartialFailure(t *testing.T) {
	f, _, _ := hostFake()
	run := f.runInstances
	f.runInstances = func(in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
		if in.InstanceType == "c5.xlarge" {
			return nil, apiErr("InsufficientInstanceCapacity")
		}
		return run(in)
	}
	d := newFakeDriver(t, f)
	specs := []cloud.HostSpec{
		{Name: "a", Size: "t3.small", Image: "ami-1"},
		{Name: "b", Size: "c5.xlarge", Image: "ami-1"},
	}
	hosts, err := d.CreateHosts(context.Background(), specs)
	if !errors.Is(err, cloud.ErrQuota) || !strings.Contains(err.Error(), "InsufficientInstanceCapacity") {
		t.Errorf("error = %v, want ErrQuota", err)
	}
	if len(hosts) != 1 || hosts[0].Name != "a" {
		t.Errorf("hosts = %+v, want the one launched before the failure", hosts)
	}
}

func TestCreateHostsInvalid(t *testing.T) {
	f, _, _ := hostFake()
	f.describeImages = func(*ec2.DescribeImagesInput) (*ec2.DescribeImagesOutput, error) {
		return nil, apiErr("InvalidAMIID.NotFound")
	}
	d := newFakeDriver(t, f)
	ctx := context.Background()
	_, err := d.CreateHosts(ctx, []cloud.HostSpec{{Name: "a", Size: "t3.small", Image: "ami-gone"}})
	if !errors.Is(err, cloud.ErrInvalid) || cloud.IsNotFound(err) || !strings.Contains(err.Error(), `"ami-gone"`) {
		t.Errorf("unknown AMI: %v, want ErrInvalid naming the image", err)
	}
	bad := []cloud.HostSpec{
		{Name: "a", Size: "t3.small", Image: "ami-1", Region: "eu-west-2"},
		{Name: "a", Image: "ami-1"},
		{Name: "a", Size: "t3.small"},
		{Name: "a", Size: "t3.small", Image: "ami-1", SSHKeys: []string{"k1", "k2"}},
		{Name: "a", Size: "t3.small", Image: "ami-1", UserData: strings.Repeat("x", 16*1024+1)},
	}
	for _, s := range bad {
		if _, err := d.CreateHosts(ctx, []cloud.HostSpec{s}); !errors.Is(err, cloud.ErrInvalid) {
			t.Errorf("CreateHosts(%+v) = %v, want ErrInvalid", s.Region+s.Size+s.Image, err)
		}
	}
	if f.count("RunInstances") != 0 {
		t.Error("RunInstances called for invalid specs")
	}
}

func TestCreateHostsRecreatesDeletedSecurityGroup(t *testing.T) {
	f, _, _ := hostFake()
	run := f.runInstances
	f.runInstances = func(in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
		if in.SecurityGroupIds[0] == "sg-stale" {
			return nil, apiErr("InvalidGroup.NotFound")
		}
		return run(in)
	}
	d := newFakeDriver(t, f)
	d.sg.id = "sg-stale"
	if _, err := d.CreateHosts(context.Background(), []cloud.HostSpec{{Name: "a", Size: "t3.small", Image: "ami-1"}}); err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	if d.sg.id != "sg-1" || f.count("RunInstances") != 2 {
		t.Errorf("security group %s after %d RunInstances, want sg-1 after 2", d.sg.id, f.count("RunInstances"))
	}
}

func TestSecurityGroupAddsOnlyMissingRules(t *testing.T) {
	f, _, _ := hostFake()
	existing := securityGroupRules[0].permission("sg-9")
	f.describeSecurityGroups = func(*ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
		return &ec2.DescribeSecurityGroupsOutput{SecurityGroups: []types.SecurityGroup{{
			GroupId: awssdk.String("sg-9"), GroupName: awssdk.String(SecurityGroupName), IpPermissions: []types.IpPermission{existing},
		}}}, nil
	}
	var got []types.IpPermission
	f.authorizeSecurityGroupIngress = func(in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
		got = in.IpPermissions
		return &ec2.AuthorizeSecurityGroupIngressOutput{}, nil
	}
	id, err := ensureSecurityGroup(context.Background(), f, "us-east-1")
	if err != nil || id != "sg-9" {
		t.Fatalf("ensureSecurityGroup = %s, %v", id, err)
	}
	if len(got) != len(securityGroupRules)-1 || f.count("CreateSecurityGroup") != 0 {
		t.Errorf("authorized %d rules, want %d", len(got), len(securityGroupRules)-1)
	}
	for _, p := range got {
		if len(p.UserIdGroupPairs) > 0 && awssdk.ToString(p.UserIdGroupPairs[0].GroupId) != "sg-9" {
			t.Errorf("member rule %+v does not reference the group itself", p)
		}
	}

	f.describeVpcs = func(*ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) { return &ec2.DescribeVpcsOutput{}, nil }
	if _, err := ensureSecurityGroup(context.Background(), f, "us-east-1"); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "default VPC") {
		t.Errorf("no default VPC: %v, want ErrInvalid", err)
	}
}

func TestGetHostNotFound(t *testing.T) {
	f := &fakeEC2{describeInstances: func(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		switch in.InstanceIds[0] {
		case "i-gone":
			return nil, apiErr("InvalidInstanceID.NotFound")
		case "i-dead":
			return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{{
				InstanceId:  awssdk.String("i-dead"),
				State:       &types.InstanceState{Name: types.InstanceStateNameTerminated},
				StateReason: &types.StateReason{Code: awssdk.String("Server.InsufficientInstanceCapacity"), Message: awssdk.String("Server.InsufficientInstanceCapacity: Insufficient capacity.")},
			}}}}}, nil
		case "i-live":
			return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{{
				InstanceId: awssdk.String("i-live"), State: &types.InstanceState{Name: types.InstanceStateNameStopped},
				Tags: []types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String("web")}},
			}}}}}, nil
		}
		return nil, apiErr("AuthFailure")
	}}
	d := newFakeDriver(t, f)
	ctx := context.Background()
	if _, err := d.GetHost(ctx, "i-gone"); !cloud.IsNotFound(err) {
		t.Errorf("GetHost(unknown) = %v, want not found", err)
	}
	if _, err := d.GetHost(ctx, "i-dead"); !cloud.IsNotFound(err) || !strings.Contains(err.Error(), "Insufficient capacity") {
		t.Errorf("GetHost(terminated) = %v, want not found with the reason", err)
	}
	if h, err := d.GetHost(ctx, "i-live"); err != nil || h.Status != cloud.HostOff || h.Name != "web" || h.Region != "us-east-1" {
		t.Errorf("GetHost(stopped) = %+v, %v", h, err)
	}
	if _, err := d.GetHost(ctx, "i-other"); !errors.Is(err, cloud.ErrUnauthorized) {
		t.Errorf("GetHost(auth failure) = %v, want ErrUnauthorized", err)
	}
}

func TestListHostsFilters(t *testing.T) {
	var seen []*ec2.DescribeInstancesInput
	f := &fakeEC2{describeInstances: func(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		seen = append(seen, in)
		if in.NextToken == nil {
			return &ec2.DescribeInstancesOutput{NextToken: awssdk.String("p2"), Reservations: []types.Reservation{{Instances: []types.Instance{
				{InstanceId: awssdk.String("i-1"), State: &types.InstanceState{Name: types.InstanceStateNameRunning}},
			}}}}, nil
		}
		return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{
			{InstanceId: awssdk.String("i-2"), State: &types.InstanceState{Name: types.InstanceStateNameShuttingDown}},
			{InstanceId: awssdk.String("i-3"), State: &types.InstanceState{Name: types.InstanceStateNameTerminated}}, // defensive
		}}}}, nil
	}}
	d := newFakeDriver(t, f)
	hosts, err := d.ListHosts(context.Background(), "role:worker")
	if err != nil || len(hosts) != 2 || hosts[1].Status != cloud.HostDeleting {
		t.Fatalf("ListHosts = %+v, %v", hosts, err)
	}
	if len(seen) != 2 {
		t.Fatalf("DescribeInstances calls = %d, want 2 pages", len(seen))
	}
	filters := map[string][]string{}
	for _, fl := range seen[0].Filters {
		filters[awssdk.ToString(fl.Name)] = fl.Values
	}
	if !slices.Equal(filters["tag-key"], []string{"haddock:tag:role:worker"}) || slices.Contains(filters["instance-state-name"], "terminated") || len(filters["instance-state-name"]) != 5 {
		t.Errorf("filters = %v", filters)
	}
}

func TestDeleteHost(t *testing.T) {
	f := &fakeEC2{terminateInstances: func(in *ec2.TerminateInstancesInput) (*ec2.TerminateInstancesOutput, error) {
		if in.InstanceIds[0] == "i-gone" {
			return nil, apiErr("InvalidInstanceID.NotFound")
		}
		return nil, apiErr("UnauthorizedOperation")
	}}
	d := newFakeDriver(t, f)
	if err := d.DeleteHost(context.Background(), "i-gone"); err != nil {
		t.Errorf("DeleteHost(unknown) = %v, want nil", err)
	}
	if err := d.DeleteHost(context.Background(), "i-1"); !errors.Is(err, cloud.ErrUnauthorized) {
		t.Errorf("DeleteHost(denied) = %v, want ErrUnauthorized", err)
	}
}

func TestTagHost(t *testing.T) {
	var order []string
	f := &fakeEC2{
		deleteTags: func(in *ec2.DeleteTagsInput) (*ec2.DeleteTagsOutput, error) {
			order = append(order, "delete:"+awssdk.ToString(in.Tags[0].Key))
			return &ec2.DeleteTagsOutput{}, nil
		},
		createTags: func(in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
			order = append(order, "create:"+awssdk.ToString(in.Tags[0].Key)+"="+awssdk.ToString(in.Tags[0].Value))
			return &ec2.CreateTagsOutput{}, nil
		},
	}
	d := newFakeDriver(t, f)
	if err := d.TagHost(context.Background(), "i-1", []string{"new"}, []string{"old"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"delete:haddock:tag:old", "create:haddock:tag:new="}; !slices.Equal(order, want) {
		t.Errorf("calls = %v, want %v", order, want)
	}
}

func TestWaitHostsDeleted(t *testing.T) {
	var polls atomic.Int32
	f := &fakeEC2{describeInstances: func(in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		state := types.InstanceStateNameShuttingDown
		if polls.Add(1) >= 3 {
			state = types.InstanceStateNameTerminated
		}
		// i-2 is no longer listed at all: it counts as terminated.
		return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{
			{InstanceId: awssdk.String("i-1"), State: &types.InstanceState{Name: state}},
		}}}}, nil
	}}
	d := newFakeDriver(t, f)
	if err := d.WaitHostsDeleted(context.Background(), []string{"i-1", "i-2"}, 5*time.Second); err != nil {
		t.Fatalf("WaitHostsDeleted: %v", err)
	}
	if polls.Load() != 3 {
		t.Errorf("polls = %d, want 3 (one call per poll for both hosts)", polls.Load())
	}

	f.describeInstances = func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{
			{InstanceId: awssdk.String("i-1"), State: &types.InstanceState{Name: types.InstanceStateNameStopped}},
		}}}}, nil
	}
	if err := d.WaitHostsActive(context.Background(), []string{"i-1"}, time.Second); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("WaitHostsActive(stopped) = %v, want an unexpected-state error", err)
	}
	f.describeInstances = func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{
			{InstanceId: awssdk.String("i-1"), State: &types.InstanceState{Name: types.InstanceStateNamePending}},
		}}}}, nil
	}
	// Long enough that a loaded CI machine still makes the first poll (and
	// so sees "pending") before the deadline; 100ms was not.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := d.WaitHostsActive(ctx, []string{"i-1"}, time.Minute); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "pending") {
		t.Errorf("WaitHostsActive(timeout) = %v, want a deadline error naming the last state", err)
	}
}

func TestResolveImage(t *testing.T) {
	var owners []string
	f := &fakeEC2{describeImages: func(in *ec2.DescribeImagesInput) (*ec2.DescribeImagesOutput, error) {
		if len(in.ImageIds) > 0 {
			switch in.ImageIds[0] {
			case "ami-ok":
				return &ec2.DescribeImagesOutput{Images: []types.Image{{ImageId: awssdk.String("ami-ok"), State: types.ImageStateAvailable}}}, nil
			case "ami-failed":
				return &ec2.DescribeImagesOutput{Images: []types.Image{{ImageId: awssdk.String("ami-failed"), State: types.ImageStateFailed}}}, nil
			case "ami-deregistered":
				return &ec2.DescribeImagesOutput{}, nil
			}
			return nil, apiErr("InvalidAMIID.NotFound")
		}
		owners = append(owners, in.Owners...)
		if strings.HasPrefix(in.Filters[0].Values[0], "ubuntu/") {
			return &ec2.DescribeImagesOutput{}, nil
		}
		return &ec2.DescribeImagesOutput{Images: []types.Image{
			{ImageId: awssdk.String("ami-b"), Name: awssdk.String("debian-12-amd64-20250101-2"), CreationDate: awssdk.String("2025-01-01T00:00:00.000Z")},
			{ImageId: awssdk.String("ami-c"), Name: awssdk.String("debian-12-amd64-20250301-3"), CreationDate: awssdk.String("2025-03-01T00:00:00.000Z")},
			{ImageId: awssdk.String("ami-a"), Name: awssdk.String("debian-12-amd64-20240101-1"), CreationDate: awssdk.String("2024-01-01T00:00:00.000Z")},
		}}, nil
	}}
	d := newFakeDriver(t, f)
	ctx := context.Background()
	if got, err := d.ResolveImage(ctx, "debian-12-amd64-*"); err != nil || got != "ami-c" {
		t.Errorf("ResolveImage(debian) = %s, %v; want the newest, ami-c", got, err)
	}
	if !slices.Equal(owners, []string{"136693071363"}) {
		t.Errorf("owners = %v, want Debian's account only", owners)
	}
	if got, err := d.ResolveImage(ctx, "ami-ok"); err != nil || got != "ami-ok" {
		t.Errorf("ResolveImage(ami-ok) = %s, %v", got, err)
	}
	for _, bad := range []string{"ami-gone", "ami-failed", "ami-deregistered", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*", "someone-elses-*"} {
		_, err := d.ResolveImage(ctx, bad)
		if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), bad) {
			t.Errorf("ResolveImage(%s) = %v, want ErrInvalid naming it", bad, err)
		}
	}
}

func offeringsFake() *fakeEC2 {
	return &fakeEC2{
		describeRegions: func(*ec2.DescribeRegionsInput) (*ec2.DescribeRegionsOutput, error) {
			return &ec2.DescribeRegionsOutput{Regions: []types.Region{
				{RegionName: awssdk.String("us-east-1"), OptInStatus: awssdk.String("opt-in-not-required")},
				{RegionName: awssdk.String("eu-west-2"), OptInStatus: awssdk.String("opt-in-not-required")},
				{RegionName: awssdk.String("ap-east-1"), OptInStatus: awssdk.String("not-opted-in")},
			}}, nil
		},
		describeInstanceTypes: func(in *ec2.DescribeInstanceTypesInput) (*ec2.DescribeInstanceTypesOutput, error) {
			it := func(name string, mem int64, arch types.ArchitectureType) types.InstanceTypeInfo {
				return types.InstanceTypeInfo{
					InstanceType: types.InstanceType(name), VCpuInfo: &types.VCpuInfo{DefaultVCpus: awssdk.Int32(2)},
					MemoryInfo:    &types.MemoryInfo{SizeInMiB: awssdk.Int64(mem)},
					ProcessorInfo: &types.ProcessorInfo{SupportedArchitectures: []types.ArchitectureType{arch}},
				}
			}
			if in.NextToken == nil {
				return &ec2.DescribeInstanceTypesOutput{NextToken: awssdk.String("2"), InstanceTypes: []types.InstanceTypeInfo{
					it("t3.small", 2048, types.ArchitectureTypeX8664), it("t4g.small", 2048, types.ArchitectureTypeArm64),
				}}, nil
			}
			return &ec2.DescribeInstanceTypesOutput{InstanceTypes: []types.InstanceTypeInfo{
				it("x9.weird", 4096, types.ArchitectureTypeX8664), it("t3.medium", 4096, types.ArchitectureTypeX8664),
			}}, nil
		},
		describeTypeOfferings: func(*ec2.DescribeInstanceTypeOfferingsInput) (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
			return &ec2.DescribeInstanceTypeOfferingsOutput{InstanceTypeOfferings: []types.InstanceTypeOffering{
				{InstanceType: "t3.small"}, {InstanceType: "t3.medium"}, {InstanceType: "t4g.small"}, {InstanceType: "x9.weird"},
			}}, nil
		},
	}
}

func TestOfferings(t *testing.T) {
	us := offeringsFake()
	eu := offeringsFake()
	eu.describeTypeOfferings = func(*ec2.DescribeInstanceTypeOfferingsInput) (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
		return &ec2.DescribeInstanceTypeOfferingsOutput{InstanceTypeOfferings: []types.InstanceTypeOffering{{InstanceType: "t3.small"}}}, nil
	}
	us.t, eu.t = t, t
	d := NewWithAPI("us-east-1", us, func(region string) EC2API {
		switch region {
		case "us-east-1":
			return us
		case "eu-west-2":
			return eu
		}
		t.Errorf("asked region %s, which is not opted in", region)
		return us
	})
	off, err := d.Offerings(context.Background())
	if err != nil {
		t.Fatalf("Offerings: %v", err)
	}
	sizes := map[string]cloud.Size{}
	for _, s := range off.Sizes {
		sizes[s.Slug] = s
	}
	if s := sizes["t3.small"]; !s.Available || s.PriceMonthly != 15.18 || !slices.Equal(s.Regions, []string{"eu-west-2", "us-east-1"}) || s.VCPUs != 2 || s.MemoryMB != 2048 {
		t.Errorf("t3.small = %+v", s)
	}
	if s := sizes["t3.medium"]; !slices.Equal(s.Regions, []string{"us-east-1"}) {
		t.Errorf("t3.medium = %+v", s)
	}
	if sizes["t4g.small"].Available || sizes["x9.weird"].Available || sizes["x9.weird"].PriceMonthly != 0 {
		t.Errorf("arm64 / unpriced sizes should not be available: %+v %+v", sizes["t4g.small"], sizes["x9.weird"])
	}
	if len(off.Regions) != 3 || off.Regions[0].Slug != "ap-east-1" || off.Regions[0].Available || off.Regions[2].Name != "US East (N. Virginia)" {
		t.Errorf("regions = %+v", off.Regions)
	}
	// The cheapest pick skips what it cannot price.
	if got, err := cloud.ResolveSize(cloud.AWS, cloud.SizeRequest{VCPUs: 2, MemoryGB: 3}, "us-east-1", off); err != nil || got != "t3.medium" {
		t.Errorf("cheapest 2 vCPU 3 GB = %s, %v; want t3.medium", got, err)
	}
	if _, err := cloud.ResolveSize(cloud.AWS, cloud.SizeRequest{Name: "medium"}, "eu-west-2", off); err == nil || !strings.Contains(err.Error(), "not offered in region") {
		t.Errorf("medium in eu-west-2 = %v, want not offered", err)
	}
}

func TestOfferingsCache(t *testing.T) {
	f := offeringsFake()
	var fail atomic.Bool
	fail.Store(true)
	regions := f.describeRegions
	f.describeRegions = func(in *ec2.DescribeRegionsInput) (*ec2.DescribeRegionsOutput, error) {
		if fail.Load() {
			return nil, apiErr("RequestLimitExceeded")
		}
		return regions(in)
	}
	d := newFakeDriver(t, f)
	if _, err := d.Offerings(context.Background()); !errors.Is(err, cloud.ErrThrottled) {
		t.Fatalf("Offerings = %v, want ErrThrottled", err)
	}
	fail.Store(false)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Offerings(context.Background()); err != nil {
				t.Errorf("Offerings: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := f.count("DescribeRegions"); n != 2 {
		t.Errorf("DescribeRegions calls = %d, want 2 (the failure is not cached, the success is)", n)
	}
	if d.ForRegion("eu-west-2").offerings != d.offerings {
		t.Error("ForRegion does not share the offerings cache")
	}
}

func TestOfferingsWithoutTypeOfferingsPermission(t *testing.T) {
	f := offeringsFake()
	f.describeTypeOfferings = func(*ec2.DescribeInstanceTypeOfferingsInput) (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
		return nil, apiErr("UnauthorizedOperation")
	}
	d := newFakeDriver(t, f)
	off, err := d.Offerings(context.Background())
	if err != nil {
		t.Fatalf("Offerings: %v", err)
	}
	for _, s := range off.Sizes {
		if !slices.Equal(s.Regions, []string{"eu-west-2", "us-east-1"}) {
			t.Errorf("%s regions = %v, want every available region", s.Slug, s.Regions)
		}
	}
}

func addressFake(assoc *string, instance *string) *fakeEC2 {
	return &fakeEC2{
		describeAddresses: func(in *ec2.DescribeAddressesInput) (*ec2.DescribeAddressesOutput, error) {
			if in.AllocationIds[0] == "eipalloc-gone" {
				return nil, apiErr("InvalidAllocationID.NotFound")
			}
			return &ec2.DescribeAddressesOutput{Addresses: []types.Address{{
				AllocationId: awssdk.String(in.AllocationIds[0]), PublicIp: awssdk.String("203.0.113.7"),
				AssociationId: assoc, InstanceId: instance,
			}}}, nil
		},
		disassociateAddress: func(*ec2.DisassociateAddressInput) (*ec2.DisassociateAddressOutput, error) {
			return &ec2.DisassociateAddressOutput{}, nil
		},
		releaseAddress: func(*ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error) {
			return &ec2.ReleaseAddressOutput{}, nil
		},
	}
}

func TestFloatingIPs(t *testing.T) {
	ctx := context.Background()

	f := addressFake(nil, nil)
	d := newFakeDriver(t, f)
	if err := d.DeleteFloatingIP(ctx, "eipalloc-gone"); err != nil {
		t.Errorf("DeleteFloatingIP(gone) = %v", err)
	}
	if err := d.UnassignFloatingIP(ctx, "eipalloc-1"); err != nil || f.count("DisassociateAddress") != 0 {
		t.Errorf("UnassignFloatingIP(unassigned) = %v, %d disassociations", err, f.count("DisassociateAddress"))
	}
	if _, err := d.GetFloatingIP(ctx, "eipalloc-gone"); !cloud.IsNotFound(err) {
		t.Errorf("GetFloatingIP(gone) = %v", err)
	}

	// Delete while associated: disassociate, then release (retrying while
	// the address still shows in use).
	f = addressFake(awssdk.String("eipassoc-1"), awssdk.String("i-1"))
	var releases atomic.Int32
	f.releaseAddress = func(*ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error) {
		if releases.Add(1) == 1 {
			return nil, apiErr("InvalidIPAddress.InUse")
		}
		return &ec2.ReleaseAddressOutput{}, nil
	}
	d = newFakeDriver(t, f)
	if ip, err := d.GetFloatingIP(ctx, "eipalloc-1"); err != nil || ip.HostID != "i-1" || ip.Address != "203.0.113.7" {
		t.Errorf("GetFloatingIP = %+v, %v", ip, err)
	}
	if err := d.DeleteFloatingIP(ctx, "eipalloc-1"); err != nil {
		t.Fatalf("DeleteFloatingIP: %v", err)
	}
	if f.count("DisassociateAddress") != 1 || releases.Load() != 2 {
		t.Errorf("disassociations %d, releases %d; want 1, 2", f.count("DisassociateAddress"), releases.Load())
	}
}

func TestAssignWaitsForPendingInstance(t *testing.T) {
	var state atomic.Value
	state.Store(types.InstanceStateNamePending)
	var associations atomic.Int32
	f := &fakeEC2{
		associateAddress: func(in *ec2.AssociateAddressInput) (*ec2.AssociateAddressOutput, error) {
			if !awssdk.ToBool(in.AllowReassociation) {
				t.Error("AllowReassociation not set")
			}
			if associations.Add(1) == 1 {
				return nil, apiErr("InvalidInstanceID.NotFound") // not visible yet
			}
			if state.Load() == types.InstanceStateNamePending {
				return nil, apiErr("IncorrectInstanceState")
			}
			return &ec2.AssociateAddressOutput{AssociationId: awssdk.String("eipassoc-1")}, nil
		},
		describeInstances: func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
			s, _ := state.Load().(types.InstanceStateName)
			state.Store(types.InstanceStateNameRunning)
			return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{
				{InstanceId: awssdk.String("i-1"), State: &types.InstanceState{Name: s}},
			}}}}, nil
		},
		allocateAddress: func(*ec2.AllocateAddressInput) (*ec2.AllocateAddressOutput, error) {
			return &ec2.AllocateAddressOutput{AllocationId: awssdk.String("eipalloc-1"), PublicIp: awssdk.String("203.0.113.7")}, nil
		},
	}
	d := newFakeDriver(t, f)
	ip, err := d.CreateFloatingIP(context.Background(), "us-east-1", "i-1")
	if err != nil || ip.HostID != "i-1" || ip.ID != "eipalloc-1" {
		t.Fatalf("CreateFloatingIP = %+v, %v", ip, err)
	}
	if associations.Load() != 3 {
		t.Errorf("associations = %d, want 3", associations.Load())
	}
}

func TestCreateFloatingIPReleasesOnFailedAssociation(t *testing.T) {
	f := &fakeEC2{
		allocateAddress: func(*ec2.AllocateAddressInput) (*ec2.AllocateAddressOutput, error) {
			return &ec2.AllocateAddressOutput{AllocationId: awssdk.String("eipalloc-1")}, nil
		},
		associateAddress: func(*ec2.AssociateAddressInput) (*ec2.AssociateAddressOutput, error) {
			return nil, apiErr("UnauthorizedOperation")
		},
		releaseAddress: func(*ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error) {
			return &ec2.ReleaseAddressOutput{}, nil
		},
	}
	d := newFakeDriver(t, f)
	if _, err := d.CreateFloatingIP(context.Background(), "", "i-1"); !errors.Is(err, cloud.ErrUnauthorized) {
		t.Errorf("CreateFloatingIP = %v, want ErrUnauthorized", err)
	}
	if f.count("ReleaseAddress") != 1 {
		t.Error("the address was not released after the failed association")
	}
}

// The association can fail because the caller's context ended (the
// instance never left pending in time): the address is still released.
func TestCreateFloatingIPReleasesAfterTheContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeEC2{
		allocateAddress: func(*ec2.AllocateAddressInput) (*ec2.AllocateAddressOutput, error) {
			return &ec2.AllocateAddressOutput{AllocationId: awssdk.String("eipalloc-1")}, nil
		},
		associateAddress: func(*ec2.AssociateAddressInput) (*ec2.AssociateAddressOutput, error) {
			cancel()
			return nil, context.Canceled
		},
		releaseAddress: func(*ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error) {
			return &ec2.ReleaseAddressOutput{}, nil
		},
	}
	d := newFakeDriver(t, f)
	ip, err := d.CreateFloatingIP(ctx, "", "i-1")
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "releasing it again failed") || ip != nil {
		t.Errorf("CreateFloatingIP = %+v, %v; want nil and the association's error alone", ip, err)
	}
	if f.count("ReleaseAddress") != 1 {
		t.Errorf("ReleaseAddress calls = %d, want 1", f.count("ReleaseAddress"))
	}

	// When even the release fails, the address comes back to be recorded.
	f.releaseAddress = func(*ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error) {
		return nil, apiErr("UnauthorizedOperation")
	}
	f.associateAddress = func(*ec2.AssociateAddressInput) (*ec2.AssociateAddressOutput, error) {
		return nil, apiErr("UnauthorizedOperation")
	}
	ip, err = d.CreateFloatingIP(context.Background(), "", "i-1")
	if err == nil || ip == nil || ip.ID != "eipalloc-1" || !strings.Contains(err.Error(), "release-address --allocation-id eipalloc-1") {
		t.Errorf("CreateFloatingIP = %+v, %v; want the address with the error", ip, err)
	}
}

func TestNewConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Config{Region: "us-east-1", AccessKey: "AKIA"}); err == nil {
		t.Error("an access key without a secret key was accepted")
	}
	if _, err := New(ctx, Config{Region: "us-east-1", AccessKey: "a", SecretKey: "s", RetryMode: "legacy"}); err == nil {
		t.Error("retry mode legacy was accepted")
	}
	d, err := New(ctx, Config{Region: "eu-west-2", AccessKey: "a", SecretKey: "s", RetryMode: "adaptive", MaxAttempts: 5})
	if err != nil || d.Region() != "eu-west-2" || d.Cloud() != cloud.AWS {
		t.Fatalf("New = %v, %v", d, err)
	}
	if o := d.ForRegion("us-west-2"); o.Region() != "us-west-2" || o == d || d.ForRegion("eu-west-2") != d ||
		o.ForRegion("us-west-2") != o || o.ForRegion("eu-west-2") != d || d.ForRegion("us-west-2") != o {
		t.Error("ForRegion does not give one driver per region")
	}
	c, ok := d.ec2.(*ec2.Client)
	if !ok {
		t.Fatalf("client is %T", d.ec2)
	}
	if o := c.Options(); o.Retryer.MaxAttempts() != 5 || o.Region != "eu-west-2" {
		t.Errorf("client options: %d attempts, region %s", o.Retryer.MaxAttempts(), o.Region)
	}
}
