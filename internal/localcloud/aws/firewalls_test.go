package aws_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	lcaws "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/aws"
	lcdo "github.com/haddockhq/terraform-provider-haddock/internal/localcloud/digitalocean"
)

type fwRule = localcloud.FirewallRule

// waitRules waits until the backend has want for host id, compared
// order-insensitively (nil want: no filter set).
func waitRules(t *testing.T, be *localcloud.MemoryBackend, what string, id int, want []fwRule) {
	t.Helper()
	want = localcloud.CanonicalFirewallRules(want)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, set := be.HostFirewall(id)
		switch {
		case !set:
			got = nil
		case got == nil:
			got = []fwRule{}
		}
		got = localcloud.CanonicalFirewallRules(got)
		if localcloud.SameFirewallRules(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (host %d): rules %v (set %v), want %v", what, id, got, set, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func hostPfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if s == "" {
			continue
		}
		a := netip.MustParseAddr(s)
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}

func cidrs(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// allFrom is what "-1" from srcs admits.
func allFrom(srcs []netip.Prefix) []fwRule {
	return []fwRule{{Protocol: "tcp", Sources: srcs}, {Protocol: "udp", Sources: srcs}, {Protocol: "icmp", Sources: srcs}}
}

func tcpFrom(port int, srcs []netip.Prefix) fwRule {
	return fwRule{Protocol: "tcp", FromPort: port, ToPort: port, Sources: srcs}
}

func perm(proto string, port int32, cidr, group string) types.IpPermission {
	p := types.IpPermission{IpProtocol: awssdk.String(proto), FromPort: awssdk.Int32(port), ToPort: awssdk.Int32(port)}
	if group != "" {
		p.UserIdGroupPairs = []types.UserIdGroupPair{{GroupId: awssdk.String(group)}}
	} else {
		p.IpRanges = []types.IpRange{{CidrIp: awssdk.String(cidr)}}
	}
	return p
}

// ec2Fixture launches instances and reads them back.
type ec2Fixture struct {
	t   *testing.T
	c   *ec2.Client
	api *lcaws.API
	img *string
}

func (f ec2Fixture) group(name string, perms ...types.IpPermission) string {
	ctx := f.t.Context()
	sg := must(f.c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(name), Description: awssdk.String(name)}))
	if len(perms) > 0 {
		must(f.c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: perms}))
	}
	return awssdk.ToString(sg.GroupId)
}

// launch launches one instance in groups (none: the default group) and
// waits until it runs.
func (f ec2Fixture) launch(groups ...string) string {
	ctx := f.t.Context()
	out := must(f.c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: f.img, InstanceType: types.InstanceTypeT3Small,
		MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), SecurityGroupIds: groups}))
	id := awssdk.ToString(out.Instances[0].InstanceId)
	waitState(ctx, f.t, f.c, id, types.InstanceStateNameRunning)
	return id
}

// addrs are instance id's public and private addresses as DescribeInstances shows them.
func (f ec2Fixture) addrs(id string) []netip.Prefix {
	out := must(f.c.DescribeInstances(f.t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}}))
	in := out.Reservations[0].Instances[0]
	return hostPfx(awssdk.ToString(in.PublicIpAddress), awssdk.ToString(in.PrivateIpAddress))
}

// priv is instance id's private address: what a reference to its group
// admits.
func (f ec2Fixture) priv(id string) []netip.Prefix {
	out := must(f.c.DescribeInstances(f.t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}}))
	return hostPfx(awssdk.ToString(out.Reservations[0].Instances[0].PrivateIpAddress))
}

func (f ec2Fixture) host(id string) int {
	h, ok := f.api.HostOfInstance(id)
	if !ok {
		f.t.Fatalf("instance %s has no host", id)
	}
	return h
}

func newFixture(t *testing.T, cfg localcloud.Config) (ec2Fixture, *localcloud.Running) {
	api := lcaws.New(lcaws.Config{})
	cfg.APIs = append(cfg.APIs, api)
	run, c := start(t, cfg)
	img := must(c.DescribeImages(t.Context(), &ec2.DescribeImagesInput{Filters: []types.Filter{{Name: awssdk.String("name"), Values: []string{"debian-12-amd64-20250610-2140"}}}}))
	return ec2Fixture{t: t, c: c, api: api, img: img.Images[0].ImageId}, run
}

