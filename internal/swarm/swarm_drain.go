package swarm

// Draining nodes with placement safety: a node is only given up once the
// tasks it ran are running elsewhere.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// restoreTimeout bounds setting nodes back after a failed drain, which runs
// even when the caller's context has ended.
const restoreTimeout = 30 * time.Second

// DrainProblem is one thing that kept a drain from completing: a service
// short of replicas, or one of its tasks that is not running, with the
// scheduler's explanation.
type DrainProblem struct {
	ServiceID string
	Service   string
	// TaskID and Task ("web.3") are empty for a service-level problem.
	TaskID string
	Task   string
	// Node is the node the task is on, if any: its hostname, or its ID
	// when the node is unknown.
	Node string
	// Running and Wanted count the service's running replicas outside the
	// drained nodes and how many must run (service-level problems).
	Running uint64
	Wanted  uint64
	// State is the task's state (pending, assigned, running...).
	State string
	// Message is the scheduler's or engine's explanation: the task's error
	// ("no suitable node (insufficient resources on 2 nodes)") or status
	// message.
	Message string
}

func (p DrainProblem) String() string {
	if p.TaskID == "" {
		return fmt.Sprintf("service %s (%s): %d of %d replicas running elsewhere", p.Service, p.ServiceID, p.Running, p.Wanted)
	}
	s := fmt.Sprintf("task %s (%s) %s", p.Task, p.TaskID, p.State)
	if p.Node != "" {
		s += " on " + p.Node
	}
	if p.Message != "" {
		s += ": " + p.Message
	}
	return s
}

// DrainError is DrainNodes' error when tasks were not re-placed in time.
type DrainError struct {
	// Nodes are the nodes drained, "hostname (id)".
	Nodes []string
	// Timeout is the drain's timeout (0 when only the context bounded it).
	Timeout time.Duration
	// Cause is why the wait ended: context.DeadlineExceeded or
	// context.Canceled.
	Cause error
	// Problems are what was still wrong at the last poll.
	Problems []DrainProblem
	// Restored tells whether the nodes were set back to their former
	// availability; RestoreErr says why not.
	Restored   bool
	RestoreErr error
}

func (e *DrainError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "draining %s: tasks were not re-placed", strings.Join(e.Nodes, ", "))
	if e.Timeout > 0 && errors.Is(e.Cause, context.DeadlineExceeded) {
		fmt.Fprintf(&b, " within %s", e.Timeout)
	} else if e.Cause != nil {
		fmt.Fprintf(&b, " (%v)", e.Cause)
	}
	for _, p := range e.Problems {
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	switch {
	case e.Restored:
		b.WriteString("; the nodes were set back to their former availability")
	case e.RestoreErr != nil:
		fmt.Fprintf(&b, "; setting the nodes back failed: %v", e.RestoreErr)
	}
	return b.String()
}

func (e *DrainError) Unwrap() error { return e.Cause }

// drainTarget is what an affected replicated service must get back to.
type drainTarget struct {
	name string
	// runningBefore is the service's running task count when the drain
	// started.
	runningBefore uint64
}

// DrainNodes sets the nodes' availability to drain and waits until the
// tasks they ran are running elsewhere: no task that should run (desired
// state running) is left on those nodes, and every replicated service that
// had a task there is back to its replica count — or to the count it had
// running before the drain, when it was already short (a drain cannot fix
// a service that was degraded before it, and must not wait on one). Global
// services are not re-placed: their tasks on the nodes just stop.
//
// timeout bounds the wait (0: only ctx does). On timeout, or when ctx
// ends, the nodes are set back to their former availability, so that tasks
// that could not be placed elsewhere run again, and the error is a
// *DrainError naming each service and task that could not be placed with
// the scheduler's message, e.g. "no suitable node (insufficient resources
// on 2 nodes)". Unknown node IDs are an error wrapping ErrNotFound.
func (c *Client) DrainNodes(ctx context.Context, nodeIDs []string, timeout time.Duration) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	if len(nodeIDs) == 0 {
		return nil
	}
	nodes, err := c.nodes(ctx, api)
	if err != nil {
		return fmt.Errorf("draining nodes: %w", err)
	}
	byID := make(map[string]Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	drained := map[string]bool{}
	prev := map[string]Availability{}
	var ids, names []string
	for _, id := range nodeIDs {
		n, ok := byID[id]
		if !ok {
			return fmt.Errorf("draining node %s: %w", id, ErrNotFound)
		}
		if !drained[id] {
			drained[id] = true
			prev[id] = n.Availability
			ids = append(ids, id)
			names = append(names, n.String())
		}
	}
	what := "draining " + strings.Join(names, ", ")

	tasks, services, err := c.drainState(ctx, api)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	targets := affectedServices(tasks, services, drained)

	var set []string
	for _, id := range ids {
		if err := c.SetAvailability(ctx, id, AvailabilityDrain); err != nil {
			rerr := c.restoreAvailability(ctx, set, prev)
			return errors.Join(fmt.Errorf("%s: %w", what, err), rerr)
		}
		set = append(set, id)
	}

	var problems []DrainProblem
	opts := polling("the tasks to be re-placed")
	opts.Timeout = timeout
	err = wait.Until(ctx, opts, func(ctx context.Context) (bool, string, error) {
		tasks, services, err := c.drainState(ctx, api)
		if err != nil {
			if permanent(err) {
				return false, "", err
			}
			return false, "", wait.Retry(err)
		}
		problems = drainProblems(tasks, services, drained, targets, byID)
		return len(problems) == 0, "", nil
	})
	if err == nil {
		return nil
	}
	var te *wait.TimeoutError
	if !errors.As(err, &te) {
		return errors.Join(fmt.Errorf("%s: %w", what, err), c.restoreAvailability(ctx, set, prev))
	}
	de := &DrainError{Nodes: names, Timeout: timeout, Cause: te.Err, Problems: problems}
	if len(problems) == 0 && te.LastError != nil {
		de.Problems = []DrainProblem{{Message: "last error: " + te.LastError.Error()}}
	}
	de.RestoreErr = c.restoreAvailability(ctx, set, prev)
	de.Restored = de.RestoreErr == nil
	return de
}

