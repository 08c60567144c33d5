package aws

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/contract/awsmodel"
)

// The driver against localcloud's EC2 API (memory backend: bookkeeping and
// addresses, no machines), every exchange checked against AWS's own EC2
// service model. Where moto_test.go tests the driver against an
// independent emulator, this tests localcloud's EC2 with the project's own
// client, the way the provider will use it.

const lcRegion = "eu-central-1"

type lcEnv struct {
	d   *Driver
	raw *ec2.Client
	run *localcloud.Running
	v   *awsmodel.Validator
}

func newLocalcloudEnv(t *testing.T) *lcEnv {
	t.Helper()
	run, v := awsmodel.StartLocalcloud(t, localcloud.Config{})
	endpoint := run.APIURLs[lcaws.Name]
	d, err := New(context.Background(), Config{
		Region: lcRegion, AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey,
		Endpoints: Endpoints{EC2: endpoint},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.timing = fastTiming
	raw := ec2.New(ec2.Options{
		Region: lcRegion, BaseEndpoint: awssdk.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(lcaws.DevAccessKey, lcaws.DevSecretKey, ""),
	})
	return &lcEnv{d: d, raw: raw, run: run, v: v}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestLocalcloud(t *testing.T) {
	e := newLocalcloudEnv(t)
	ctx := t.Context()
	d := e.d

	// The catalog: what the provider validates plans against.
	off, err := d.Offerings(ctx)
	if err != nil {
		t.Fatalf("Offerings: %v", err)
	}
	for _, ps := range cloud.PortableSizes {
		i := slices.IndexFunc(off.Sizes, func(s cloud.Size) bool { return s.Slug == ps.Vendor[cloud.AWS] })
		if i < 0 || !off.Sizes[i].Available || !slices.Contains(off.Sizes[i].Regions, lcRegion) {
			t.Errorf("portable size %s (%s) not offered in %s: %+v", ps.Name, ps.Vendor[cloud.AWS], lcRegion, off.Sizes)
		}
	}
	for _, pr := range cloud.PortableRegions {
		if !slices.ContainsFunc(off.Regions, func(r cloud.Region) bool { return r.Slug == pr.Vendor[cloud.AWS] && r.Available }) {
			t.Errorf("portable region %s (%s) not offered", pr.Name, pr.Vendor[cloud.AWS])
		}
	}
	for _, pi := range cloud.PortableImages {
		ami, err := d.ResolveImage(ctx, pi.Vendor[cloud.AWS])
		if err != nil {
			t.Fatalf("ResolveImage(%s): %v", pi.Vendor[cloud.AWS], err)
		}
		out, err := e.raw.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ami}})
		if err != nil || len(out.Images) != 1 {
			t.Fatalf("DescribeImages(%s): %v", ami, err)
		}
		img := out.Images[0]
		if img.Architecture != types.ArchitectureValuesX8664 || !strings.Contains(awssdk.ToString(img.Name), "20250610") {
			t.Errorf("%s resolved to %s (%s, %s), want the newest x86_64 build", pi.Name, ami, awssdk.ToString(img.Name), img.Architecture)
		}
		if _, err := d.ResolveImage(ctx, ami); err != nil {
			t.Errorf("ResolveImage(%s): %v", ami, err)
		}
	}
	if _, err := d.ResolveImage(ctx, "ami-0123456789abcdef0"); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("ResolveImage(unknown AMI) = %v, want an invalid error", err)
	}

	// A key pair, imported.
	const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGgRx8VkXlq4nYQqYd1VbHsS8bJm0m0uQm7Xr1y5k0Zb test@haddock"
	if _, err := e.raw.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: awssdk.String(testKeyPair), PublicKeyMaterial: []byte(pub)}); err != nil {
		t.Fatalf("ImportKeyPair: %v", err)
	}

	// Hosts with tags: a group of five launched together (one
	// RunInstances, named with CreateTags after) and one alone.
	var specs []cloud.HostSpec
	for _, n := range []string{"lc-web-1", "lc-web-2", "lc-web-3", "lc-web-4", "lc-web-5"} {
		specs = append(specs, cloud.HostSpec{Name: n, Region: lcRegion, Size: "t3.small", Image: "debian-12-amd64-*", Tags: []string{cloud.ManagedTag, "lc-web"}, UserData: "#cloud-config\nhostname: web\n"})
	}
	specs = append(specs, cloud.HostSpec{Name: "lc-db", Region: lcRegion, Size: "t3.small", Image: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*", Tags: []string{cloud.ManagedTag, "lc-db"}, SSHKeys: []string{testKeyPair}})
	hosts, err := d.CreateHosts(ctx, specs)
	if err != nil {
		t.Fatalf("CreateHosts: %v", err)
	}
	ids := make([]string, len(hosts))
	byName := map[string]string{}
	for i, h := range hosts {
		ids[i] = h.ID
		byName[h.Name] = h.ID
	}
	if err := d.WaitHostsActive(ctx, ids, 0); err != nil {
		t.Fatalf("WaitHostsActive: %v", err)
	}

	// Listing by tag, across pages (EC2's smallest page is 5).
	defer func(n int32) { listPageSize = n }(listPageSize)
	listPageSize = 5
	web, err := d.ListHosts(ctx, "lc-web")
	if err != nil || len(web) != 5 {
		t.Fatalf("ListHosts(lc-web) = %d hosts, %v; want 5", len(web), err)
	}
	all, err := d.ListHosts(ctx, cloud.ManagedTag)
	if err != nil || len(all) != 6 {
		t.Fatalf("ListHosts(managed) = %d hosts, %v; want 6", len(all), err)
	}
	for _, h := range all {
		if h.Status != cloud.HostActive || h.PublicIPv4 == "" || h.PrivateIPv4 == "" || h.Region != lcRegion {
			t.Errorf("host %+v: want active with addresses", h)
		}
	}
	db, err := d.GetHost(ctx, byName["lc-db"])
	if err != nil || db.Name != "lc-db" || !slices.Equal(db.Tags, []string{cloud.ManagedTag, "lc-db"}) {
		t.Fatalf("GetHost(lc-db) = %+v, %v", db, err)
	}
	inst, err := findInstanceByID(ctx, e.raw, db.ID)
	if err != nil || awssdk.ToString(inst.KeyName) != testKeyPair || len(inst.SecurityGroups) != 1 || awssdk.ToString(inst.SecurityGroups[0].GroupName) != SecurityGroupName {
		t.Errorf("lc-db instance: key %q, groups %+v, %v", awssdk.ToString(inst.KeyName), inst.SecurityGroups, err)
	}

	// Rename and retag.
	if err := d.RenameHost(ctx, db.ID, "lc-db-renamed"); err != nil {
		t.Fatal(err)
	}
	if err := d.TagHost(ctx, db.ID, []string{"lc-extra"}, []string{"lc-db"}); err != nil {
		t.Fatal(err)
	}
	if h, err := d.GetHost(ctx, db.ID); err != nil || h.Name != "lc-db-renamed" || !slices.Equal(h.Tags, []string{cloud.ManagedTag, "lc-extra"}) {
		t.Errorf("after rename and retag: %+v, %v", h, err)
	}
	if got, _ := d.ListHosts(ctx, "lc-db"); len(got) != 0 {
		t.Errorf("ListHosts(lc-db) after untagging = %d hosts", len(got))
	}

	// Resize: EC2 refuses to change a running instance's type; the driver
	// stops, modifies and starts.
	_, err = e.raw.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: awssdk.String(db.ID), InstanceType: &types.AttributeValue{Value: awssdk.String("t3.medium")}})
	if apiCode(err) != "IncorrectInstanceState" {
		t.Errorf("ModifyInstanceAttribute on a running instance: %v, want IncorrectInstanceState", err)
	}
	resized, err := d.ResizeHost(ctx, db.ID, "t3.medium")
	if err != nil || resized.Size != "t3.medium" || resized.Status != cloud.HostActive {
		t.Fatalf("ResizeHost = %+v, %v", resized, err)
	}
	if _, err := d.ResizeHost(ctx, db.ID, "t4g.small"); err == nil || !strings.Contains(err.Error(), "architecture") {
		t.Errorf("ResizeHost to an arm64 type: %v, want EC2's architecture refusal", err)
	}
	if h, err := d.GetHost(ctx, db.ID); err != nil || h.Size != "t3.medium" || h.Status != cloud.HostActive {
		t.Errorf("after the refused resize: %+v, %v; want t3.medium and started again", h, err)
	}
	counts := e.run.Server.Requests().Requests
	for _, op := range []string{"StopInstances", "ModifyInstanceAttribute", "StartInstances"} {
		if counts["ec2:"+op] == 0 {
			t.Errorf("no %s request: %v", op, counts)
		}
	}

	// An Elastic IP: allocated onto one host, moved to another, released.
	a, b := byName["lc-web-1"], byName["lc-web-2"]
	fip, err := d.CreateFloatingIP(ctx, lcRegion, a)
	if err != nil || fip.HostID != a {
		t.Fatalf("CreateFloatingIP = %+v, %v", fip, err)
	}
	coreHost := func(id string) int {
		out, err := e.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		ip := awssdk.ToString(out.Reservations[0].Instances[0].PrivateIpAddress)
		e.run.Server.Lock()
		defer e.run.Server.Unlock()
		for _, h := range e.run.Server.Hosts(lcaws.Name, e.run.Server.Now()) {
			if h.Addrs.PrivateIPv4.Addr().String() == ip {
				return h.ID
			}
		}
		return 0
	}
	holder := func() int {
		e.run.Server.Lock()
		defer e.run.Server.Unlock()
		return e.run.Server.Address(netip.MustParseAddr(fip.Address)).HostID
	}
	if got, want := holder(), coreHost(a); got != want || want == 0 {
		t.Errorf("the address is on host %d, want %d", got, want)
	}
	if h, _ := d.GetHost(ctx, a); h.PublicIPv4 != fip.Address {
		t.Errorf("host a's public IP %s, want the Elastic IP %s", h.PublicIPv4, fip.Address)
	}
	// Without AllowReassociation EC2 refuses to take it from a.
	_, err = e.raw.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: awssdk.String(fip.ID), InstanceId: awssdk.String(b)})
	if apiCode(err) != "Resource.AlreadyAssociated" {
		t.Errorf("AssociateAddress without AllowReassociation: %v, want Resource.AlreadyAssociated", err)
	}
	if err := d.AssignFloatingIP(ctx, fip.ID, b); err != nil {
		t.Fatalf("AssignFloatingIP: %v", err)
	}
	if got, want := holder(), coreHost(b); got != want {
		t.Errorf("after the move the address is on host %d, want %d", got, want)
	}
	if got, err := d.GetFloatingIP(ctx, fip.ID); err != nil || got.HostID != b {
		t.Errorf("GetFloatingIP = %+v, %v; want on %s", got, err, b)
	}
	if h, _ := d.GetHost(ctx, a); h.PublicIPv4 == fip.Address || h.PublicIPv4 == "" {
		t.Errorf("host a's public IP after the move: %q", h.PublicIPv4)
	}
	if _, err := e.raw.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: awssdk.String(fip.ID)}); apiCode(err) != "InvalidIPAddress.InUse" {
		t.Errorf("ReleaseAddress while associated: %v, want InvalidIPAddress.InUse", err)
	}
	if err := d.UnassignFloatingIP(ctx, fip.ID); err != nil {
		t.Fatal(err)
	}
	if holder() != 0 {
		t.Error("the address is still on a host after UnassignFloatingIP")
	}
	ips, err := d.ListFloatingIPs(ctx)
	if err != nil || len(ips) != 1 || ips[0].HostID != "" {
		t.Errorf("ListFloatingIPs = %+v, %v", ips, err)
	}
	if err := d.AssignFloatingIP(ctx, fip.ID, a); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteFloatingIP(ctx, fip.ID); err != nil {
		t.Fatalf("DeleteFloatingIP: %v", err)
	}
	if _, err := d.GetFloatingIP(ctx, fip.ID); !cloud.IsNotFound(err) {
		t.Errorf("GetFloatingIP after delete: %v, want not found", err)
	}

	// Delete everything.
	for _, id := range ids {
		if err := d.DeleteHost(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.WaitHostsDeleted(ctx, ids, 0); err != nil {
		t.Fatal(err)
	}
	if left, err := d.ListHosts(ctx, cloud.ManagedTag); err != nil || len(left) != 0 {
		t.Errorf("ListHosts after delete = %d, %v", len(left), err)
	}
	if _, err := d.GetHost(ctx, ids[0]); !cloud.IsNotFound(err) {
		t.Errorf("GetHost after delete: %v, want not found", err)
	}
	if err := d.DeleteHost(ctx, ids[0]); err != nil {
		t.Errorf("DeleteHost twice: %v", err)
	}
	out, err := e.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: awssdk.String("instance-state-name"), Values: []string{"terminated"}}}})
	if err != nil || len(out.Reservations) != 2 {
		t.Errorf("terminated instances listed in %d reservations, %v; want 2 (EC2 lists them for a while)", len(out.Reservations), err)
	}
}

