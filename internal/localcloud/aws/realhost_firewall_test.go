package aws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netnsbackend"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Ports sg-a listens on in TestRealSecurityGroups.
const (
	sgMembersPort = 7101 // the self-referencing rule's
	sgOpenPort    = 7102 // the rule from anywhere's
)

// TestRealSecurityGroups enforces security groups on real hosts: what
// reaches sg-a from the network is dropped (a timeout, not a refusal)
// until a rule of its group admits it; a rule from 0.0.0.0/0 admits
// every host and the machine; a self-referencing rule admits the group's
// members only (sg-b, and sg-c once its groups are modified to include
// the group), not an instance of another group nor the machine; an icmp
// rule admits its ICMP type only (a ping needs echo requests, type 8);
// revoking the rules closes the ports again.
func TestRealSecurityGroups(t *testing.T) {
	localcloudtest.RequireRealHosts(t)
	v, err := awsmodel.New()
	if err != nil {
		t.Fatal(err)
	}
	api := lcaws.New(lcaws.Config{})
	o := testReal
	o.APIs = []localcloud.API{api}
	o.APIAddrs = map[string]string{lcaws.Name: "127.0.0.1:0"}
	o.Middleware = v.Middleware
	r := localcloudtest.StartReal(t, o)
	t.Cleanup(func() { v.Report(t) })
	c := client(r.Running.APIURLs[lcaws.Name])
	ctx := t.Context()

	imgs := must(c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{lcaws.DebianOwner},
		Filters: []types.Filter{{Name: awssdk.String("name"), Values: []string{"debian-12-amd64-*"}}}}))
	group := func(name string) string {
		return awssdk.ToString(must(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(name), Description: awssdk.String(name)})).GroupId)
	}
	members, others := group("members"), group("others")
	names := map[string]string{"sg-a": members, "sg-b": members, "sg-c": others}
	// addrs are public: the machine reaches only those. privs are the
	// VPC's, reached from the other instances only.
	ids, hosts, addrs, privs := map[string]string{}, map[string]int{}, map[string]string{}, map[string]string{}
	for _, name := range []string{"sg-a", "sg-b", "sg-c"} {
		out := must(c.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: imgs.Images[0].ImageId, InstanceType: types.InstanceTypeT3Small, MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1),
			SecurityGroupIds:  []string{names[name]},
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String(name)}}}},
		}))
		ids[name] = awssdk.ToString(out.Instances[0].InstanceId)
	}
	for name, id := range ids {
		inst := waitState(ctx, t, c, id, types.InstanceStateNameRunning)
		addrs[name], privs[name] = awssdk.ToString(inst.PublicIpAddress), awssdk.ToString(inst.PrivateIpAddress)
		if addrs[name] == "" || privs[name] == "" || addrs[name] == privs[name] {
			t.Fatalf("%s: public address %q, private %q: want two distinct addresses", name, addrs[name], privs[name])
		}
		h, ok := api.HostOfInstance(id)
		if !ok {
			t.Fatalf("%s has no host", name)
		}
		hosts[name] = h
	}
	inHost := func(name string, fn func() error) error {
		if name == "machine" {
			return fn()
		}
		return r.Backend.Manager().InHost(netnsbackend.HostID(hosts[name]), fn)
	}

	// Listeners in sg-a's namespace: a greeting per port.
	for _, port := range []int{sgMembersPort, sgOpenPort} {
		var ln net.Listener
		if err := inHost("sg-a", func() error {
			var err error
			ln, err = net.Listen("tcp", ":"+strconv.Itoa(port))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = fmt.Fprintf(conn, "sg-a %d\n", port)
				_ = conn.Close()
			}
		}()
	}
	var expectAt func(when, from, ip string, port int, admitted bool)
	// expect connects from a host (or the machine) to sg-a's port and
	// checks it is admitted (the greeting comes back) or dropped (the
	// connection times out: a security group drops, it does not refuse).
	expect := func(when, from string, port int, admitted bool) {
		t.Helper()
		expectAt(when, from, addrs["sg-a"], port, admitted)
	}
	expectAt = func(when, from, ip string, port int, admitted bool) {
		t.Helper()
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		var got string
		err := inHost(from, func() error {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return err
			}
			defer func() { _ = conn.Close() }()
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			b, err := io.ReadAll(conn)
			got = string(b)
			return err
		})
		if err == nil && !strings.Contains(got, fmt.Sprintf("sg-a %d", port)) {
			err = fmt.Errorf("answered %q", got)
		}
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		switch {
		case admitted && err != nil:
			t.Errorf("%s: %s to %s: %v, want admitted", when, from, addr, err)
		case !admitted && err == nil:
			t.Errorf("%s: %s to %s answered, want dropped", when, from, addr)
		case !admitted && !timedOut:
			t.Errorf("%s: %s to %s: %v, want a timeout (dropped, not refused)", when, from, addr, err)
		case admitted:
			t.Logf("%s: %s to %s admitted", when, from, addr)
		default:
			t.Logf("%s: %s to %s dropped (%v)", when, from, addr, err)
		}
	}
	everyone := []string{"sg-b", "sg-c", "machine"}
	tcpPerm := func(port int32, cidr, group string) types.IpPermission { return perm("tcp", port, cidr, group) }
	authorize := func(g string, p types.IpPermission) {
		must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &g, IpPermissions: []types.IpPermission{p}}))
	}
	revoke := func(g string, p types.IpPermission) {
		must(c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: &g, IpPermissions: []types.IpPermission{p}}))
	}

	// A group without rules admits nothing.
	for _, from := range everyone {
		expect("no rules", from, sgMembersPort, false)
		expect("no rules", from, sgOpenPort, false)
	}

	// From anywhere: every host and the machine; the other port stays shut.
	open := tcpPerm(sgOpenPort, "0.0.0.0/0", "")
	authorize(members, open)
	for _, from := range everyone {
		expect("open from anywhere", from, sgOpenPort, true)
		expect("open from anywhere", from, sgMembersPort, false)
	}

	// ICMP narrowed to a type: echo replies (0) do not admit a ping, echo
	// requests (8, any code) do.
	icmpPerm := func(typ, code int32) types.IpPermission {
		return types.IpPermission{IpProtocol: awssdk.String("icmp"), FromPort: &typ, ToPort: &code,
			IpRanges: []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}
	}
	replies, requests := icmpPerm(0, -1), icmpPerm(8, -1)
	authorize(members, replies)
	if err := localcloudtest.Ping(addrs["sg-a"]); err == nil {
		t.Error("echo replies only: the machine's ping answered, want dropped")
	}
	authorize(members, requests)
	if err := localcloudtest.Ping(addrs["sg-a"]); err != nil {
		t.Errorf("echo requests: the machine's ping: %v, want answered", err)
	}
	revoke(members, replies)
	revoke(members, requests)
	if err := localcloudtest.Ping(addrs["sg-a"]); err == nil {
		t.Error("icmp revoked: the machine's ping answered, want dropped")
	}

	// Self-referencing: the group's members only, at the private address
	// (they send from theirs); as in AWS, a member reaching the public
	// address sends from its public one, which the reference does not
	// admit.
	self := tcpPerm(sgMembersPort, "", members)
	authorize(members, self)
	expectAt("members", "sg-b", privs["sg-a"], sgMembersPort, true)
	expectAt("members", "sg-c", privs["sg-a"], sgMembersPort, false)
	expect("members, public address", "sg-b", sgMembersPort, false)
	expect("members", "machine", sgMembersPort, false)

	// sg-c joins the group: admitted as a member.
	must(c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: awssdk.String(ids["sg-c"]), Groups: []string{others, members}}))
	expectAt("sg-c a member", "sg-c", privs["sg-a"], sgMembersPort, true)
	expect("sg-c a member", "machine", sgMembersPort, false)

	// Revoked, closed again.
	revoke(members, self)
	revoke(members, open)
	for _, from := range everyone {
		expect("revoked", from, sgMembersPort, false)
		expect("revoked", from, sgOpenPort, false)
	}
	expectAt("revoked", "sg-b", privs["sg-a"], sgMembersPort, false)

	must(c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ids["sg-a"], ids["sg-b"], ids["sg-c"]}}))
	for _, id := range ids {
		waitState(ctx, t, c, id, types.InstanceStateNameTerminated)
	}
	err = wait.Until(ctx, wait.Options{What: "the hosts to be destroyed", Interval: 200 * time.Millisecond, Timeout: time.Minute},
		func(context.Context) (bool, string, error) {
			n := len(r.Backend.Manager().List())
			return n == 0, strconv.Itoa(n) + " host(s)", nil
		})
	if err != nil {
		t.Error(err)
	}
}
