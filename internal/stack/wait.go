package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// WaitOption tunes WaitConverged.
type WaitOption func(*waitConfig)

type waitConfig struct {
	progress     func([]ServiceProblem)
	stable       time.Duration
	pollMin      time.Duration
	pollMax      time.Duration
	stableForced bool
}

// WithStablePeriod sets how long services must stay converged before
// WaitConverged returns. By default it is the service's
// update_config.monitor, or 5 seconds, as with the CLI.
func WithStablePeriod(d time.Duration) WaitOption {
	return func(c *waitConfig) { c.stable, c.stableForced = d, true }
}

// WithPollInterval sets the polling interval (backing off from min to max).
func WithPollInterval(minInterval, maxInterval time.Duration) WaitOption {
	return func(c *waitConfig) { c.pollMin, c.pollMax = minInterval, maxInterval }
}

// WithProgress calls f after every look at the services, with the
// services that have not converged yet (empty when all have, and are being
// watched for stability): for logging.
func WithProgress(f func(pending []ServiceProblem)) WaitOption {
	return func(c *waitConfig) { c.progress = f }
}

// Problems WaitConverged reports.
const (
	// ProblemUpdatePaused: an update failed and swarm paused it
	// (failure_action: pause, the default).
	ProblemUpdatePaused = "update paused"
	// ProblemRolledBack: an update failed and swarm rolled the service
	// back to its previous spec (failure_action: rollback).
	ProblemRolledBack = "rolled back"
	// ProblemRollbackPaused: the rollback itself failed.
	ProblemRollbackPaused = "rollback paused"
	// ProblemNotConverged: the timeout passed before the service's tasks
	// were all running.
	ProblemNotConverged = "not converged"
	// ProblemMissing: the service does not exist.
	ProblemMissing = "missing"
)

// ServiceProblem is why one service did not converge.
type ServiceProblem struct {
	Service   string // in the compose file
	FullName  string
	ServiceID string
	Problem   string
	// Message is swarm's update status message, when there is one.
	Message string
	// Running and Desired count the service's up-to-date running tasks
	// and how many should run.
	Running int
	Desired int
	// Task is the most recent failed task, if any: TaskID, its slot or
	// node, and its error (Status.Err), e.g. "task: non-zero exit (1)" or
	// "No such image: ...".
	TaskID   string
	TaskName string
	Node     string
	State    string
	TaskErr  string
}

func (p ServiceProblem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %s: %s", p.FullName, p.Problem)
	if p.Desired > 0 || p.Problem == ProblemNotConverged {
		fmt.Fprintf(&b, " (%d/%d tasks running)", p.Running, p.Desired)
	}
	if p.Message != "" {
		fmt.Fprintf(&b, ": %s", p.Message)
	}
	if p.TaskID != "" {
		fmt.Fprintf(&b, "; task %s (%s)", p.TaskName, p.TaskID)
		if p.Node != "" {
			fmt.Fprintf(&b, " on %s", p.Node)
		}
		if p.State != "" {
			fmt.Fprintf(&b, " %s", p.State)
		}
		if p.TaskErr != "" {
			fmt.Fprintf(&b, ": %s", p.TaskErr)
		}
	}
	return b.String()
}

// ConvergeError is WaitConverged's error when services did not converge.
type ConvergeError struct {
	Stack    string
	Problems []ServiceProblem
	// Timeout is set when the wait ran out of time.
	Timeout time.Duration
	// Cause is the context's error when the wait was cut short.
	Cause error
	// LastError is the last error reading the services, when the managers
	// could not be read at the end (a leader election, a lost connection).
	LastError error
}

func (e *ConvergeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s did not converge", e.Stack)
	if e.Timeout > 0 {
		fmt.Fprintf(&b, " within %s", e.Timeout)
	}
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	if e.LastError != nil {
		fmt.Fprintf(&b, " (last error reading the services: %v)", e.LastError)
	}
	return b.String()
}

func (e *ConvergeError) Unwrap() error { return e.Cause }

// RolledBack reports whether any service was rolled back.
func (e *ConvergeError) RolledBack() bool {
	for _, p := range e.Problems {
		if p.Problem == ProblemRolledBack {
			return true
		}
	}
	return false
}

