package aws

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// instanceFake is one instance i-1 going through EC2's states: stopping
// and pending last one DescribeInstances each; the type can only change
// while stopped, as EC2 requires.
func instanceFake(state types.InstanceStateName, typ string) *fakeEC2 {
	var mu sync.Mutex
	next := map[types.InstanceStateName]types.InstanceStateName{
		types.InstanceStateNameStopping: types.InstanceStateNameStopped,
		types.InstanceStateNamePending:  types.InstanceStateNameRunning,
	}
	return &fakeEC2{
		describeInstances: func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			inst := types.Instance{InstanceId: awssdk.String("i-1"), InstanceType: types.InstanceType(typ), State: &types.InstanceState{Name: state}}
			if n, ok := next[state]; ok {
				state = n
			}
			return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: []types.Instance{inst}}}}, nil
		},
		stopInstances: func(*ec2.StopInstancesInput) (*ec2.StopInstancesOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			state = types.InstanceStateNameStopping
			return &ec2.StopInstancesOutput{}, nil
		},
		modifyInstanceAttribute: func(in *ec2.ModifyInstanceAttributeInput) (*ec2.ModifyInstanceAttributeOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			if state != types.InstanceStateNameStopped {
				return nil, apiErr("IncorrectInstanceState")
			}
			if v := awssdk.ToString(in.InstanceType.Value); v != "x9.nowhere" {
				typ = v
				return &ec2.ModifyInstanceAttributeOutput{}, nil
			}
			return nil, apiErr("Unsupported")
		},
		startInstances: func(*ec2.StartInstancesInput) (*ec2.StartInstancesOutput, error) {
			mu.Lock()
			defer mu.Unlock()
			state = types.InstanceStateNamePending
			return &ec2.StartInstancesOutput{}, nil
		},
	}
}

func resizeCalls(f *fakeEC2) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c != "DescribeInstances" {
			out = append(out, c)
		}
	}
	return out
}

func TestResizeHost(t *testing.T) {
	tests := []struct {
		name  string
		state types.InstanceStateName
		typ   string
		calls []string
	}{
		{name: "running", state: types.InstanceStateNameRunning, typ: "t3.small", calls: []string{"StopInstances", "ModifyInstanceAttribute", "StartInstances"}},
		{name: "booting", state: types.InstanceStateNamePending, typ: "t3.small", calls: []string{"StopInstances", "ModifyInstanceAttribute", "StartInstances"}},
		{name: "stopping", state: types.InstanceStateNameStopping, typ: "t3.small", calls: []string{"ModifyInstanceAttribute", "StartInstances"}},
		{name: "stopped", state: types.InstanceStateNameStopped, typ: "t3.small", calls: []string{"ModifyInstanceAttribute", "StartInstances"}},
		{name: "stopped at the new type (resumed)", state: types.InstanceStateNameStopped, typ: "t3.large", calls: []string{"StartInstances"}},
		{name: "running at the new type", state: types.InstanceStateNameRunning, typ: "t3.large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := instanceFake(tt.state, tt.typ)
			h, err := newFakeDriver(t, f).ResizeHost(context.Background(), "i-1", "t3.large")
			if err != nil {
				t.Fatalf("ResizeHost: %v", err)
			}
			if h.Size != "t3.large" || h.Status != cloud.HostActive || h.ID != "i-1" {
				t.Errorf("ResizeHost = %+v, want running as t3.large", h)
			}
			if got := resizeCalls(f); !slices.Equal(got, tt.calls) {
				t.Errorf("calls %v, want %v", got, tt.calls)
			}
		})
	}
}

func TestResizeHostErrors(t *testing.T) {
	// A refused type starts the instance again at its old type.
	f := instanceFake(types.InstanceStateNameRunning, "t3.small")
	_, err := newFakeDriver(t, f).ResizeHost(context.Background(), "i-1", "x9.nowhere")
	if err == nil || !strings.Contains(err.Error(), "Unsupported") || !strings.Contains(err.Error(), "keeps type t3.small and was started again") {
		t.Errorf("ResizeHost(unsupported type) = %v", err)
	}
	if got, want := resizeCalls(f), []string{"StopInstances", "ModifyInstanceAttribute", "StartInstances"}; !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}

	// So does a context that ended during the change.
	f = instanceFake(types.InstanceStateNameStopped, "t3.small")
	ctx, cancel := context.WithCancel(context.Background())
	f.modifyInstanceAttribute = func(*ec2.ModifyInstanceAttributeInput) (*ec2.ModifyInstanceAttributeOutput, error) {
		cancel()
		return nil, context.Canceled
	}
	if _, err := newFakeDriver(t, f).ResizeHost(ctx, "i-1", "t3.large"); err == nil || !strings.Contains(err.Error(), "started again") {
		t.Errorf("ResizeHost(cancelled) = %v, want the instance started again", err)
	}

	f = instanceFake(types.InstanceStateNameShuttingDown, "t3.small")
	if _, err := newFakeDriver(t, f).ResizeHost(context.Background(), "i-1", "t3.large"); err == nil || !strings.Contains(err.Error(), "shutting-down") {
		t.Errorf("ResizeHost(shutting down) = %v", err)
	}
	f = &fakeEC2{describeInstances: func(*ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
		return nil, apiErr("InvalidInstanceID.NotFound")
	}}
	if _, err := newFakeDriver(t, f).ResizeHost(context.Background(), "i-1", "t3.large"); !cloud.IsNotFound(err) {
		t.Errorf("ResizeHost(missing) = %v, want not found", err)
	}
}
