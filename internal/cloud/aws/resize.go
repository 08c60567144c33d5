package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var _ cloud.Resizer = (*Driver)(nil)

// ResizeHost changes an instance's type in place: StopInstances (skipped
// when it is stopped already), wait until stopped, ModifyInstanceAttribute
// InstanceType (skipped when it has the type already), StartInstances,
// wait until running. A stopped instance is started too: the host ends
// active. Already running at size, nothing is done, so an apply that failed
// halfway resumes. When EC2 refuses the type, the instance is started
// again at its old type. Each wait is bounded by ctx and the driver's
// state-change timeout.
func (d *Driver) ResizeHost(ctx context.Context, id, size string) (*cloud.Host, error) {
	ctx = logContext(ctx)
	inst, err := findInstanceByID(ctx, d.ec2, id)
	if err != nil {
		return nil, fmt.Errorf("resizing EC2 instance (%s) to %s: %w", id, size, err)
	}
	if instanceState(inst) == types.InstanceStateNamePending {
		if inst, err = waitInstanceStarted(ctx, d.ec2, id, d.timing.stateChange, d.timing.poll); err != nil {
			return nil, fmt.Errorf("resizing EC2 instance (%s) to %s: %w", id, size, err)
		}
	}
	from := string(inst.InstanceType)
	switch state := instanceState(inst); state {
	case types.InstanceStateNameRunning:
		if from == size {
			h := d.hostFrom(inst)
			return &h, nil
		}
		tflog.SubsystemInfo(ctx, subsystem, "stopping EC2 instance to resize it", map[string]any{"instance_id": id, "from": from, "to": size})
		if _, err := d.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
			return nil, fmt.Errorf("resizing EC2 instance (%s) to %s: stopping it: %w; it keeps running at %s: apply again", id, size, mapError(err), from)
		}
		fallthrough
	case types.InstanceStateNameStopping:
		if _, err := waitInstanceStopped(ctx, d.ec2, id, d.timing.stateChange, d.timing.poll); err != nil {
			return nil, fmt.Errorf("resizing EC2 instance (%s) to %s: %w; apply again to resume, or start it in the EC2 console", id, size, err)
		}
	case types.InstanceStateNameStopped:
	default:
		return nil, fmt.Errorf("resizing EC2 instance (%s) to %s: it is %s, neither running nor stopped; it cannot be resized", id, size, state)
	}
	if from != size {
		_, err := d.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
			InstanceId:   awssdk.String(id),
			InstanceType: &types.AttributeValue{Value: awssdk.String(size)},
		})
		if err != nil {
			return nil, fmt.Errorf("resizing EC2 instance (%s) from %s to %s: %w; %s", id, from, size, mapError(err), d.startAfterFailure(ctx, id, from, size))
		}
	}
	if _, err := d.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		return nil, fmt.Errorf("resizing EC2 instance (%s) to %s: starting it after the resize: %w; apply again to resume, or start it in the EC2 console", id, size, mapError(err))
	}
	inst, err = waitInstanceRunning(ctx, d.ec2, id, d.timing.stateChange, d.timing.poll)
	if err != nil {
		return nil, fmt.Errorf("resizing EC2 instance (%s) to %s: %w; apply again to resume", id, size, err)
	}
	h := d.hostFrom(inst)
	if h.Size != size {
		return &h, fmt.Errorf("resizing EC2 instance (%s) to %s: it runs as %s; apply again", id, size, h.Size)
	}
	return &h, nil
}

// startAfterFailure starts an instance a failed resize left stopped, with
// a fresh bounded context (the caller's may have ended), without waiting;
// it says what happened, for the error.
func (d *Driver) startAfterFailure(ctx context.Context, id, from, size string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := d.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		return fmt.Sprintf("starting it again failed too (%v): start instance %s in the EC2 console", mapError(err), id)
	}
	return fmt.Sprintf("it keeps type %s and was started again; check that %s is offered in its availability zone and suits its image (architecture, virtualization), then apply again", from, size)
}
