package cluster

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

var testPolicy = &FirewallPolicy{
	DockerAPI: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
	SSH:       []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")},
}

// ruleLines renders a firewall's rules one line each, for comparisons.
func ruleLines(rules []cloud.FirewallRule) []string {
	var out []string
	for _, r := range rules {
		src := make([]string, 0, len(r.CIDRs)+1)
		if r.FromTargets {
			src = append(src, "targets")
		}
		for _, p := range r.CIDRs {
			src = append(src, p.String())
		}
		out = append(out, fmt.Sprintf("%s %s from %s", r.Protocol, r.Ports, strings.Join(src, ",")))
	}
	return out
}

func TestFirewallRules(t *testing.T) {
	peer := netip.MustParsePrefix("192.0.2.9/32")
	got := ruleLines(FirewallRules(*testPolicy, []netip.Prefix{peer, peer}, []swarm.PublishedPort{{Protocol: "tcp", Port: 80, Service: "web"}, {Protocol: "udp", Port: 53}, {Protocol: "sctp", Port: 9}}))
	want := []string{
		"tcp 2377 from targets,192.0.2.9/32",
		"tcp 7946 from targets,192.0.2.9/32",
		"udp 7946 from targets,192.0.2.9/32",
		"udp 4789 from targets,192.0.2.9/32",
		"tcp 2376 from 203.0.113.0/24",
		"tcp 22 from 198.51.100.7/32",
		"icmp all from 0.0.0.0/0,::/0",
		"tcp 80 from 0.0.0.0/0,::/0",
		"udp 53 from 0.0.0.0/0,::/0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// No SSH sources: no SSH rule; the user's rules come last.
	extra := cloud.FirewallRule{Protocol: "tcp", Ports: cloud.PortRange{From: 8000, To: 8100}, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	got = ruleLines(FirewallRules(FirewallPolicy{DockerAPI: cloud.Anywhere(), Inbound: []cloud.FirewallRule{extra}}, nil, nil))
	if slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "tcp 22 ") }) || got[len(got)-1] != "tcp 8000-8100 from 10.0.0.0/8" {
		t.Errorf("rules: %q", got)
	}
}

