package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cloud/aws/mototest"
)

// Integration tests against moto_server, an independent EC2 emulator. One
// server serves every subtest; subtests use their own tags so they do not
// see each other's hosts.
//
// Where moto differs from AWS the test says so rather than loosening the
// driver:
//   - RunInstances answers "pending", but the next DescribeInstances says
//     "running" (AWS: pending for tens of seconds), and instances are
//     "terminated" as soon as TerminateInstances returns (AWS:
//     shutting-down first);
//   - after an Elastic IP moves to another instance, the old instance still
//     reports it as its public IP (AWS gives it a new public IP or none);
//   - moto has no Debian 12 or Ubuntu 24.04 images, so mototest seeds images
//     named like theirs under their publishers' accounts (MOTO_AMIS_PATH).

const testKeyPair = "haddock-test"

type motoEnv struct {
	endpoint string
	d        *Driver
	raw      *ec2.Client
}

func newMotoEnv(t *testing.T) *motoEnv {
	t.Helper()
	endpoint := mototest.StartMoto(t)
	ctx := context.Background()
	d, err := New(ctx, Config{
		Region:      mototest.Region,
		AccessKey:   mototest.AccessKey,
		SecretKey:   mototest.SecretKey,
		Endpoints:   Endpoints{EC2: endpoint, STS: endpoint},
		RetryMode:   "adaptive",
		MaxAttempts: 2,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d.timing = fastTiming
	return &motoEnv{endpoint: endpoint, d: d, raw: rawClient(endpoint, mototest.Region)}
}

// rawClient is a plain EC2 client for setting up and checking what the
// driver did, independent of it.
func rawClient(endpoint, region string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       region,
		BaseEndpoint: awssdk.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(mototest.AccessKey, mototest.SecretKey, ""),
	})
}

var fastTiming = timing{
	propagation: 2 * time.Second,
	stateChange: 5 * time.Second,
	minDelay:    10 * time.Millisecond,
	maxDelay:    100 * time.Millisecond,
	poll:        50 * time.Millisecond,
	database:    5 * time.Second,
}

func TestMoto(t *testing.T) {
	env := newMotoEnv(t)
	ctx := context.Background()
	for _, region := range []string{mototest.Region, "eu-west-2"} {
		if _, err := rawClient(env.endpoint, region).CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: awssdk.String(testKeyPair)}); err != nil {
			t.Fatalf("CreateKeyPair in %s: %v", region, err)
		}
	}

	t.Run("AccountID", func(t *testing.T) {
		id, err := env.d.AccountID(ctx)
		if err != nil || id != mototest.AccountID {
			t.Fatalf("AccountID = %q, %v; want %s", id, err, mototest.AccountID)
		}
	})
	t.Run("Hosts", func(t *testing.T) { testMotoHosts(t, env) })
	t.Run("HostErrors", func(t *testing.T) { testMotoHostErrors(t, env) })
	t.Run("OtherRegion", func(t *testing.T) { testMotoOtherRegion(t, env) })
	t.Run("Images", func(t *testing.T) { testMotoImages(t, env) })
	t.Run("Offerings", func(t *testing.T) { testMotoOfferings(t, env) })
	t.Run("Catalog", func(t *testing.T) { testMotoCatalog(t, env) })
	t.Run("FloatingIPs", func(t *testing.T) { testMotoFloatingIPs(t, env) })
	t.Run("Resize", func(t *testing.T) { testMotoResize(t, env) })
}

func testMotoResize(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	d := env.d
	hosts, err := d.CreateHosts(ctx, []cloud.HostSpec{{Name: "tf-acc-test-resize", Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"resize"}}})
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	id := hosts[0].ID
	defer func() { _ = d.DeleteHost(ctx, id) }()
	if err := d.WaitHostsActive(ctx, []string{id}, time.Minute); err != nil {
		t.Fatalf("WaitHostsActive: %v", err)
	}

	h, err := d.ResizeHost(ctx, id, "t3.medium")
	if err != nil {
		t.Fatalf("ResizeHost: %v", err)
	}
	if h.ID != id || h.Size != "t3.medium" || h.Status != cloud.HostActive {
		t.Errorf("ResizeHost = %+v, want %s running as t3.medium", h, id)
	}
	out, err := env.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Reservations[0].Instances[0]
	if inst.InstanceType != types.InstanceTypeT3Medium || inst.State.Name != types.InstanceStateNameRunning {
		t.Errorf("EC2 says %s %s, want t3.medium running", inst.InstanceType, inst.State.Name)
	}

	// Stopped out of band: resized and started.
	if _, err := env.raw.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if h, err = d.ResizeHost(ctx, id, "t3.small"); err != nil || h.Size != "t3.small" || h.Status != cloud.HostActive {
		t.Errorf("ResizeHost(stopped) = %+v, %v; want running as t3.small", h, err)
	}
	if _, err := d.ResizeHost(ctx, "i-0123456789abcdef0", "t3.small"); !cloud.IsNotFound(err) {
		t.Errorf("ResizeHost(unknown) = %v, want not found", err)
	}
}

