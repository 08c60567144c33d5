package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// before reports whether event a was recorded before event b (both must be).
func (r *recorder) before(a, b string) bool {
	i, j := r.index(a), r.index(b)
	return i >= 0 && j >= 0 && i < j
}

func TestNodeGroupDestroyDrainsFirst(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 2)
	h.rec.reset()
	if err := g.Destroy(t.Context(), GroupDestroyOptions{DrainTimeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-1", "web-2"} {
		if !h.rec.before("drain web-1,web-2", "remove "+name) || !h.rec.before("remove "+name, "delete "+name) {
			t.Errorf("%s was not drained, removed, then deleted: %q", name, h.rec.all())
		}
	}
	if names := h.drv.names(); !slices.Equal(names, []string{"prod-manager-1"}) {
		t.Errorf("left: %q", names)
	}
}

// A drain that cannot place the tasks elsewhere does not keep the group:
// it was asked to go.
func TestNodeGroupDestroyDrainFailureGoesOn(t *testing.T) {
	h := newHarness(t)
	c := h.create(1)
	g := h.group(c, h.drv, 2)
	h.sw.drainErr = &swarm.DrainError{Nodes: []string{"web-1", "web-2"}, Timeout: time.Minute, Cause: errors.New("context deadline exceeded"),
		Problems: []swarm.DrainProblem{{TaskID: "t1", Task: "big.1", State: "pending", Message: "no suitable node"}}, Restored: true}
	h.rec.reset()
	if err := g.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.rec.matching("drain")) != 1 || len(h.rec.matching("remove")) != 2 || len(h.rec.matching("delete")) != 2 {
		t.Errorf("destroy after a failed drain did %q", h.rec.all())
	}
}

// A node promoted by hand is demoted before its host goes; when the swarm
// lacks the quorum to demote it, its host is kept and the rest goes.
func TestNodeGroupDestroyPromotedNode(t *testing.T) {
	t.Run("demoted first", func(t *testing.T) {
		h := newHarness(t)
		c := h.create(1)
		g := h.group(c, h.drv, 2)
		h.sw.promote("web-1")
		h.rec.reset()
		if err := g.Destroy(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !h.rec.before("demote web-1 via prod-manager-1", "drain web-1,web-2") || !h.rec.before("drain web-1,web-2", "delete web-1") {
			t.Errorf("destroy did %q", h.rec.all())
		}
		if names := h.drv.names(); !slices.Equal(names, []string{"prod-manager-1"}) {
			t.Errorf("left: %q", names)
		}
	})
	t.Run("no quorum", func(t *testing.T) {
		h := newHarness(t)
		c := h.create(3)
		g := h.group(c, h.drv, 2)
		h.sw.promote("web-1")
		h.sw.setUnreachable("prod-manager-2")
		h.sw.setUnreachable("prod-manager-3") // 2 of 4 managers reachable: no quorum
		h.rec.reset()
		err := g.Destroy(t.Context())
		if err == nil {
			t.Fatal("destroying a group holding a manager the swarm cannot demote succeeded")
		}
		for _, want := range []string{"quorum", "keeping the host of a manager that was not demoted: host web-1", "docker node demote"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
		if len(h.rec.matching("delete web-1")) != 0 || len(h.rec.matching("delete web-2")) != 1 {
			t.Errorf("destroy did %q", h.rec.all())
		}
		if n, ok := h.sw.nodeOf("web-1"); !ok || n.ManagerStatus == nil {
			t.Errorf("web-1's node: %+v", n)
		}
	})
}

// With no manager answering, the group's hosts go only when each says it
// is not a manager.
func TestNodeGroupDestroyWithoutManager(t *testing.T) {
	setup := func(t *testing.T) (*harness, *NodeGroup) {
		h := newHarness(t)
		c := h.create(1)
		g := h.group(c, h.drv, 2)
		return h, g
	}
	t.Run("workers", func(t *testing.T) {
		h, g := setup(t)
		h.sw.setUnreachable("prod-manager-1")
		if err := g.Destroy(t.Context()); err != nil {
			t.Fatal(err)
		}
		if names := h.drv.names(); !slices.Equal(names, []string{"prod-manager-1"}) {
			t.Errorf("left: %q", names)
		}
	})
	for _, tc := range []struct {
		name, says string
		prepare    func(h *harness)
	}{
		{"promoted", "web-1 answers as a swarm manager", func(h *harness) { h.sw.promote("web-1") }},
		{"unanswered", "web-2 did not answer", func(h *harness) { h.sw.setUnreachable("web-2") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, g := setup(t)
			tc.prepare(h)
			h.sw.setUnreachable("prod-manager-1")
			h.rec.reset()
			err := g.Destroy(t.Context())
			if err == nil {
				t.Fatal("destroy went on without a manager while a host may be a manager")
			}
			for _, want := range []string{tc.says, "Nothing was deleted", "docker node ls", "delete the hosts at the vendor by hand"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
			if d := h.rec.matching("delete"); len(d) != 0 {
				t.Errorf("deleted %q", d)
			}
		})
	}
}
