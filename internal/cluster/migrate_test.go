package cluster

import (
	"slices"
	"strings"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// createPublic creates a cluster whose nodes advertise public addresses,
// as one spanning vendors must.
func (h *harness) createPublic(n int) *Cluster {
	h.t.Helper()
	spec := clusterSpec(n)
	spec.Settings.Advertise = AddressPublic
	c, _, err := Create(h.t.Context(), h.drv, spec, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// awsSpec is groupSpec's hosts on AWS.
func awsSpec(hs HostsSpec) HostsSpec {
	hs.Region, hs.Size, hs.Image = "us-east-1", "t3.small", "ami-0debian12"
	return hs
}

func TestMigrateNodeGroup(t *testing.T) {
	h := newHarness(t)
	c := h.createPublic(1)
	h.group(c, h.drv, 3)
	aws := h.otherDriver()
	g, err := c.NodeGroup(aws, "web")
	if err != nil {
		t.Fatal(err)
	}
	g.MovingFrom(h.drv)
	spec := groupSpec(3)
	spec.HostsSpec = awsSpec(spec.HostsSpec)

	// Before: the group is seen on both vendors, every host out of date
	// with the vendor named first.
	v, err := g.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := spec.HostsSpec
	want.Cloud = cloud.AWS
	stale := v.OutdatedMembers(want)
	if len(stale) != 3 {
		t.Fatalf("outdated before the migration: %+v", stale)
	}
	for _, s := range stale {
		if s.Cloud != cloud.DigitalOcean || len(s.Diff) == 0 || s.Diff[0] != "cloud digitalocean → aws" {
			t.Errorf("%s on %s: diff %q", s.Name, s.Cloud, s.Diff)
		}
	}

	h.rec.reset()
	v, err = g.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// One host at a time: the new host joins and settles before the old
	// one is drained, removed and deleted.
	var order []string
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		order = append(order, "create "+n, "join worker "+n, "settled "+n, "drain "+n, "remove "+n, "delete "+n)
	}
	if got := events(h, "create", "join", "settled", "drain", "remove", "delete"); !slices.Equal(got, order) {
		t.Errorf("migration:\n got %q\nwant %q", got, order)
	}
	if v.Ready() != 3 || len(v.Members) != 3 {
		t.Fatalf("after the migration: %+v", v.Members)
	}
	for _, m := range v.Members {
		if m.Cloud != cloud.AWS || m.Region != "us-east-1" || len(m.Outdated(want)) != 0 {
			t.Errorf("member %s on %s %s, outdated %q", m.Name, m.Cloud, m.Region, m.Outdated(want))
		}
	}
	if names := h.drv.names(); !slices.Equal(names, []string{"prod-manager-1"}) {
		t.Errorf("left on digitalocean: %q", names)
	}
	if len(aws.names()) != 3 {
		t.Errorf("on aws: %q", aws.names())
	}
	// Converged: a second apply does nothing.
	h.rec.reset()
	if _, err := g.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if ev := events(h, "create", "join", "drain", "remove", "delete"); len(ev) != 0 {
		t.Errorf("second apply: %q", ev)
	}
}

func TestMigrateManagers(t *testing.T) {
	h := newHarness(t)
	old := h.createPublic(3)
	aws := h.otherDriver()
	c, err := Open(aws, old.State(), h.opts)
	if err != nil {
		t.Fatal(err)
	}
	c.MovingFrom(h.drv)
	spec := clusterSpec(3)
	spec.Settings.Advertise = AddressPublic
	spec.Managers = awsSpec(spec.Managers)
	h.rec.reset()
	v, err := c.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first, the leader last; quorum kept: each old manager is
	// demoted through one that stays, never through itself.
	var demoted []string
	for _, e := range events(h, "demote") {
		demoted = append(demoted, strings.Fields(e)[1])
	}
	if !slices.Equal(demoted, []string{"prod-manager-2", "prod-manager-3", "prod-manager-1"}) {
		t.Errorf("demotions %q: want prod-manager-2, prod-manager-3, then the leader", demoted)
	}
	if h.sw.selfDemotes != 0 {
		t.Errorf("%d managers were demoted through their own engine", h.sw.selfDemotes)
	}
	if v.Ready() != 3 || len(v.Members) != 3 || v.Leader == "" {
		t.Fatalf("after the migration: leader %q, %+v", v.Leader, v.Members)
	}
	for _, m := range v.Members {
		if m.Cloud != cloud.AWS || !m.IsManager() {
			t.Errorf("manager %s on %s, role %s", m.Name, m.Cloud, m.Role)
		}
	}
	if names := h.drv.names(); len(names) != 0 {
		t.Errorf("left on digitalocean: %q", names)
	}
	// The managers never fell below a quorum of the three: at most one
	// was leaving at any time (one surge host at a time).
	if n := len(events(h, "create")); n != 3 {
		t.Errorf("%d creates, want 3 (one replacement per manager)", n)
	}
}

// interruptedMigration moves a node group of n workers from DigitalOcean
// to AWS, where the quota allows one host: the first host moves, the
// second create fails.
func interruptedMigration(t *testing.T, n int) (*harness, *Cluster, *fakeDriver, *NodeGroup, GroupSpec, *View) {
	t.Helper()
	h := newHarness(t)
	c := h.createPublic(1)
	h.group(c, h.drv, n)
	aws := h.otherDriver()
	aws.limit = 1
	g, _ := c.NodeGroup(aws, "web")
	g.MovingFrom(h.drv)
	spec := groupSpec(n)
	spec.HostsSpec = awsSpec(spec.HostsSpec)
	v, err := g.Apply(t.Context(), spec)
	if err == nil || !strings.Contains(err.Error(), "host limit") {
		t.Fatalf("want the quota error, got %v", err)
	}
	return h, c, aws, g, spec, v
}

// An interrupted migration (the target vendor's quota ran out) leaves the
// group on both vendors, serving; the next apply resumes from there, and a
// destroy in between would find the hosts on both.
func TestMigrationResumes(t *testing.T) {
	h, _, aws, g, spec, v := interruptedMigration(t, 3)
	if v.Ready() != 3 || len(aws.names()) != 1 || len(h.drv.names()) != 3 { // the manager and two workers
		t.Fatalf("after the failure: %d ready, aws %q, digitalocean %q", v.Ready(), aws.names(), h.drv.names())
	}
	clouds := map[cloud.Name]int{}
	for _, m := range v.Members {
		clouds[m.Cloud]++
	}
	if clouds[cloud.AWS] != 1 || clouds[cloud.DigitalOcean] != 2 {
		t.Errorf("members per vendor: %v", clouds)
	}

	aws.limit = 0
	h.rec.reset()
	v, err := g.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := events(h, "create"); !slices.Equal(got, []string{"create web-2", "create web-3"}) {
		t.Errorf("resumed with %q, want web-2 and web-3 only", got)
	}
	if v.Ready() != 3 || len(aws.names()) != 3 || len(h.drv.names()) != 1 {
		t.Errorf("after resuming: %d ready, aws %q, digitalocean %q", v.Ready(), aws.names(), h.drv.names())
	}
}

func TestDestroyDuringMigration(t *testing.T) {
	h, c, aws, g, _, _ := interruptedMigration(t, 2)
	if err := g.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(aws.names()) != 0 || !slices.Equal(h.drv.names(), []string{"prod-manager-1"}) {
		t.Errorf("left: aws %q, digitalocean %q", aws.names(), h.drv.names())
	}
	// The cluster's own destroy, with its managers half moved, deletes
	// them on both vendors.
	c2, _ := Open(aws, c.State(), h.opts)
	c2.MovingFrom(h.drv)
	if err := c2.Destroy(t.Context(), DestroyOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(h.drv.names()) != 0 {
		t.Errorf("left on digitalocean: %q", h.drv.names())
	}
}

// A node group cannot move to another vendor than the managers' while
// they advertise private addresses: refused before anything changes.
func TestMigrateRefusedWithPrivateAddresses(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	h.group(c, h.drv, 2)
	aws := h.otherDriver()
	g, _ := c.NodeGroup(aws, "web")
	g.MovingFrom(h.drv)
	spec := groupSpec(2)
	spec.HostsSpec = awsSpec(spec.HostsSpec)
	h.rec.reset()
	_, err := g.Apply(t.Context(), spec)
	if err == nil || !strings.Contains(err.Error(), `advertise_address = "public"`) {
		t.Fatalf("want the refusal, got %v", err)
	}
	if ev := h.rec.all(); len(ev) != 0 || len(aws.names()) != 0 {
		t.Errorf("the refused migration did %q", ev)
	}
}

func TestMigrateManagersRefusedWithPrivateAddresses(t *testing.T) {
	h := newHarness(t)
	old := h.create(3)
	aws := h.otherDriver()
	c, _ := Open(aws, old.State(), h.opts)
	c.MovingFrom(h.drv)
	spec := clusterSpec(3)
	spec.Managers = awsSpec(spec.Managers)
	h.rec.reset()
	v, err := c.Apply(t.Context(), spec)
	if err == nil || !strings.Contains(err.Error(), `advertise_address = "public"`) {
		t.Fatalf("want the refusal, got %v", err)
	}
	if ev := h.rec.all(); len(ev) != 0 || len(aws.names()) != 0 || v == nil || len(v.Members) != 3 {
		t.Errorf("the refused migration did %q; view %+v", ev, v)
	}
}

// advertise_address is a rolling change: the managers are replaced one at
// a time by nodes advertising the other kind of address, then the node
// group follows on its next apply (its nodes advertise the managers'
// kind). Converged, nothing rolls again.
func TestRollAdvertiseAddress(t *testing.T) {
	h := newHarness(t)
	c := h.create(3)
	g := h.group(c, h.drv, 2)
	spec := clusterSpec(3)
	spec.Settings.Advertise = AddressPublic
	h.rec.reset()
	v, err := c.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events(h, "create")); n != 3 {
		t.Errorf("%d managers replaced, want 3: %q", n, h.rec.all())
	}
	for _, m := range v.Members {
		if m.Advertised != m.PublicIPv4 || m.PublicIPv4 == "" {
			t.Errorf("manager %s advertises %s, want its public %s", m.Name, m.Advertised, m.PublicIPv4)
		}
	}
	h.rec.reset()
	wv, err := g.Apply(t.Context(), groupSpec(2))
	if err != nil {
		t.Fatal(err)
	}
	if got := events(h, "create"); !slices.Equal(got, []string{"create web-1", "create web-2"}) {
		t.Errorf("workers replaced: %q", got)
	}
	for _, m := range wv.Members {
		if m.Advertised != m.PublicIPv4 {
			t.Errorf("worker %s advertises %s, want its public %s", m.Name, m.Advertised, m.PublicIPv4)
		}
	}
	h.rec.reset()
	if _, err := c.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Apply(t.Context(), groupSpec(2)); err != nil {
		t.Fatal(err)
	}
	if ev := events(h, "create", "drain", "delete"); len(ev) != 0 {
		t.Errorf("converged, but the next applies did %q", ev)
	}
}

// TestCrossVendorNeedsFirewall: without the cluster's firewall, AWS hosts
// admit Swarm's ports from their own security group only, so hosts on
// another vendor could not join them. A run spanning vendors is refused
// before anything changes; one vendor alone is not.
func TestCrossVendorNeedsFirewall(t *testing.T) {
	for name, fw := range map[string]*FirewallPolicy{"off": {Off: true}, "before firewalls": nil} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			c := h.createPublic(1)
			aws := h.otherDriver()
			g, err := c.NodeGroup(aws, "web")
			if err != nil {
				t.Fatal(err)
			}
			spec := groupSpec(2)
			spec.HostsSpec, spec.Firewall = awsSpec(spec.HostsSpec), fw
			_, err = g.Apply(t.Context(), spec)
			if err == nil || !strings.Contains(err.Error(), "span aws and digitalocean") || !strings.Contains(err.Error(), "firewall { enabled = true }") {
				t.Fatalf("node group on AWS, managers on DigitalOcean: %v", err)
			}
			if n := aws.count("CreateHosts"); n != 0 {
				t.Errorf("%d creates on AWS after the refusal", n)
			}

			// The managers moving to AWS: refused alike.
			spec2 := clusterSpec(1)
			spec2.Settings.Advertise, spec2.Firewall = AddressPublic, fw
			spec2.Managers = awsSpec(spec2.Managers)
			moved, err := Open(aws, c.State(), h.opts)
			if err != nil {
				t.Fatal(err)
			}
			moved.MovingFrom(h.drv)
			if _, err := moved.Apply(t.Context(), spec2); err == nil || !strings.Contains(err.Error(), "keeps no firewall") {
				t.Fatalf("managers moving to AWS: %v", err)
			}
			if n := aws.count("CreateHosts"); n != 0 {
				t.Errorf("%d creates on AWS after the refusal", n)
			}

			// Two regions of AWS: a security group admits members of its
			// own region only, so refused alike (a swarm of its own).
			h2 := newHarness(t)
			east := newFakeDriver(cloud.AWS, 3, h2.rec, h2.boot)
			east.onDelete = h2.sw.hostDeleted
			mspec := clusterSpec(1)
			mspec.Managers, mspec.Settings.Advertise, mspec.Firewall = awsSpec(mspec.Managers), AddressPublic, fw
			ac, _, err := Create(t.Context(), east, mspec, h2.opts)
			if err != nil {
				t.Fatalf("managers on AWS without a firewall: %v", err)
			}
			west := newFakeDriver(cloud.AWS, 4, h2.rec, h2.boot)
			wg, err := ac.NodeGroup(west, "web")
			if err != nil {
				t.Fatal(err)
			}
			wspec := groupSpec(1)
			wspec.HostsSpec, wspec.Firewall = awsSpec(wspec.HostsSpec), fw
			wspec.Region = "eu-west-1"
			if _, err := wg.Apply(t.Context(), wspec); err == nil || !strings.Contains(err.Error(), "span aws eu-west-1 and aws us-east-1") {
				t.Fatalf("node group in eu-west-1, managers in us-east-1: %v", err)
			}
			if n := west.count("CreateHosts"); n != 0 {
				t.Errorf("%d creates in eu-west-1 after the refusal", n)
			}
			// The managers' own region: nothing to cross.
			eg, err := ac.NodeGroup(east, "web")
			if err != nil {
				t.Fatal(err)
			}
			wspec.Region = "us-east-1"
			if _, err := eg.Apply(t.Context(), wspec); err != nil {
				t.Fatalf("node group beside the managers on AWS without a firewall: %v", err)
			}

			// One vendor: the firewall is the owner's choice.
			g2 := groupSpec(1)
			g2.Firewall = fw
			dg, err := c.NodeGroup(h.drv, "web")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dg.Apply(t.Context(), g2); err != nil {
				t.Fatalf("node group on DigitalOcean without a firewall: %v", err)
			}
		})
	}
}
