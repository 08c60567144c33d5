package aws

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// Waiters in the style of terraform-provider-aws: wait<Thing><State>(ctx,
// conn, id, timeout) polls a status function until the thing reaches a
// target state, leaves the pending states, or the timeout passes.

// waitForStatus polls f every interval until its status is in target. A
// status outside pending and target ends the wait with an error, and so
// does the thing being gone unless target holds "".
func waitForStatus(ctx context.Context, f statusFunc, pending, target []string, timeout, interval time.Duration) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		obj, status, err := f()
		if err != nil {
			return obj, err
		}
		if obj == nil && !slices.Contains(target, "") {
			return nil, cloud.NotFoundError(cloud.AWS, "resource", "")
		}
		if slices.Contains(target, status) {
			return obj, nil
		}
		if !slices.Contains(pending, status) {
			return obj, fmt.Errorf("unexpected state %q, wanted %q", status, target)
		}
		last = status
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return obj, fmt.Errorf("timeout while waiting for state to become %q (last state %q): %w", target, last, ctx.Err())
		case <-t.C:
		}
	}
}

// waitInstanceStarted waits until an instance has left "pending".
func waitInstanceStarted(ctx context.Context, conn InstancesAPI, id string, timeout, interval time.Duration) (*types.Instance, error) {
	obj, err := waitForStatus(ctx, statusInstance(ctx, conn, id),
		[]string{string(types.InstanceStateNamePending)},
		[]string{string(types.InstanceStateNameRunning), string(types.InstanceStateNameStopping), string(types.InstanceStateNameStopped)},
		timeout, interval)
	inst, _ := obj.(*types.Instance)
	if err != nil {
		return inst, fmt.Errorf("waiting for EC2 instance (%s) to start: %w", id, err)
	}
	return inst, nil
}

// waitInstancesTerminated waits until every instance is terminated (or
// unknown to EC2).
func waitInstancesTerminated(ctx context.Context, conn InstancesAPI, ids []string, timeout, interval time.Duration) error {
	_, err := waitForStatus(ctx, statusInstances(ctx, conn, ids, types.InstanceStateNameTerminated),
		[]string{
			string(types.InstanceStateNamePending), string(types.InstanceStateNameRunning),
			string(types.InstanceStateNameShuttingDown), string(types.InstanceStateNameStopping),
			string(types.InstanceStateNameStopped),
		},
		[]string{string(types.InstanceStateNameTerminated)},
		timeout, interval)
	if err != nil {
		return fmt.Errorf("waiting for EC2 instances %v to terminate: %w", ids, err)
	}
	return nil
}

// waitInstancesRunning waits until every instance is running; one that
// stops or terminates instead ends the wait with an error.
func waitInstancesRunning(ctx context.Context, conn InstancesAPI, ids []string, timeout, interval time.Duration) error {
	_, err := waitForStatus(ctx, statusInstances(ctx, conn, ids, types.InstanceStateNameRunning),
		[]string{string(types.InstanceStateNamePending)},
		[]string{string(types.InstanceStateNameRunning)},
		timeout, interval)
	if err != nil {
		return fmt.Errorf("waiting for EC2 instances %v to run: %w", ids, err)
	}
	return nil
}

// retryWhen calls fn until it succeeds, fails with an error whose AWS code
// is not in codes, or timeout passes; it backs off between calls. It is for
// EC2's eventual consistency, e.g. tagging an instance that DescribeInstances
// does not know yet.
func (d *Driver) retryWhen(ctx context.Context, timeout time.Duration, fn func() error, codes ...string) error {
	deadline := time.Now().Add(timeout)
	delay := d.timing.minDelay
	for {
		err := fn()
		if err == nil || !hasCode(err, codes...) || time.Now().Add(delay).After(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, d.timing.maxDelay)
	}
}
