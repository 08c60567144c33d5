package aws_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/localcloudtest"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// The real-host test's own network (see netnsbackend's main_test.go for
// the others in use) and state directory.
var testReal = localcloudtest.Options{
	Bridge:         "hdkx1",
	NetnsPrefix:    "hdkx1-",
	Subnet:         netip.MustParsePrefix("10.213.246.0/24"),
	ReservedPrefix: netip.MustParsePrefix("10.213.247.0/28"),
	StateDir:       "/tmp/hdklcx1",
	Lock:           "haddock-localcloud-aws-test.lock",
}

// TestMain takes the real hosts' lock, but not in a fuzz worker: its
// coordinator holds it (FuzzRequestBodies needs no real host).
func TestMain(m *testing.M) {
	if slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.fuzzworker") }) {
		os.Exit(m.Run())
	}
	localcloudtest.Main(m, testReal)
}

// TestRealHosts launches two instances through the EC2 API on real hosts:
// each boots its user data's dockerd as a droplet does and its engine
// answers over mTLS; an Elastic IP moves from one to the other and
// routes to whichever holds it; stopping an instance really stops its host
// and starting it brings the engine back.
func TestRealHosts(t *testing.T) {
	localcloudtest.RequireRealHosts(t)
	v, err := awsmodel.New()
	if err != nil {
		t.Fatal(err)
	}
	o := testReal
	o.APIs = []localcloud.API{lcaws.New(lcaws.Config{})}
	o.APIAddrs = map[string]string{lcaws.Name: "127.0.0.1:0"}
	o.Middleware = v.Middleware
	r := localcloudtest.StartReal(t, o)
	t.Cleanup(func() { v.Report(t) })
	c := client(r.Running.APIURLs[lcaws.Name])
	ctx := t.Context()
	tm := localcloudtest.NewTLS(t)

	imgs := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{lcaws.DebianOwner},
		Filters: []types.Filter{{Name: awssdk.String("name"), Values: []string{"debian-12-amd64-*"}}}}))
	// Security groups are enforced: the engines need a rule admitting the
	// machine, as the driver's hosts' group admits 2376 from anywhere.
	engine := must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("engine"), Description: awssdk.String("Docker API")}))
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: engine.GroupId,
		IpPermissions: []types.IpPermission{{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(2376), ToPort: awssdk.Int32(2376),
			IpRanges: []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}}))
	names := []string{"ec2-a", "ec2-b"}
	ids := map[string]string{}
	for _, name := range names {
		out := must(c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: imgs.Images[0].ImageId, InstanceType: types.InstanceTypeT3Small, MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1),
			SecurityGroupIds:  []string{awssdk.ToString(engine.GroupId)},
			UserData:          awssdk.String(base64.StdEncoding.EncodeToString([]byte(tm.UserData(t, name, "")))),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String(name)}}}},
		}))
		ids[name] = awssdk.ToString(out.Instances[0].InstanceId)
	}
	addrs := map[string]string{}
	for _, name := range names {
		inst := waitState(ctx, t, c, ids[name], types.InstanceStateNameRunning)
		addrs[name] = awssdk.ToString(inst.PublicIpAddress)
		if !testReal.Subnet.Contains(netip.MustParseAddr(addrs[name])) {
			t.Fatalf("%s: public address %s outside %s", name, addrs[name], testReal.Subnet)
		}
		if got := infoName(t, tm, addrs[name], name); got != name {
			t.Errorf("%s: docker info Name %q", name, got)
		}
	}

	// An Elastic IP on a, then moved to b: the engine behind it changes.
	eip := must(c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc}))
	ip := awssdk.ToString(eip.PublicIp)
	if !testReal.ReservedPrefix.Contains(netip.MustParseAddr(ip)) {
		t.Fatalf("Elastic IP %s outside %s", ip, testReal.ReservedPrefix)
	}
	for _, name := range names {
		must(c.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: eip.AllocationId, InstanceId: awssdk.String(ids[name]), AllowReassociation: awssdk.Bool(true)}))
		if got := infoName(t, tm, ip, name); got != name {
			t.Errorf("through the Elastic IP after associating it with %s: %q answers", name, got)
		}
	}

	// Stop a: its host is really off; start it: the engine is back.
	must(c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{ids["ec2-a"]}}))
	waitState(ctx, t, c, ids["ec2-a"], types.InstanceStateNameStopped)
	if _, err := tm.Engine(addrs["ec2-a"], "ec2-a", "/_ping"); err == nil {
		t.Error("a stopped instance's engine answers")
	}
	must(c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{ids["ec2-a"]}}))
	waitState(ctx, t, c, ids["ec2-a"], types.InstanceStateNameRunning)
	if got := infoName(t, tm, addrs["ec2-a"], "ec2-a"); got != "ec2-a" {
		t.Errorf("after a restart: %q answers", got)
	}

	must(c.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{PublicIp: eip.PublicIp}))
	must(c.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: eip.AllocationId}))
	must(c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ids["ec2-a"], ids["ec2-b"]}}))
	for _, name := range names {
		waitState(ctx, t, c, ids[name], types.InstanceStateNameTerminated)
	}
	// Terminated, the machines go.
	err = wait.Until(ctx, wait.Options{What: "the hosts to be destroyed", Interval: 200 * time.Millisecond, Timeout: time.Minute},
		func(context.Context) (bool, string, error) {
			n := len(r.Backend.Manager().List())
			return n == 0, strconv.Itoa(n) + " host(s)", nil
		})
	if err != nil {
		t.Error(err)
	}
}

// waitState waits until instance id is in state want.
func waitState(ctx context.Context, t *testing.T, c *ec2.Client, id string, want types.InstanceStateName) types.Instance {
	t.Helper()
	var inst types.Instance
	err := wait.Until(ctx, wait.Options{What: id + " " + string(want), Interval: 200 * time.Millisecond, Timeout: 2 * time.Minute},
		func(ctx context.Context) (bool, string, error) {
			out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
			if err != nil {
				return false, "", err
			}
			inst = out.Reservations[0].Instances[0]
			return inst.State.Name == want, string(inst.State.Name), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// infoName is the Name docker info reports through addr, verifying the
// engine's certificate names host name; it waits for the engine (an
// address move takes effect at once, the engine after boot).
func infoName(t *testing.T, tm localcloudtest.TLS, addr, name string) string {
	t.Helper()
	var got string
	err := wait.Until(t.Context(), wait.Options{What: "the engine of " + name + " at " + addr, Interval: 200 * time.Millisecond, Timeout: time.Minute},
		func(context.Context) (bool, string, error) {
			b, err := tm.Engine(addr, name, "/info")
			if err != nil {
				return false, "", wait.Retry(err) // still booting
			}
			var info struct{ Name string }
			if err := json.Unmarshal(b, &info); err != nil {
				return false, "", err
			}
			got = info.Name
			return true, "", nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
