package aws

import (
	"slices"
	"strconv"
	"strings"
)

// The catalog and the default network: regions, zones, instance types,
// images, the default VPC and its subnets. Read-only.

func (a *API) describeRegions(c *call) {
	names := c.p.list("RegionName")
	fs, err := c.p.filters([]string{"region-name", "endpoint", "opt-in-status"}, false)
	if err != nil {
		c.Fail(err)
		return
	}
	var out []Region
	for _, r := range Regions {
		if len(names) > 0 && !slices.Contains(names, r.Name) {
			continue
		}
		if matchFilters(fs, nil, func(n string) []string {
			return map[string][]string{"region-name": {r.Name}, "endpoint": {endpoint(r.Name)}, "opt-in-status": {"opt-in-not-required"}}[n]
		}) {
			out = append(out, r)
		}
	}
	for _, n := range names {
		if _, ok := findRegion(n); !ok {
			c.Fail(errf(400, "InvalidParameterValue", "Invalid region: %s", n))
			return
		}
	}
	c.OK(func(x *xw) {
		set(x, "regionInfo", out, func(r Region) {
			x.Leaf("regionName", r.Name)
			x.Leaf("regionEndpoint", endpoint(r.Name))
			x.Leaf("optInStatus", "opt-in-not-required")
		})
	})
}

func endpoint(region string) string { return "ec2." + region + ".amazonaws.com" }

func zoneID(zone string) string {
	r := zone[:len(zone)-1]
	short := map[string]string{"us-east-1": "use1", "us-west-2": "usw2", "eu-west-2": "euw2", "eu-central-1": "euc1", "ap-southeast-1": "apse1"}[r]
	return short + "-az" + strconv.Itoa(int(zone[len(zone)-1]-'a')+1)
}

func (a *API) describeAvailabilityZones(c *call) {
	names := c.p.list("ZoneName")
	ids := c.p.list("ZoneId")
	fs, err := c.p.filters([]string{"zone-name", "zone-id", "region-name", "state", "zone-type", "group-name", "opt-in-status"}, false)
	if err != nil {
		c.Fail(err)
		return
	}
	var out []string
	for _, z := range c.region.zones() {
		if len(names) > 0 && !slices.Contains(names, z) || len(ids) > 0 && !slices.Contains(ids, zoneID(z)) {
			continue
		}
		if matchFilters(fs, nil, func(n string) []string {
			return map[string][]string{
				"zone-name": {z}, "zone-id": {zoneID(z)}, "region-name": {c.region.Name}, "state": {"available"},
				"zone-type": {"availability-zone"}, "group-name": {c.region.Name}, "opt-in-status": {"opt-in-not-required"},
			}[n]
		}) {
			out = append(out, z)
		}
	}
	c.OK(func(x *xw) {
		set(x, "availabilityZoneInfo", out, func(z string) {
			x.Leaf("optInStatus", "opt-in-not-required")
			x.Raw("<messageSet/>")
			x.Leaf("regionName", c.region.Name)
			x.Leaf("zoneName", z)
			x.Leaf("zoneId", zoneID(z))
			x.Leaf("groupName", c.region.Name)
			x.Leaf("networkBorderGroup", c.region.Name)
			x.Leaf("zoneType", "availability-zone")
			x.Leaf("zoneState", "available")
		})
	})
}