// WaitConverged waits until every service of the project runs what it
// should: a replicated service its replicas, a global service one task on
// every node that is ready, active and satisfies its placement constraints,
// a job its completions; only tasks of the current spec count, an update in
// progress must have completed, and all of it must hold for a stable period
// (WithStablePeriod).
//
// An update that fails ends the wait at once with a *ConvergeError naming
// the service, the failed task and its error, and what swarm did as the
// service's update_config.failure_action says: paused the update, or
// rolled the service back (the error says so once the rollback completed;
// ConvergeError.RolledBack). When timeout passes first, the error says
// which services are short of tasks and why their tasks failed.
func WaitConverged(ctx context.Context, e Engine, p *Project, timeout time.Duration, options ...WaitOption) error {
	cfg := waitConfig{stable: 5 * time.Second, pollMin: 250 * time.Millisecond, pollMax: 2 * time.Second}
	for _, o := range options {
		o(&cfg)
	}
	if cfg.pollMin <= 0 {
		cfg.pollMin = 250 * time.Millisecond
	}
	w := &waiter{e: e, p: p, cfg: cfg, convergedAt: map[string]time.Time{}}
	var last []ServiceProblem
	err := wait.Until(ctx, wait.Options{What: "stack " + p.Name, Interval: cfg.pollMin, MaxInterval: cfg.pollMax, Timeout: timeout},
		func(ctx context.Context) (bool, string, error) {
			done, problems, fatal, err := w.check(ctx)
			switch {
			case err != nil && ctx.Err() == nil && permanent(err):
				return false, "", fmt.Errorf("waiting for stack %s: %w", p.Name, err)
			case err != nil:
				return false, "", wait.Retry(err)
			}
			if cfg.progress != nil {
				cfg.progress(problems)
			}
			if fatal {
				return false, "", &ConvergeError{Stack: p.Name, Problems: problems}
			}
			last = problems
			return done, "", nil
		})
	var te *wait.TimeoutError
	if !errors.As(err, &te) {
		return err
	}
	ce := &ConvergeError{Stack: p.Name, Problems: last, Cause: te.Err, LastError: te.LastError}
	if errors.Is(te.Err, context.DeadlineExceeded) {
		ce.Timeout = timeout
	}
	return ce
}

// permanent reports whether an engine error will not go away by waiting.
func permanent(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not a swarm manager") || strings.Contains(msg, "not part of a swarm")
}

type waiter struct {
	e           Engine
	p           *Project
	cfg         waitConfig
	convergedAt map[string]time.Time
}

// check looks at every service once. done: all converged and stable;
// fatal: a failure that waiting will not fix (problems say which).
func (w *waiter) check(ctx context.Context) (done bool, problems []ServiceProblem, fatal bool, err error) {
	nodes, err := w.e.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return false, nil, false, err
	}
	done = true
	for _, s := range w.p.Services {
		svc, _, err := w.e.ServiceInspectWithRaw(ctx, s.FullName, swarm.ServiceInspectOptions{})
		if err != nil {
			if isNotFound(err) {
				problems = append(problems, ServiceProblem{Service: s.Name, FullName: s.FullName, Problem: ProblemMissing})
				done, fatal = false, true
				continue
			}
			return false, nil, false, err
		}
		upToDate, err := w.e.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
			filters.Arg("service", svc.ID), filters.Arg("_up-to-date", "true"))})
		if err != nil {
			return false, nil, false, err
		}
		st := assess(svc, upToDate, nodes)
		st.problem.Service = s.Name
		if !st.converged {
			// Name the most recent failed task, of any spec: after a
			// rollback, the failed tasks are no longer up to date.
			all, err := w.e.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", svc.ID))})
			if err != nil {
				return false, nil, false, err
			}
			fillFailedTask(&st.problem, all, nodes, svc)
			delete(w.convergedAt, s.FullName)
			done = false
			fatal = fatal || st.fatal
			problems = append(problems, st.problem)
			continue
		}
		since, ok := w.convergedAt[s.FullName]
		if !ok {
			since = time.Now()
			w.convergedAt[s.FullName] = since
		}
		stable := w.cfg.stable
		if !w.cfg.stableForced && svc.Spec.UpdateConfig != nil && svc.Spec.UpdateConfig.Monitor > 0 {
			stable = svc.Spec.UpdateConfig.Monitor
		}
		if svc.JobStatus == nil && time.Since(since) < stable {
			done = false
		}
	}
	if fatal {
		// Report only the services that failed.
		var out []ServiceProblem
		for _, p := range problems {
			if p.Problem != ProblemNotConverged {
				out = append(out, p)
			}
		}
		problems = out
	}
	return done, problems, fatal, nil
}

