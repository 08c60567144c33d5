package digitalocean

import (
	"context"
	"fmt"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// Status values of DigitalOcean actions.
const (
	actionInProgress = "in-progress"
	actionCompleted  = "completed"
	actionErrored    = "errored"
)

// statusAction returns the action and its status.
func statusAction(ctx context.Context, c *godo.Client, id int) (*godo.Action, string, error) {
	a, _, err := c.Actions.Get(ctx, id)
	if err != nil {
		return nil, "", apiError(err)
	}
	return a, a.Status, nil
}

// statusDroplet returns the droplet and its status; a droplet that is gone
// is an error wrapping cloud.ErrNotFound.
func statusDroplet(ctx context.Context, c *godo.Client, n int) (*godo.Droplet, string, error) {
	dr, _, err := c.Droplets.Get(ctx, n)
	if err != nil {
		return nil, "", apiError(err)
	}
	return dr, dr.Status, nil
}

// waitActionCompleted polls an action until it completes; the caller's
// context bounds it (Terraform timeouts reach here through ctx).
func (d *Driver) waitActionCompleted(ctx context.Context, a *godo.Action) error {
	if a == nil || a.Status == actionCompleted {
		return nil
	}
	id := a.ID
	return wait.Until(ctx, wait.Options{What: fmt.Sprintf("DigitalOcean action %d (%s)", id, a.Type), Interval: d.cfg.PollInterval},
		func(ctx context.Context) (bool, string, error) {
			_, status, err := statusAction(ctx, d.client, id)
			switch {
			case err != nil:
				return false, "", fmt.Errorf("waiting for DigitalOcean action %d: %w", id, err)
			case status == actionErrored:
				return false, status, fmt.Errorf("DigitalOcean action %d (%s) errored", id, a.Type)
			}
			return status == actionCompleted, status, nil
		})
}

// waitReservedIPAssigned waits until the reserved IP reports the droplet.
func (d *Driver) waitReservedIPAssigned(ctx context.Context, ip, hostID string) error {
	return wait.Until(ctx, wait.Options{What: fmt.Sprintf("reserved IP %s to be assigned to droplet %s", ip, hostID), Interval: d.cfg.PollInterval},
		func(ctx context.Context) (bool, string, error) {
			f, err := d.reservedIP(ctx, ip)
			if err != nil {
				return false, "", err
			}
			state := "unassigned"
			if f.HostID != "" {
				state = "assigned to droplet " + f.HostID
			}
			return f.HostID == hostID, state, nil
		})
}

// waitDropletActive waits until droplet n lists as active at size, and
// returns it as listed last.
func (d *Driver) waitDropletActive(ctx context.Context, n int, size string) (*cloud.Host, error) {
	var h *cloud.Host
	err := wait.Until(ctx, wait.Options{What: fmt.Sprintf("droplet %d to be active at size %s", n, size), Interval: d.cfg.PollInterval},
		func(ctx context.Context) (bool, string, error) {
			dr, status, err := statusDroplet(ctx, d.client, n)
			if err != nil {
				return false, "", err
			}
			host := toHost(dr)
			h = &host
			return status == dropletActive && dr.SizeSlug == size, status + " at size " + dr.SizeSlug, nil
		})
	return h, err
}