func testMotoHosts(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	d := env.d
	defer func(n int32) { listPageSize = n }(listPageSize)
	listPageSize = 2 // 3 hosts: the paginator must follow NextToken

	const userData = "#cloud-config\nruncmd: [echo hi]\n"
	var specs []cloud.HostSpec
	for _, name := range []string{"tf-acc-test-m1", "tf-acc-test-m2", "tf-acc-test-m3"} {
		specs = append(specs, cloud.HostSpec{
			Name: name, Region: mototest.Region, Size: "t3.small", Image: "debian-12-amd64-*",
			SSHKeys: []string{testKeyPair}, Tags: []string{"cluster-hosts", "role:manager"}, UserData: userData,
		})
	}
	hosts, err := d.CreateHosts(ctx, specs)
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	if len(hosts) != 3 {
		t.Fatalf("CreateHosts returned %d hosts, want 3", len(hosts))
	}
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
		if h.Name != specs[i].Name || h.Image != mototest.NewestDebian12 || h.Size != "t3.small" || h.Region != mototest.Region {
			t.Errorf("host %d = %+v; want name %s, image %s", i, h, specs[i].Name, mototest.NewestDebian12)
		}
		if want := []string{"cluster-hosts", cloud.ManagedTag, "role:manager"}; !slices.Equal(h.Tags, want) {
			t.Errorf("host %d tags = %v, want %v", i, h.Tags, want)
		}
	}

	// One RunInstances call: one reservation. Check the launch with the raw
	// client: names, tags, key pair, security group, user data, IMDSv2.
	out, err := env.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 3 {
		t.Fatalf("got %d reservations, want the 3 instances in 1", len(out.Reservations))
	}
	for _, inst := range out.Reservations[0].Instances {
		if awssdk.ToString(inst.KeyName) != testKeyPair {
			t.Errorf("key pair = %q", awssdk.ToString(inst.KeyName))
		}
		if len(inst.SecurityGroups) != 1 || awssdk.ToString(inst.SecurityGroups[0].GroupName) != SecurityGroupName {
			t.Errorf("security groups = %+v, want %s", inst.SecurityGroups, SecurityGroupName)
		}
		if mo := inst.MetadataOptions; mo == nil || mo.HttpTokens != types.HttpTokensStateRequired || awssdk.ToInt32(mo.HttpPutResponseHopLimit) != 1 {
			t.Errorf("metadata options = %+v, want IMDSv2 required with hop limit 1", mo)
		}
		tags := map[string]string{}
		for _, tg := range inst.Tags {
			tags[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
		}
		if tags["haddock"] != "true" || tags["haddock:tag:role:manager"] != "" || !strings.HasPrefix(tags["Name"], "tf-acc-test-m") {
			t.Errorf("EC2 tags = %v", tags)
		}
		attr, err := env.raw.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: inst.InstanceId, Attribute: types.InstanceAttributeNameUserData})
		if err != nil {
			t.Fatalf("DescribeInstanceAttribute: %v", err)
		}
		if got, _ := base64.StdEncoding.DecodeString(awssdk.ToString(attr.UserData.Value)); string(got) != userData {
			t.Errorf("user data = %q, want %q", got, userData)
		}
	}
	checkSecurityGroup(t, env)

	// moto: running by the first DescribeInstances; AWS: pending first.
	if err := d.WaitHostsActive(ctx, ids, 10*time.Second); err != nil {
		t.Fatalf("WaitHostsActive: %v", err)
	}
	w := cloud.NewHostWatcher(d, "cluster-hosts", 50*time.Millisecond)
	for _, id := range ids {
		h, err := w.WaitActive(ctx, id)
		if err != nil || h.Status != cloud.HostActive || h.PublicIPv4 == "" || h.PrivateIPv4 == "" {
			t.Fatalf("WaitActive(%s) = %+v, %v", id, h, err)
		}
	}

	listed := listIDs(t, d, "cluster-hosts")
	if !slices.Equal(listed, sorted(ids)) {
		t.Errorf("ListHosts(cluster-hosts) = %v, want %v", listed, sorted(ids))
	}
	if got := listIDs(t, d, "role:manager"); !slices.Equal(got, sorted(ids)) {
		t.Errorf("ListHosts(role:manager) = %v", got)
	}
	if got := listIDs(t, d, cloud.ManagedTag); len(got) < 3 {
		t.Errorf("ListHosts(haddock) = %v, want at least the 3 hosts", got)
	}
	if got := listIDs(t, d, "no-such-tag"); len(got) != 0 {
		t.Errorf("ListHosts(no-such-tag) = %v, want none", got)
	}

	h, err := d.GetHost(ctx, ids[0])
	if err != nil || h.Name != "tf-acc-test-m1" || h.Status != cloud.HostActive || h.CreatedAt.IsZero() {
		t.Fatalf("GetHost = %+v, %v", h, err)
	}

	if err := d.RenameHost(ctx, ids[0], "tf-acc-test-renamed"); err != nil {
		t.Fatalf("RenameHost: %v", err)
	}
	if err := d.TagHost(ctx, ids[0], []string{"role:worker", "extra"}, []string{"role:manager"}); err != nil {
		t.Fatalf("TagHost: %v", err)
	}
	h, err = d.GetHost(ctx, ids[0])
	if err != nil {
		t.Fatalf("GetHost: %v", err)
	}
	if want := []string{"cluster-hosts", "extra", cloud.ManagedTag, "role:worker"}; h.Name != "tf-acc-test-renamed" || !slices.Equal(h.Tags, want) {
		t.Errorf("after rename and retag: name %q tags %v; want tf-acc-test-renamed %v", h.Name, h.Tags, want)
	}
	if got := listIDs(t, d, "role:manager"); !slices.Equal(got, sorted(ids[1:])) {
		t.Errorf("ListHosts(role:manager) after retag = %v, want %v", got, sorted(ids[1:]))
	}

	for _, id := range ids {
		if err := d.DeleteHost(ctx, id); err != nil {
			t.Fatalf("DeleteHost(%s): %v", id, err)
		}
	}
	if err := d.WaitHostsDeleted(ctx, ids, 10*time.Second); err != nil {
		t.Fatalf("WaitHostsDeleted: %v", err)
	}
	for _, id := range ids {
		if err := w.WaitGone(ctx, id); err != nil {
			t.Fatalf("WaitGone(%s): %v", id, err)
		}
	}
	if got := listIDs(t, d, "cluster-hosts"); len(got) != 0 {
		t.Errorf("ListHosts after delete = %v, want none (terminated omitted)", got)
	}
	// moto keeps terminated instances listed by id, as AWS does for an hour.
	if _, err := d.GetHost(ctx, ids[0]); !cloud.IsNotFound(err) {
		t.Errorf("GetHost(terminated) error = %v, want not found", err)
	}
	if err := d.DeleteHost(ctx, ids[0]); err != nil {
		t.Errorf("DeleteHost(terminated) = %v, want nil", err)
	}
}