func isNotFound(err error) bool {
	if cerrdefs.IsNotFound(err) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not found") || strings.Contains(msg, "no such service")
}

// assessment is one service's state.
type assessment struct {
	converged bool
	fatal     bool
	problem   ServiceProblem
}

// taskOrder orders task states as the CLI's progress does.
var taskOrder = map[swarm.TaskState]int{
	swarm.TaskStateNew: 1, swarm.TaskStateAllocated: 2, swarm.TaskStatePending: 3, swarm.TaskStateAssigned: 4,
	swarm.TaskStateAccepted: 5, swarm.TaskStatePreparing: 6, swarm.TaskStateReady: 7, swarm.TaskStateStarting: 8,
	swarm.TaskStateRunning: 9, swarm.TaskStateComplete: 10, swarm.TaskStateShutdown: 11, swarm.TaskStateFailed: 12,
	swarm.TaskStateRejected: 13, swarm.TaskStateRemove: 14, swarm.TaskStateOrphaned: 15,
}

// assess decides whether a service converged, from its up-to-date tasks.
func assess(svc swarm.Service, tasks []swarm.Task, nodes []swarm.Node) assessment {
	a := assessment{problem: ServiceProblem{FullName: svc.Spec.Name, ServiceID: svc.ID}}
	p := &a.problem
	rolledBack, updating := false, false
	if u := svc.UpdateStatus; u != nil {
		p.Message = u.Message
		switch u.State {
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			updating = true
		case swarm.UpdateStatePaused:
			p.Problem, a.fatal = ProblemUpdatePaused, true
		case swarm.UpdateStateRollbackPaused:
			p.Problem, a.fatal = ProblemRollbackPaused, true
		case swarm.UpdateStateRollbackCompleted:
			rolledBack = true
		}
	}
	// Current tasks: per slot (replicated) or node (global), the one with
	// the lowest desired state, ties broken by the lowest observed state.
	current := map[string]swarm.Task{}
	global := svc.Spec.Mode.Global != nil || svc.Spec.Mode.GlobalJob != nil
	for _, t := range tasks {
		if taskOrder[t.DesiredState] == 0 || taskOrder[t.Status.State] == 0 {
			continue
		}
		k := fmt.Sprint(t.Slot)
		if global {
			k = t.NodeID
		}
		if cur, ok := current[k]; ok {
			if taskOrder[cur.DesiredState] < taskOrder[t.DesiredState] ||
				(cur.DesiredState == t.DesiredState && taskOrder[cur.Status.State] <= taskOrder[t.Status.State]) {
				continue
			}
		}
		current[k] = t
	}
	running, completed := 0, 0
	for _, t := range current {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
			running++
		}
		if t.Status.State == swarm.TaskStateComplete {
			completed++
		}
	}
	m := svc.Spec.Mode
	switch {
	case m.Replicated != nil:
		p.Desired = 1
		if m.Replicated.Replicas != nil {
			p.Desired = int(*m.Replicated.Replicas)
		}
		p.Running = running
		a.converged = running == p.Desired
	case m.Global != nil:
		eligible := eligibleNodes(nodes, svc.Spec.TaskTemplate.Placement)
		p.Desired = len(eligible)
		for _, t := range current {
			if eligible[t.NodeID] && t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
				p.Running++
			}
		}
		a.converged = p.Running == p.Desired
	case m.ReplicatedJob != nil:
		p.Desired = 1
		if m.ReplicatedJob.TotalCompletions != nil {
			p.Desired = int(*m.ReplicatedJob.TotalCompletions)
		}
		p.Running = completed
		a.converged = completed >= p.Desired
	case m.GlobalJob != nil:
		eligible := eligibleNodes(nodes, svc.Spec.TaskTemplate.Placement)
		p.Desired = len(eligible)
		for _, t := range current {
			if eligible[t.NodeID] && t.Status.State == swarm.TaskStateComplete {
				p.Running++
			}
		}
		a.converged = p.Running >= p.Desired
	}
	if a.fatal {
		a.converged = false
		return a
	}
	if updating {
		a.converged = false
		p.Problem = ProblemNotConverged
		return a
	}
	if rolledBack {
		// The rollback is complete: report it once its tasks run again.
		p.Problem = ProblemRolledBack
		if a.converged {
			a.converged, a.fatal = false, true
		}
		return a
	}
	if !a.converged {
		p.Problem = ProblemNotConverged
	}
	return a
}

