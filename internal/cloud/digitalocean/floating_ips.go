package digitalocean

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// CreateFloatingIP reserves an IP in region, or assigned to hostID (DO then
// takes the droplet's region). The HTTP client never repeats the create (a
// repeat after a 5xx DigitalOcean acted on reserves a second address; see
// retrySafe). Assigned to a droplet, the address can be found again: after
// a 5xx or a broken connection the droplet's reserved IPs are listed, and
// one that was not there before the create is the one it made; with none,
// the create is tried again. An unassigned address carries nothing to find
// it by, so its create is sent once. When the reserved IP exists but its
// assignment cannot be confirmed, it comes back with the error: the caller
// must record it (or delete it), or it leaks.
func (d *Driver) CreateFloatingIP(ctx context.Context, region, hostID string) (*cloud.FloatingIP, error) {
	var ip *godo.ReservedIP
	if hostID == "" {
		var err error
		if ip, _, err = d.client.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{Region: region}); err != nil {
			return nil, apiError(err)
		}
		return toFloatingIP(ip), nil
	}
	n, err := dropletID(hostID)
	if err != nil {
		return nil, err
	}
	if ip, err = d.createAssignedIP(ctx, n); err != nil {
		return nil, err
	}
	created := toFloatingIP(ip)
	if hostID == "" {
		return created, nil
	}
	// The create answers before the assignment is done; wait for it so the
	// address routes to the host when Create returns.
	if err := d.waitReservedIPAssigned(ctx, ip.IP, hostID); err != nil {
		return created, fmt.Errorf("reserved IP %s was created but not seen assigned to droplet %s: %w; "+
			"it is kept: apply again to assign it, or delete it", ip.IP, hostID, err)
	}
	got, err := d.GetFloatingIP(ctx, ip.IP)
	if err != nil {
		return created, fmt.Errorf("reading reserved IP %s after assigning it to droplet %s: %w", ip.IP, hostID, err)
	}
	return got, nil
}

// ListFloatingIPs lists every reserved IP of the account, all pages.
func (d *Driver) ListFloatingIPs(ctx context.Context) ([]cloud.FloatingIP, error) {
	all, err := d.allReservedIPs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cloud.FloatingIP, len(all))
	for i := range all {
		out[i] = *toFloatingIP(&all[i])
	}
	if err := d.markUnsavedIPs(ctx, all, out); err != nil {
		return nil, err
	}
	return out, nil
}

// allReservedIPs lists every reserved IP of the account, all pages.
func (d *Driver) allReservedIPs(ctx context.Context) ([]godo.ReservedIP, error) {
	return allPages(func(opt *godo.ListOptions) ([]godo.ReservedIP, *godo.Response, error) {
		return d.client.ReservedIPs.List(ctx, opt)
	})
}

// GetFloatingIP finds a reserved IP by address, with its unsaved mark.
func (d *Driver) GetFloatingIP(ctx context.Context, id string) (*cloud.FloatingIP, error) {
	ip, _, err := d.client.ReservedIPs.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	out := []cloud.FloatingIP{*toFloatingIP(ip)}
	if err := d.markUnsavedIPs(ctx, []godo.ReservedIP{*ip}, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

// reservedIP reads a reserved IP without its mark: what the waits and the
// driver's own checks need, at one request each.
func (d *Driver) reservedIP(ctx context.Context, id string) (*cloud.FloatingIP, error) {
	ip, _, err := d.client.ReservedIPs.Get(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	return toFloatingIP(ip), nil
}

// AssignFloatingIP moves the reserved IP to hostID and waits for the action.
func (d *Driver) AssignFloatingIP(ctx context.Context, id, hostID string) error {
	n, err := dropletID(hostID)
	if err != nil {
		return err
	}
	a, _, err := d.client.ReservedIPActions.Assign(ctx, id, n)
	if err != nil {
		return apiError(err)
	}
	return d.waitActionCompleted(ctx, a)
}

// UnassignFloatingIP detaches the reserved IP; unassigned already is fine.
func (d *Driver) UnassignFloatingIP(ctx context.Context, id string) error {
	cur, err := d.reservedIP(ctx, id)
	if err != nil {
		return err
	}
	if cur.HostID == "" {
		return nil
	}
	a, _, err := d.client.ReservedIPActions.Unassign(ctx, id)
	if err != nil {
		return apiError(err)
	}
	return d.waitActionCompleted(ctx, a)
}

// DeleteFloatingIP releases the reserved IP; gone already is fine.
func (d *Driver) DeleteFloatingIP(ctx context.Context, id string) error {
	if _, err := d.client.ReservedIPs.Delete(ctx, id); err != nil && !isStatus(err, http.StatusNotFound) {
		return apiError(err)
	}
	return nil
}

func toFloatingIP(ip *godo.ReservedIP) *cloud.FloatingIP {
	f := &cloud.FloatingIP{ID: ip.IP, Address: ip.IP}
	if ip.Region != nil {
		f.Region = ip.Region.Slug
	}
	if ip.Droplet != nil && ip.Droplet.ID != 0 {
		f.HostID = strconv.Itoa(ip.Droplet.ID)
	}
	return f
}

// createAssignedIP creates a reserved IP assigned to droplet n, finding it
// again behind an ambiguous failure (see CreateFloatingIP).
func (d *Driver) createAssignedIP(ctx context.Context, n int) (*godo.ReservedIP, error) {
	had, err := d.reservedIPsOf(ctx, n)
	if err != nil {
		return nil, err
	}
	before := map[string]bool{}
	for _, ip := range had {
		before[ip.IP] = true
	}
	ip, err := createFindingAgain(ctx, d, "reserved IP",
		func() (*godo.ReservedIP, error) {
			ip, _, err := d.client.ReservedIPs.Create(ctx, &godo.ReservedIPCreateRequest{DropletID: n})
			return ip, err
		},
		func(err error) ([]*godo.ReservedIP, error) {
			after, lerr := d.reservedIPsOf(ctx, n)
			if lerr != nil {
				return nil, fmt.Errorf("%w (and listing droplet %d's reserved IPs to find one it may have made: %v)", apiError(err), n, lerr)
			}
			var made []*godo.ReservedIP
			for i := range after {
				if !before[after[i].IP] {
					made = append(made, &after[i])
				}
			}
			return made, nil
		},
		func(err error, k int) error {
			return fmt.Errorf("creating a reserved IP for droplet %d failed (%v), and %d new reserved IPs are assigned to it since: keep one (import it) and delete the others", n, apiError(err), k)
		})
	return ip, err
}

// reservedIPsOf lists the reserved IPs assigned to droplet n.
func (d *Driver) reservedIPsOf(ctx context.Context, n int) ([]godo.ReservedIP, error) {
	all, err := d.allReservedIPs(ctx)
	if err != nil {
		return nil, err
	}
	var out []godo.ReservedIP
	for _, ip := range all {
		if ip.Droplet != nil && ip.Droplet.ID == n {
			out = append(out, ip)
		}
	}
	return out, nil
}