func checkSecurityGroup(t *testing.T, env *motoEnv) {
	t.Helper()
	out, err := env.raw.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{
		Filters: []types.Filter{{Name: awssdk.String("group-name"), Values: []string{SecurityGroupName}}},
	})
	if err != nil || len(out.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups = %+v, %v; want one %s", out, err, SecurityGroupName)
	}
	sg := out.SecurityGroups[0]
	for _, r := range securityGroupRules {
		if !r.present(sg.IpPermissions, awssdk.ToString(sg.GroupId)) {
			t.Errorf("security group lacks rule %+v; has %+v", r, sg.IpPermissions)
		}
	}
}

func testMotoHostErrors(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	d := env.d
	if _, err := d.GetHost(ctx, "i-0123456789abcdef0"); !cloud.IsNotFound(err) {
		t.Errorf("GetHost(unknown) = %v, want not found", err)
	}
	if err := d.DeleteHost(ctx, "i-0123456789abcdef0"); err != nil {
		t.Errorf("DeleteHost(unknown) = %v, want nil", err)
	}

	spec := cloud.HostSpec{Name: "tf-acc-test-x", Size: "t3.small", Image: "ami-0000000000000dead", SSHKeys: []string{testKeyPair}, Tags: []string{"errors"}}
	_, err := d.CreateHosts(ctx, []cloud.HostSpec{spec})
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "ami-0000000000000dead") {
		t.Errorf("CreateHosts(unknown AMI) = %v, want ErrInvalid naming the image", err)
	}
	spec.Image = "debian-12-amd64-*"
	spec.SSHKeys = []string{"no-such-key"}
	_, err = d.CreateHosts(ctx, []cloud.HostSpec{spec})
	if !errors.Is(err, cloud.ErrInvalid) || errorCode(err) != "InvalidKeyPair.NotFound" {
		t.Errorf("CreateHosts(unknown key pair) = %v, want ErrInvalid InvalidKeyPair.NotFound", err)
	}
	var ae *cloud.APIError
	if !errors.As(err, &ae) || ae.Message == "" || ae.StatusCode != 400 {
		t.Errorf("API error = %+v, want AWS message and status kept", ae)
	}

	// Different sizes and images: one RunInstances call per group.
	a := cloud.HostSpec{Name: "tf-acc-test-a", Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"groups"}}
	b := a
	b.Name, b.Size = "tf-acc-test-b", "t3.medium"
	c := a
	c.Name, c.Image = "tf-acc-test-c", mototest.NewestUbuntu24
	hosts, err := d.CreateHosts(ctx, []cloud.HostSpec{a, b, c})
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	var ids []string
	for i, h := range hosts {
		ids = append(ids, h.ID)
		want := []cloud.HostSpec{a, b, c}[i]
		if h.Name != want.Name || h.Size != want.Size {
			t.Errorf("host %d = %s %s, want %s %s", i, h.Name, h.Size, want.Name, want.Size)
		}
	}
	out, err := env.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil || len(out.Reservations) != 3 {
		t.Errorf("reservations = %d, %v; want 3", len(out.Reservations), err)
	}
	if hosts[2].Image != mototest.NewestUbuntu24 {
		t.Errorf("image by AMI id = %s", hosts[2].Image)
	}
	for _, id := range ids {
		if err := d.DeleteHost(ctx, id); err != nil {
			t.Errorf("DeleteHost: %v", err)
		}
	}
}

