package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// maxUserDataBytes is EC2's limit on user data before base64.
const maxUserDataBytes = 16 * 1024

// listPageSize is the page size of DescribeInstances listings.
var listPageSize int32 = 1000

// CreateHosts launches one RunInstances call per group of specs that differ
// only in name (MinCount = MaxCount = the group's size), so a group gets
// all its instances or none. Each instance is tagged Name, haddock=true and
// haddock:tag:<t> for each neutral tag t (see tags.go); a group of one gets
// its Name at launch, larger groups get each Name with CreateTags right
// after. Instances go in the default VPC, in the security group
// SecurityGroupName (created when missing), with the EC2-chosen default
// subnet, IMDSv2 required, and the spec's image resolved by ResolveImage
// (an AMI id or a publisher's name filter).
//
// SSHKeys names EC2 key pairs; EC2 takes at most one per instance. On an
// error after some instances were launched, those instances are returned
// with the error so the caller can record or delete them.
func (d *Driver) CreateHosts(ctx context.Context, specs []cloud.HostSpec) ([]cloud.Host, error) {
	ctx = logContext(ctx)
	if len(specs) == 0 {
		return nil, nil
	}
	for _, s := range specs {
		if err := d.validateSpec(s); err != nil {
			return nil, fmt.Errorf("creating EC2 instance (%s): %w", s.Name, err)
		}
	}
	groups := groupSpecs(specs)

	created := make([]*cloud.Host, len(specs))
	collect := func() []cloud.Host {
		var out []cloud.Host
		for _, h := range created {
			if h != nil {
				out = append(out, *h)
			}
		}
		return out
	}

	sgID, err := d.securityGroupID(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating EC2 instances: %w", err)
	}
	amis := map[string]string{}
	for _, g := range groups {
		ami, ok := amis[g.spec.Image]
		if !ok {
			ami, err = d.ResolveImage(ctx, g.spec.Image)
			if err != nil {
				return collect(), fmt.Errorf("creating EC2 instances (%s): %w", strings.Join(g.names, ", "), err)
			}
			amis[g.spec.Image] = ami
		}
		hosts, err := d.runGroup(ctx, g, ami, sgID)
		for k := range hosts {
			created[g.indexes[k]] = &hosts[k]
		}
		if err != nil {
			return collect(), err
		}
	}
	return collect(), nil
}

func (d *Driver) validateSpec(s cloud.HostSpec) error {
	if err := d.checkRegion(s.Region); err != nil {
		return err
	}
	switch {
	case s.Size == "":
		return invalidError("InvalidInstanceType", "no instance type given")
	case s.Image == "":
		return invalidError("InvalidAMIID.Missing", "no image given")
	case len(s.SSHKeys) > 1:
		return invalidError("InvalidKeyPair.TooMany", fmt.Sprintf("an EC2 instance takes one key pair, got %d (%s); add further keys through user data", len(s.SSHKeys), strings.Join(s.SSHKeys, ", ")))
	case len(s.UserData) > maxUserDataBytes:
		return invalidError("InvalidUserData.Malformed", fmt.Sprintf("user data is %d bytes, EC2 takes at most %d", len(s.UserData), maxUserDataBytes))
	}
	return nil
}

// specGroup is specs that differ only in name: one RunInstances call.
type specGroup struct {
	spec    cloud.HostSpec // the first spec of the group
	indexes []int          // positions in the caller's specs
	names   []string
}

type specKey struct {
	region, size, image, keys, tags, userData string
}

