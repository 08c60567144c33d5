package aws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Waiters in the style of terraform-provider-aws: wait<Thing><State>(ctx,
// conn, id, timeout) polls a status function until the thing reaches a
// target state, leaves the pending states, or the timeout passes.

// waitForStatus polls f every interval until its status is in target. A
// status outside pending and target ends the wait with an error, and so
// does the thing being gone unless target holds "".
func waitForStatus(ctx context.Context, f statusFunc, pending, target []string, timeout, interval time.Duration) (any, error) {
	var obj any
	err := wait.Until(ctx, wait.Options{What: fmt.Sprintf("state to become %q", target), Interval: interval, Timeout: timeout},
		func(context.Context) (bool, string, error) {
			o, status, err := f()
			obj = o
			switch {
			case err != nil:
				return false, "", err
			case o == nil && !slices.Contains(target, ""):
				return false, "", cloud.NotFoundError(cloud.AWS, "resource", "")
			case slices.Contains(target, status):
				return true, status, nil
			case !slices.Contains(pending, status):
				return false, status, fmt.Errorf("unexpected state %q, wanted %q", status, target)
			}
			return false, status, nil
		})
	return obj, err
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

// waitInstanceStopped waits until an instance is stopped. Right after
// StopInstances it may still describe as running.
func waitInstanceStopped(ctx context.Context, conn InstancesAPI, id string, timeout, interval time.Duration) (*types.Instance, error) {
	obj, err := waitForStatus(ctx, statusInstance(ctx, conn, id),
		[]string{string(types.InstanceStateNamePending), string(types.InstanceStateNameRunning), string(types.InstanceStateNameStopping)},
		[]string{string(types.InstanceStateNameStopped)},
		timeout, interval)
	inst, _ := obj.(*types.Instance)
	if err != nil {
		return inst, fmt.Errorf("waiting for EC2 instance (%s) to stop: %w", id, err)
	}
	return inst, nil
}

// waitInstanceRunning waits until an instance is running. Right after
// StartInstances it may still describe as stopped.
func waitInstanceRunning(ctx context.Context, conn InstancesAPI, id string, timeout, interval time.Duration) (*types.Instance, error) {
	obj, err := waitForStatus(ctx, statusInstance(ctx, conn, id),
		[]string{string(types.InstanceStateNamePending), string(types.InstanceStateNameStopped)},
		[]string{string(types.InstanceStateNameRunning)},
		timeout, interval)
	inst, _ := obj.(*types.Instance)
	if err != nil {
		return inst, fmt.Errorf("waiting for EC2 instance (%s) to run: %w", id, err)
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
// When it gives up it returns fn's last error, for the caller to map.
func (d *Driver) retryWhen(ctx context.Context, timeout time.Duration, fn func() error, codes ...string) error {
	err := wait.Until(ctx, wait.Options{Interval: d.timing.minDelay, MaxInterval: d.timing.maxDelay, Timeout: timeout},
		func(context.Context) (bool, string, error) {
			err := fn()
			if err != nil && hasCode(err, codes...) {
				return false, "", wait.Retry(err)
			}
			return true, "", err
		})
	if te := (*wait.TimeoutError)(nil); errors.As(err, &te) && te.LastError != nil {
		return te.LastError
	}
	return err
}