func testMotoOtherRegion(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	eu := env.d.ForRegion("eu-west-2")
	spec := cloud.HostSpec{Name: "tf-acc-test-eu", Region: "eu-west-2", Size: "t3.small", Image: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*", SSHKeys: []string{testKeyPair}, Tags: []string{"eu"}}
	if _, err := env.d.CreateHosts(ctx, []cloud.HostSpec{spec}); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("us-east-1 driver creating in eu-west-2 = %v, want ErrInvalid", err)
	}
	hosts, err := eu.CreateHosts(ctx, []cloud.HostSpec{spec})
	if err != nil {
		t.Fatalf("CreateHosts in eu-west-2: %v", err)
	}
	if hosts[0].Region != "eu-west-2" || hosts[0].Image != mototest.NewestUbuntu24 || hosts[0].Name != spec.Name {
		t.Errorf("host = %+v", hosts[0])
	}
	if got := listIDs(t, eu, "eu"); !slices.Equal(got, []string{hosts[0].ID}) {
		t.Errorf("eu-west-2 ListHosts = %v", got)
	}
	if got := listIDs(t, env.d, "eu"); len(got) != 0 {
		t.Errorf("us-east-1 ListHosts = %v, want none: hosts are regional", got)
	}
	if err := eu.DeleteHost(ctx, hosts[0].ID); err != nil {
		t.Errorf("DeleteHost: %v", err)
	}
}

