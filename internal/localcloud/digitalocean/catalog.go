package digitalocean

import (
	"strconv"
	"time"
)

// The static catalog: a realistic subset of what DigitalOcean sells. Two
// holes are deliberate, so tests can exercise the error paths:
//
//   - region nyc1 is listed with available=false and offers no sizes
//     ("region unavailable");
//   - size g-2vcpu-8gb is not offered in sgp1, blr1 or tor1, and c-4 is not
//     offered in blr1 ("size not offered in region").
const (
	UnavailableRegion    = "nyc1"
	RestrictedSize       = "g-2vcpu-8gb"
	RestrictedSizeRegion = "sgp1"
)

type region struct {
	Slug      string
	Name      string
	Available bool
}

type size struct {
	Slug         string
	VCPUs        int
	MemoryMB     int
	DiskGB       int
	TransferTB   float64
	PriceMonthly float64
	PriceHourly  float64
	Description  string
	NotIn        []string // available regions that do not offer it
}

type image struct {
	ID           int
	Slug         string
	Name         string
	Distribution string
	MinDiskGB    int
	SizeGB       float64
	Description  string
	CreatedAt    time.Time
}

var regions = []region{
	{"nyc1", "New York 1", false},
	{"nyc3", "New York 3", true},
	{"sfo3", "San Francisco 3", true},
	{"ams3", "Amsterdam 3", true},
	{"lon1", "London 1", true},
	{"fra1", "Frankfurt 1", true},
	{"sgp1", "Singapore 1", true},
	{"tor1", "Toronto 1", true},
	{"blr1", "Bangalore 1", true},
	{"syd1", "Sydney 1", true},
}

var regionFeatures = []string{"backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"}

var sizes = []size{
	{Slug: "s-1vcpu-1gb", VCPUs: 1, MemoryMB: 1024, DiskGB: 25, TransferTB: 1, PriceMonthly: 6, PriceHourly: 0.00893, Description: "Basic"},
	{Slug: "s-1vcpu-2gb", VCPUs: 1, MemoryMB: 2048, DiskGB: 50, TransferTB: 2, PriceMonthly: 12, PriceHourly: 0.01786, Description: "Basic"},
	{Slug: "s-2vcpu-2gb", VCPUs: 2, MemoryMB: 2048, DiskGB: 60, TransferTB: 3, PriceMonthly: 18, PriceHourly: 0.02679, Description: "Basic"},
	{Slug: "s-2vcpu-4gb", VCPUs: 2, MemoryMB: 4096, DiskGB: 80, TransferTB: 4, PriceMonthly: 24, PriceHourly: 0.03571, Description: "Basic"},
	{Slug: "s-4vcpu-8gb", VCPUs: 4, MemoryMB: 8192, DiskGB: 160, TransferTB: 5, PriceMonthly: 48, PriceHourly: 0.07143, Description: "Basic"},
	{Slug: "s-8vcpu-16gb", VCPUs: 8, MemoryMB: 16384, DiskGB: 320, TransferTB: 6, PriceMonthly: 96, PriceHourly: 0.14286, Description: "Basic"},
	{Slug: "c-2", VCPUs: 2, MemoryMB: 4096, DiskGB: 25, TransferTB: 4, PriceMonthly: 42, PriceHourly: 0.0625, Description: "CPU-Optimized"},
	{Slug: "c-4", VCPUs: 4, MemoryMB: 8192, DiskGB: 50, TransferTB: 5, PriceMonthly: 84, PriceHourly: 0.125, Description: "CPU-Optimized", NotIn: []string{"blr1"}},
	{Slug: "g-2vcpu-8gb", VCPUs: 2, MemoryMB: 8192, DiskGB: 25, TransferTB: 4, PriceMonthly: 63, PriceHourly: 0.09375, Description: "General Purpose", NotIn: []string{"sgp1", "blr1", "tor1"}},
}

var images = []image{
	{ID: 170000012, Slug: "debian-12-x64", Name: "12 x64", Distribution: "Debian", MinDiskGB: 15, SizeGB: 0.96, Description: "Debian 12 x64", CreatedAt: time.Date(2024, 11, 20, 17, 3, 12, 0, time.UTC)},
	{ID: 170002404, Slug: "ubuntu-24-04-x64", Name: "24.04 (LTS) x64", Distribution: "Ubuntu", MinDiskGB: 15, SizeGB: 2.34, Description: "Ubuntu 24.04 (LTS) x64", CreatedAt: time.Date(2024, 11, 21, 9, 41, 5, 0, time.UTC)},
	{ID: 170002204, Slug: "ubuntu-22-04-x64", Name: "22.04 (LTS) x64", Distribution: "Ubuntu", MinDiskGB: 15, SizeGB: 2.1, Description: "Ubuntu 22.04 (LTS) x64", CreatedAt: time.Date(2024, 11, 21, 9, 38, 51, 0, time.UTC)},
}

func findRegion(slug string) (region, bool) {
	for _, r := range regions {
		if r.Slug == slug {
			return r, true
		}
	}
	return region{}, false
}

func findSize(slug string) (size, bool) {
	for _, s := range sizes {
		if s.Slug == slug {
			return s, true
		}
	}
	return size{}, false
}

func findImage(idOrSlug string) (image, bool) {
	for _, im := range images {
		if im.Slug == idOrSlug || strconv.Itoa(im.ID) == idOrSlug {
			return im, true
		}
	}
	return image{}, false
}

// offers reports whether size s can be created in region slug.
func (s size) offers(slug string) bool {
	r, ok := findRegion(slug)
	if !ok || !r.Available {
		return false
	}
	for _, n := range s.NotIn {
		if n == slug {
			return false
		}
	}
	return true
}

func (s size) regionSlugs() []string {
	out := []string{}
	for _, r := range regions {
		if s.offers(r.Slug) {
			out = append(out, r.Slug)
		}
	}
	return out
}

func (r region) sizeSlugs() []string {
	out := []string{}
	for _, s := range sizes {
		if s.offers(r.Slug) {
			out = append(out, s.Slug)
		}
	}
	return out
}
