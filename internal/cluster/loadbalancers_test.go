package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// fakeLBs gives a fakeDriver load balancers; it records every target
// change with the hosts' names.
type fakeLBs struct {
	*fakeDriver
	lbMu    sync.Mutex
	targets map[string][]string // lb id -> host ids
}

func newFakeLBs(d *fakeDriver, ids ...string) *fakeLBs {
	f := &fakeLBs{fakeDriver: d, targets: map[string][]string{}}
	for _, id := range ids {
		f.targets[id] = nil
	}
	return f
}

func (f *fakeLBs) names(ids []string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, id := range ids {
		if h := f.hosts[id]; h != nil {
			out = append(out, h.h.Name)
		} else {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func (f *fakeLBs) CreateLoadBalancer(context.Context, cloud.LoadBalancerSpec) (*cloud.LoadBalancer, error) {
	panic("not used")
}

func (f *fakeLBs) GetLoadBalancer(_ context.Context, id string) (*cloud.LoadBalancer, error) {
	f.lbMu.Lock()
	defer f.lbMu.Unlock()
	t, ok := f.targets[id]
	if !ok {
		return nil, cloud.NotFoundError(f.name, "load balancer", id)
	}
	t = slices.Clone(t)
	slices.Sort(t)
	return &cloud.LoadBalancer{ID: id, Targets: t, Status: cloud.LoadBalancerActive}, nil
}

func (f *fakeLBs) ListLoadBalancers(context.Context) ([]cloud.LoadBalancer, error) { return nil, nil }

func (f *fakeLBs) UpdateLoadBalancer(context.Context, string, cloud.LoadBalancerSpec) (*cloud.LoadBalancer, error) {
	panic("not used")
}

func (f *fakeLBs) DeleteLoadBalancer(context.Context, string) error { return nil }

func (f *fakeLBs) AddTargets(_ context.Context, id string, hostIDs []string) error {
	f.rec.add("lb-add %s %s", id, f.names(hostIDs))
	f.lbMu.Lock()
	defer f.lbMu.Unlock()
	for _, h := range hostIDs {
		if !slices.Contains(f.targets[id], h) {
			f.targets[id] = append(f.targets[id], h)
		}
	}
	return nil
}

func (f *fakeLBs) RemoveTargets(_ context.Context, id string, hostIDs []string) error {
	f.rec.add("lb-remove %s %s", id, f.names(hostIDs))
	f.lbMu.Lock()
	defer f.lbMu.Unlock()
	f.targets[id] = slices.DeleteFunc(f.targets[id], func(h string) bool { return slices.Contains(hostIDs, h) })
	return nil
}

func (f *fakeLBs) TargetStates(context.Context, string) (map[string]cloud.TargetState, error) {
	return nil, nil
}

// lbTargets are the names of the load balancer's targets.
func (f *fakeLBs) lbTargets(id string) string {
	f.lbMu.Lock()
	t := slices.Clone(f.targets[id])
	f.lbMu.Unlock()
	return f.names(t)
}

// A node group in a load balancer: hosts join it once their tasks run,
// leave it (waited for) before they are drained on scale-in and rollout,
// and before anything on destroy; a load balancer the group leaves loses
// its hosts; the load balancer's other targets are never touched.
func TestNodeGroupLoadBalancerMembership(t *testing.T) {
	h := newHarness(t)
	lbs := newFakeLBs(h.drv, "lb1", "lb2")
	lbs.targets["lb1"] = []string{"elsewhere"}
	c := h.create(1)
	g, err := c.NodeGroup(lbs, "web")
	if err != nil {
		t.Fatal(err)
	}
	spec := groupSpec(3)
	spec.LoadBalancers = []string{"digitalocean/lb1"}
	if _, err := g.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if got := lbs.lbTargets("lb1"); got != "elsewhere,web-1,web-2,web-3" {
		t.Errorf("after create, lb1 targets %s", got)
	}
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		if h.rec.index("settled "+n) < 0 || h.rec.index("settled "+n) > h.rec.index("lb-add lb1 web-1,web-2,web-3") {
			t.Errorf("%s was added before its tasks were seen running: %q", n, h.rec.all())
		}
	}

	// Scale in: out of the load balancer, then drained.
	h.rec.reset()
	spec.Count = 1
	if _, err := g.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if got, want := events(h, "lb-", "drain", "delete"), []string{"lb-remove lb1 web-2,web-3", "drain web-3,web-2", "delete web-2", "delete web-3"}; !slices.Equal(sorted(got[:1]), want[:1]) || !strings.HasPrefix(got[1], "drain") {
		t.Errorf("scale-in: %q", got)
	}
	if got := lbs.lbTargets("lb1"); got != "elsewhere,web-1" {
		t.Errorf("after scale-in, lb1 targets %s", got)
	}

	// Rollout: the replacement joins before the old host leaves, and both
	// before the drain.
	h.rec.reset()
	spec.Size = "s-2vcpu-4gb"
	if _, err := g.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	got := events(h, "lb-", "settled", "drain", "delete")
	want := []string{"settled web-1", "lb-add lb1 web-1", "lb-remove lb1 web-1", "drain web-1", "delete web-1"}
	if !slices.Equal(got, want) {
		t.Errorf("rollout:\n got %q\nwant %q", got, want)
	}
	if got := lbs.lbTargets("lb1"); got != "elsewhere,web-1" {
		t.Errorf("after the rollout, lb1 targets %s", got)
	}

	// Moving to another load balancer: in lb2, out of lb1.
	h.rec.reset()
	spec.LoadBalancers, spec.FormerLoadBalancers = []string{"digitalocean/lb2"}, []string{"digitalocean/lb1"}
	if _, err := g.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if a, b := lbs.lbTargets("lb1"), lbs.lbTargets("lb2"); a != "elsewhere" || b != "web-1" {
		t.Errorf("after the move: lb1 %s, lb2 %s", a, b)
	}

	// Destroy: out of the load balancer before the drain.
	h.rec.reset()
	if err := g.Destroy(t.Context(), GroupDestroyOptions{LoadBalancers: []string{"digitalocean/lb2"}}); err != nil {
		t.Fatal(err)
	}
	if got := events(h, "lb-", "drain"); len(got) < 2 || got[0] != "lb-remove lb2 web-1" || !strings.HasPrefix(got[1], "drain") {
		t.Errorf("destroy: %q", got)
	}
}

// A group on a driver without load balancers is told so.
func TestNodeGroupLoadBalancerUnsupported(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g, err := c.NodeGroup(h.drv, "web")
	if err != nil {
		t.Fatal(err)
	}
	spec := groupSpec(1)
	spec.LoadBalancers = []string{"digitalocean/lb1"}
	if _, err := g.Apply(t.Context(), spec); err == nil || !strings.Contains(err.Error(), "has no load balancers") {
		t.Errorf("err = %v", err)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// The managers in a load balancer: a manager leaves it before it is
// demoted on a shrink, and a rollout adds each replacement before the
// manager it replaces leaves.
func TestManagersLoadBalancerMembership(t *testing.T) {
	h := newHarness(t)
	lbs := newFakeLBs(h.drv, "lb1")
	spec := clusterSpec(3)
	spec.Managers.LoadBalancers = []string{"digitalocean/lb1"}
	c, _, err := Create(t.Context(), lbs, spec, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := lbs.lbTargets("lb1"); got != "prod-manager-1,prod-manager-2,prod-manager-3" {
		t.Fatalf("after create, lb1 targets %s", got)
	}
	h.rec.reset()
	spec.Managers.Count = 1
	if _, err := c.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	ev := events(h, "lb-", "demote")
	if len(ev) < 3 || !strings.HasPrefix(ev[0], "lb-remove lb1 ") || !strings.HasPrefix(ev[1], "demote ") {
		t.Errorf("shrink: %q (want the load balancer left before the first demotion)", ev)
	}
	if got := lbs.lbTargets("lb1"); strings.Count(got, ",") != 0 || got == "" {
		t.Errorf("after the shrink, lb1 targets %q, want the one manager", got)
	}
	h.rec.reset()
	spec.Managers.Size = "s-4vcpu-8gb"
	if _, err := c.Apply(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	ev = events(h, "lb-", "drain", "demote", "delete")
	if len(ev) < 3 || !strings.HasPrefix(ev[0], "lb-add lb1 ") || !strings.HasPrefix(ev[1], "lb-remove lb1 ") {
		t.Errorf("rollout: %q (want the replacement added, then the old manager removed, before the drain)", ev)
	}
}