// TestLocalcloudRefusals checks what localcloud's EC2 refuses as EC2 does:
// bad signatures, unknown ids, filters and images, DryRun.
func TestLocalcloudRefusals(t *testing.T) {
	e := newLocalcloudEnv(t)
	ctx := t.Context()
	endpoint := e.run.APIURLs[lcaws.Name]

	for name, creds := range map[string][2]string{
		"wrong secret":     {lcaws.DevAccessKey, "not-the-secret"},
		"wrong access key": {"AKIAOTHER", lcaws.DevSecretKey},
	} {
		bad := ec2.New(ec2.Options{Region: lcRegion, BaseEndpoint: awssdk.String(endpoint), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(creds[0], creds[1], "")})
		if _, err := bad.DescribeRegions(ctx, &ec2.DescribeRegionsInput{}); apiCode(err) != "AuthFailure" {
			t.Errorf("%s: %v, want AuthFailure", name, err)
		}
	}
	other := ec2.New(ec2.Options{Region: "sa-east-1", BaseEndpoint: awssdk.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(lcaws.DevAccessKey, lcaws.DevSecretKey, "")})
	if _, err := other.DescribeRegions(ctx, &ec2.DescribeRegionsInput{}); apiCode(err) != "AuthFailure" {
		t.Errorf("a region localcloud does not serve: %v, want AuthFailure", err)
	}
	resp, err := http.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeRegions&Version=2016-11-15"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned request: %d, want 401", resp.StatusCode)
	}

	_, err = e.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	if apiCode(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("unknown instance: %v", err)
	}
	_, err = e.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: awssdk.String("no-such-filter"), Values: []string{"x"}}}})
	if apiCode(err) != "InvalidParameterValue" {
		t.Errorf("unknown filter: %v", err)
	}
	_, err = e.raw.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: awssdk.Int32(2)})
	if apiCode(err) != "InvalidParameterValue" {
		t.Errorf("MaxResults 2: %v", err)
	}
	_, err = e.raw.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	if apiCode(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("terminating an unknown instance: %v", err)
	}
	_, err = e.raw.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: awssdk.String("ami-0123456789abcdef0"), InstanceType: types.InstanceTypeT3Small, MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)})
	if apiCode(err) != "InvalidAMIID.NotFound" {
		t.Errorf("unknown AMI: %v", err)
	}
	_, err = e.raw.RunInstances(ctx, &ec2.RunInstancesInput{DryRun: awssdk.Bool(true), ImageId: awssdk.String("ami-0123456789abcdef0"), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)})
	if apiCode(err) != "DryRunOperation" {
		t.Errorf("DryRun: %v", err)
	}
	_, err = e.raw.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: awssdk.String("eipalloc-0123456789abcdef0")})
	if apiCode(err) != "InvalidAllocationID.NotFound" {
		t.Errorf("unknown allocation: %v", err)
	}
	_, err = e.raw.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: awssdk.String("eipassoc-0123456789abcdef0")})
	if apiCode(err) != "InvalidAssociationID.NotFound" {
		t.Errorf("unknown association: %v", err)
	}
	if n := e.v.Checked(); n < 10 {
		t.Errorf("the validator checked %d exchanges", n)
	}
}

