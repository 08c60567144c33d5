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
// takes the droplet's region). The create is sent once (a repeat after a
// 5xx could reserve a second address; see retrySafe). When the reserved IP
// exists but its assignment cannot be confirmed, it comes back with the
// error: the caller must record it (or delete it), or it leaks.
func (d *Driver) CreateFloatingIP(ctx context.Context, region, hostID string) (*cloud.FloatingIP, error) {
	req := &godo.ReservedIPCreateRequest{Region: region}
	if hostID != "" {
		n, err := dropletID(hostID)
		if err != nil {
			return nil, err
		}
		req = &godo.ReservedIPCreateRequest{DropletID: n}
	}
	ip, _, err := d.client.ReservedIPs.Create(ctx, req)
	if err != nil {
		return nil, apiError(err)
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
	var out []cloud.FloatingIP
	opt := &godo.ListOptions{PerPage: 200}
	for {
		ips, resp, err := d.client.ReservedIPs.List(ctx, opt)
		if err != nil {
			return nil, apiError(err)
		}
		for i := range ips {
			out = append(out, *toFloatingIP(&ips[i]))
		}
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() {
			return out, nil
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, err
		}
		opt.Page = page + 1
	}
}

// GetFloatingIP finds a reserved IP by address.
func (d *Driver) GetFloatingIP(ctx context.Context, id string) (*cloud.FloatingIP, error) {
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
	cur, err := d.GetFloatingIP(ctx, id)
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
