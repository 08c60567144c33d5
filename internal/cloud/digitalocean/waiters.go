package digitalocean

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/godo"
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

// waitActionCompleted polls an action until it completes; the caller's
// context bounds it (Terraform timeouts reach here through ctx).
func (d *Driver) waitActionCompleted(ctx context.Context, a *godo.Action) error {
	if a == nil || a.Status == actionCompleted {
		return nil
	}
	id := a.ID
	for {
		_, status, err := statusAction(ctx, d.client, id)
		if err != nil {
			return fmt.Errorf("waiting for DigitalOcean action %d: %w", id, err)
		}
		switch status {
		case actionCompleted:
			return nil
		case actionErrored:
			return fmt.Errorf("DigitalOcean action %d (%s) errored", id, a.Type)
		}
		if err := sleep(ctx, d.cfg.PollInterval); err != nil {
			return fmt.Errorf("waiting for DigitalOcean action %d (%s, last status %s): %w", id, a.Type, status, err)
		}
	}
}

// waitReservedIPAssigned waits until the reserved IP reports the droplet.
func (d *Driver) waitReservedIPAssigned(ctx context.Context, ip, hostID string) error {
	for {
		f, err := d.GetFloatingIP(ctx, ip)
		if err != nil {
			return err
		}
		if f.HostID == hostID {
			return nil
		}
		if err := sleep(ctx, d.cfg.PollInterval); err != nil {
			return fmt.Errorf("waiting for reserved IP %s to be assigned to droplet %s: %w", ip, hostID, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