// TestLocalcloudEndpointFromEnvironment: with no Endpoints, the SDK's
// standard AWS_ENDPOINT_URL_EC2 reaches localcloud.
func TestLocalcloudEndpointFromEnvironment(t *testing.T) {
	e := newLocalcloudEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_EC2", e.run.APIURLs[lcaws.Name])
	d, err := New(t.Context(), Config{Region: lcRegion, AccessKey: lcaws.DevAccessKey, SecretKey: lcaws.DevSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ListHosts(t.Context(), ""); err != nil {
		t.Errorf("ListHosts through AWS_ENDPOINT_URL_EC2: %v", err)
	}
	if got := e.run.Server.Requests().Requests["ec2:DescribeInstances"]; got != 1 {
		t.Errorf("localcloud served %d DescribeInstances", got)
	}
}

// TestLocalcloudUnsavedFloatingIP: an Elastic IP created unsaved carries
// its deadline from its allocation on, in every read (list and get), and
// loses it once saved; a plain create carries none.
func TestLocalcloudUnsavedFloatingIP(t *testing.T) {
	e := newLocalcloudEnv(t)
	ctx := t.Context()
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ip, err := e.d.CreateUnsavedFloatingIP(ctx, lcRegion, "", until)
	if err != nil {
		t.Fatalf("CreateUnsavedFloatingIP: %v", err)
	}
	t.Cleanup(func() { _ = e.d.DeleteFloatingIP(context.Background(), ip.ID) })
	plain, err := e.d.CreateFloatingIP(ctx, lcRegion, "")
	if err != nil {
		t.Fatalf("CreateFloatingIP: %v", err)
	}
	t.Cleanup(func() { _ = e.d.DeleteFloatingIP(context.Background(), plain.ID) })
	if !ip.UnsavedUntil.Equal(until) || !plain.UnsavedUntil.IsZero() {
		t.Errorf("created: unsaved until %v and %v, want %v and none", ip.UnsavedUntil, plain.UnsavedUntil, until)
	}
	marks := func() map[string]time.Time {
		t.Helper()
		all, err := e.d.ListFloatingIPs(ctx)
		if err != nil {
			t.Fatalf("ListFloatingIPs: %v", err)
		}
		out := map[string]time.Time{}
		for _, f := range all {
			out[f.ID] = f.UnsavedUntil
		}
		return out
	}
	if m := marks(); !m[ip.ID].Equal(until) || !m[plain.ID].IsZero() {
		t.Errorf("listed: %v", m)
	}
	if got, err := e.d.GetFloatingIP(ctx, ip.ID); err != nil || !got.UnsavedUntil.Equal(until) {
		t.Errorf("GetFloatingIP = %+v, %v", got, err)
	}
	if err := e.d.MarkFloatingIPSaved(ctx, ip.ID); err != nil {
		t.Fatalf("MarkFloatingIPSaved: %v", err)
	}
	if err := e.d.MarkFloatingIPSaved(ctx, plain.ID); err != nil {
		t.Errorf("MarkFloatingIPSaved(never marked): %v", err)
	}
	if m := marks(); !m[ip.ID].IsZero() {
		t.Errorf("after MarkFloatingIPSaved: unsaved until %v", m[ip.ID])
	}
	// A mark set by hand that is not a time is no deadline.
	if _, err := e.raw.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{plain.ID}, Tags: []types.Tag{{Key: awssdk.String(tagKey(cloud.UnsavedTag)), Value: awssdk.String("yes")}}}); err != nil {
		t.Fatal(err)
	}
	if m := marks(); !m[plain.ID].IsZero() {
		t.Errorf("hand-set mark read as %v", m[plain.ID])
	}
}
