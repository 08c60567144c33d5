package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Region is a region localcloud's EC2 serves, with its availability zones.
type Region struct {
	Name string
	// Zones are the availability zone letters (us-east-1a ...).
	Zones string
}

// Regions are us-east-1 and the regions the portable catalog maps to
// (internal/cloud/catalog.go): each has a default VPC with one default
// subnet per zone.
var Regions = []Region{
	{"us-east-1", "abcdef"},
	{"us-west-2", "abcd"},
	{"eu-west-2", "abc"},
	{"eu-central-1", "abc"},
	{"ap-southeast-1", "abc"},
}

func findRegion(name string) (Region, bool) {
	i := slices.IndexFunc(Regions, func(r Region) bool { return r.Name == name })
	if i < 0 {
		return Region{}, false
	}
	return Regions[i], true
}

// Serves reports whether region is one the AWS APIs serve (Regions).
func Serves(region string) bool {
	_, ok := findRegion(region)
	return ok
}

func (r Region) zones() []string {
	out := make([]string, len(r.Zones))
	for i, c := range r.Zones {
		out[i] = r.Name + string(c)
	}
	return out
}

// InstanceType is an instance type localcloud sells, in every region.
type InstanceType struct {
	Name     string
	VCPUs    int
	MemoryMB int
	Arch     string
	// Burstable: a T instance (burstable performance).
	Burstable bool
}

// InstanceTypes are the types the portable sizes map to (t3.small,
// t3.medium, c5.xlarge, c5.2xlarge) and a few neighbours, all x86_64 and
// EBS-only; t4g.small is arm64, for architecture checks.
var InstanceTypes = []InstanceType{
	{"t3.micro", 2, 1024, "x86_64", true},
	{"t3.small", 2, 2048, "x86_64", true},
	{"t3.medium", 2, 4096, "x86_64", true},
	{"t3.large", 2, 8192, "x86_64", true},
	{"t3.xlarge", 4, 16384, "x86_64", true},
	{"c5.large", 2, 4096, "x86_64", false},
	{"c5.xlarge", 4, 8192, "x86_64", false},
	{"c5.2xlarge", 8, 16384, "x86_64", false},
	{"m5.large", 2, 8192, "x86_64", false},
	{"t4g.small", 2, 2048, "arm64", true},
}

func findType(name string) (InstanceType, bool) {
	i := slices.IndexFunc(InstanceTypes, func(t InstanceType) bool { return t.Name == name })
	if i < 0 {
		return InstanceType{}, false
	}
	return InstanceTypes[i], true
}

// Image publishers' accounts, as on AWS.
const (
	DebianOwner    = "136693071363" // Debian cloud team
	CanonicalOwner = "099720109477" // Canonical
)

// Image is a public AMI; its id differs per region (imageID).
type Image struct {
	Name, Owner, Arch, Description string
	Created                        time.Time
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t.Add(20*time.Hour + 53*time.Minute)
}

// Images are the Debian 12 and Ubuntu 24.04 images the portable catalog
// names (name filters debian-12-amd64-* and
// ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*), two builds
// each so the newest must be picked, their arm64 builds, which those
// filters must not match, and Ubuntu 22.04.
var Images = []Image{
	{"debian-12-amd64-20250316-2053", DebianOwner, "x86_64", "Debian 12 (20250316-2053)", day("2025-03-16")},
	{"debian-12-amd64-20250610-2140", DebianOwner, "x86_64", "Debian 12 (20250610-2140)", day("2025-06-10")},
	{"debian-12-arm64-20250610-2140", DebianOwner, "arm64", "Debian 12 (20250610-2140)", day("2025-06-10")},
	{"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250305", CanonicalOwner, "x86_64", "Canonical, Ubuntu, 24.04, amd64 noble image", day("2025-03-05")},
	{"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610", CanonicalOwner, "x86_64", "Canonical, Ubuntu, 24.04, amd64 noble image", day("2025-06-10")},
	{"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250610", CanonicalOwner, "arm64", "Canonical, Ubuntu, 24.04, arm64 noble image", day("2025-06-10")},
	{"ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250516", CanonicalOwner, "x86_64", "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image", day("2025-05-16")},
}

// imageID is image's AMI id in region.
func imageID(region string, im Image) string { return "ami-" + hashID(region, im.Name) }

// findImage is the image with AMI id in region.
func findImage(region, id string) (Image, bool) {
	for _, im := range Images {
		if imageID(region, im) == id {
			return im, true
		}
	}
	return Image{}, false
}

// hashID is a stable 17-hex-digit id for parts, as EC2's ids look.
func hashID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "0" + hex.EncodeToString(sum[:8])
}

// The default VPC and its subnets, one per zone.
const (
	vpcCIDR = "172.31.0.0/16"
)

func vpcID(region string) string { return "vpc-" + hashID("vpc", region) }

func subnetID(zone string) string { return "subnet-" + hashID("subnet", zone) }

// subnetCIDR is the /20 of the zone's default subnet, as AWS numbers them.
func subnetCIDR(i int) string {
	return "172.31." + strconv.Itoa(16*i) + ".0/20"
}

// subnetZone finds the zone of a default subnet in region.
func subnetZone(region, id string) (zone string, ok bool) {
	r, found := findRegion(region)
	if !found {
		return "", false
	}
	for _, z := range r.zones() {
		if subnetID(z) == id {
			return z, true
		}
	}
	return "", false
}

// VPCID is the id of region's default VPC, and SubnetID that of a zone's
// default subnet: the other AWS APIs (ELBv2, RDS) name the same network.
func VPCID(region string) string { return vpcID(region) }

// SubnetID: see VPCID.
func SubnetID(zone string) string { return subnetID(zone) }
