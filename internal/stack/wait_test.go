package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

var fast = []WaitOption{WithStablePeriod(0), WithPollInterval(time.Millisecond, 5*time.Millisecond)}

func node(id, host string, role swarm.NodeRole, state swarm.NodeState, avail swarm.NodeAvailability, labels map[string]string) swarm.Node {
	n := swarm.Node{ID: id}
	n.Description.Hostname = host
	n.Spec.Role, n.Spec.Availability, n.Spec.Labels = role, avail, labels
	n.Status.State = state
	return n
}

// waitProject deploys a project with a replicated service a (2 replicas)
// and a global service g on workers.
func waitProject(t *testing.T) (*fakeEngine, *Project) {
	t.Helper()
	p := mustLoadNamed(t, "st", `
services:
  a:
    image: a:1
    deploy:
      replicas: 2
  g:
    image: g:1
    deploy:
      mode: global
      placement:
        constraints: [node.role == worker, node.labels.disk != hdd]
`, LoadOptions{})
	f := newFakeEngine()
	f.nodes = []swarm.Node{
		node("n1", "m1", swarm.NodeRoleManager, swarm.NodeStateReady, swarm.NodeAvailabilityActive, nil),
		node("n2", "w1", swarm.NodeRoleWorker, swarm.NodeStateReady, swarm.NodeAvailabilityActive, nil),
		node("n3", "w2", swarm.NodeRoleWorker, swarm.NodeStateReady, swarm.NodeAvailabilityActive, map[string]string{"disk": "ssd"}),
		node("n4", "w3", swarm.NodeRoleWorker, swarm.NodeStateReady, swarm.NodeAvailabilityDrain, nil),
		node("n5", "w4", swarm.NodeRoleWorker, swarm.NodeStateDown, swarm.NodeAvailabilityActive, nil),
		node("n6", "w5", swarm.NodeRoleWorker, swarm.NodeStateReady, swarm.NodeAvailabilityActive, map[string]string{"disk": "HDD"}),
	}
	deployOK(t, f, p, never)
	return f, p
}

func TestWaitConverged(t *testing.T) {
	f, p := waitProject(t)
	ctx := context.Background()
	f.addTask("st_a", 1, "n1", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	f.addTask("st_g", 0, "n2", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	err := WaitConverged(ctx, f, p, 50*time.Millisecond, fast...)
	var ce *ConvergeError
	if !errors.As(err, &ce) || ce.Timeout != 50*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitConverged = %v", err)
	}
	// a has 1 of 2, g 1 of 2 (w1 and w2: not the manager, the drained,
	// the down node or the one with an HDD).
	eq(t, "problems", []string{ce.Problems[0].String(), ce.Problems[1].String()}, []string{
		"service st_a: not converged (1/2 tasks running)", "service st_g: not converged (1/2 tasks running)",
	})

	// A failing task is named.
	f.addTask("st_a", 2, "n2", swarm.TaskStateRunning, swarm.TaskStateFailed, "task: non-zero exit (1)")
	err = WaitConverged(ctx, f, p, 50*time.Millisecond, fast...)
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "task st_a.2 (") || !strings.Contains(err.Error(), "on w1 failed: task: non-zero exit (1)") {
		t.Errorf("WaitConverged = %v", err)
	}

	f.addTask("st_a", 2, "n2", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	f.addTask("st_g", 0, "n3", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	if err := WaitConverged(ctx, f, p, time.Second, fast...); err != nil {
		t.Errorf("WaitConverged = %v", err)
	}

	// The stable period: converged at once, returns after it.
	start := time.Now()
	if err := WaitConverged(ctx, f, p, time.Second, WithStablePeriod(100*time.Millisecond), WithPollInterval(time.Millisecond, 10*time.Millisecond)); err != nil || time.Since(start) < 100*time.Millisecond {
		t.Errorf("WaitConverged = %v after %s", err, time.Since(start))
	}

	// A task failing during the stable period starts it again.
	calls := 0
	f.onTaskList = func(f *fakeEngine) {
		calls++
		if calls == 4 {
			f.mu.Lock()
			for i := range f.tasks {
				if f.tasks[i].Status.State == swarm.TaskStateRunning && f.tasks[i].Slot == 1 {
					f.tasks[i].Status.State = swarm.TaskStateFailed
					f.tasks[i].Status.Err = "task: non-zero exit (137)"
					f.tasks[i].Status.Timestamp = time.Now().Add(time.Hour)
				}
			}
			f.mu.Unlock()
		}
	}
	err = WaitConverged(ctx, f, p, 200*time.Millisecond, WithStablePeriod(100*time.Millisecond), WithPollInterval(time.Millisecond, 10*time.Millisecond))
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "exit (137)") {
		t.Errorf("WaitConverged with a task failing = %v", err)
	}
}

func TestWaitUpdateFailures(t *testing.T) {
	f, p := waitProject(t)
	ctx := context.Background()
	f.addTask("st_g", 0, "n2", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	f.addTask("st_g", 0, "n3", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	f.addTask("st_a", 1, "n1", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	f.addTask("st_a", 2, "n2", swarm.TaskStateRunning, swarm.TaskStateRunning, "")
	a := f.find("st_a")

	// In progress: waits.
	a.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, Message: "update in progress"}
	err := WaitConverged(ctx, f, p, 30*time.Millisecond, fast...)
	var ce *ConvergeError
	if !errors.As(err, &ce) || ce.Timeout == 0 || !strings.Contains(err.Error(), "service st_a: not converged (2/2 tasks running): update in progress") {
		t.Errorf("during an update: %v", err)
	}

	// Paused (failure_action: pause): fails at once, naming the task.
	failed := f.addTask("st_a", 2, "n3", swarm.TaskStateShutdown, swarm.TaskStateFailed, "starting container failed: oci runtime error")
	a.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStatePaused, Message: "update paused due to failure or early termination of task " + failed}
	start := time.Now()
	err = WaitConverged(ctx, f, p, time.Minute, fast...)
	if !errors.As(err, &ce) || ce.Timeout != 0 || ce.RolledBack() || time.Since(start) > 10*time.Second {
		t.Fatalf("paused: %v", err)
	}
	pr := ce.Problems[0]
	if len(ce.Problems) != 1 || pr.Problem != ProblemUpdatePaused || pr.FullName != "st_a" || pr.TaskID != failed || pr.Node != "w2" ||
		pr.TaskErr != "starting container failed: oci runtime error" || pr.TaskName != "st_a.2" {
		t.Errorf("paused: %+v", ce.Problems)
	}

	// Rolled back (failure_action: rollback): the failed task belongs to
	// the spec that was rolled back, it is not up to date.
	f.stale[failed] = true
	a.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, Message: "rollback completed"}
	err = WaitConverged(ctx, f, p, time.Minute, fast...)
	if !errors.As(err, &ce) || !ce.RolledBack() || ce.Problems[0].TaskID != failed {
		t.Fatalf("rolled back: %v", err)
	}
	if !strings.Contains(err.Error(), "service st_a: rolled back (2/2 tasks running): rollback completed; task st_a.2") {
		t.Errorf("rolled back: %v", err)
	}

	a.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackPaused, Message: "rollback paused"}
	if err := WaitConverged(ctx, f, p, time.Minute, fast...); !errors.As(err, &ce) || ce.Problems[0].Problem != ProblemRollbackPaused {
		t.Errorf("rollback paused: %v", err)
	}

	a.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateCompleted}
	if err := WaitConverged(ctx, f, p, time.Minute, fast...); err != nil {
		t.Errorf("completed: %v", err)
	}

	// A service that does not exist fails at once.
	delete(f.services, a.ID)
	if err := WaitConverged(ctx, f, p, time.Minute, fast...); !errors.As(err, &ce) || ce.Problems[0].Problem != ProblemMissing {
		t.Errorf("missing: %v", err)
	}
}