// fillFailedTask names the service's most recent task that failed, if any.
func fillFailedTask(p *ServiceProblem, tasks []swarm.Task, nodes []swarm.Node, svc swarm.Service) {
	var failed []swarm.Task
	for _, t := range tasks {
		if t.Status.Err != "" || t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected {
			failed = append(failed, t)
		}
	}
	if len(failed) == 0 {
		return
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].Status.Timestamp.After(failed[j].Status.Timestamp) })
	t := failed[0]
	p.TaskID = t.ID
	if t.Slot > 0 {
		p.TaskName = fmt.Sprintf("%s.%d", svc.Spec.Name, t.Slot)
	} else {
		p.TaskName = svc.Spec.Name + "." + t.NodeID
	}
	p.Node = t.NodeID
	for _, n := range nodes {
		if n.ID == t.NodeID && n.Description.Hostname != "" {
			p.Node = n.Description.Hostname
		}
	}
	p.State = string(t.Status.State)
	p.TaskErr = t.Status.Err
	if p.TaskErr == "" {
		p.TaskErr = t.Status.Message
	}
}

// eligibleNodes returns the nodes a global service's tasks should run on:
// ready, active, satisfying the placement constraints (evaluated as swarm
// does).
func eligibleNodes(nodes []swarm.Node, placement *swarm.Placement) map[string]bool {
	var cons []constraint
	if placement != nil {
		var err error
		if cons, err = parseConstraints(placement.Constraints); err != nil {
			cons = nil
		}
	}
	out := map[string]bool{}
	for _, n := range nodes {
		if n.Status.State != swarm.NodeStateReady || n.Spec.Availability != swarm.NodeAvailabilityActive {
			continue
		}
		if nodeMatches(cons, n) {
			out[n.ID] = true
		}
	}
	return out
}

// constraint is a placement constraint, as swarmkit's manager/constraint
// parses and matches it (the logic is swarmkit's, on the API's node type).
type constraint struct {
	key   string
	equal bool
	exp   string
}

var (
	constraintKeyRe   = regexp.MustCompile(`^(?i)[a-z_][a-z0-9\-_.]+$`)
	constraintValueRe = regexp.MustCompile(`^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$`)
)

func parseConstraints(exprs []string) ([]constraint, error) {
	var out []constraint
	for _, e := range exprs {
		found := false
		for _, op := range []string{"==", "!="} {
			k, v, ok := strings.Cut(e, op)
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !constraintKeyRe.MatchString(k) || !constraintValueRe.MatchString(v) {
				return nil, fmt.Errorf("invalid constraint %q", e)
			}
			out = append(out, constraint{key: k, equal: op == "==", exp: v})
			found = true
			break
		}
		if !found {
			return nil, fmt.Errorf("invalid constraint %q", e)
		}
	}
	return out, nil
}

func (c constraint) match(what string) bool {
	return strings.EqualFold(c.exp, what) == c.equal
}

const (
	nodeLabelPrefix   = "node.labels."
	engineLabelPrefix = "engine.labels."
)

func nodeMatches(cons []constraint, n swarm.Node) bool {
	for _, c := range cons {
		key := strings.ToLower(c.key)
		switch {
		case key == "node.id":
			if !c.match(n.ID) {
				return false
			}
		case key == "node.hostname":
			if !c.match(n.Description.Hostname) {
				return false
			}
		case key == "node.ip":
			nodeIP := net.ParseIP(n.Status.Addr)
			if ip := net.ParseIP(c.exp); ip != nil {
				if ip.Equal(nodeIP) != c.equal {
					return false
				}
				continue
			}
			if _, subnet, err := net.ParseCIDR(c.exp); err == nil {
				if subnet.Contains(nodeIP) != c.equal {
					return false
				}
				continue
			}
			return false
		case key == "node.role":
			if !c.match(string(n.Spec.Role)) {
				return false
			}
		case key == "node.platform.os":
			if !c.match(n.Description.Platform.OS) {
				return false
			}
		case key == "node.platform.arch":
			if !c.match(n.Description.Platform.Architecture) {
				return false
			}
		case len(key) > len(nodeLabelPrefix) && strings.HasPrefix(key, nodeLabelPrefix):
			if !c.match(n.Spec.Labels[c.key[len(nodeLabelPrefix):]]) {
				return false
			}
		case len(key) > len(engineLabelPrefix) && strings.HasPrefix(key, engineLabelPrefix):
			if !c.match(n.Description.Engine.Labels[c.key[len(engineLabelPrefix):]]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