func testMotoImages(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	d := env.d
	for _, im := range cloud.PortableImages {
		filter, err := cloud.ResolveImage(cloud.AWS, im.Name, nil)
		if err != nil {
			t.Fatalf("cloud.ResolveImage(%s): %v", im.Name, err)
		}
		got, err := d.ResolveImage(ctx, filter)
		want := map[string]string{"debian-12": mototest.NewestDebian12, "ubuntu-24.04": mototest.NewestUbuntu24}[im.Name]
		if err != nil || got != want {
			t.Errorf("ResolveImage(%s) = %q, %v; want %s (newest of the publisher's, not the impostor's)", filter, got, err, want)
		}
	}
	if got, err := d.ResolveImage(ctx, "ami-0deb12a0000000a01"); err != nil || got != "ami-0deb12a0000000a01" {
		t.Errorf("ResolveImage(existing AMI id) = %q, %v", got, err)
	}
	for _, bad := range []string{"ami-0000000000000dead", "debian-13-amd64-*", "my-golden-image-*", ""} {
		_, err := d.ResolveImage(ctx, bad)
		if !errors.Is(err, cloud.ErrInvalid) || (bad != "" && !strings.Contains(err.Error(), bad)) {
			t.Errorf("ResolveImage(%q) = %v, want ErrInvalid naming the image", bad, err)
		}
	}
}

// countingEC2 counts the calls of a few operations.
type countingEC2 struct {
	EC2API
	instanceTypes, regions atomic.Int32
}

func (c *countingEC2) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	c.instanceTypes.Add(1)
	return c.EC2API.DescribeInstanceTypes(ctx, in, optFns...)
}

func (c *countingEC2) DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error) {
	c.regions.Add(1)
	return c.EC2API.DescribeRegions(ctx, in, optFns...)
}

func testMotoOfferings(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	counting := &countingEC2{EC2API: env.raw}
	d := NewWithAPI(mototest.Region, counting, func(region string) EC2API { return rawClient(env.endpoint, region) })

	off, err := d.Offerings(ctx)
	if err != nil {
		t.Fatalf("Offerings: %v", err)
	}
	pages := counting.instanceTypes.Load()
	if _, err := d.Offerings(ctx); err != nil || counting.instanceTypes.Load() != pages || counting.regions.Load() != 1 {
		t.Errorf("second Offerings call went to EC2 (%d type pages, %d region calls), want it cached", counting.instanceTypes.Load(), counting.regions.Load())
	}

	regions := map[string]cloud.Region{}
	for _, r := range off.Regions {
		regions[r.Slug] = r
	}
	for _, pr := range cloud.PortableRegions {
		if r := regions[pr.Vendor[cloud.AWS]]; !r.Available || r.Name == "" {
			t.Errorf("region %s = %+v, want available", pr.Vendor[cloud.AWS], r)
		}
	}
	var small *cloud.Size
	for i := range off.Sizes {
		if off.Sizes[i].Slug == "t3.small" {
			small = &off.Sizes[i]
		}
	}
	if small == nil {
		t.Fatalf("no t3.small among %d sizes", len(off.Sizes))
	}
	if small.VCPUs != 2 || small.MemoryMB != 2048 || small.PriceMonthly <= 0 || !small.Available {
		t.Errorf("t3.small = %+v", *small)
	}
	for _, pr := range cloud.PortableRegions {
		if !slices.Contains(small.Regions, pr.Vendor[cloud.AWS]) {
			t.Errorf("t3.small regions %v lack %s", small.Regions, pr.Vendor[cloud.AWS])
		}
	}
	if len(off.Images) != len(cloud.PortableImages) || off.Images[0].Distribution == "" {
		t.Errorf("images = %+v", off.Images)
	}
	// The copy is the caller's.
	off.Sizes[0].Regions[0] = "mutated"
	again, _ := d.Offerings(ctx)
	if again.Sizes[0].Regions[0] == "mutated" {
		t.Error("Offerings returned the cache itself, not a copy")
	}
}