// TestSecurityGroupsEnforced follows each instance's effective rules
// through the changes that alter them: launches, ingress authorized and
// revoked, groups modified, an Elastic IP, a stop and a termination.
func TestSecurityGroupsEnforced(t *testing.T) {
	be := localcloud.NewMemoryBackend()
	f, _ := newFixture(t, localcloud.Config{Backend: be})
	ctx := t.Context()
	c := f.c

	web := f.group("web", perm("tcp", 80, "0.0.0.0/0", ""))
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &web, IpPermissions: []types.IpPermission{perm("tcp", 7946, "", web)}}))
	a, b := f.launch(web), f.launch(web)
	d := f.launch() // the default group: everything from its members only
	ha, hb, hd := f.host(a), f.host(b), f.host(d)
	webRules := func(members ...string) []fwRule {
		var srcs []netip.Prefix
		for _, m := range members {
			srcs = append(srcs, f.priv(m)...)
		}
		return []fwRule{tcpFrom(80, cidrs("0.0.0.0/0")), tcpFrom(7946, srcs)}
	}
	waitRules(t, be, "a in web", ha, webRules(a, b))
	waitRules(t, be, "b in web", hb, webRules(a, b))
	waitRules(t, be, "d in the default group", hd, allFrom(f.priv(d)))

	// A rule naming another group admits its members; revoked, it goes.
	var dflt string
	for _, g := range must(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})).SecurityGroups {
		dflt = awssdk.ToString(g.GroupId)
	}
	vxlan := perm("udp", 4789, "", dflt)
	must(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &web, IpPermissions: []types.IpPermission{vxlan}}))
	udp := fwRule{Protocol: "udp", FromPort: 4789, ToPort: 4789, Sources: f.priv(d)}
	waitRules(t, be, "web admitting the default group", ha, append(webRules(a, b), udp))
	must(c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: &web, IpPermissions: []types.IpPermission{vxlan, perm("tcp", 80, "0.0.0.0/0", "")}}))
	waitRules(t, be, "revoked", ha, webRules(a, b)[1:])

	// d joins web too: web's members admit it, and d gets the union.
	must(c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &d, Groups: []string{web, dflt}}))
	waitRules(t, be, "a after d joined web", ha, webRules(a, b, d)[1:])
	waitRules(t, be, "d in web and default", hd, append(allFrom(f.priv(d)), webRules(a, b, d)[1:]...))

	// An Elastic IP is b's public address: a group reference does not
	// admit it (nor b's other public address), so a's rules stay.
	eip := must(c.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc}))
	must(c.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: eip.AllocationId, InstanceId: &b}))
	if got := f.addrs(b); !slices.Contains(got, hostPfx(awssdk.ToString(eip.PublicIp))[0]) {
		t.Fatalf("b's addresses %v lack the Elastic IP %s", got, awssdk.ToString(eip.PublicIp))
	}
	waitRules(t, be, "a after b got an Elastic IP", ha, webRules(a, b, d)[1:])
	must(c.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{PublicIp: eip.PublicIp}))
	waitRules(t, be, "a after b lost it", ha, webRules(a, b, d)[1:])

	// Stopped, d has no public address; terminated, none.
	must(c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{d}, Force: awssdk.Bool(true)}))
	waitState(ctx, t, c, d, types.InstanceStateNameStopped)
	if n := len(f.addrs(d)); n != 1 {
		t.Fatalf("stopped d has %d addresses, want its private one", n)
	}
	waitRules(t, be, "a after d stopped", ha, webRules(a, b, d)[1:])
	must(c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{d}}))
	waitState(ctx, t, c, d, types.InstanceStateNameRunning)
	waitRules(t, be, "a after d started", ha, webRules(a, b, d)[1:])
	must(c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{d}}))
	waitRules(t, be, "a after d was terminated", ha, webRules(a, b)[1:])
}

// TestSecurityGroupsAfterRestart: a restarted localcloud hands a new
// backend every instance's rules again.
func TestSecurityGroupsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	be := localcloud.NewMemoryBackend()
	f, run := newFixture(t, localcloud.Config{Backend: be, StateDir: dir})
	ssh := f.group("ssh", perm("tcp", 22, "198.51.100.0/24", ""))
	id := f.launch(ssh)
	h := f.host(id)
	want := []fwRule{tcpFrom(22, cidrs("198.51.100.0/24"))}
	waitRules(t, be, "before the restart", h, want)
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}

	be2 := localcloud.NewMemoryBackend()
	newFixture(t, localcloud.Config{Backend: be2, StateDir: dir})
	waitRules(t, be2, "after the restart", h, want)
}