func (a *API) describeInstanceTypes(c *call) {
	names := c.p.list("InstanceType")
	maxR, err := c.p.maxResults(5, 100)
	fs, ferr := c.p.filters([]string{"instance-type", "processor-info.supported-architecture", "current-generation", "vcpu-info.default-vcpus", "memory-info.size-in-mib", "burstable-performance-supported"}, false)
	if !c.Valid(err, ferr) {
		return
	}
	for _, n := range names {
		if _, ok := findType(n); !ok {
			c.Fail(errf(400, "InvalidInstanceType", "The following supplied instance types do not exist: [%s]", n))
			return
		}
	}
	var match []InstanceType
	for _, t := range InstanceTypes {
		if len(names) > 0 && !slices.Contains(names, t.Name) {
			continue
		}
		if matchFilters(fs, nil, func(n string) []string {
			return map[string][]string{
				"instance-type": {t.Name}, "processor-info.supported-architecture": {t.Arch}, "current-generation": {"true"},
				"vcpu-info.default-vcpus": {strconv.Itoa(t.VCPUs)}, "memory-info.size-in-mib": {strconv.Itoa(t.MemoryMB)},
				"burstable-performance-supported": {strconv.FormatBool(t.Burstable)},
			}[n]
		}) {
			match = append(match, t)
		}
	}
	slices.SortFunc(match, func(x, y InstanceType) int { return strings.Compare(x.Name, y.Name) })
	pg, next, err := page(match, func(t InstanceType) string { return t.Name }, c.p.get("NextToken"), maxR)
	if err != nil {
		c.Fail(err)
		return
	}
	c.OK(func(x *xw) {
		set(x, "instanceTypeSet", pg, func(t InstanceType) {
			x.Leaf("instanceType", t.Name)
			x.Bool("currentGeneration", true)
			x.Bool("freeTierEligible", t.Name == "t3.micro")
			set(x, "supportedUsageClasses", []string{"on-demand", "spot"}, func(s string) { x.Raw(s) })
			set(x, "supportedRootDeviceTypes", []string{"ebs"}, func(s string) { x.Raw(s) })
			set(x, "supportedVirtualizationTypes", []string{"hvm"}, func(s string) { x.Raw(s) })
			x.Bool("bareMetal", false)
			x.Leaf("hypervisor", "nitro")
			x.Open("processorInfo")
			set(x, "supportedArchitectures", []string{t.Arch}, func(s string) { x.Raw(s) })
			x.Close("processorInfo")
			x.Open("vCpuInfo")
			x.Int("defaultVCpus", t.VCPUs)
			x.Int("defaultCores", max(1, t.VCPUs/2))
			x.Int("defaultThreadsPerCore", min(2, t.VCPUs))
			x.Close("vCpuInfo")
			x.Open("memoryInfo")
			x.Int("sizeInMiB", t.MemoryMB)
			x.Close("memoryInfo")
			x.Bool("instanceStorageSupported", false)
			x.Open("ebsInfo")
			x.Leaf("ebsOptimizedSupport", "default")
			x.Leaf("encryptionSupport", "supported")
			x.Leaf("nvmeSupport", "required")
			x.Close("ebsInfo")
			x.Open("networkInfo")
			x.Leaf("networkPerformance", "Up to 5 Gigabit")
			x.Int("maximumNetworkInterfaces", 3)
			x.Int("ipv4AddressesPerInterface", 6)
			x.Int("ipv6AddressesPerInterface", 6)
			x.Bool("ipv6Supported", true)
			x.Leaf("enaSupport", "required")
			x.Close("networkInfo")
			x.Bool("burstablePerformanceSupported", t.Burstable)
		})
		x.Opt("nextToken", next)
	})
}

