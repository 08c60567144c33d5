package aws

import (
	"context"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// Floating IPs are Elastic IPs in the VPC domain; FloatingIP.ID is the
// allocation id (eipalloc-...).

// CreateFloatingIP allocates an Elastic IP tagged haddock=true, and
// associates it with hostID when given. When the association fails the
// address is released again (with a context of its own: the caller's may
// have ended), so a failed call leaves nothing behind; if even the release
// fails, the address comes back with the error, for the caller to record.
func (d *Driver) CreateFloatingIP(ctx context.Context, region, hostID string) (*cloud.FloatingIP, error) {
	return d.createFloatingIP(ctx, region, hostID, time.Time{})
}

var _ cloud.UnsavedFloatingIPs = (*Driver)(nil)

// CreateUnsavedFloatingIP is CreateFloatingIP with the Elastic IP also
// tagged haddock:tag:haddock-unsaved, its value until (RFC 3339): set in
// the allocation itself, so no address exists unmarked.
func (d *Driver) CreateUnsavedFloatingIP(ctx context.Context, region, hostID string, until time.Time) (*cloud.FloatingIP, error) {
	return d.createFloatingIP(ctx, region, hostID, until)
}

// MarkFloatingIPSaved deletes the unsaved tag (whatever its value).
func (d *Driver) MarkFloatingIPSaved(ctx context.Context, id string) error {
	_, err := d.ec2.DeleteTags(logContext(ctx), &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: awssdk.String(tagKey(cloud.UnsavedTag))}}})
	if err != nil {
		return fmt.Errorf("marking Elastic IP (%s) saved: %w", id, mapError(err))
	}
	return nil
}

func (d *Driver) createFloatingIP(ctx context.Context, region, hostID string, unsavedUntil time.Time) (*cloud.FloatingIP, error) {
	ctx = logContext(ctx)
	if err := d.checkRegion(region); err != nil {
		return nil, fmt.Errorf("creating Elastic IP: %w", err)
	}
	tags := []types.Tag{ec2Tag(cloud.ManagedTag)}
	if !unsavedUntil.IsZero() {
		tags = append(tags, types.Tag{Key: awssdk.String(tagKey(cloud.UnsavedTag)), Value: awssdk.String(unsavedUntil.UTC().Format(time.RFC3339))})
	}
	out, err := d.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{
		Domain:            types.DomainTypeVpc,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeElasticIp, Tags: tags}},
	})
	if err != nil {
		return nil, fmt.Errorf("creating Elastic IP: %w", mapError(err))
	}
	ip := d.floatingIPOf(types.Address{AllocationId: out.AllocationId, PublicIp: out.PublicIp, Tags: tags})
	if hostID == "" {
		return ip, nil
	}
	if err := d.associate(ctx, ip.ID, hostID); err != nil {
		// The association may have failed because ctx ended: release with a
		// context of its own, or the address leaks.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, rerr := d.ec2.ReleaseAddress(rctx, &ec2.ReleaseAddressInput{AllocationId: awssdk.String(ip.ID)}); rerr != nil {
			tflog.SubsystemWarn(ctx, subsystem, "releasing an Elastic IP after a failed association", map[string]any{"allocation_id": ip.ID, "error": rerr.Error()})
			return ip, fmt.Errorf("creating Elastic IP (%s): %w (and releasing it again failed: %v; it is returned to be recorded, "+
				"or release it with `aws ec2 release-address --allocation-id %s`)", ip.ID, err, mapError(rerr), ip.ID)
		}
		return nil, fmt.Errorf("creating Elastic IP: %w", err)
	}
	ip.HostID = hostID
	return ip, nil
}

// floatingIPOf is the neutral view of an Elastic IP. An unsaved tag whose
// value is not a time (set by hand) is ignored: releasing an address
// loses it for good, so only a mark Haddock wrote makes one a leftover.
func (d *Driver) floatingIPOf(a types.Address) *cloud.FloatingIP {
	f := &cloud.FloatingIP{
		ID: awssdk.ToString(a.AllocationId), Address: awssdk.ToString(a.PublicIp),
		Region: d.region, HostID: awssdk.ToString(a.InstanceId),
	}
	for _, t := range a.Tags {
		if awssdk.ToString(t.Key) != tagKey(cloud.UnsavedTag) {
			continue
		}
		if until, err := time.Parse(time.RFC3339, awssdk.ToString(t.Value)); err == nil {
			f.UnsavedUntil = until
		}
	}
	return f
}

