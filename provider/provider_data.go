package provider

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/cluster"
	"github.com/haddockhq/terraform-provider-haddock/internal/failover"
)

// providerData is what Configure hands every resource and data source: the
// configured vendors, and one host watcher per vendor and region so that
// concurrent waits share their list calls.
type providerData struct {
	version      string
	poll         time.Duration
	vendors      map[cloud.Name]vendor
	unconfigured map[cloud.Name]string // why a vendor is not usable
	// agentImage is the failover agent's image (failover_agent_image);
	// agentCredentials the vendor credentials and endpoint the agent gets,
	// the provider's own, by vendor.
	agentImage       string
	agentCredentials map[cloud.Name]failover.Config

	// snapshots serve the Reads of a refresh from one list per vendor,
	// region and kind; writes invalidate them.
	snapshots *cloud.Snapshots
	// leftovers are hosts of applies killed mid-create (see unsaved.go).
	leftovers leftovers

	mu       sync.Mutex
	watchers map[string]*cloud.HostWatcher
}

// vendor is a configured driver. Drivers bound to one region (AWS) give a
// driver per region through forRegion; the base driver serves catalog
// look-ups and the default region.
type vendor struct {
	base      cloud.Driver
	forRegion func(region string) cloud.Driver
}

func newProviderData(version string) *providerData {
	return &providerData{
		version:          version,
		poll:             2 * time.Second,
		vendors:          map[cloud.Name]vendor{},
		unconfigured:     map[cloud.Name]string{},
		agentCredentials: map[cloud.Name]failover.Config{},
		watchers:         map[string]*cloud.HostWatcher{},
		snapshots:        cloud.NewSnapshots(0),
	}
}

func (d *providerData) add(drv cloud.Driver, forRegion func(string) cloud.Driver) {
	d.vendors[drv.Cloud()] = vendor{base: drv, forRegion: forRegion}
}

// catalog returns the vendor's base driver, for catalog look-ups.
func (d *providerData) catalog(name string, at path.Path) (cloud.Driver, diag.Diagnostics) {
	v, diags := d.vendor(name, at)
	if diags.HasError() {
		return nil, diags
	}
	return v.base, nil
}

