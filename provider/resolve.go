package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// resolved is what portable (or native) values became on the vendor.
type resolved struct{ region, size, image string }

// hostValues are the configuration's region, size and image of one host or
// group of hosts, and where they sit in the schema (for diagnostics).
type hostValues struct {
	at                  path.Path
	region, size, image types.String
	vcpus               types.Int64
	memoryGB            types.Float64
}

func (v hostValues) path(name string) path.Path {
	if len(v.at.Steps()) == 0 {
		return path.Root(name)
	}
	return v.at.AtName(name)
}

// sizePath is the attribute the size came from.
func (v hostValues) sizePath() path.Path {
	switch {
	case !v.size.IsNull():
		return v.path("size")
	case !v.vcpus.IsNull():
		return v.path("vcpus")
	case !v.memoryGB.IsNull():
		return v.path("memory_gb")
	}
	return v.path("size")
}

// priorResolution is what existing hosts were resolved to, and the image
// the configuration had then.
type priorResolution struct {
	image types.String
	resolved
}

// resolveHostValues maps portable or native values to the vendor's against
// its catalog. With a prior resolution, an unchanged image keeps the image
// the hosts were built from (an AWS image pattern must not pick a newer AMI
// and replace hosts), and a size given as vcpus/memory_gb keeps the current
// vendor size while it still satisfies the request, so a price change
// elsewhere does not replace hosts.
func resolveHostValues(ctx context.Context, data *providerData, drv cloud.Driver, v hostValues, prior *priorResolution) (resolved, diag.Diagnostics) {
	var diags diag.Diagnostics
	off, err := drv.Offerings(ctx)
	if err != nil {
		diags.AddError("Error reading the vendor catalog", fmt.Sprintf("listing %s sizes, regions and images: %s", drv.Cloud(), err))
		return resolved{}, diags
	}
	c := drv.Cloud()
	var res resolved
	if res.region, err = cloud.ResolveRegion(c, v.region.ValueString(), off); err != nil {
		diags.AddAttributeError(v.path("region"), "Invalid region", err.Error())
		return res, diags
	}
	if prior != nil && v.image.Equal(prior.image) && res.region == prior.region && prior.resolved.image != "" {
		res.image = prior.resolved.image
	} else if res.image, err = cloud.ResolveImage(c, v.image.ValueString(), off); err != nil {
		diags.AddAttributeError(v.path("image"), "Invalid image", err.Error())
		return res, diags
	} else if rdrv, _, d := data.driver(string(c), res.region, v.path("cloud")); !d.HasError() {
		if ir, ok := rdrv.(cloud.ImageResolver); ok {
			if res.image, err = ir.ResolveImage(ctx, res.image); err != nil {
				diags.AddAttributeError(v.path("image"), "Invalid image", fmt.Sprintf("image %q in %s %s: %s", v.image.ValueString(), c, res.region, err))
				return res, diags
			}
		}
	}
	sreq := cloud.SizeRequest{Name: v.size.ValueString(), VCPUs: int(v.vcpus.ValueInt64()), MemoryGB: v.memoryGB.ValueFloat64()}
	if sreq.Name == "" && prior != nil && sizeSatisfies(off, prior.size, res.region, sreq) {
		res.size = prior.size
		return res, diags
	}
	if res.size, err = cloud.ResolveSize(c, sreq, res.region, off); err != nil {
		diags.AddAttributeError(v.sizePath(), "Invalid size", err.Error())
	}
	return res, diags
}

func sizeSatisfies(off *cloud.Offerings, slug, region string, req cloud.SizeRequest) bool {
	for _, s := range off.Sizes {
		if s.Slug == slug {
			return s.VCPUs >= req.VCPUs && float64(s.MemoryMB) >= req.MemoryGB*1024 && slices.Contains(s.Regions, region)
		}
	}
	return false
}