// TestSecurityGroupsBesideDroplets: hosts of both APIs in one localcloud.
// Each host's filter comes from the API that owns it: a droplet in no
// cloud firewall stays unfiltered, an instance's groups never admit
// droplets, and a DigitalOcean firewall leaves instances alone.
func TestSecurityGroupsBesideDroplets(t *testing.T) {
	be := localcloud.NewMemoryBackend()
	f, run := newFixture(t, localcloud.Config{Backend: be, APIs: []localcloud.API{lcdo.New(lcdo.Config{})}})
	doCall := func(method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(t.Context(), method, run.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+localcloud.DevToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	drop := doCall("POST", "/v2/droplets", map[string]any{"name": "d-1", "region": "fra1", "size": "s-1vcpu-1gb", "image": "debian-12-x64"})
	dm, _ := drop["droplet"].(map[string]any)
	idf, ok := dm["id"].(float64)
	if !ok {
		t.Fatalf("created droplet: %v", drop)
	}
	dropletID := int(idf)

	a := f.launch()
	ha := f.host(a)
	waitRules(t, be, "instance in the default group", ha, allFrom(f.priv(a)))
	// The droplet got no rules from EC2's API.
	time.Sleep(50 * time.Millisecond)
	if r, set := be.HostFirewall(dropletID); set {
		t.Fatalf("droplet %d: filtered %v, want no filter", dropletID, r)
	}

	// A DigitalOcean firewall naming every droplet and tag changes the
	// droplet's filter only.
	doCall("POST", "/v2/firewalls", map[string]any{
		"name":          "do-fw",
		"inbound_rules": []any{map[string]any{"protocol": "tcp", "ports": "22", "sources": map[string]any{"addresses": []string{"0.0.0.0/0"}}}},
		"droplet_ids":   []int{dropletID},
	})
	waitRules(t, be, "droplet in a DigitalOcean firewall", dropletID, []fwRule{tcpFrom(22, cidrs("0.0.0.0/0"))})
	waitRules(t, be, "instance beside it", ha, allFrom(f.priv(a)))
}

// memberAPI is another API reporting members of EC2's security groups,
// as ELBv2's load balancers are.
type memberAPI struct {
	s       *localcloud.Server
	members map[string][]netip.Addr // guarded by s.Lock
}

func (m *memberAPI) Name() string                                              { return "members" }
func (m *memberAPI) Prefix() string                                            { return "/members/" }
func (m *memberAPI) Mount(s *localcloud.Server)                                { m.s = s }
func (m *memberAPI) Route(*http.Request) string                                { return "members" }
func (m *memberAPI) Refuse(w http.ResponseWriter, _ *http.Request, status int) { w.WriteHeader(status) }
func (m *memberAPI) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}
func (m *memberAPI) HostProvisioned(*localcloud.Host, error, time.Time) {}
func (m *memberAPI) SaveState() any                                     { return nil }
func (m *memberAPI) LoadState(json.RawMessage) error                    { return nil }

func (m *memberAPI) FirewallMembers(out map[string][]netip.Addr) {
	for g, ips := range m.members {
		out[g] = append(out[g], ips...)
	}
}

// TestSecurityGroupsOtherAPIsMembers: a rule naming a group admits the
// addresses another API reports in it (a load balancer's), once it says
// they changed.
func TestSecurityGroupsOtherAPIsMembers(t *testing.T) {
	be := localcloud.NewMemoryBackend()
	m := &memberAPI{members: map[string][]netip.Addr{}}
	f, run := newFixture(t, localcloud.Config{Backend: be, APIs: []localcloud.API{m}})
	lb := f.group("lb")
	hosts := f.group("hosts", perm("tcp", 8080, "", lb))
	a := f.launch(hosts)
	ha := f.host(a)
	waitRules(t, be, "no load balancer yet", ha, []fwRule{})

	run.Server.Lock()
	m.members[lb] = []netip.Addr{netip.MustParseAddr("192.0.2.10")}
	run.Server.Unlock()
	run.Server.FirewallMembersChanged()
	waitRules(t, be, "a load balancer in lb", ha, []fwRule{tcpFrom(8080, hostPfx("192.0.2.10"))})

	run.Server.Lock()
	delete(m.members, lb)
	run.Server.Unlock()
	run.Server.FirewallMembersChanged()
	waitRules(t, be, "the load balancer gone", ha, []fwRule{})
}

// TestSecurityGroupCIDRsChecked: malformed CIDRs are refused as EC2
// refuses them.
func TestSecurityGroupCIDRsChecked(t *testing.T) {
	f, _ := newFixture(t, localcloud.Config{})
	sg := f.group("x")
	for _, p := range []types.IpPermission{
		perm("tcp", 22, "10.0.0.1", ""),
		perm("tcp", 22, "::/0", ""),
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: awssdk.String("10.0.0.0/8")}}},
	} {
		_, err := f.c.AuthorizeSecurityGroupIngress(context.Background(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &sg, IpPermissions: []types.IpPermission{p}})
		if code(err) != "InvalidParameterValue" {
			t.Errorf("authorizing %+v: %v, want InvalidParameterValue", p, err)
		}
	}
}