// driver returns the vendor's driver for a vendor-native region ("" for the
// default), and the watcher shared by every wait on that driver.
func (d *providerData) driver(name, region string, at path.Path) (cloud.Driver, *cloud.HostWatcher, diag.Diagnostics) {
	v, diags := d.vendor(name, at)
	if diags.HasError() {
		return nil, nil, diags
	}
	drv := v.base
	key := name
	if v.forRegion != nil && region != "" {
		drv = v.forRegion(region)
		key += "/" + region
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.watchers[key]
	if !ok {
		w = cloud.NewHostWatcher(drv, cloud.ManagedTag, d.poll)
		d.watchers[key] = w
	}
	return drv, w, nil
}

// clusterDrivers picks the drivers of a cluster's hosts: the managers' from
// the cluster's credentials (their cloud and region), and a group's from
// groupCloud and groupRegion ("" for none: group is then nil). A group on
// the managers' vendor and region shares their driver.
func (d *providerData) clusterDrivers(cc clusterCredentials, groupCloud, groupRegion string) (managers, group cloud.Driver, diags diag.Diagnostics) {
	if groupCloud != "" {
		group, _, diags = d.driver(groupCloud, groupRegion, path.Root("cloud"))
		if diags.HasError() {
			return nil, nil, diags
		}
		if cc.Cloud == "" || (cc.Cloud == groupCloud && cc.Region == groupRegion) {
			return group, group, diags
		}
	}
	managers, _, diags = d.driver(cc.Cloud, cc.Region, path.Root("cluster_credentials"))
	if diags.HasError() {
		return nil, nil, diags
	}
	return managers, group, diags
}

// openCluster opens the cluster whose credentials (a haddock_swarm_cluster's
// `credentials`) are given, with the drivers clusterDrivers picks; group is
// the driver of groupCloud and groupRegion, nil for "".
func (d *providerData) openCluster(credentials, groupCloud, groupRegion string) (*cluster.Cluster, cloud.Driver, diag.Diagnostics) {
	var diags diag.Diagnostics
	st, cc, err := decodeClusterCredentials(credentials)
	if err != nil {
		diags.AddAttributeError(path.Root("cluster_credentials"), "Invalid cluster credentials", err.Error())
		return nil, nil, diags
	}
	managers, group, diags := d.clusterDrivers(cc, groupCloud, groupRegion)
	if diags.HasError() {
		return nil, nil, diags
	}
	c, err := cluster.Open(managers, st, d.clusterOptions())
	if err != nil {
		diags.AddError("Cluster unreachable", err.Error())
		return nil, nil, diags
	}
	return c, group, diags
}

// clusterOptions are the orchestration's options: the provider's poll
// interval for host lists, at most a second for engines.
func (d *providerData) clusterOptions() cluster.Options {
	return cluster.Options{PollInterval: d.poll, EnginePollInterval: min(d.poll, time.Second)}
}

func (d *providerData) vendor(name string, at path.Path) (vendor, diag.Diagnostics) {
	var diags diag.Diagnostics
	if d == nil {
		diags.AddError("Provider not configured", "The haddock provider was not configured before use. This is a bug in the provider; please report it.")
		return vendor{}, diags
	}
	c := cloud.Name(name)
	if v, ok := d.vendors[c]; ok {
		return v, nil
	}
	why, ok := d.unconfigured[c]
	if !ok {
		why = fmt.Sprintf("the %s cloud is not supported by this version of the provider", name)
	}
	diags.AddAttributeError(at, "Cloud not configured", fmt.Sprintf("cloud = %q cannot be used: %s.", name, why))
	return vendor{}, diags
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

// withTimeout bounds an operation by its configured timeout (the timeouts
// attribute), def when none is set. A malformed timeout is a diagnostic;
// the caller checks diags after deferring cancel.
func withTimeout(ctx context.Context, configured func(context.Context, time.Duration) (time.Duration, diag.Diagnostics), def time.Duration, diags *diag.Diagnostics) (context.Context, context.CancelFunc) {
	timeout, d := configured(ctx, def)
	diags.Append(d...)
	return context.WithTimeout(ctx, timeout)
}

// capability is the driver of cloudName (in region) as capability T (a
// cloud.FloatingIPs, cloud.LoadBalancers, cloud.Databases), or why not;
// what names the capability in the error.
func capability[T any](d *providerData, cloudName, region, what string) (T, cloud.Name, error) {
	var zero T
	drv, _, diags := d.driver(cloudName, region, path.Root("cloud"))
	if diags.HasError() {
		return zero, "", fmt.Errorf("%s", diags[0].Detail())
	}
	c, ok := drv.(T)
	if !ok {
		return zero, "", fmt.Errorf("the %s driver has no %s", drv.Cloud(), what)
	}
	return c, drv.Cloud(), nil
}

// readOrForget reads a vendor resource for a Read: when the vendor says it
// is gone, the resource is removed from the state (logged) and ok is
// false; another error is a diagnostic.
func readOrForget[T any](ctx context.Context, what, id string, get func() (T, error), state interface{ RemoveResource(context.Context) }, diags *diag.Diagnostics) (T, bool) {
	v, err := get()
	if cloud.IsNotFound(err) {
		tflog.Warn(ctx, what+" not found, removing from state", map[string]any{"id": id})
		state.RemoveResource(ctx)
		return v, false
	}
	if err != nil {
		diags.AddError("Error reading "+what, fmt.Sprintf("reading %s %s: %s", what, id, err))
		return v, false
	}
	return v, true
}

// planRegion resolves a resource's region at plan time through the
// vendor's catalog: the catalog driver and the vendor region, or false
// with the diagnostic (at "cloud" or "region").
func (d *providerData) planRegion(ctx context.Context, cloudName, region string, diags *diag.Diagnostics) (cloud.Driver, string, bool) {
	cat, ds := d.catalog(cloudName, path.Root("cloud"))
	diags.Append(ds...)
	if ds.HasError() {
		return nil, "", false
	}
	off, err := cat.Offerings(ctx)
	if err != nil {
		diags.AddError("Error reading the vendor catalog", fmt.Sprintf("listing %s regions: %s", cat.Cloud(), err))
		return nil, "", false
	}
	r, err := cloud.ResolveRegion(cat.Cloud(), region, off)
	if err != nil {
		diags.AddAttributeError(path.Root("region"), "Invalid region", err.Error())
		return nil, "", false
	}
	return cat, r, true
}
