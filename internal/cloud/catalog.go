package cloud

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Offerings is what a vendor sells: its native sizes, regions and images.
type Offerings struct {
	Sizes   []Size
	Regions []Region
	Images  []Image
}

// Size is a vendor-native machine size.
type Size struct {
	Slug         string
	VCPUs        int
	MemoryMB     int
	DiskGB       int
	PriceMonthly float64
	Regions      []string // vendor-native regions offering it
	Available    bool
}

// Region is a vendor-native region.
type Region struct {
	Slug      string
	Name      string
	Available bool
}

// Image is a vendor-native image. Slug is what a HostSpec takes.
type Image struct {
	Slug         string
	Name         string
	Distribution string
}

// PortableSize is a size class every vendor maps to one of its sizes.
type PortableSize struct {
	Name     string
	VCPUs    int
	MemoryGB int
	Vendor   map[Name]string
}

// PortableRegion is a region name every vendor maps to one of its regions.
type PortableRegion struct {
	Name        string
	Description string
	Vendor      map[Name]string
}

// PortableImage is an image name every vendor maps to one of its images.
// For AWS the vendor value is an image name filter resolved by the driver
// (see internal/cloud/aws); for DigitalOcean it is the image slug.
type PortableImage struct {
	Name        string
	Description string
	Vendor      map[Name]string
}

// PortableSizes are the portable size classes, smallest first.
var PortableSizes = []PortableSize{
	{Name: "small", VCPUs: 1, MemoryGB: 2, Vendor: map[Name]string{DigitalOcean: "s-1vcpu-2gb", AWS: "t3.small"}},
	{Name: "medium", VCPUs: 2, MemoryGB: 4, Vendor: map[Name]string{DigitalOcean: "s-2vcpu-4gb", AWS: "t3.medium"}},
	{Name: "large", VCPUs: 4, MemoryGB: 8, Vendor: map[Name]string{DigitalOcean: "s-4vcpu-8gb", AWS: "c5.xlarge"}},
	{Name: "xlarge", VCPUs: 8, MemoryGB: 16, Vendor: map[Name]string{DigitalOcean: "s-8vcpu-16gb", AWS: "c5.2xlarge"}},
}

// PortableRegions are the portable regions.
var PortableRegions = []PortableRegion{
	{Name: "us-east", Description: "US East (New York / N. Virginia)", Vendor: map[Name]string{DigitalOcean: "nyc3", AWS: "us-east-1"}},
	{Name: "us-west", Description: "US West (San Francisco / Oregon)", Vendor: map[Name]string{DigitalOcean: "sfo3", AWS: "us-west-2"}},
	{Name: "eu-west", Description: "Europe West (London)", Vendor: map[Name]string{DigitalOcean: "lon1", AWS: "eu-west-2"}},
	{Name: "eu-central", Description: "Europe Central (Frankfurt)", Vendor: map[Name]string{DigitalOcean: "fra1", AWS: "eu-central-1"}},
	{Name: "ap-southeast", Description: "Asia Pacific (Singapore)", Vendor: map[Name]string{DigitalOcean: "sgp1", AWS: "ap-southeast-1"}},
}