// The cluster's firewall exists before its first host is created, opens
// what the services publish once the apply settles, admits a node group's
// hosts from another vendor before they join, and goes with the last host
// at each place.
func TestClusterFirewall(t *testing.T) {
	h := newHarness(t)
	do := fakeFirewallDriver{h.drv}
	spec := clusterSpec(1)
	spec.Firewall = testPolicy
	c, _, err := Create(t.Context(), do, spec, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	name := FirewallName(c.UID())
	fw, ok := h.drv.firewall(name)
	if !ok {
		t.Fatalf("no firewall %s: %q", name, h.rec.all())
	}
	if fw.TargetTag != ClusterTag(c.UID()) || fw.Region != "fra1" {
		t.Errorf("firewall %+v", fw)
	}
	if first, created := h.rec.index("digitalocean: firewall "+name), slices.IndexFunc(h.rec.all(), func(e string) bool { return strings.HasPrefix(e, "create ") }); first < 0 || created >= 0 && created < first {
		t.Errorf("the firewall came after a host was created: %q", h.rec.all())
	}

	// A stack publishes a port: the next apply opens it (as SyncFirewall
	// does after a deploy).
	h.sw.mu.Lock()
	h.sw.ports = []swarm.PublishedPort{{Protocol: "tcp", Port: 80, Service: "front"}}
	h.sw.mu.Unlock()
	if err := c.SyncFirewall(t.Context(), testPolicy); err != nil {
		t.Fatal(err)
	}
	fw, _ = h.drv.firewall(name)
	if !slices.Contains(ruleLines(fw.Inbound), "tcp 80 from 0.0.0.0/0,::/0") {
		t.Errorf("the published port is not open: %q", ruleLines(fw.Inbound))
	}

	// A node group on another vendor: the managers' firewall admits its
	// hosts before they join, and it has its own firewall there.
	aws := fakeFirewallDriver{h.otherDriver()}
	g, err := c.NodeGroup(aws, "web")
	if err != nil {
		t.Fatal(err)
	}
	gs := groupSpec(2)
	gs.Firewall = testPolicy
	h.rec.reset()
	if _, err := g.Apply(t.Context(), gs); err != nil {
		t.Fatal(err)
	}
	if _, ok := aws.firewall(name); !ok {
		t.Errorf("no firewall at the group's vendor: %q", h.rec.all())
	}
	fw, _ = h.drv.firewall(name)
	for _, host := range aws.names() {
		addr := aws.hostByName(host).PrivateIPv4
		if first := ruleLines(fw.Inbound)[0]; !strings.HasPrefix(first, "tcp 2377 from targets,") || !strings.Contains(first, ","+addr+"/32") {
			t.Errorf("the managers' firewall does not admit %s (%s): %q", host, addr, ruleLines(fw.Inbound))
		}
	}
	events := h.rec.all()
	admitted := slices.Index(events, "digitalocean: firewall "+name)
	joined := slices.IndexFunc(events, func(e string) bool { return strings.HasPrefix(e, "join worker web-") })
	if admitted < 0 || joined < 0 || admitted > joined {
		t.Errorf("the managers' firewall was not opened to the group before it joined: %q", events)
	}

	// The group goes: so does its vendor's firewall; the managers' stays.
	if err := g.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := aws.firewall(name); ok {
		t.Error("the group's vendor kept the cluster's firewall")
	}
	if _, ok := h.drv.firewall(name); !ok {
		t.Error("the managers' firewall went with the node group")
	}
	if err := c.Destroy(t.Context(), DestroyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.drv.firewall(name); ok {
		t.Error("the cluster's firewall outlived it")
	}
}

// Off deletes the firewall; nil leaves it; a driver without firewalls
// is not an error.
func TestClusterFirewallOffAndUnsupported(t *testing.T) {
	h := newHarness(t)
	do := fakeFirewallDriver{h.drv}
	spec := clusterSpec(1)
	spec.Firewall = testPolicy
	c, _, err := Create(t.Context(), do, spec, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	name := FirewallName(c.UID())
	if fw, known, err := c.ManagersFirewall(t.Context()); fw == nil || !known || err != nil {
		t.Errorf("ManagersFirewall = %v, %v, %v after create", fw, known, err)
	} else if got := PolicyOf(fw); fmt.Sprint(got.DockerAPI, got.SSH) != fmt.Sprint(testPolicy.DockerAPI, testPolicy.SSH) {
		t.Errorf("read back %+v, want %+v", got, testPolicy)
	}
	spec.Firewall = nil
	if _, err := c.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.drv.firewall(name); !ok {
		t.Error("a nil policy removed the firewall")
	}
	spec.Firewall = &FirewallPolicy{Off: true}
	if _, err := c.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.drv.firewall(name); ok {
		t.Error("Off kept the firewall")
	}
	if fw, known, err := c.ManagersFirewall(t.Context()); fw != nil || !known || err != nil {
		t.Errorf("ManagersFirewall = %v, %v, %v after Off", fw, known, err)
	}

	h2 := newHarness(t)
	spec.Firewall = testPolicy
	c2, _, err := Create(t.Context(), h2.drv, spec, h2.opts)
	if err != nil {
		t.Fatalf("a driver without firewalls: %v", err)
	}
	if _, known, err := c2.ManagersFirewall(t.Context()); known || err != nil {
		t.Errorf("a driver without firewalls: known %v, %v", known, err)
	}
}

// Managers moving to another vendor: the old place's firewall admits each
// new manager before it joins through the old ones, and goes with the
// last old manager; the new place has its own.
func TestMigrateManagersWithFirewall(t *testing.T) {
	h := newHarness(t)
	do := fakeFirewallDriver{h.drv}
	spec := clusterSpec(3)
	spec.Settings.Advertise = AddressPublic
	spec.Firewall = testPolicy
	old, _, err := Create(t.Context(), do, spec, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	aws := fakeFirewallDriver{h.otherDriver()}
	c, err := Open(aws, old.State(), h.opts)
	if err != nil {
		t.Fatal(err)
	}
	c.MovingFrom(do)
	spec.Managers = awsSpec(spec.Managers)
	h.rec.reset()
	if _, err := c.Apply(t.Context(), spec); err != nil {
		t.Fatalf("migrating the managers with a firewall: %v", err)
	}
	name := FirewallName(c.UID())
	events := h.rec.all()
	for _, m := range aws.names() {
		checkAdmittedBeforeJoin(t, events, "digitalocean: firewall "+name, "join manager "+m)
	}
	if _, ok := h.drv.firewall(name); ok {
		t.Error("the firewall stayed where no manager is left")
	}
	if _, ok := aws.firewall(name); !ok {
		t.Error("no firewall where the managers are now")
	}
}

// A cluster advertising public addresses at a single place: its firewall
// admits a joining host's public address before the host joins, since the
// tag source may not cover it (an AWS group reference admits private
// addresses only).
func TestFirewallAdmitsPublicJoins(t *testing.T) {
	h := newHarness(t)
	do := fakeFirewallDriver{h.drv}
	spec := clusterSpec(1)
	spec.Settings.Advertise = AddressPublic
	spec.Firewall = testPolicy
	c, _, err := Create(t.Context(), do, spec, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.NodeGroup(do, "web")
	if err != nil {
		t.Fatal(err)
	}
	gs := groupSpec(2)
	gs.Firewall = testPolicy
	h.rec.reset()
	if _, err := g.Apply(t.Context(), gs); err != nil {
		t.Fatal(err)
	}
	name := FirewallName(c.UID())
	fw, _ := h.drv.firewall(name)
	events := h.rec.all()
	for _, host := range []string{"web-1", "web-2"} {
		hh := do.hostByName(host)
		if hh.PublicIPv4 == "" {
			t.Fatalf("no host %s with a public address: %q", host, do.names())
		}
		if first := ruleLines(fw.Inbound)[0]; !strings.Contains(first, ","+hh.PublicIPv4+"/32") {
			t.Errorf("the firewall does not admit %s's public address %s: %q", host, hh.PublicIPv4, first)
		}
		checkAdmittedBeforeJoin(t, events, "digitalocean: firewall "+name, "join worker "+host)
	}
}

// checkAdmittedBeforeJoin checks that the firewall event came before the
// join event in the recorded events.
func checkAdmittedBeforeJoin(t *testing.T, events []string, firewall, join string) {
	t.Helper()
	joined, admitted := slices.Index(events, join), slices.Index(events, firewall)
	if joined < 0 || admitted < 0 || admitted > joined {
		t.Errorf("%q (event %d) came before the firewall admitted the host (%q, event %d): %q", join, joined, firewall, admitted, events)
	}
}
