package provider

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var _ datasource.DataSourceWithConfigure = (*catalogDataSource)(nil)

// NewCatalogDataSource is the haddock_catalog constructor.
func NewCatalogDataSource() datasource.DataSource { return &catalogDataSource{} }

type catalogDataSource struct {
	data *providerData
}

func (d *catalogDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_catalog"
}

func (d *catalogDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	vendorMap := schema.MapAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "What it maps to, by cloud."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The portable sizes, regions and images `haddock_host` accepts, and what each maps to on every vendor. " +
			"With `cloud` set, also what that vendor offers right now (its native values, which are accepted too).",
		Attributes: map[string]schema.Attribute{
			"cloud": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "List this vendor's own sizes, regions and images as well: " + backtickList(cloudNames()) + ".",
				Validators:          []validator.String{stringvalidator.OneOf(cloudNames()...)},
			},
			"sizes": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Portable size classes, smallest first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":      schema.StringAttribute{Computed: true, MarkdownDescription: "Portable name."},
					"vcpus":     schema.Int64Attribute{Computed: true, MarkdownDescription: "vCPUs."},
					"memory_gb": schema.Int64Attribute{Computed: true, MarkdownDescription: "Memory in GB."},
					"vendor":    vendorMap,
				}},
			},
			"regions": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Portable regions.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "Portable name."},
					"description": schema.StringAttribute{Computed: true, MarkdownDescription: "Where it is."},
					"vendor":      vendorMap,
				}},
			},
			"images": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Portable images. On AWS the value is an AMI name pattern resolved to the newest matching AMI at create time.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Computed: true, MarkdownDescription: "Portable name."},
					"description": schema.StringAttribute{Computed: true, MarkdownDescription: "What it is."},
					"vendor":      vendorMap,
				}},
			},
			"vendor_sizes": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "With `cloud`: the vendor's sizes, cheapest first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"slug":          schema.StringAttribute{Computed: true, MarkdownDescription: "Vendor size."},
					"vcpus":         schema.Int64Attribute{Computed: true, MarkdownDescription: "vCPUs."},
					"memory_mb":     schema.Int64Attribute{Computed: true, MarkdownDescription: "Memory in MB."},
					"price_monthly": schema.Float64Attribute{Computed: true, MarkdownDescription: "List price per month in USD."},
					"regions":       schema.ListAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "Vendor regions offering it."},
				}},
			},
			"vendor_regions": schema.ListAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "With `cloud`: the vendor's available regions.",
			},
			"vendor_images": schema.ListAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "With `cloud`: the vendor's distribution images.",
			},
		},
	}
}

func (d *catalogDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (d *catalogDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m catalogModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for _, s := range cloud.PortableSizes {
		m.Sizes = append(m.Sizes, portableSizeModel{Name: s.Name, VCPUs: int64(s.VCPUs), MemoryGB: int64(s.MemoryGB), Vendor: vendorValues(s.Vendor)})
	}
	for _, r := range cloud.PortableRegions {
		m.Regions = append(m.Regions, portableModel{Name: r.Name, Description: r.Description, Vendor: vendorValues(r.Vendor)})
	}
	for _, im := range cloud.PortableImages {
		m.Images = append(m.Images, portableModel{Name: im.Name, Description: im.Description, Vendor: vendorValues(im.Vendor)})
	}
	m.VendorSizes = []vendorSizeModel{}
	m.VendorRegions, m.VendorImages = []string{}, []string{}
	if c := m.Cloud.ValueString(); c != "" {
		drv, diags := d.data.catalog(c, path.Root("cloud"))
		resp.Diagnostics.Append(diags...)
		if diags.HasError() {
			return
		}
		off, err := drv.Offerings(ctx)
		if err != nil {
			resp.Diagnostics.AddError("Error reading the vendor catalog", fmt.Sprintf("listing %s sizes, regions and images: %s", c, err))
			return
		}
		sizes := append([]cloud.Size(nil), off.Sizes...)
		sort.SliceStable(sizes, func(i, j int) bool { return sizes[i].PriceMonthly < sizes[j].PriceMonthly })
		for _, s := range sizes {
			if s.Available {
				m.VendorSizes = append(m.VendorSizes, vendorSizeModel{Slug: s.Slug, VCPUs: int64(s.VCPUs), MemoryMB: int64(s.MemoryMB), PriceMonthly: s.PriceMonthly, Regions: append([]string{}, s.Regions...)})
			}
		}
		for _, r := range off.Regions {
			if r.Available {
				m.VendorRegions = append(m.VendorRegions, r.Slug)
			}
		}
		for _, im := range off.Images {
			m.VendorImages = append(m.VendorImages, im.Slug)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func vendorValues(v map[cloud.Name]string) map[string]string {
	out := make(map[string]string, len(v))
	for k, s := range v {
		out[string(k)] = s
	}
	return out
}

type catalogModel struct {
	Cloud         types.String        `tfsdk:"cloud"`
	Sizes         []portableSizeModel `tfsdk:"sizes"`
	Regions       []portableModel     `tfsdk:"regions"`
	Images        []portableModel     `tfsdk:"images"`
	VendorSizes   []vendorSizeModel   `tfsdk:"vendor_sizes"`
	VendorRegions []string            `tfsdk:"vendor_regions"`
	VendorImages  []string            `tfsdk:"vendor_images"`
}

type portableSizeModel struct {
	Name     string            `tfsdk:"name"`
	VCPUs    int64             `tfsdk:"vcpus"`
	MemoryGB int64             `tfsdk:"memory_gb"`
	Vendor   map[string]string `tfsdk:"vendor"`
}

type portableModel struct {
	Name        string            `tfsdk:"name"`
	Description string            `tfsdk:"description"`
	Vendor      map[string]string `tfsdk:"vendor"`
}

type vendorSizeModel struct {
	Slug         string   `tfsdk:"slug"`
	VCPUs        int64    `tfsdk:"vcpus"`
	MemoryMB     int64    `tfsdk:"memory_mb"`
	PriceMonthly float64  `tfsdk:"price_monthly"`
	Regions      []string `tfsdk:"regions"`
}