// groupSpecs groups specs that differ only in name (tags compare as sets),
// in order of first appearance.
func groupSpecs(specs []cloud.HostSpec) []*specGroup {
	var groups []*specGroup
	byKey := map[specKey]*specGroup{}
	for i, s := range specs {
		tags := slices.Clone(s.Tags)
		sort.Strings(tags)
		k := specKey{
			region:   s.Region,
			size:     s.Size,
			image:    s.Image,
			keys:     strings.Join(s.SSHKeys, "\x00"),
			tags:     strings.Join(slices.Compact(tags), "\x00"),
			userData: s.UserData,
		}
		g, ok := byKey[k]
		if !ok {
			g = &specGroup{spec: s}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.indexes = append(g.indexes, i)
		g.names = append(g.names, s.Name)
	}
	return groups
}

func (d *Driver) runGroup(ctx context.Context, g *specGroup, ami, sgID string) ([]cloud.Host, error) {
	n := int32(len(g.indexes))
	tags := ec2Tags(g.spec.Tags)
	instanceTags := slices.Clone(tags)
	if n == 1 && g.names[0] != "" {
		instanceTags = append(instanceTags, types.Tag{Key: awssdk.String(nameTagKey), Value: awssdk.String(g.names[0])})
	}
	in := &ec2.RunInstancesInput{
		ImageId:          awssdk.String(ami),
		InstanceType:     types.InstanceType(g.spec.Size),
		MinCount:         awssdk.Int32(n),
		MaxCount:         awssdk.Int32(n),
		SecurityGroupIds: []string{sgID},
		// The user data holds the host's TLS server key: IMDSv2 only, and a
		// token's response dies after one hop, so containers on Docker
		// networks (one hop further) cannot read it from the metadata service.
		MetadataOptions: &types.InstanceMetadataOptionsRequest{
			HttpTokens:              types.HttpTokensStateRequired,
			HttpPutResponseHopLimit: awssdk.Int32(1),
			HttpEndpoint:            types.InstanceMetadataEndpointStateEnabled,
		},
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: instanceTags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		},
	}
	if len(g.spec.SSHKeys) == 1 {
		in.KeyName = awssdk.String(g.spec.SSHKeys[0])
	}
	if g.spec.UserData != "" {
		in.UserData = awssdk.String(base64.StdEncoding.EncodeToString([]byte(g.spec.UserData)))
	}
	what := fmt.Sprintf("%d EC2 instance(s) (%s)", n, strings.Join(g.names, ", "))

	tflog.SubsystemInfo(ctx, subsystem, "launching EC2 instances", map[string]any{"count": n, "instance_type": g.spec.Size, "image": ami, "names": g.names})
	out, err := d.ec2.RunInstances(ctx, in)
	if hasCode(err, errCodeGroupNotFound) {
		// The cached security group was deleted out of band.
		d.invalidateSecurityGroup()
		if sgID, err = d.securityGroupID(ctx); err != nil {
			return nil, fmt.Errorf("creating %s: %w", what, err)
		}
		in.SecurityGroupIds = []string{sgID}
		out, err = d.ec2.RunInstances(ctx, in)
	}
	if hasCode(err, errCodeAMINotFound) {
		return nil, fmt.Errorf("creating %s: %w", what, invalidError(errCodeAMINotFound, fmt.Sprintf("image %q (%s) not found in region %s", g.spec.Image, ami, d.region)))
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", what, mapError(err))
	}

	insts := out.Instances
	sort.SliceStable(insts, func(i, j int) bool {
		return awssdk.ToInt32(insts[i].AmiLaunchIndex) < awssdk.ToInt32(insts[j].AmiLaunchIndex)
	})
	_, neutral := neutralTags(tags)
	hosts := make([]cloud.Host, 0, len(insts))
	for k := range insts {
		if k >= len(g.names) {
			break
		}
		h := d.hostFrom(&insts[k])
		h.Name, h.Tags = g.names[k], slices.Clone(neutral)
		hosts = append(hosts, h)
	}
	if len(hosts) != int(n) {
		return hosts, fmt.Errorf("creating %s: EC2 launched %d instances", what, len(insts))
	}
	if n == 1 {
		return hosts, nil
	}
	for k, h := range hosts {
		if h.Name == "" {
			continue
		}
		id := h.ID
		err := d.retryWhen(ctx, d.timing.propagation, func() error {
			_, err := d.ec2.CreateTags(ctx, &ec2.CreateTagsInput{
				Resources: []string{id},
				Tags:      []types.Tag{{Key: awssdk.String(nameTagKey), Value: awssdk.String(h.Name)}},
			})
			return err
		}, errCodeInstanceNotFound)
		if err != nil {
			for j := k; j < len(hosts); j++ {
				hosts[j].Name = "" // not named yet
			}
			return hosts, fmt.Errorf("naming EC2 instance (%s) %q: %w", id, h.Name, mapError(err))
		}
	}
	return hosts, nil
}

// hostFrom maps an EC2 instance to the portable host.
func (d *Driver) hostFrom(inst *types.Instance) cloud.Host {
	name, tags := neutralTags(inst.Tags)
	return cloud.Host{
		ID:          awssdk.ToString(inst.InstanceId),
		Name:        name,
		Region:      d.region,
		Size:        string(inst.InstanceType),
		Image:       awssdk.ToString(inst.ImageId),
		Status:      hostStatus(instanceState(inst)),
		PublicIPv4:  awssdk.ToString(inst.PublicIpAddress),
		PrivateIPv4: awssdk.ToString(inst.PrivateIpAddress),
		Tags:        tags,
		CreatedAt:   awssdk.ToTime(inst.LaunchTime),
	}
}