func testMotoCatalog(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	off, err := env.d.Offerings(ctx)
	if err != nil {
		t.Fatalf("Offerings: %v", err)
	}
	for _, pr := range cloud.PortableRegions {
		region, err := cloud.ResolveRegion(cloud.AWS, pr.Name, off)
		if err != nil || region != pr.Vendor[cloud.AWS] {
			t.Errorf("ResolveRegion(%s) = %q, %v", pr.Name, region, err)
			continue
		}
		if got, err := cloud.ResolveRegion(cloud.AWS, region, off); err != nil || got != region {
			t.Errorf("ResolveRegion(%s) = %q, %v", region, got, err)
		}
		for _, ps := range cloud.PortableSizes {
			size, err := cloud.ResolveSize(cloud.AWS, cloud.SizeRequest{Name: ps.Name}, region, off)
			if err != nil || size != ps.Vendor[cloud.AWS] {
				t.Errorf("ResolveSize(%s in %s) = %q, %v; want %s", ps.Name, region, size, err, ps.Vendor[cloud.AWS])
			}
			cheapest, err := cloud.ResolveSize(cloud.AWS, cloud.SizeRequest{VCPUs: ps.VCPUs, MemoryGB: float64(ps.MemoryGB)}, region, off)
			if err != nil {
				t.Errorf("cheapest %d vCPU %d GB in %s: %v", ps.VCPUs, ps.MemoryGB, region, err)
				continue
			}
			checkCheapest(t, off, cheapest, ps, region)
		}
	}
	_, err = cloud.ResolveSize(cloud.AWS, cloud.SizeRequest{VCPUs: 512, MemoryGB: 1}, "us-east-1", off)
	if err == nil || !strings.Contains(err.Error(), "no aws size has at least 512 vCPUs") {
		t.Errorf("ResolveSize(512 vCPUs) = %v, want a no-match error", err)
	}
	if _, err := cloud.ResolveSize(cloud.AWS, cloud.SizeRequest{Name: "t3.enormous"}, "us-east-1", off); err == nil {
		t.Error("ResolveSize(t3.enormous) succeeded")
	}
	if _, err := cloud.ResolveRegion(cloud.AWS, "mars-north-1", off); err == nil {
		t.Error("ResolveRegion(mars-north-1) succeeded")
	}
}

// checkCheapest checks the cheapest choice fits and no cheaper fitting size
// is offered in the region.
func checkCheapest(t *testing.T, off *cloud.Offerings, slug string, ps cloud.PortableSize, region string) {
	t.Helper()
	var chosen cloud.Size
	for _, s := range off.Sizes {
		if s.Slug == slug {
			chosen = s
		}
	}
	if chosen.VCPUs < ps.VCPUs || chosen.MemoryMB < ps.MemoryGB*1024 || !slices.Contains(chosen.Regions, region) {
		t.Errorf("cheapest for %s in %s = %+v, does not fit", ps.Name, region, chosen)
	}
	for _, s := range off.Sizes {
		if s.Available && s.VCPUs >= ps.VCPUs && s.MemoryMB >= ps.MemoryGB*1024 && slices.Contains(s.Regions, region) && s.PriceMonthly < chosen.PriceMonthly {
			t.Errorf("cheapest for %s in %s = %s at %.2f, but %s costs %.2f", ps.Name, region, slug, chosen.PriceMonthly, s.Slug, s.PriceMonthly)
		}
	}
}

