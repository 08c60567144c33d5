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

// WaitNodeSettled waits until every task the scheduler placed on node
// nodeID (desired state running) runs, and that set of tasks has not
// changed for stable. A node that just became ready receives its global
// services' tasks within moments; a rolling replacement sends traffic to
// it (a floating IP, a drain of the host it replaces) only once they run.
// timeout bounds the wait (0: ctx only); the error names the tasks that do
// not run and their state.
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
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
			filters.Arg("node", nodeID), filters.Arg("desired-state", "running"))})
		if err != nil {
			if permanent(err) {
				return false, "", err
			}
			return false, "", wait.Retry(err)
		}
		var set, notRunning []string
		for _, t := range tasks {
			set = append(set, t.ID)
			if t.Status.State != swarm.TaskStateRunning {
				msg := string(t.Status.State)
				if t.Status.Err != "" {
					msg += ": " + t.Status.Err
				}
				notRunning = append(notRunning, fmt.Sprintf("task %s (%s)", t.ID, msg))
			}
		}
		slices.Sort(set)
		now := time.Now()
		if len(notRunning) > 0 || !slices.Equal(set, lastSet) || since.IsZero() {
			since, lastSet = now, set
		}
		if len(notRunning) > 0 {
			return false, strings.Join(notRunning, "; "), nil
		}
		return now.Sub(since) >= stable, fmt.Sprintf("%d tasks running, settling", len(set)), nil
	})
}
