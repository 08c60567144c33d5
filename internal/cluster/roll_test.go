package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

func TestSpecDiff(t *testing.T) {
	want := HostsSpec{Region: "fra1", Size: "s-2vcpu-4gb", Image: "debian-12-x64", SSHKeys: []string{"2", "1"}, UserData: "#cloud-config\n"}
	same := want
	same.SSHKeys = []string{"1", "2"}
	if SpecHash(want) != SpecHash(same) {
		t.Error("the order of SSH keys changes the spec hash")
	}
	other := want
	other.UserData = "#cloud-config\npackages: [htop]\n"
	host := func(size, hash string) cloud.Host {
		return cloud.Host{Region: "fra1", Size: size, Image: "debian-12-x64", Tags: []string{SpecTag(hash)}}
	}
	tests := []struct {
		name string
		h    cloud.Host
		want []string
	}{
		{"up to date", host("s-2vcpu-4gb", SpecHash(want)), nil},
		{"size differs", host("s-1vcpu-2gb", SpecHash(HostsSpec{Size: "s-1vcpu-2gb"})), []string{"size s-1vcpu-2gb → s-2vcpu-4gb"}},
		{"user data differs", host("s-2vcpu-4gb", SpecHash(other)), []string{"ssh_keys or user_data"}},
		{"no tag, same values", cloud.Host{Region: "fra1", Size: "s-2vcpu-4gb", Image: "debian-12-x64"}, nil},
		{"no tag, other image", cloud.Host{Region: "fra1", Size: "s-2vcpu-4gb", Image: "ubuntu-24-04-x64"}, []string{"image ubuntu-24-04-x64 → debian-12-x64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SpecDiff(tt.h, want); !slices.Equal(got, tt.want) {
				t.Errorf("SpecDiff = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReplacementOrder(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m := func(name string, age int, ready, leader bool) Stale {
		st := swarm.NodeStateReady
		if !ready {
			st = swarm.NodeStateDown
		}
		return Stale{Member: Member{Name: name, HostID: name, Status: cloud.HostActive, NodeID: "n-" + name, State: st, Leader: leader, CreatedAt: t0.Add(-time.Duration(age) * time.Hour)}}
	}
	s := []Stale{m("young", 1, true, false), m("leader", 9, true, true), m("old", 5, true, false), m("down", 0, false, false)}
	sortForReplacement(s)
	var got []string
	for _, x := range s {
		got = append(got, x.Name)
	}
	if want := []string{"down", "old", "young", "leader"}; !slices.Equal(got, want) {
		t.Errorf("order = %q, want %q (not ready first, then oldest, the leader last)", got, want)
	}
}

func TestRollingUpdateValidate(t *testing.T) {
	for _, tt := range []struct {
		u     RollingUpdate
		count int
		ok    bool
	}{
		{RollingUpdate{}, 3, true}, {RollingUpdate{MaxSurge: 3}, 3, true}, {RollingUpdate{MaxSurge: 4}, 3, false},
		{RollingUpdate{MaxSurge: -1}, 3, false}, {RollingUpdate{Monitor: -time.Second}, 3, false},
	} {
		if err := tt.u.Validate(tt.count); (err == nil) != tt.ok {
			t.Errorf("%+v on %d hosts: err = %v", tt.u, tt.count, err)
		}
	}
}

// events keeps the recorder's events that start with one of prefixes.
func events(h *harness, prefixes ...string) []string {
	var out []string
	for _, e := range h.rec.all() {
		for _, p := range prefixes {
			if strings.HasPrefix(e, p) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

func hostIDs(d *fakeDriver) map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]string{}
	for id, fh := range d.hosts {
		out[id] = fh.h.Name
	}
	return out
}

func TestRollNodeGroup(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 3)
	before := hostIDs(h.drv)
	h.rec.reset()
	spec := groupSpec(3)
	spec.Size = "s-2vcpu-4gb"
	v, err := g.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// One host at a time: the replacement (same name) joins and settles
	// before the old node is drained, removed and deleted.
	want := []string{}
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		want = append(want, "create "+n, "join worker "+n, "settled "+n, "drain "+n, "remove "+n, "delete "+n)
	}
	if got := events(h, "create", "join", "settled", "drain", "remove", "delete"); !slices.Equal(got, want) {
		t.Errorf("rollout:\n got %q\nwant %q", got, want)
	}
	if v.Ready() != 3 || len(v.Members) != 3 {
		t.Fatalf("after the rollout: %+v", v.Members)
	}
	for _, m := range v.Members {
		if m.Size != "s-2vcpu-4gb" || before[m.HostID] != "" || len(m.Outdated(spec.HostsSpec)) != 0 {
			t.Errorf("member %s: size %s, id %s (old ids %v)", m.Name, m.Size, m.HostID, before)
		}
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

func TestRollNodeGroupSurge(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 4)
	h.rec.reset()
	spec := groupSpec(4)
	spec.Image = "ubuntu-24-04-x64"
	spec.RollingUpdate = RollingUpdate{MaxSurge: 2}
	if _, err := g.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if got := events(h, "drain"); !slices.Equal(got, []string{"drain web-1,web-2", "drain web-3,web-4"}) {
		t.Errorf("drains = %q, want two batches of two", got)
	}
	if n := len(h.drv.names()); n != 5 { // 4 workers and the manager
		t.Errorf("%d hosts left: %q", n, h.drv.names())
	}
}

func TestRollManagersMovesFloatingIP(t *testing.T) {
	h := newHarness(t)
	ips := &fakeIPs{fakeDriver: h.drv, ips: map[string]*cloud.FloatingIP{}}
	c, _, err := Create(t.Context(), ips, clusterSpec(3), h.opts)
	if err != nil {
		t.Fatal(err)
	}
	leader := h.drv.hostByName("prod-manager-1")
	ip, _ := ips.CreateFloatingIP(t.Context(), "fra1", leader.ID)
	h.rec.reset()
	spec := clusterSpec(3)
	spec.Managers.Size = "s-4vcpu-8gb"
	v, err := c.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first, the leader (prod-manager-1) last; each demoted through
	// a manager that stays.
	var order []string
	for _, e := range events(h, "demote") {
		order = append(order, strings.Fields(e)[1])
	}
	if !slices.Equal(order, []string{"prod-manager-2", "prod-manager-3", "prod-manager-1"}) {
		t.Errorf("demotions %q: want prod-manager-2, prod-manager-3, then the leader", events(h, "demote"))
	}
	if h.sw.selfDemotes != 0 {
		t.Errorf("%d managers were demoted through their own engine", h.sw.selfDemotes)
	}
	if v.Ready() != 3 || len(v.Members) != 3 || v.Leader == "" {
		t.Fatalf("after the rollout: leader %q, %+v", v.Leader, v.Members)
	}
	got, _ := ips.GetFloatingIP(t.Context(), ip.ID)
	holder := ""
	for _, m := range v.Members {
		if m.Size != "s-4vcpu-8gb" {
			t.Errorf("manager %s still has size %s", m.Name, m.Size)
		}
		if m.HostID == got.HostID {
			holder = m.Name
		}
	}
	if holder != "prod-manager-1" {
		t.Errorf("the floating IP is on host %q (%s), want the replacement of prod-manager-1", holder, got.HostID)
	}
	// The IP moved before the old leader was drained.
	ev := h.rec.all()
	assign := slices.IndexFunc(ev, func(e string) bool { return strings.HasPrefix(e, "assign ") })
	drain := slices.Index(ev, "drain prod-manager-1")
	if assign < 0 || drain < 0 || assign > drain {
		t.Errorf("assign at %d, drain of the old leader at %d: %q", assign, drain, ev)
	}
}

func TestRollStopsAndResumes(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 2)
	spec := groupSpec(2)
	spec.Size = "s-2vcpu-4gb"
	h.sw.drainErr = &swarm.DrainError{
		Nodes: []string{"web-1"}, Timeout: time.Minute, Cause: errors.New("context deadline exceeded"),
		Problems: []swarm.DrainProblem{{TaskID: "t1", Task: "big.1", State: "pending", Message: "no suitable node (insufficient resources on 3 nodes)"}},
		Restored: true,
	}
	h.rec.reset()
	v, err := g.Apply(t.Context(), spec)
	if err == nil {
		t.Fatal("a rollout whose drain fails did not fail")
	}
	for _, want := range []string{"web-1", "rolling replacement (size s-1vcpu-2gb → s-2vcpu-4gb): draining the old node", "insufficient resources", "Nothing was removed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if len(events(h, "remove", "delete")) != 0 || len(v.Members) != 3 {
		t.Fatalf("after the failed drain: %q, %d members", h.rec.all(), len(v.Members))
	}
	// The next apply resumes: the replacement made already counts, the old
	// web-1 is retired first, then web-2 rolls; nothing is left over.
	h.sw.drainErr = nil
	h.rec.reset()
	v, err = g.Apply(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if creates := events(h, "create"); !slices.Equal(creates, []string{"create web-2"}) {
		t.Errorf("creates on resume = %q, want only web-2's replacement", creates)
	}
	if len(v.Members) != 2 || v.Ready() != 2 || len(v.OutdatedMembers(spec.HostsSpec)) != 0 {
		t.Errorf("after resuming: %+v", v.Members)
	}
	if n := len(h.drv.names()); n != 3 {
		t.Errorf("hosts left: %q", h.drv.names())
	}
}