// GetHost describes one instance; a terminated or unknown instance is an
// error wrapping cloud.ErrNotFound.
func (d *Driver) GetHost(ctx context.Context, id string) (*cloud.Host, error) {
	inst, err := findInstanceByID(logContext(ctx), d.ec2, id)
	if err != nil {
		return nil, fmt.Errorf("reading EC2 instance (%s): %w", id, err)
	}
	h := d.hostFrom(inst)
	return &h, nil
}

// liveStates are every instance state but terminated.
var liveStates = []string{
	string(types.InstanceStateNamePending), string(types.InstanceStateNameRunning),
	string(types.InstanceStateNameShuttingDown), string(types.InstanceStateNameStopping),
	string(types.InstanceStateNameStopped),
}

// ListHosts lists the region's instances carrying the neutral tag (every
// instance for ""), terminated ones excepted, all pages.
func (d *Driver) ListHosts(ctx context.Context, tag string) ([]cloud.Host, error) {
	filters := append(tagFilters(tag), types.Filter{Name: awssdk.String(filterStateName), Values: liveStates})
	insts, err := findInstances(logContext(ctx), d.ec2, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: awssdk.Int32(listPageSize)})
	if err != nil {
		return nil, fmt.Errorf("listing EC2 instances tagged %q: %w", tag, err)
	}
	hosts := make([]cloud.Host, 0, len(insts))
	for i := range insts {
		if instanceState(&insts[i]) == types.InstanceStateNameTerminated {
			continue
		}
		hosts = append(hosts, d.hostFrom(&insts[i]))
	}
	return hosts, nil
}

// RenameHost sets the instance's Name tag.
func (d *Driver) RenameHost(ctx context.Context, id, name string) error {
	_, err := d.ec2.CreateTags(logContext(ctx), &ec2.CreateTagsInput{
		Resources: []string{id},
		Tags:      []types.Tag{{Key: awssdk.String(nameTagKey), Value: awssdk.String(name)}},
	})
	if err != nil {
		return fmt.Errorf("renaming EC2 instance (%s): %w", id, mapError(err))
	}
	return nil
}

// TagHost removes then adds neutral tags (see tags.go for their EC2 form).
func (d *Driver) TagHost(ctx context.Context, id string, add, remove []string) error {
	ctx = logContext(ctx)
	if len(remove) > 0 {
		del := make([]types.Tag, 0, len(remove))
		for _, t := range remove {
			if t != "" {
				del = append(del, types.Tag{Key: awssdk.String(tagKey(t))})
			}
		}
		if _, err := d.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: del}); err != nil {
			return fmt.Errorf("untagging EC2 instance (%s): %w", id, mapError(err))
		}
	}
	var tags []types.Tag
	for _, t := range add {
		if t != "" {
			tags = append(tags, ec2Tag(t))
		}
	}
	if len(tags) > 0 {
		if _, err := d.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: tags}); err != nil {
			return fmt.Errorf("tagging EC2 instance (%s): %w", id, mapError(err))
		}
	}
	return nil
}

// DeleteHost terminates the instance; an unknown one is not an error.
func (d *Driver) DeleteHost(ctx context.Context, id string) error {
	_, err := d.ec2.TerminateInstances(logContext(ctx), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if hasCode(err, errCodeInstanceNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("terminating EC2 instance (%s): %w", id, mapError(err))
	}
	return nil
}

// WaitHostsDeleted waits until every instance is terminated (or unknown),
// with one DescribeInstances call per poll for up to 200 instances.
func (d *Driver) WaitHostsDeleted(ctx context.Context, ids []string, timeout time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	return waitInstancesTerminated(logContext(ctx), d.ec2, ids, timeout, d.timing.poll)
}

// WaitHostsActive waits until every instance is running, with one
// DescribeInstances call per poll for up to 200 instances; an instance
// that stops or terminates instead ends the wait with an error.
func (d *Driver) WaitHostsActive(ctx context.Context, ids []string, timeout time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	return waitInstancesRunning(logContext(ctx), d.ec2, ids, timeout, d.timing.poll)
}
