package digitalocean

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var _ cloud.Resizer = (*Driver)(nil)

// Droplet status values.
const (
	dropletActive = "active"
	dropletOff    = "off"
)

// cleanupTimeout bounds the requests that undo part of a failed operation
// (powering a droplet on again), which run even when the caller's context
// has ended.
const cleanupTimeout = time.Minute

// ResizeHost resizes a droplet in place with DigitalOcean's actions:
// power_off (skipped when the droplet is off already), resize with disk
// false, power_on, each waited for, then waits until the droplet lists as
// active at size. A droplet off at the start is powered on too: the host
// ends active. Already at size, it is only powered on when off, so an
// apply that failed halfway resumes. When the resize fails, the droplet is
// powered on again at its old size.
func (d *Driver) ResizeHost(ctx context.Context, id, size string) (*cloud.Host, error) {
	dr, err := findDropletByID(ctx, d.client, id)
	if err != nil {
		return nil, fmt.Errorf("resizing droplet %s to %s: %w", id, size, err)
	}
	n := dr.ID
	switch dr.Status {
	case dropletActive:
		if dr.SizeSlug == size {
			h := toHost(dr)
			return &h, nil
		}
		if err := d.act(ctx, func() (*godo.Action, *godo.Response, error) { return d.client.DropletActions.PowerOff(ctx, n) }); err != nil {
			return nil, fmt.Errorf("resizing droplet %s to %s: powering it off: %w; "+
				"the droplet keeps its size (it may be off): apply again to resume", id, size, err)
		}
	case dropletOff:
	default:
		return nil, fmt.Errorf("resizing droplet %s to %s: it is %q, neither active nor off; "+
			"wait until it is active (or power it on in the DigitalOcean console) and apply again", id, size, dr.Status)
	}
	if dr.SizeSlug != size {
		// disk false resizes CPU and memory only and keeps the disk, so the
		// resize can be undone: DigitalOcean cannot shrink a disk, and a
		// droplet whose disk grew can never return to a smaller size.
		if err := d.act(ctx, func() (*godo.Action, *godo.Response, error) {
			return d.client.DropletActions.Resize(ctx, n, size, false)
		}); err != nil {
			return nil, fmt.Errorf("resizing droplet %s from %s to %s: %w; %s", id, dr.SizeSlug, size, err, d.powerOnAfterFailure(ctx, n))
		}
	}
	if err := d.act(ctx, func() (*godo.Action, *godo.Response, error) { return d.client.DropletActions.PowerOn(ctx, n) }); err != nil {
		return nil, fmt.Errorf("resizing droplet %s to %s: powering it on after the resize: %w; "+
			"apply again to resume, or power it on in the DigitalOcean console", id, size, err)
	}
	h, err := d.waitDropletActive(ctx, n, size)
	if err != nil {
		return h, fmt.Errorf("resizing droplet %s to %s: %w", id, size, err)
	}
	return h, nil
}

// act sends a droplet action and waits until it completes.
func (d *Driver) act(ctx context.Context, send func() (*godo.Action, *godo.Response, error)) error {
	a, _, err := send()
	if err != nil {
		return apiError(err)
	}
	return d.waitActionCompleted(ctx, a)
}

// powerOnAfterFailure sends power_on to a droplet an operation left off,
// with a fresh bounded context (the caller's may have ended), without
// waiting for it; it says what happened, for the error.
func (d *Driver) powerOnAfterFailure(ctx context.Context, n int) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, _, err := d.client.DropletActions.PowerOn(ctx, n); err != nil {
		return fmt.Sprintf("powering it on again failed too (%v): power droplet %d on in the DigitalOcean console", apiError(err), n)
	}
	return "it keeps its old size and was powered on again; check that the size is offered in its region and apply again"
}