func TestWaitJobs(t *testing.T) {
	p := mustLoadNamed(t, "st", "services:\n  j:\n    image: j\n    deploy:\n      mode: replicated-job\n      replicas: 2\n", LoadOptions{})
	f := newFakeEngine()
	deployOK(t, f, p, never)
	f.find("st_j").JobStatus = &swarm.JobStatus{}
	f.addTask("st_j", 1, "n1", swarm.TaskStateComplete, swarm.TaskStateComplete, "")
	if err := WaitConverged(context.Background(), f, p, 30*time.Millisecond, fast...); err == nil {
		t.Error("a job with 1 of 2 completions converged")
	}
	f.addTask("st_j", 2, "n1", swarm.TaskStateComplete, swarm.TaskStateComplete, "")
	if err := WaitConverged(context.Background(), f, p, time.Second, fast...); err != nil {
		t.Error(err)
	}
}

func TestConstraints(t *testing.T) {
	n := node("n1", "web-1", swarm.NodeRoleWorker, swarm.NodeStateReady, swarm.NodeAvailabilityActive, map[string]string{"zone": "eu-1"})
	n.Status.Addr = "10.0.0.5"
	n.Description.Platform.OS, n.Description.Platform.Architecture = "linux", "x86_64"
	n.Description.Engine.Labels = map[string]string{"storage": "ssd"}
	for _, tc := range []struct {
		exprs []string
		want  bool
	}{
		{nil, true},
		{[]string{"node.role==worker"}, true},
		{[]string{"node.role == manager"}, false},
		{[]string{"node.hostname!=web-2", "node.labels.zone==EU-1"}, true},
		{[]string{"node.labels.missing==x"}, false},
		{[]string{"node.labels.missing!=x"}, true},
		{[]string{"engine.labels.storage==ssd"}, true},
		{[]string{"node.platform.os==linux", "node.platform.arch==x86_64"}, true},
		{[]string{"node.ip==10.0.0.5"}, true},
		{[]string{"node.ip==10.0.0.0/24"}, true},
		{[]string{"node.ip!=10.0.0.0/24"}, false},
		{[]string{"node.id==n1"}, true},
		{[]string{"unknown.key==x"}, false},
	} {
		cons, err := parseConstraints(tc.exprs)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodeMatches(cons, n); got != tc.want {
			t.Errorf("%v = %t", tc.exprs, got)
		}
	}
	if _, err := parseConstraints([]string{"node.role"}); err == nil {
		t.Error("a constraint without operator parsed")
	}
}