// PortableImages are the portable images.
var PortableImages = []PortableImage{
	{Name: "debian-12", Description: "Debian 12 (bookworm), x86_64", Vendor: map[Name]string{DigitalOcean: "debian-12-x64", AWS: "debian-12-amd64-*"}},
	{Name: "ubuntu-24.04", Description: "Ubuntu 24.04 LTS (noble), x86_64", Vendor: map[Name]string{DigitalOcean: "ubuntu-24-04-x64", AWS: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"}},
}

// ValidCloud reports whether c names a known vendor.
func ValidCloud(c string) bool {
	for _, n := range Names {
		if string(n) == c {
			return true
		}
	}
	return false
}

// ResolveRegion maps a portable or vendor-native region to the vendor's.
func ResolveRegion(c Name, value string, off *Offerings) (string, error) {
	for _, r := range PortableRegions {
		if r.Name == value {
			if v, ok := r.Vendor[c]; ok {
				return v, nil
			}
		}
	}
	if off != nil {
		for _, r := range off.Regions {
			if r.Slug == value {
				if !r.Available {
					return "", fmt.Errorf("region %q is not available on %s at the moment; choose another: %s", value, c, regionChoices(off))
				}
				return value, nil
			}
		}
	}
	return "", fmt.Errorf("unknown region %q for %s; valid regions: %s", value, c, regionChoices(off))
}

// ResolveImage maps a portable or vendor-native image to the vendor's.
func ResolveImage(c Name, value string, off *Offerings) (string, error) {
	for _, im := range PortableImages {
		if im.Name == value {
			if v, ok := im.Vendor[c]; ok {
				return v, nil
			}
		}
	}
	if off != nil {
		for _, im := range off.Images {
			if im.Slug == value {
				return value, nil
			}
		}
	}
	if c == AWS && strings.HasPrefix(value, "ami-") {
		return value, nil // AMI ids are checked by the driver, they are too many to list
	}
	return "", fmt.Errorf("unknown image %q for %s; valid images: %s", value, c, imageChoices(off))
}

// SizeRequest asks for a size: a portable class or vendor-native slug in
// Name, or else the cheapest size with at least VCPUs and MemoryGB.
type SizeRequest struct {
	Name     string
	VCPUs    int
	MemoryGB float64
}

// ResolveSize maps a size request to a vendor-native size offered in the
// vendor-native region.
func ResolveSize(c Name, req SizeRequest, region string, off *Offerings) (string, error) {
	if req.Name == "" {
		return cheapestSize(c, req, region, off)
	}
	slug := ""
	for _, s := range PortableSizes {
		if s.Name == req.Name {
			slug = s.Vendor[c]
		}
	}
	if slug == "" {
		slug = req.Name
	}
	if off == nil {
		return slug, nil
	}
	for _, s := range off.Sizes {
		if s.Slug != slug {
			continue
		}
		if region != "" && !contains(s.Regions, region) {
			return "", fmt.Errorf("size %q (%s %s) is not offered in region %q; regions offering it: %s", req.Name, c, slug, region, strings.Join(s.Regions, ", "))
		}
		return slug, nil
	}
	return "", fmt.Errorf("unknown size %q for %s; valid sizes: %s, or a %s size such as %s", req.Name, c, portableSizeNames(), c, vendorSizeExamples(off))
}

func cheapestSize(c Name, req SizeRequest, region string, off *Offerings) (string, error) {
	if off == nil {
		return "", fmt.Errorf("cannot choose a %s size without the vendor's size list", c)
	}
	best := -1
	bestPrice := math.Inf(1)
	for i, s := range off.Sizes {
		if !s.Available || s.VCPUs < req.VCPUs || float64(s.MemoryMB) < req.MemoryGB*1024 {
			continue
		}
		if region != "" && !contains(s.Regions, region) {
			continue
		}
		if s.PriceMonthly < bestPrice || (s.PriceMonthly == bestPrice && s.Slug < off.Sizes[best].Slug) {
			best, bestPrice = i, s.PriceMonthly
		}
	}
	if best < 0 {
		where := ""
		if region != "" {
			where = " in region " + region
		}
		return "", fmt.Errorf("no %s size has at least %d vCPUs and %g GB of memory%s", c, req.VCPUs, req.MemoryGB, where)
	}
	return off.Sizes[best].Slug, nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func portableSizeNames() string {
	names := make([]string, len(PortableSizes))
	for i, s := range PortableSizes {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

func vendorSizeExamples(off *Offerings) string {
	var ex []string
	for _, s := range off.Sizes {
		if len(ex) == 3 {
			break
		}
		ex = append(ex, s.Slug)
	}
	return strings.Join(ex, ", ")
}

func regionChoices(off *Offerings) string {
	var names []string
	for _, r := range PortableRegions {
		names = append(names, r.Name)
	}
	if off != nil {
		var native []string
		for _, r := range off.Regions {
			if r.Available {
				native = append(native, r.Slug)
			}
		}
		sort.Strings(native)
		names = append(names, native...)
	}
	return strings.Join(names, ", ")
}

func imageChoices(off *Offerings) string {
	var names []string
	for _, im := range PortableImages {
		names = append(names, im.Name)
	}
	if off != nil {
		for _, im := range off.Images {
			names = append(names, im.Slug)
		}
	}
	return strings.Join(names, ", ")
}
