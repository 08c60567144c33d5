package cloud

import (
	"strings"
	"testing"
)

func testOfferings() *Offerings {
	return &Offerings{
		Sizes: []Size{
			{Slug: "s-1vcpu-1gb", VCPUs: 1, MemoryMB: 1024, PriceMonthly: 6, Regions: []string{"nyc3", "fra1"}, Available: true},
			{Slug: "s-1vcpu-2gb", VCPUs: 1, MemoryMB: 2048, PriceMonthly: 12, Regions: []string{"nyc3", "fra1"}, Available: true},
			{Slug: "s-2vcpu-2gb", VCPUs: 2, MemoryMB: 2048, PriceMonthly: 18, Regions: []string{"nyc3", "fra1"}, Available: true},
			{Slug: "s-2vcpu-4gb", VCPUs: 2, MemoryMB: 4096, PriceMonthly: 24, Regions: []string{"nyc3", "fra1"}, Available: true},
			{Slug: "c-2", VCPUs: 2, MemoryMB: 4096, PriceMonthly: 42, Regions: []string{"nyc3"}, Available: true},
			{Slug: "g-2vcpu-8gb", VCPUs: 2, MemoryMB: 8192, PriceMonthly: 63, Regions: []string{"nyc3"}, Available: true},
			{Slug: "gone-1", VCPUs: 64, MemoryMB: 1 << 20, PriceMonthly: 1, Regions: []string{"nyc3"}, Available: false},
		},
		Regions: []Region{{Slug: "nyc3", Available: true}, {Slug: "fra1", Available: true}, {Slug: "nyc2", Available: false}},
		Images:  []Image{{Slug: "debian-12-x64"}, {Slug: "ubuntu-24-04-x64"}},
	}
}

func TestResolveRegion(t *testing.T) {
	off := testOfferings()
	tests := []struct {
		name, in, want, err string
	}{
		{name: "portable", in: "eu-central", want: "fra1"},
		{name: "portable us-east", in: "us-east", want: "nyc3"},
		{name: "native", in: "nyc3", want: "nyc3"},
		{name: "unavailable native", in: "nyc2", err: `region "nyc2" is not available`},
		{name: "unknown", in: "mars-1", err: `unknown region "mars-1" for digitalocean; valid regions: us-east, us-west, eu-west, eu-central, ap-southeast, fra1, nyc3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveRegion(DigitalOcean, tt.in, off)
			checkResolve(t, got, err, tt.want, tt.err)
		})
	}
}

func TestResolveSize(t *testing.T) {
	off := testOfferings()
	tests := []struct {
		name   string
		req    SizeRequest
		region string
		want   string
		err    string
	}{
		{name: "portable", req: SizeRequest{Name: "small"}, region: "fra1", want: "s-1vcpu-2gb"},
		{name: "portable medium", req: SizeRequest{Name: "medium"}, region: "nyc3", want: "s-2vcpu-4gb"},
		{name: "native", req: SizeRequest{Name: "c-2"}, region: "nyc3", want: "c-2"},
		{name: "native not in region", req: SizeRequest{Name: "c-2"}, region: "fra1", err: `size "c-2" (digitalocean c-2) is not offered in region "fra1"; regions offering it: nyc3`},
		{name: "portable not offered by vendor", req: SizeRequest{Name: "xlarge"}, region: "fra1", err: `unknown size "xlarge"`},
		{name: "unknown", req: SizeRequest{Name: "huge"}, region: "fra1", err: "valid sizes: small, medium, large, xlarge"},
		{name: "cheapest by vcpus", req: SizeRequest{VCPUs: 2}, region: "fra1", want: "s-2vcpu-2gb"},
		{name: "cheapest by both", req: SizeRequest{VCPUs: 2, MemoryGB: 4}, region: "fra1", want: "s-2vcpu-4gb"},
		{name: "cheapest honours region", req: SizeRequest{VCPUs: 2, MemoryGB: 8}, region: "nyc3", want: "g-2vcpu-8gb"},
		{name: "cheapest by memory only", req: SizeRequest{MemoryGB: 1.5}, region: "nyc3", want: "s-1vcpu-2gb"},
		{name: "unavailable sizes never chosen", req: SizeRequest{VCPUs: 64}, region: "nyc3", err: "no digitalocean size has at least 64 vCPUs and 0 GB of memory in region nyc3"},
		{name: "no match in region", req: SizeRequest{VCPUs: 2, MemoryGB: 8}, region: "fra1", err: "in region fra1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveSize(DigitalOcean, tt.req, tt.region, off)
			checkResolve(t, got, err, tt.want, tt.err)
		})
	}
}

func TestResolveImage(t *testing.T) {
	off := testOfferings()
	tests := []struct {
		name  string
		cloud Name
		in    string
		want  string
		err   string
	}{
		{name: "portable do", cloud: DigitalOcean, in: "debian-12", want: "debian-12-x64"},
		{name: "portable aws is a name filter", cloud: AWS, in: "ubuntu-24.04", want: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"},
		{name: "native do", cloud: DigitalOcean, in: "ubuntu-24-04-x64", want: "ubuntu-24-04-x64"},
		{name: "ami id passes", cloud: AWS, in: "ami-0123456789abcdef0", want: "ami-0123456789abcdef0"},
		{name: "ami id is not a do image", cloud: DigitalOcean, in: "ami-0123", err: `unknown image "ami-0123"`},
		{name: "unknown", cloud: DigitalOcean, in: "windows", err: "valid images: debian-12, ubuntu-24.04, debian-12-x64, ubuntu-24-04-x64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveImage(tt.cloud, tt.in, off)
			checkResolve(t, got, err, tt.want, tt.err)
		})
	}
}

// Every portable entry maps to something on every vendor.
func TestPortableCatalogComplete(t *testing.T) {
	for _, c := range Names {
		for _, s := range PortableSizes {
			if s.Vendor[c] == "" {
				t.Errorf("size %s has no %s mapping", s.Name, c)
			}
		}
		for _, r := range PortableRegions {
			if r.Vendor[c] == "" {
				t.Errorf("region %s has no %s mapping", r.Name, c)
			}
		}
		for _, im := range PortableImages {
			if im.Vendor[c] == "" {
				t.Errorf("image %s has no %s mapping", im.Name, c)
			}
		}
	}
}

func checkResolve(t *testing.T, got string, err error, want, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want it to contain %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
