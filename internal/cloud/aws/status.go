package aws

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// Status functions in the style of terraform-provider-aws: they return
// (object, status, error), and (nil, "", nil) when the thing is gone.

// statusFunc reports an object and its status.
type statusFunc func() (any, string, error)

// statusInstance reports an instance's EC2 state.
func statusInstance(ctx context.Context, conn InstancesAPI, id string) statusFunc {
	return func() (any, string, error) {
		inst, err := findInstanceByID(ctx, conn, id)
		if cloud.IsNotFound(err) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		return inst, string(instanceState(inst)), nil
	}
}

// statusInstances reports a batch of instances with one list call per 200
// ids: the status is want when every instance is in state want, else the
// state of the first one that is not. Instances EC2 no longer lists count
// as terminated.
func statusInstances(ctx context.Context, conn InstancesAPI, ids []string, want types.InstanceStateName) statusFunc {
	return func() (any, string, error) {
		insts, err := findInstancesByIDs(ctx, conn, ids)
		if err != nil {
			return nil, "", err
		}
		states := make(map[string]types.InstanceStateName, len(ids))
		for i := range insts {
			states[awssdk.ToString(insts[i].InstanceId)] = instanceState(&insts[i])
		}
		for _, id := range ids {
			s, ok := states[id]
			if !ok {
				s = types.InstanceStateNameTerminated
			}
			if s != want {
				return states, string(s), nil
			}
		}
		return states, string(want), nil
	}
}

// hostStatus maps an EC2 instance state to the portable status.
func hostStatus(s types.InstanceStateName) cloud.HostStatus {
	switch s {
	case types.InstanceStateNamePending:
		return cloud.HostPending
	case types.InstanceStateNameRunning:
		return cloud.HostActive
	case types.InstanceStateNameStopping, types.InstanceStateNameStopped:
		return cloud.HostOff
	case types.InstanceStateNameShuttingDown, types.InstanceStateNameTerminated:
		return cloud.HostDeleting
	}
	return cloud.HostPending
}
