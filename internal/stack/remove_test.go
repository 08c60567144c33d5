package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

func fastPolls(t *testing.T) {
	t.Helper()
	oldMin, oldMax := pollMin, pollMax
	pollMin, pollMax = time.Millisecond, 5*time.Millisecond
	t.Cleanup(func() { pollMin, pollMax = oldMin, oldMax })
}

func TestRemove(t *testing.T) {
	fastPolls(t)
	f := newFakeEngine()
	f.nodes = []swarm.Node{
		node("n1", "m1", swarm.NodeRoleManager, swarm.NodeStateReady, swarm.NodeAvailabilityActive, nil),
		node("n2", "w1", swarm.NodeRoleWorker, swarm.NodeStateDown, swarm.NodeAvailabilityActive, nil),
	}
	p := unitProject(t, nil, "v1")
	deployOK(t, f, p, never)
	// Another stack, left alone.
	other := mustLoadNamed(t, "other", "services:\n  x:\n    image: x\n", LoadOptions{})
	deployOK(t, f, other, never)
	f.addTask("st_web", 1, "n1", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	f.addTask("st_db", 1, "n2", swarm.TaskStateRunning, swarm.TaskStateRunning, "") // on a down node
	f.addTask("other_x", 1, "n1", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	// The task on the live node goes away a few polls after its service,
	// and the network has endpoints a little longer.
	polls := 0
	f.onTaskList = func(f *fakeEngine) {
		polls++
		if polls < 3 {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		var keep []swarm.Task
		for _, t := range f.tasks {
			if t.DesiredState != swarm.TaskStateRemove || t.NodeID == "n2" {
				keep = append(keep, t)
			}
		}
		f.tasks = keep
	}
	f.removeBusy = 2

	if err := Remove(context.Background(), f, "st"); err != nil {
		t.Fatal(err)
	}
	if polls < 3 {
		t.Errorf("Remove did not wait for the tasks (%d polls)", polls)
	}
	if st := observeOK(t, f, "st"); !st.Empty() {
		t.Errorf("after Remove: %+v", st)
	}
	if st := observeOK(t, f, "other"); len(st.Services) != 1 || len(st.Networks) != 1 {
		t.Errorf("the other stack after Remove: %+v", st)
	}
	eq(t, "removed services", f.callsLike("ServiceRemove"), []string{"ServiceRemove st_db", "ServiceRemove st_web"})
	if err := Remove(context.Background(), f, "st"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestRemoveInUse(t *testing.T) {
	fastPolls(t)
	f := newFakeEngine()
	p := unitProject(t, nil, "v1")
	deployOK(t, f, p, never)
	// A service of another stack uses the stack's config.
	other := f.find("st_web").Spec
	other.Name = "intruder"
	other.Labels = nil
	if _, err := f.ServiceCreate(context.Background(), other, swarm.ServiceCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := Remove(context.Background(), f, "st")
	if err == nil || !strings.Contains(err.Error(), "is in use by the following service: intruder") {
		t.Errorf("Remove = %v", err)
	}

	// A network that keeps its endpoints: Remove gives up with ctx.
	f = newFakeEngine()
	deployOK(t, f, p, never)
	f.removeBusy = 1 << 30
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = Remove(ctx, f, "st")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "active endpoints") {
		t.Errorf("Remove = %v", err)
	}
}
