package aws

import (
	"sort"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// How the neutral tags ([]string) live on EC2, whose tags are key=value:
//
//   - cloud.ManagedTag ("haddock") is the EC2 tag haddock=true, on every
//     instance, volume and Elastic IP the driver creates;
//   - any other neutral tag t is the EC2 tag key "haddock:tag:<t>" with an
//     empty value;
//   - the host name is the EC2 tag Name.
//
// Other EC2 tags are not neutral tags and are left alone.
const (
	nameTagKey         = "Name"
	managedTagKey      = cloud.ManagedTag
	managedTagValue    = "true"
	neutralTagPrefix   = "haddock:tag:"
	filterTagKey       = "tag-key"
	filterStateName    = "instance-state-name"
	filterInstanceID   = "instance-id"
	filterName         = "name"
	filterState        = "state"
	filterVPCIsDefault = "isDefault"
	filterVPCID        = "vpc-id"
	filterGroupName    = "group-name"
)

// tagKey is the EC2 tag key of a neutral tag.
func tagKey(t string) string {
	if t == cloud.ManagedTag {
		return managedTagKey
	}
	return neutralTagPrefix + t
}

// ec2Tag is the EC2 tag of a neutral tag.
func ec2Tag(t string) types.Tag {
	if t == cloud.ManagedTag {
		return types.Tag{Key: awssdk.String(managedTagKey), Value: awssdk.String(managedTagValue)}
	}
	return types.Tag{Key: awssdk.String(tagKey(t)), Value: awssdk.String("")}
}

// ec2Tags maps neutral tags to EC2 tags, without duplicates, always with
// the managed tag first.
func ec2Tags(neutral []string) []types.Tag {
	out := []types.Tag{ec2Tag(cloud.ManagedTag)}
	seen := map[string]bool{cloud.ManagedTag: true}
	for _, t := range neutral {
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, ec2Tag(t))
	}
	return out
}

// neutralTags reads the neutral tags and the name back from EC2 tags. The
// neutral tags come back sorted.
func neutralTags(tags []types.Tag) (name string, neutral []string) {
	for _, tg := range tags {
		k := awssdk.ToString(tg.Key)
		switch {
		case k == nameTagKey:
			name = awssdk.ToString(tg.Value)
		case k == managedTagKey:
			neutral = append(neutral, cloud.ManagedTag)
		case strings.HasPrefix(k, neutralTagPrefix) && len(k) > len(neutralTagPrefix):
			neutral = append(neutral, strings.TrimPrefix(k, neutralTagPrefix))
		}
	}
	sort.Strings(neutral)
	return name, neutral
}

// tagFilters selects the resources carrying a neutral tag; none for "".
func tagFilters(tag string) []types.Filter {
	if tag == "" {
		return nil
	}
	return []types.Filter{{Name: awssdk.String(filterTagKey), Values: []string{tagKey(tag)}}}
}