// drainState reads what a drain poll needs: one task list (tasks that
// should run, everywhere) and one service list.
func (c *Client) drainState(ctx context.Context, api swarmEngine) ([]swarm.Task, []swarm.Service, error) {
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, nil, fmt.Errorf("listing tasks through %s: %w", c.identity, err)
	}
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing services through %s: %w", c.identity, err)
	}
	return tasks, services, nil
}

// restoreAvailability sets nodes back to their availability before the
// drain. It runs even when ctx has ended.
func (c *Client) restoreAvailability(ctx context.Context, ids []string, prev map[string]Availability) error {
	if len(ids) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	var errs []error
	for _, id := range ids {
		if err := c.SetAvailability(rctx, id, prev[id]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func replicas(s swarm.Service) (uint64, bool) {
	if s.Spec.Mode.Replicated == nil {
		return 0, false
	}
	if s.Spec.Mode.Replicated.Replicas == nil {
		return 1, true
	}
	return *s.Spec.Mode.Replicated.Replicas, true
}

func running(t swarm.Task) bool {
	return t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning
}

// affectedServices returns the replicated services with a task that
// should run on a drained node, and how many of their tasks run now.
func affectedServices(tasks []swarm.Task, services []swarm.Service, drained map[string]bool) map[string]drainTarget {
	replicated := map[string]string{}
	for _, s := range services {
		if _, ok := replicas(s); ok {
			replicated[s.ID] = s.Spec.Name
		}
	}
	out := map[string]drainTarget{}
	for _, t := range tasks {
		name, ok := replicated[t.ServiceID]
		if ok && drained[t.NodeID] && t.DesiredState == swarm.TaskStateRunning {
			out[t.ServiceID] = drainTarget{name: name}
		}
	}
	for _, t := range tasks {
		if tg, ok := out[t.ServiceID]; ok && running(t) {
			tg.runningBefore++
			out[t.ServiceID] = tg
		}
	}
	return out
}

// drainProblems returns what is still wrong: tasks that should run on
// drained nodes, and affected services short of replicas elsewhere with
// their tasks that are not running.
func drainProblems(tasks []swarm.Task, services []swarm.Service, drained map[string]bool, targets map[string]drainTarget, nodes map[string]Node) []DrainProblem {
	svc := map[string]swarm.Service{}
	for _, s := range services {
		svc[s.ID] = s
	}
	nodeName := func(id string) string {
		if n, ok := nodes[id]; ok && n.Hostname != "" {
			return n.Hostname
		}
		return id
	}
	var out []DrainProblem
	for _, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning && drained[t.NodeID] {
			out = append(out, taskProblem(t, svc[t.ServiceID].Spec.Name, nodeName, "still scheduled on a drained node"))
		}
	}
	ids := make([]string, 0, len(targets))
	for id := range targets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s, ok := svc[id]
		if !ok {
			continue // removed meanwhile
		}
		want, ok := replicas(s)
		if !ok {
			continue
		}
		want = min(want, targets[id].runningBefore)
		var n uint64
		var notRunning []swarm.Task
		for _, t := range tasks {
			if t.ServiceID != id || t.DesiredState != swarm.TaskStateRunning || drained[t.NodeID] {
				continue
			}
			if running(t) {
				n++
			} else {
				notRunning = append(notRunning, t)
			}
		}
		if n >= want {
			continue
		}
		out = append(out, DrainProblem{ServiceID: id, Service: s.Spec.Name, Running: n, Wanted: want})
		sort.Slice(notRunning, func(i, j int) bool { return notRunning[i].Slot < notRunning[j].Slot })
		for _, t := range notRunning {
			out = append(out, taskProblem(t, s.Spec.Name, nodeName, ""))
		}
	}
	return out
}

func taskProblem(t swarm.Task, service string, nodeName func(string) string, fallback string) DrainProblem {
	if service == "" {
		service = t.ServiceID
	}
	name := fmt.Sprintf("%s.%d", service, t.Slot)
	if t.Slot == 0 {
		name = service + "." + t.NodeID
	}
	msg := t.Status.Err
	if msg == "" {
		msg = t.Status.Message
	}
	if fallback != "" {
		if msg == "" {
			msg = fallback
		} else {
			msg = fallback + ": " + msg
		}
	}
	p := DrainProblem{ServiceID: t.ServiceID, Service: service, TaskID: t.ID, Task: name, State: string(t.Status.State), Message: msg}
	if t.NodeID != "" {
		p.Node = nodeName(t.NodeID)
	}
	return p
}