// ListFloatingIPs describes every Elastic IP of the region (EC2 answers
// DescribeAddresses in one page).
func (d *Driver) ListFloatingIPs(ctx context.Context) ([]cloud.FloatingIP, error) {
	out, err := d.ec2.DescribeAddresses(logContext(ctx), &ec2.DescribeAddressesInput{})
	if err != nil {
		return nil, fmt.Errorf("listing Elastic IPs: %w", err)
	}
	ips := make([]cloud.FloatingIP, 0, len(out.Addresses))
	for _, a := range out.Addresses {
		ips = append(ips, *d.floatingIPOf(a))
	}
	return ips, nil
}

// GetFloatingIP describes an Elastic IP by allocation id.
func (d *Driver) GetFloatingIP(ctx context.Context, id string) (*cloud.FloatingIP, error) {
	a, err := findAddressByAllocationID(logContext(ctx), d.ec2, id)
	if err != nil {
		return nil, fmt.Errorf("reading Elastic IP (%s): %w", id, err)
	}
	return d.floatingIPOf(*a), nil
}

// AssignFloatingIP associates the Elastic IP with hostID, moving it from
// wherever it is (AllowReassociation). An instance still pending is waited
// for, since EC2 refuses to associate with one.
func (d *Driver) AssignFloatingIP(ctx context.Context, id, hostID string) error {
	if err := d.associate(logContext(ctx), id, hostID); err != nil {
		return fmt.Errorf("assigning Elastic IP (%s): %w", id, err)
	}
	return nil
}

func (d *Driver) associate(ctx context.Context, id, hostID string) error {
	call := func() error {
		_, err := d.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{
			AllocationId:       awssdk.String(id),
			InstanceId:         awssdk.String(hostID),
			AllowReassociation: awssdk.Bool(true),
		})
		return err
	}
	// An instance RunInstances has just returned may be unknown for a few
	// seconds.
	err := d.retryWhen(ctx, d.timing.propagation, call, errCodeInstanceNotFound)
	if hasCode(err, errCodeIncorrectInstanceState) {
		// Pending, most likely: wait for it to start, then try again. An
		// instance on its way out keeps EC2's error.
		if _, werr := waitInstanceStarted(ctx, d.ec2, hostID, d.timing.stateChange, d.timing.poll); werr == nil {
			err = d.retryWhen(ctx, d.timing.propagation, call, errCodeInstanceNotFound)
		}
	}
	if err != nil {
		return fmt.Errorf("associating with EC2 instance (%s): %w", hostID, mapError(err))
	}
	return nil
}

// UnassignFloatingIP disassociates the Elastic IP; one not associated is
// not an error (one that is gone is: cloud.ErrNotFound).
func (d *Driver) UnassignFloatingIP(ctx context.Context, id string) error {
	ctx = logContext(ctx)
	a, err := findAddressByAllocationID(ctx, d.ec2, id)
	if err != nil {
		return fmt.Errorf("unassigning Elastic IP (%s): %w", id, err)
	}
	if err := d.disassociate(ctx, a); err != nil {
		return fmt.Errorf("unassigning Elastic IP (%s): %w", id, err)
	}
	return nil
}

func (d *Driver) disassociate(ctx context.Context, a *types.Address) error {
	if a.AssociationId == nil {
		return nil
	}
	_, err := d.ec2.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: a.AssociationId})
	if err != nil && !hasCode(err, errCodeAssociationNotFound) {
		return fmt.Errorf("disassociating (%s): %w", awssdk.ToString(a.AssociationId), mapError(err))
	}
	return nil
}

// DeleteFloatingIP disassociates and releases the Elastic IP; one that is
// gone is not an error.
func (d *Driver) DeleteFloatingIP(ctx context.Context, id string) error {
	ctx = logContext(ctx)
	a, err := findAddressByAllocationID(ctx, d.ec2, id)
	if cloud.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting Elastic IP (%s): %w", id, err)
	}
	if err := d.disassociate(ctx, a); err != nil {
		return fmt.Errorf("deleting Elastic IP (%s): %w", id, err)
	}
	// A disassociation takes a moment to show everywhere.
	err = d.retryWhen(ctx, d.timing.propagation, func() error {
		_, err := d.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: a.AllocationId})
		return err
	}, errCodeAddressInUse)
	if err != nil && !hasCode(err, errCodeAllocationNotFound) {
		return fmt.Errorf("deleting Elastic IP (%s): %w", id, mapError(err))
	}
	return nil
}
