package aws

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// regionQueryConcurrency bounds the regions asked at once which instance
// types they offer.
const regionQueryConcurrency = 4

// Offerings lists what EC2 sells, cached per driver (and its ForRegion
// siblings) after the first success; a failure is not cached.
//
//   - Regions: DescribeRegions with opt-in regions; a region is available
//     unless it is an opt-in region the account has not opted in to.
//   - Sizes: DescribeInstanceTypes in the driver's region: vCPUs, memory,
//     instance storage (DiskGB; 0 for EBS-only types, whose disk is chosen
//     at launch). Regions lists the available regions whose
//     DescribeInstanceTypeOfferings include the type (one call per region,
//     a few at a time). PriceMonthly comes from an embedded us-east-1 price
//     table (see onDemandHourlyUSD); Available is true for the priced
//     x86_64 types offered somewhere, so the cheapest-size choice only
//     considers those.
//   - Images: the AWS values of cloud.PortableImages (AMI name filters,
//     resolved at create time by ResolveImage).
//
// The returned value is a copy the caller may keep.
func (d *Driver) Offerings(ctx context.Context) (*cloud.Offerings, error) {
	return d.offerings.get(ctx, d.fetchOfferings)
}

type offeringsCache struct {
	sem chan struct{}
	val *cloud.Offerings
}

func newOfferingsCache() *offeringsCache {
	return &offeringsCache{sem: make(chan struct{}, 1)}
}

func (c *offeringsCache) get(ctx context.Context, fetch func(context.Context) (*cloud.Offerings, error)) (*cloud.Offerings, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.val == nil {
		v, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		c.val = v
	}
	return copyOfferings(c.val), nil
}

func copyOfferings(o *cloud.Offerings) *cloud.Offerings {
	c := &cloud.Offerings{
		Sizes:   slices.Clone(o.Sizes),
		Regions: slices.Clone(o.Regions),
		Images:  slices.Clone(o.Images),
	}
	for i := range c.Sizes {
		c.Sizes[i].Regions = slices.Clone(c.Sizes[i].Regions)
	}
	return c
}

func (d *Driver) fetchOfferings(ctx context.Context) (*cloud.Offerings, error) {
	ctx = logContext(ctx)
	regions, err := d.describeRegions(ctx)
	if err != nil {
		return nil, err
	}
	infos, err := d.describeInstanceTypes(ctx)
	if err != nil {
		return nil, err
	}
	offeredIn, err := d.describeTypeOfferings(ctx, regions)
	if err != nil {
		return nil, err
	}
	var everywhere []string // when no region would say what it offers
	if offeredIn == nil {
		for _, r := range regions {
			if r.Available {
				everywhere = append(everywhere, r.Slug)
			}
		}
	}

	off := &cloud.Offerings{Regions: regions}
	for _, it := range infos {
		slug := string(it.InstanceType)
		s := cloud.Size{Slug: slug, Regions: offeredIn[slug]}
		if offeredIn == nil {
			s.Regions = slices.Clone(everywhere)
		}
		if it.VCpuInfo != nil {
			s.VCPUs = int(awssdk.ToInt32(it.VCpuInfo.DefaultVCpus))
		}
		if it.MemoryInfo != nil {
			s.MemoryMB = int(awssdk.ToInt64(it.MemoryInfo.SizeInMiB))
		}
		if it.InstanceStorageInfo != nil {
			s.DiskGB = int(awssdk.ToInt64(it.InstanceStorageInfo.TotalSizeInGB))
		}
		hourly, priced := onDemandHourlyUSD[slug]
		if priced {
			s.PriceMonthly = math.Round(hourly*hoursPerMonth*100) / 100
		}
		s.Available = priced && supportsX86(it) && len(s.Regions) > 0
		off.Sizes = append(off.Sizes, s)
	}
	sort.Slice(off.Sizes, func(i, j int) bool {
		a, b := off.Sizes[i], off.Sizes[j]
		if a.VCPUs != b.VCPUs {
			return a.VCPUs < b.VCPUs
		}
		if a.MemoryMB != b.MemoryMB {
			return a.MemoryMB < b.MemoryMB
		}
		return a.Slug < b.Slug
	})
	for _, im := range cloud.PortableImages {
		v, ok := im.Vendor[cloud.AWS]
		if !ok {
			continue
		}
		_, distro, _ := ImageOwner(v)
		off.Images = append(off.Images, cloud.Image{Slug: v, Name: im.Description, Distribution: distro})
	}
	return off, nil
}