func testMotoFloatingIPs(t *testing.T, env *motoEnv) {
	ctx := context.Background()
	d := env.d
	var specs []cloud.HostSpec
	for _, name := range []string{"tf-acc-test-eip1", "tf-acc-test-eip2"} {
		specs = append(specs, cloud.HostSpec{Name: name, Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{"eip"}})
	}
	hosts, err := d.CreateHosts(ctx, specs)
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	h1, h2 := hosts[0].ID, hosts[1].ID
	defer func() {
		for _, h := range hosts {
			_ = d.DeleteHost(ctx, h.ID)
		}
	}()

	if _, err := d.CreateFloatingIP(ctx, "eu-west-2", ""); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("CreateFloatingIP(other region) = %v, want ErrInvalid", err)
	}
	ip, err := d.CreateFloatingIP(ctx, mototest.Region, "")
	if err != nil {
		t.Fatalf("CreateFloatingIP: %v", err)
	}
	if !strings.HasPrefix(ip.ID, "eipalloc-") || ip.Address == "" || ip.HostID != "" || ip.Region != mototest.Region {
		t.Errorf("CreateFloatingIP = %+v", ip)
	}
	addrs, err := env.raw.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{ip.ID}})
	if err != nil || len(addrs.Addresses) != 1 || addrs.Addresses[0].Domain != types.DomainTypeVpc || !hasTag(addrs.Addresses[0].Tags, "haddock", "true") {
		t.Errorf("allocated address = %+v, %v; want a VPC address tagged haddock=true", addrs, err)
	}
	checkHost := func(want string) {
		t.Helper()
		got, err := d.GetFloatingIP(ctx, ip.ID)
		if err != nil || got.HostID != want || got.Address != ip.Address {
			t.Fatalf("GetFloatingIP = %+v, %v; want host %q", got, err, want)
		}
	}
	checkHost("")

	if err := d.AssignFloatingIP(ctx, ip.ID, h1); err != nil {
		t.Fatalf("AssignFloatingIP(h1): %v", err)
	}
	checkHost(h1)
	if h, _ := d.GetHost(ctx, h1); h.PublicIPv4 != ip.Address {
		t.Errorf("h1 public IP = %s, want the Elastic IP %s", h.PublicIPv4, ip.Address)
	}
	// Re-association moves the address. moto quirk: the old instance still
	// reports the Elastic IP as its public address; AWS gives it a new
	// public IP (or none). So h1's view is not checked here.
	if err := d.AssignFloatingIP(ctx, ip.ID, h2); err != nil {
		t.Fatalf("AssignFloatingIP(h2): %v", err)
	}
	checkHost(h2)
	if h, _ := d.GetHost(ctx, h2); h.PublicIPv4 != ip.Address {
		t.Errorf("h2 public IP = %s, want the Elastic IP %s", h.PublicIPv4, ip.Address)
	}

	if err := d.UnassignFloatingIP(ctx, ip.ID); err != nil {
		t.Fatalf("UnassignFloatingIP: %v", err)
	}
	checkHost("")
	if err := d.UnassignFloatingIP(ctx, ip.ID); err != nil {
		t.Errorf("UnassignFloatingIP(unassigned) = %v, want nil", err)
	}
	if err := d.DeleteFloatingIP(ctx, ip.ID); err != nil {
		t.Fatalf("DeleteFloatingIP: %v", err)
	}
	if _, err := d.GetFloatingIP(ctx, ip.ID); !cloud.IsNotFound(err) {
		t.Errorf("GetFloatingIP(released) = %v, want not found", err)
	}
	if err := d.DeleteFloatingIP(ctx, ip.ID); err != nil {
		t.Errorf("DeleteFloatingIP(released) = %v, want nil", err)
	}
	if err := d.UnassignFloatingIP(ctx, ip.ID); !cloud.IsNotFound(err) {
		t.Errorf("UnassignFloatingIP(released) = %v, want not found", err)
	}

	// Created assigned, deleted while assigned.
	ip, err = d.CreateFloatingIP(ctx, "", h1)
	if err != nil || ip.HostID != h1 {
		t.Fatalf("CreateFloatingIP(h1) = %+v, %v", ip, err)
	}
	checkHost(h1)
	if err := d.DeleteFloatingIP(ctx, ip.ID); err != nil {
		t.Fatalf("DeleteFloatingIP(assigned): %v", err)
	}
	if _, err := d.GetFloatingIP(ctx, ip.ID); !cloud.IsNotFound(err) {
		t.Errorf("GetFloatingIP(released) = %v, want not found", err)
	}

	// A failed association leaves no address behind.
	before, _ := env.raw.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if _, err := d.CreateFloatingIP(ctx, "", "i-0123456789abcdef0"); !cloud.IsNotFound(err) {
		t.Errorf("CreateFloatingIP(unknown host) = %v, want not found", err)
	}
	after, _ := env.raw.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if len(after.Addresses) != len(before.Addresses) {
		t.Errorf("addresses went from %d to %d after a failed CreateFloatingIP", len(before.Addresses), len(after.Addresses))
	}
}

func hasTag(tags []types.Tag, k, v string) bool {
	for _, tg := range tags {
		if awssdk.ToString(tg.Key) == k && awssdk.ToString(tg.Value) == v {
			return true
		}
	}
	return false
}

func listIDs(t *testing.T, d *Driver, tag string) []string {
	t.Helper()
	hosts, err := d.ListHosts(context.Background(), tag)
	if err != nil {
		t.Fatalf("ListHosts(%s): %v", tag, err)
	}
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	return sorted(ids)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
