package provider

import (
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// providerData is what Configure hands every resource and data source: a
// driver and a host watcher per configured vendor.
type providerData struct {
	version      string
	drivers      map[cloud.Name]cloud.Driver
	watchers     map[cloud.Name]*cloud.HostWatcher
	unconfigured map[cloud.Name]string // why a vendor is not usable
}

func newProviderData(version string) *providerData {
	return &providerData{
		version:      version,
		drivers:      map[cloud.Name]cloud.Driver{},
		watchers:     map[cloud.Name]*cloud.HostWatcher{},
		unconfigured: map[cloud.Name]string{},
	}
}

func (d *providerData) add(drv cloud.Driver, poll time.Duration) {
	d.drivers[drv.Cloud()] = drv
	d.watchers[drv.Cloud()] = cloud.NewHostWatcher(drv, cloud.ManagedTag, poll)
}

// driver returns the vendor's driver, or an error diagnostic on at that
// says how to configure it.
func (d *providerData) driver(name string, at path.Path) (cloud.Driver, *cloud.HostWatcher, diag.Diagnostics) {
	var diags diag.Diagnostics
	if d == nil {
		diags.AddError("Provider not configured", "The haddock provider was not configured before use. This is a bug in the provider; please report it.")
		return nil, nil, diags
	}
	c := cloud.Name(name)
	if drv, ok := d.drivers[c]; ok {
		return drv, d.watchers[c], nil
	}
	why, ok := d.unconfigured[c]
	if !ok {
		why = fmt.Sprintf("the %s cloud is not supported by this version of the provider", name)
	}
	diags.AddAttributeError(at, "Cloud not configured", fmt.Sprintf("cloud = %q cannot be used: %s.", name, why))
	return nil, nil, diags
}

// configureData reads the provider data in a resource's or data source's
// Configure; nil data (validation before configure) is fine.
func configureData(data any, diags *diag.Diagnostics) *providerData {
	if data == nil {
		return nil
	}
	pd, ok := data.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", data))
		return nil
	}
	return pd
}