func (a *API) describeInstanceTypeOfferings(c *call) {
	lt := c.p.get("LocationType")
	if lt == "" {
		lt = "region"
	}
	maxR, err := c.p.maxResults(5, 1000)
	fs, ferr := c.p.filters([]string{"instance-type", "location"}, false)
	if err == nil {
		err = ferr
	}
	if err == nil && lt != "region" && lt != "availability-zone" && lt != "availability-zone-id" {
		err = invalidValue(lt, "LocationType")
	}
	if err != nil {
		c.Fail(err)
		return
	}
	locations := []string{c.region.Name}
	if lt != "region" {
		locations = c.region.zones()
		if lt == "availability-zone-id" {
			for i, z := range locations {
				locations[i] = zoneID(z)
			}
		}
	}
	type offering struct{ typ, loc string }
	var match []offering
	for _, t := range InstanceTypes {
		for _, l := range locations {
			if matchFilters(fs, nil, func(n string) []string {
				return map[string][]string{"instance-type": {t.Name}, "location": {l}}[n]
			}) {
				match = append(match, offering{t.Name, l})
			}
		}
	}
	key := func(o offering) string { return o.typ + " " + o.loc }
	slices.SortFunc(match, func(x, y offering) int { return strings.Compare(key(x), key(y)) })
	pg, next, err := page(match, key, c.p.get("NextToken"), maxR)
	if err != nil {
		c.Fail(err)
		return
	}
	c.OK(func(x *xw) {
		set(x, "instanceTypeOfferingSet", pg, func(o offering) {
			x.Leaf("instanceType", o.typ)
			x.Leaf("locationType", lt)
			x.Leaf("location", o.loc)
		})
		x.Opt("nextToken", next)
	})
}

func (a *API) describeImages(c *call) {
	ids := c.p.list("ImageId")
	owners := c.p.list("Owner")
	maxR, err := c.p.maxResults(6, 1000)
	fs, ferr := c.p.filters([]string{"name", "state", "owner-id", "architecture", "image-id", "is-public", "image-type", "root-device-type", "virtualization-type", "description", "owner-alias"}, true)
	if err == nil {
		err = ferr
	}
	if err == nil && len(ids) > 0 && c.p.has("MaxResults") {
		err = errf(400, "InvalidParameterCombination", "The parameter imageIdsSet cannot be used with the parameter maxResults")
	}
	if err != nil {
		c.Fail(err)
		return
	}
	region := c.region.Name
	for _, id := range ids {
		if !validID(id, "ami") {
			c.Fail(errf(400, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id))
			return
		}
		if _, ok := findImage(region, id); !ok {
			c.Fail(errf(400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id))
			return
		}
	}
	var match []Image
	for _, im := range Images {
		id := imageID(region, im)
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if len(owners) > 0 && !slices.Contains(owners, im.Owner) {
			continue // "self" and "amazon" own none of these
		}
		if matchFilters(fs, nil, func(n string) []string {
			return map[string][]string{
				"name": {im.Name}, "state": {"available"}, "owner-id": {im.Owner}, "architecture": {im.Arch},
				"image-id": {id}, "is-public": {"true"}, "image-type": {"machine"}, "root-device-type": {"ebs"},
				"virtualization-type": {"hvm"}, "description": {im.Description},
			}[n]
		}) {
			match = append(match, im)
		}
	}
	key := func(im Image) string { return imageID(region, im) }
	slices.SortFunc(match, func(x, y Image) int { return strings.Compare(key(x), key(y)) })
	pg, next, err := page(match, key, c.p.get("NextToken"), maxR)
	if err != nil {
		c.Fail(err)
		return
	}
	c.OK(func(x *xw) {
		set(x, "imagesSet", pg, func(im Image) {
			x.Leaf("imageId", imageID(region, im))
			x.Leaf("imageLocation", im.Owner+"/"+im.Name)
			x.Leaf("imageState", "available")
			x.Leaf("imageOwnerId", im.Owner)
			x.Leaf("creationDate", im.Created.UTC().Format("2006-01-02T15:04:05.000Z"))
			x.Bool("isPublic", true)
			x.Leaf("architecture", im.Arch)
			x.Leaf("imageType", "machine")
			x.Leaf("name", im.Name)
			x.Leaf("description", im.Description)
			x.Leaf("rootDeviceType", "ebs")
			x.Leaf("rootDeviceName", "/dev/xvda")
			x.Raw("<blockDeviceMapping/>")
			x.Leaf("virtualizationType", "hvm")
			x.Leaf("hypervisor", "xen")
			x.Bool("enaSupport", true)
			x.Leaf("platformDetails", "Linux/UNIX")
			x.Leaf("usageOperation", "RunInstances")
		})
		x.Opt("nextToken", next)
	})
}

