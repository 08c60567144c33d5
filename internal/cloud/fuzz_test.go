package cloud

import (
	"math"
	"slices"
	"testing"
)

// FuzzResolve feeds the portable catalog what users type in region, image
// and size (or vcpus/memory_gb): it never panics, and what it accepts is
// something the vendor offers — an available region, a listed image, a
// size offered in the region that is at least as large as asked.
func FuzzResolve(f *testing.F) {
	f.Add("eu-central", "debian-12", "small", 0, 0.0)
	f.Add("nyc3", "ubuntu-24-04-x64", "", 2, 4.0)
	f.Add("nyc2", "ami-0123", "c-2", 0, 0.0)
	f.Add("", "", "", -1, math.NaN())
	f.Add("fra1", "debian-12-x64", "", 1, math.Inf(1))
	off := testOfferings()
	f.Fuzz(func(t *testing.T, region, image, size string, vcpus int, memGB float64) {
		for _, c := range Names {
			r, err := ResolveRegion(c, region, off)
			if err == nil && !portableVendorValue(c, r) && !slices.ContainsFunc(off.Regions, func(x Region) bool { return x.Slug == r && x.Available }) {
				t.Fatalf("ResolveRegion(%s, %q) = %q: neither portable nor an available region", c, region, r)
			}
			if im, err := ResolveImage(c, image, off); err == nil && im == "" {
				t.Fatalf("ResolveImage(%s, %q) accepted an empty image", c, image)
			}
			if err != nil {
				r = ""
			}
			req := SizeRequest{Name: size, VCPUs: vcpus, MemoryGB: memGB}
			s, err := ResolveSize(c, req, r, off)
			if err != nil {
				continue
			}
			i := slices.IndexFunc(off.Sizes, func(x Size) bool { return x.Slug == s })
			if i < 0 {
				t.Fatalf("ResolveSize(%s, %+v, %q) = %q: not a size the vendor lists", c, req, r, s)
			}
			got := off.Sizes[i]
			if r != "" && !slices.Contains(got.Regions, r) {
				t.Fatalf("ResolveSize(%s, %+v, %q) = %q: not offered in that region", c, req, r, s)
			}
			if size == "" && (!got.Available || got.VCPUs < vcpus || float64(got.MemoryMB) < memGB*1024) {
				t.Fatalf("ResolveSize(%s, %+v, %q) = %+v: smaller than asked or unavailable", c, req, r, got)
			}
		}
	})
}

func portableVendorValue(c Name, v string) bool {
	return slices.ContainsFunc(PortableRegions, func(p PortableRegion) bool { return p.Vendor[c] == v })
}
