// Package cloud is the vendor-neutral seam between the Terraform surface
// (package provider) and the vendor drivers (internal/cloud/digitalocean,
// internal/cloud/aws). Everything here speaks the project's own types; no
// vendor SDK type crosses this boundary.
package cloud

import (
	"context"
	"slices"
	"time"
)

// Name identifies a vendor.
type Name string

const (
	DigitalOcean Name = "digitalocean"
	AWS          Name = "aws"
)

// Names lists the vendors Haddock knows, in documentation order.
var Names = []Name{DigitalOcean, AWS}

// ManagedTag is put on every host Haddock creates, on every vendor. Drivers
// list by it to wait for many hosts with one call.
const ManagedTag = "haddock"

// UnsavedTag marks a host whose creator has not yet handed it to Terraform's
// state: hosts are created with it and lose it once the resource's Create
// returns with them in its state. A host still carrying it in a later run
// was left by an apply killed mid-create (its TLS material died with that
// process), so the resource that creates it again deletes it first instead
// of leaving it behind. One fixed tag, so no run litters the account with
// tags of its own.
const UnsavedTag = "haddock-unsaved"

// Unsaved reports whether h carries UnsavedTag.
func Unsaved(h Host) bool { return slices.Contains(h.Tags, UnsavedTag) }

// HostStatus is the portable lifecycle state of a host.
type HostStatus string

const (
	HostPending  HostStatus = "pending"  // being created or booting
	HostActive   HostStatus = "active"   // running
	HostOff      HostStatus = "off"      // powered off / stopped
	HostDeleting HostStatus = "deleting" // being destroyed
	HostError    HostStatus = "error"    // the vendor gave up on it
)

// Host is a machine as the vendor reports it. Region, Size and Image are
// vendor-native values.
type Host struct {
	ID          string // vendor id
	Name        string
	Region      string
	Size        string
	Image       string
	Status      HostStatus
	PublicIPv4  string
	PrivateIPv4 string
	Tags        []string
	CreatedAt   time.Time
}

// HostSpec asks for a host. Region, Size and Image are vendor-native values
// (the catalog resolves portable ones before a driver sees them).
type HostSpec struct {
	Name     string
	Region   string
	Size     string
	Image    string
	SSHKeys  []string
	Tags     []string
	UserData string
}

// Hosts is what a vendor driver does with machines.
type Hosts interface {
	// CreateHosts creates hosts, as few API calls as the vendor allows (one
	// batch call for specs that differ only in name). The hosts come back
	// as created, usually pending: use a HostWatcher to wait for them.
	CreateHosts(ctx context.Context, specs []HostSpec) ([]Host, error)
	// GetHost returns an error wrapping ErrNotFound when the host is gone.
	GetHost(ctx context.Context, id string) (*Host, error)
	// ListHosts lists every host carrying tag, all pages.
	ListHosts(ctx context.Context, tag string) ([]Host, error)
	// RenameHost changes the host's name in place.
	RenameHost(ctx context.Context, id, name string) error
	// TagHost adds and removes tags in place.
	TagHost(ctx context.Context, id string, add, remove []string) error
	// DeleteHost starts deletion; deleting a missing host is not an error.
	DeleteHost(ctx context.Context, id string) error
}

// Driver is one vendor.
type Driver interface {
	Hosts
	// Cloud names the vendor.
	Cloud() Name
	// Offerings lists what the vendor sells right now: sizes with the
	// regions offering them, regions, images. Drivers may cache it.
	Offerings(ctx context.Context) (*Offerings, error)
}

// FloatingIP is a public address that can move between hosts: a
// DigitalOcean reserved IP or an AWS Elastic IP.
type FloatingIP struct {
	ID      string // vendor id: the address on DigitalOcean, the allocation id on AWS
	Address string
	Region  string // vendor-native
	HostID  string // vendor host id it is assigned to, "" when unassigned
	// UnsavedUntil is zero unless the address carries UnsavedTag (see
	// UnsavedFloatingIPs): then it is when its creator's apply ends at the
	// latest, after which an address still unsaved was left by an apply
	// killed before its state was saved.
	UnsavedUntil time.Time
}

// UnsavedFloatingIPs is implemented by drivers that can mark a floating IP:
// AWS tags its Elastic IPs; DigitalOcean's reserved IPs take no tags, so
// they are marked by the project they are in (see the driver). A
// creator marks the address unsaved until its state holds it, so that an
// apply killed in between leaves an address a later run can tell from
// every other and release, instead of one that leaks: the host pattern
// (UnsavedTag), with a deadline instead of a name, since an address has
// none and another workspace may be creating one right now.
type UnsavedFloatingIPs interface {
	// CreateUnsavedFloatingIP is CreateFloatingIP with the address marked
	// UnsavedTag until the time given (its UnsavedUntil).
	CreateUnsavedFloatingIP(ctx context.Context, region, hostID string, until time.Time) (*FloatingIP, error)
	// MarkFloatingIPSaved removes the mark; none is not an error.
	MarkFloatingIPSaved(ctx context.Context, id string) error
}

// FloatingIPs is what a vendor driver does with floating addresses. Drivers
// that have them implement it beside Driver.
type FloatingIPs interface {
	// CreateFloatingIP reserves an address in region, assigned to hostID
	// when it is not "". A non-nil result with an error is an address that
	// exists although the call failed (e.g. the assignment was not seen):
	// callers must record it (or delete it) even then, or it leaks.
	CreateFloatingIP(ctx context.Context, region, hostID string) (*FloatingIP, error)
	// ListFloatingIPs lists every floating IP of the account (all pages):
	// what a rolling replacement reads to move the addresses of a host it
	// retires.
	ListFloatingIPs(ctx context.Context) ([]FloatingIP, error)
	// GetFloatingIP returns an error wrapping ErrNotFound when it is gone.
	GetFloatingIP(ctx context.Context, id string) (*FloatingIP, error)
	// AssignFloatingIP moves the address to hostID, wherever it is now.
	AssignFloatingIP(ctx context.Context, id, hostID string) error
	// UnassignFloatingIP detaches it; unassigned already is not an error.
	UnassignFloatingIP(ctx context.Context, id string) error
	// DeleteFloatingIP releases it; gone already is not an error.
	DeleteFloatingIP(ctx context.Context, id string) error
}

// Resizer is implemented by drivers that can change a host's size in place.
type Resizer interface {
	// ResizeHost changes host id to size (vendor-native), powering it
	// off first when it runs and on again after, and waits until it is
	// active again at the new size. It returns the host as listed then.
	ResizeHost(ctx context.Context, id, size string) (*Host, error)
}

// ImageResolver is implemented by drivers whose images are looked up per
// region at plan time (AWS: a name pattern becomes the newest matching AMI,
// an AMI id is checked to exist). Drivers without it take catalog values.
type ImageResolver interface {
	ResolveImage(ctx context.Context, value string) (string, error)
}