// TestSecurityGroupICMPChecked: an icmp or icmpv6 rule's FromPort is the
// ICMP type, its ToPort the code, -1 all, as EC2 takes them: "If the
// start port is -1 (all ICMP types), then the end port must be -1 (all
// ICMP codes)"; icmpv6 may give none (every type), and -1 -1 is the same
// rule.
func TestSecurityGroupICMPChecked(t *testing.T) {
	f, _ := newFixture(t, localcloud.Config{})
	ctx := t.Context()
	sg := f.group("icmp")
	icmp := func(proto string, from, to *int32, v6 bool) types.IpPermission {
		p := types.IpPermission{IpProtocol: awssdk.String(proto), FromPort: from, ToPort: to}
		if v6 {
			p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: awssdk.String("::/0")}}
		} else {
			p.IpRanges = []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}
		}
		return p
	}
	n := awssdk.Int32
	for _, p := range []types.IpPermission{
		icmp("icmp", n(-1), n(0), false),
		icmp("icmp", n(-2), n(-1), false),
		icmp("icmp", n(256), n(-1), false),
		icmp("icmp", n(8), n(256), false),
		icmp("icmp", n(8), n(-2), false),
		icmp("icmp", nil, nil, false),
		icmp("1", n(-1), n(3), false),
		icmp("icmpv6", n(-1), n(0), true),
		icmp("icmpv6", n(128), nil, true),
		icmp("58", n(256), n(0), true),
	} {
		_, err := f.c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &sg, IpPermissions: []types.IpPermission{p}})
		if code(err) != "InvalidParameterValue" {
			t.Errorf("authorizing %s %v-%v: %v, want InvalidParameterValue", awssdk.ToString(p.IpProtocol), awssdk.ToInt32(p.FromPort), awssdk.ToInt32(p.ToPort), err)
		}
	}
	ok := []types.IpPermission{
		icmp("icmp", n(8), n(-1), false),
		icmp("icmp", n(3), n(4), false),
		icmp("icmp", n(-1), n(-1), false),
		icmp("icmpv6", n(128), n(0), true),
		icmp("icmpv6", nil, nil, true),
	}
	must(f.c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &sg, IpPermissions: ok}))
	type key struct {
		proto    string
		from, to int32
		ports    bool
	}
	var got []key
	out := must(f.c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sg}}))
	for _, p := range out.SecurityGroups[0].IpPermissions {
		got = append(got, key{awssdk.ToString(p.IpProtocol), awssdk.ToInt32(p.FromPort), awssdk.ToInt32(p.ToPort), p.FromPort != nil})
	}
	want := []key{{"icmp", 8, -1, true}, {"icmp", 3, 4, true}, {"icmp", -1, -1, true}, {"icmpv6", 128, 0, true}, {"icmpv6", 0, 0, false}}
	sortKeys := func(ks []key) {
		slices.SortFunc(ks, func(a, b key) int {
			return cmp.Or(strings.Compare(a.proto, b.proto), int(a.from-b.from), int(a.to-b.to))
		})
	}
	sortKeys(got)
	sortKeys(want)
	if !slices.Equal(got, want) {
		t.Errorf("described %v, want %v", got, want)
	}
	// -1 -1 is the icmpv6 rule without ports: it is already there, and
	// revokes it.
	allV6 := icmp("icmpv6", n(-1), n(-1), true)
	if _, err := f.c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &sg, IpPermissions: []types.IpPermission{allV6}}); code(err) != "InvalidPermission.Duplicate" {
		t.Errorf("authorizing icmpv6 -1 -1 beside icmpv6 without ports: %v, want InvalidPermission.Duplicate", err)
	}
	must(f.c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: &sg, IpPermissions: []types.IpPermission{allV6}}))
}