func (a *API) describeVpcs(c *call) {
	ids := c.p.list("VpcId")
	fs, err := c.p.filters([]string{"vpc-id", "isDefault", "is-default", "state", "cidr", "cidr-block-association.cidr-block", "owner-id"}, true)
	if err != nil {
		c.Fail(err)
		return
	}
	id := vpcID(c.region.Name)
	for _, v := range ids {
		if v != id {
			c.Fail(errf(400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", v))
			return
		}
	}
	var out []string
	if matchFilters(fs, nil, func(n string) []string {
		return map[string][]string{
			"vpc-id": {id}, "isDefault": {"true"}, "is-default": {"true"}, "state": {"available"}, "cidr": {vpcCIDR},
			"cidr-block-association.cidr-block": {vpcCIDR}, "owner-id": {AccountID},
		}[n]
	}) {
		out = append(out, id)
	}
	c.OK(func(x *xw) {
		set(x, "vpcSet", out, func(id string) {
			x.Leaf("vpcId", id)
			x.Leaf("ownerId", AccountID)
			x.Leaf("state", "available")
			x.Leaf("cidrBlock", vpcCIDR)
			set(x, "cidrBlockAssociationSet", []string{vpcCIDR}, func(cidr string) {
				x.Leaf("associationId", "vpc-cidr-assoc-"+hashID("assoc", id))
				x.Leaf("cidrBlock", cidr)
				x.Open("cidrBlockState")
				x.Leaf("state", "associated")
				x.Close("cidrBlockState")
			})
			x.Leaf("dhcpOptionsId", "dopt-"+hashID("dopt", c.region.Name))
			x.Raw("<tagSet/>")
			x.Leaf("instanceTenancy", "default")
			x.Bool("isDefault", true)
		})
	})
}

func (a *API) describeSubnets(c *call) {
	ids := c.p.list("SubnetId")
	fs, err := c.p.filters([]string{"subnet-id", "vpc-id", "availability-zone", "availability-zone-id", "default-for-az", "defaultForAz", "state", "cidr-block", "owner-id"}, true)
	if err != nil {
		c.Fail(err)
		return
	}
	for _, s := range ids {
		if _, ok := subnetZone(c.region.Name, s); !ok {
			c.Fail(errf(400, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", s))
			return
		}
	}
	type subnet struct {
		zone string
		i    int
	}
	var out []subnet
	for i, z := range c.region.zones() {
		id := subnetID(z)
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if matchFilters(fs, nil, func(n string) []string {
			return map[string][]string{
				"subnet-id": {id}, "vpc-id": {vpcID(c.region.Name)}, "availability-zone": {z}, "availability-zone-id": {zoneID(z)},
				"default-for-az": {"true"}, "defaultForAz": {"true"}, "state": {"available"}, "cidr-block": {subnetCIDR(i)}, "owner-id": {AccountID},
			}[n]
		}) {
			out = append(out, subnet{z, i})
		}
	}
	c.OK(func(x *xw) {
		set(x, "subnetSet", out, func(s subnet) {
			id := subnetID(s.zone)
			x.Leaf("subnetId", id)
			x.Leaf("subnetArn", "arn:aws:ec2:"+c.region.Name+":"+AccountID+":subnet/"+id)
			x.Leaf("state", "available")
			x.Leaf("ownerId", AccountID)
			x.Leaf("vpcId", vpcID(c.region.Name))
			x.Leaf("cidrBlock", subnetCIDR(s.i))
			x.Int("availableIpAddressCount", 4091)
			x.Leaf("availabilityZone", s.zone)
			x.Leaf("availabilityZoneId", zoneID(s.zone))
			x.Bool("defaultForAz", true)
			x.Bool("mapPublicIpOnLaunch", true)
			x.Bool("assignIpv6AddressOnCreation", false)
			x.Raw("<tagSet/>")
		})
	})
}