func supportsX86(it types.InstanceTypeInfo) bool {
	return it.ProcessorInfo != nil && slices.Contains(it.ProcessorInfo.SupportedArchitectures, types.ArchitectureTypeX8664)
}

func (d *Driver) describeRegions(ctx context.Context) ([]cloud.Region, error) {
	out, err := d.ec2.DescribeRegions(ctx, &ec2.DescribeRegionsInput{AllRegions: awssdk.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("listing AWS regions: %w", mapError(err))
	}
	regions := make([]cloud.Region, 0, len(out.Regions))
	for _, r := range out.Regions {
		slug := awssdk.ToString(r.RegionName)
		name := regionNames[slug]
		if name == "" {
			name = slug
		}
		regions = append(regions, cloud.Region{
			Slug:      slug,
			Name:      name,
			Available: awssdk.ToString(r.OptInStatus) != "not-opted-in",
		})
	}
	sort.Slice(regions, func(i, j int) bool { return regions[i].Slug < regions[j].Slug })
	return regions, nil
}

func (d *Driver) describeInstanceTypes(ctx context.Context) ([]types.InstanceTypeInfo, error) {
	var out []types.InstanceTypeInfo
	p := ec2.NewDescribeInstanceTypesPaginator(d.ec2, &ec2.DescribeInstanceTypesInput{MaxResults: awssdk.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing EC2 instance types: %w", mapError(err))
		}
		out = append(out, page.InstanceTypes...)
	}
	return out, nil
}

// describeTypeOfferings asks every available region which instance types
// it offers, and returns the sorted regions of each type. A region that
// refuses (an opt-in region in flux, an IAM policy without
// ec2:DescribeInstanceTypeOfferings there) is marked unavailable; when every
// region refuses, the driver cannot tell and reports every type in every
// available region.
func (d *Driver) describeTypeOfferings(ctx context.Context, regions []cloud.Region) (map[string][]string, error) {
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		sem       = make(chan struct{}, regionQueryConcurrency)
		offeredIn = map[string][]string{}
		refused   = map[string]bool{}
		firstErr  error
		asked     int
	)
	for _, r := range regions {
		if !r.Available {
			continue
		}
		asked++
		wg.Add(1)
		go func(region string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			names, err := typesOfferedIn(ctx, d.clientFor(region))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				for _, n := range names {
					offeredIn[n] = append(offeredIn[n], region)
				}
			case hasCode(err, "UnauthorizedOperation", "AuthFailure", "OptInRequired"):
				refused[region] = true
				tflog.SubsystemWarn(ctx, subsystem, "cannot list the instance types of a region", map[string]any{"region": region, "error": err.Error()})
			case firstErr == nil:
				firstErr = fmt.Errorf("listing the instance types offered in %s: %w", region, err)
			}
		}(r.Slug)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if asked > 0 && len(refused) == asked {
		return nil, nil // caller fills every available region
	}
	for i := range regions {
		if refused[regions[i].Slug] {
			regions[i].Available = false
		}
	}
	for k := range offeredIn {
		sort.Strings(offeredIn[k])
	}
	return offeredIn, nil
}

func typesOfferedIn(ctx context.Context, conn CatalogAPI) ([]string, error) {
	var names []string
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(conn, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: types.LocationTypeRegion,
		MaxResults:   awssdk.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapError(err)
		}
		for _, o := range page.InstanceTypeOfferings {
			names = append(names, string(o.InstanceType))
		}
	}
	return names, nil
}
