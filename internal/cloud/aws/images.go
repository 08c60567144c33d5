package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// imagePublishers are the AWS accounts trusted to publish the images a
// name filter may match, by name prefix. A name filter is only ever
// searched among its publisher's images: anyone can publish a public AMI
// named like Debian's.
var imagePublishers = []struct {
	prefix, owner, distribution string
}{
	{prefix: "debian-", owner: "136693071363", distribution: "Debian"},                   // Debian cloud team
	{prefix: "ubuntu/images/", owner: "099720109477", distribution: "Ubuntu"},            // Canonical
	{prefix: "ubuntu-pro-server/images/", owner: "099720109477", distribution: "Ubuntu"}, // Canonical
}

// ImageOwner returns the AWS account that publishes the images a name
// filter matches, and the distribution, or false when the driver does not
// know the publisher.
func ImageOwner(filter string) (owner, distribution string, ok bool) {
	for _, p := range imagePublishers {
		if strings.HasPrefix(filter, p.prefix) {
			return p.owner, p.distribution, true
		}
	}
	return "", "", false
}

// ResolveImage turns an image value into an AMI id in the driver's region:
//
//   - an "ami-" id is checked to exist and be available;
//   - anything else is an AMI name filter (the AWS values of
//     cloud.PortableImages), searched among its publisher's images (see
//     ImageOwner); the newest available match wins.
//
// Failures are cloud.ErrInvalid errors naming the image.
func (d *Driver) ResolveImage(ctx context.Context, value string) (string, error) {
	switch {
	case value == "":
		return "", invalidError("InvalidAMIID.Missing", "no image given")
	case strings.HasPrefix(value, "ami-"):
		img, err := findImageByID(ctx, d.ec2, value)
		if cloud.IsNotFound(err) || hasCode(err, errCodeAMIMalformed) {
			return "", invalidError(errCodeAMINotFound, fmt.Sprintf("image %q does not exist in region %s, or this account may not use it", value, d.region))
		}
		if err != nil {
			return "", fmt.Errorf("reading AMI (%s): %w", value, err)
		}
		if img.State != types.ImageStateAvailable {
			return "", invalidError("InvalidAMIID.Unavailable", fmt.Sprintf("image %q in region %s is %s, not available", value, d.region, img.State))
		}
		return value, nil
	}
	owner, _, ok := ImageOwner(value)
	if !ok {
		return "", invalidError("InvalidAMIID.UnknownPublisher", fmt.Sprintf("image %q is neither an AMI id nor a name filter of a known publisher; use an AMI id (ami-...) or a portable image (%s)", value, portableImageNames()))
	}
	imgs, err := findImages(ctx, d.ec2, &ec2.DescribeImagesInput{
		Owners: []string{owner},
		Filters: []types.Filter{
			{Name: awssdk.String(filterName), Values: []string{value}},
			{Name: awssdk.String(filterState), Values: []string{string(types.ImageStateAvailable)}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("finding AMIs named %q: %w", value, err)
	}
	best := newestImage(imgs)
	if best == nil {
		return "", invalidError(errCodeAMINotFound, fmt.Sprintf("no available image named %q published by %s in region %s", value, owner, d.region))
	}
	return awssdk.ToString(best.ImageId), nil
}

// newestImage picks the image with the latest creation date; ties go to
// the greatest name (names of both publishers end in a build date).
func newestImage(imgs []types.Image) *types.Image {
	if len(imgs) == 0 {
		return nil
	}
	sort.SliceStable(imgs, func(i, j int) bool {
		ti, tj := imageTime(&imgs[i]), imageTime(&imgs[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return awssdk.ToString(imgs[i].Name) > awssdk.ToString(imgs[j].Name)
	})
	return &imgs[0]
}

func imageTime(img *types.Image) time.Time {
	t, err := time.Parse(time.RFC3339, awssdk.ToString(img.CreationDate))
	if err != nil {
		return time.Time{}
	}
	return t
}

func portableImageNames() string {
	names := make([]string, len(cloud.PortableImages))
	for i, im := range cloud.PortableImages {
		names[i] = im.Name
	}
	return strings.Join(names, ", ")
}
