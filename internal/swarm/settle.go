package swarm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// WaitNodeSettled waits until node nodeID runs what the swarm gives it: a
// running task of every global service whose placement constraints the
// node satisfies, and every task placed on it (desired state running)
// running — then for stable more with nothing added. A rolling replacement
// sends traffic to a new node (a floating IP, the drain of the host it
// replaces) only once this holds: a node that has just become ready gets
// its global services' tasks a moment later, and under load that moment
// can be seconds. timeout bounds the wait (0: ctx only); the error names
// what is missing and the tasks that do not run, with their state.
func (c *Client) WaitNodeSettled(ctx context.Context, nodeID string, stable, timeout time.Duration) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	var since time.Time
	var lastSet []string
	opts := polling("the tasks on node " + nodeID + " to run")
	opts.Timeout = timeout
	return wait.Until(ctx, opts, func(ctx context.Context) (bool, string, error) {
		missing, set, err := nodeSettleState(ctx, api, nodeID)
		if err != nil {
			if permanent(err) {
				return false, "", err
			}
			return false, "", wait.Retry(err)
		}
		now := time.Now()
		if len(missing) > 0 || !slices.Equal(set, lastSet) || since.IsZero() {
			since, lastSet = now, set
		}
		if len(missing) > 0 {
			return false, strings.Join(missing, "; "), nil
		}
		return now.Sub(since) >= stable, fmt.Sprintf("%d tasks running, settling", len(set)), nil
	})
}

// nodeSettleState reads what the node should run and does: what is
// missing (global services without a running task there, tasks not
// running) and the ids of its tasks.
func nodeSettleState(ctx context.Context, api swarmEngine, nodeID string) (missing, set []string, err error) {
	node, _, err := api.NodeInspectWithRaw(ctx, nodeID)
	if err != nil {
		return nil, nil, err
	}
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, nil, err
	}
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("node", nodeID), filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, nil, err
	}
	runs := map[string]bool{}
	for _, t := range tasks {
		set = append(set, t.ID)
		if t.Status.State == swarm.TaskStateRunning {
			runs[t.ServiceID] = true
			continue
		}
		msg := string(t.Status.State)
		if t.Status.Err != "" {
			msg += ": " + t.Status.Err
		}
		missing = append(missing, fmt.Sprintf("task %s is %s", t.ID, msg))
	}
	if node.Spec.Availability == swarm.NodeAvailabilityActive {
		for _, s := range GlobalServicesNotRunning(node, services, func(serviceID string) bool { return runs[serviceID] }) {
			missing = append(missing, fmt.Sprintf("global service %s has no running task on the node yet", s.Spec.Name))
		}
	}
	slices.Sort(set)
	return missing, set, nil
}

// GlobalServicesNotRunning are the global services whose placement node
// matches and that run no task there (running says whether the node runs a
// task of a service).
func GlobalServicesNotRunning(node swarm.Node, services []swarm.Service, running func(serviceID string) bool) []swarm.Service {
	var out []swarm.Service
	for _, s := range services {
		if s.Spec.Mode.Global == nil || running(s.ID) {
			continue
		}
		var constraints []string
		if p := s.Spec.TaskTemplate.Placement; p != nil {
			constraints = p.Constraints
		}
		if NodeMatches(node, constraints) {
			out = append(out, s)
		}
	}
	return out
}

// NodeMatches reports whether node satisfies placement constraints of the
// forms swarm accepts ("node.role == manager", "node.labels.zone != a",
// "engine.labels.x == y", node.id, node.hostname, node.platform.os and
// .arch). A constraint it cannot read counts as satisfied: waiting for a
// task that will never come is worse than not waiting for one.
func NodeMatches(n swarm.Node, constraints []string) bool {
	for _, c := range constraints {
		key, want, eq, ok := parseConstraint(c)
		if !ok {
			continue
		}
		have, known := nodeValue(n, key)
		if !known {
			if eq {
				return false // a label the node lacks cannot equal anything
			}
			continue
		}
		if strings.EqualFold(have, want) != eq {
			return false
		}
	}
	return true
}

func parseConstraint(c string) (key, value string, eq, ok bool) {
	for _, op := range []string{"==", "!="} {
		if k, v, found := strings.Cut(c, op); found {
			return strings.TrimSpace(k), strings.TrimSpace(v), op == "==", true
		}
	}
	return "", "", false, false
}

func nodeValue(n swarm.Node, key string) (string, bool) {
	switch strings.ToLower(key) {
	case "node.id":
		return n.ID, true
	case "node.hostname":
		return n.Description.Hostname, true
	case "node.role":
		return string(n.Spec.Role), true
	case "node.platform.os":
		return n.Description.Platform.OS, true
	case "node.platform.arch":
		return n.Description.Platform.Architecture, true
	}
	if l, ok := strings.CutPrefix(key, "node.labels."); ok {
		v, found := n.Spec.Labels[l]
		return v, found
	}
	if l, ok := strings.CutPrefix(key, "engine.labels."); ok {
		v, found := n.Description.Engine.Labels[l]
		return v, found
	}
	return "", false
}
