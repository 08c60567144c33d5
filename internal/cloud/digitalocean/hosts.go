package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/godo"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

var (
	_ cloud.Driver      = (*Driver)(nil)
	_ cloud.FloatingIPs = (*Driver)(nil)
)

// batchMax is how many droplets DigitalOcean creates in one request.
const batchMax = 10

// listPageSize is the largest page DigitalOcean serves.
const listPageSize = 200

// Cloud names the vendor.
func (d *Driver) Cloud() cloud.Name { return cloud.DigitalOcean }

// CreateHosts creates droplets, one multi-create request per run of up to
// ten specs that differ only in name.
func (d *Driver) CreateHosts(ctx context.Context, specs []cloud.HostSpec) ([]cloud.Host, error) {
	var out []cloud.Host
	for _, batch := range batches(specs) {
		s := batch[0]
		tags := withManagedTag(s.Tags)
		keys := sshKeys(s.SSHKeys)
		if len(batch) == 1 {
			dr, _, err := d.client.Droplets.Create(ctx, &godo.DropletCreateRequest{
				Name: s.Name, Region: s.Region, Size: s.Size, Image: image(s.Image),
				SSHKeys: keys, Tags: tags, UserData: s.UserData,
			})
			if err != nil {
				return out, apiError(err)
			}
			out = append(out, toHost(dr))
			continue
		}
		names := make([]string, len(batch))
		for i, b := range batch {
			names[i] = b.Name
		}
		drs, _, err := d.client.Droplets.CreateMultiple(ctx, &godo.DropletMultiCreateRequest{
			Names: names, Region: s.Region, Size: s.Size, Image: image(s.Image),
			SSHKeys: keys, Tags: tags, UserData: s.UserData,
		})
		if err != nil {
			return out, apiError(err)
		}
		for i := range drs {
			out = append(out, toHost(&drs[i]))
		}
	}
	return out, nil
}

// batches groups consecutive specs identical but for their names, at most
// batchMax to a group.
func batches(specs []cloud.HostSpec) [][]cloud.HostSpec {
	var out [][]cloud.HostSpec
	for _, s := range specs {
		if n := len(out); n > 0 && len(out[n-1]) < batchMax && sameButName(out[n-1][0], s) {
			out[n-1] = append(out[n-1], s)
			continue
		}
		out = append(out, []cloud.HostSpec{s})
	}
	return out
}

func sameButName(a, b cloud.HostSpec) bool {
	return a.Region == b.Region && a.Size == b.Size && a.Image == b.Image && a.UserData == b.UserData &&
		slices.Equal(a.SSHKeys, b.SSHKeys) && slices.Equal(a.Tags, b.Tags)
}

func withManagedTag(tags []string) []string {
	if slices.Contains(tags, cloud.ManagedTag) {
		return slices.Clone(tags)
	}
	return append(slices.Clone(tags), cloud.ManagedTag)
}

func image(v string) godo.DropletCreateImage {
	if id, err := strconv.Atoi(v); err == nil {
		return godo.DropletCreateImage{ID: id}
	}
	return godo.DropletCreateImage{Slug: v}
}

func sshKeys(keys []string) []godo.DropletCreateSSHKey {
	out := make([]godo.DropletCreateSSHKey, 0, len(keys))
	for _, k := range keys {
		if id, err := strconv.Atoi(k); err == nil {
			out = append(out, godo.DropletCreateSSHKey{ID: id})
		} else {
			out = append(out, godo.DropletCreateSSHKey{Fingerprint: k})
		}
	}
	return out
}

// GetHost finds one droplet.
func (d *Driver) GetHost(ctx context.Context, id string) (*cloud.Host, error) {
	dr, err := findDropletByID(ctx, d.client, id)
	if err != nil {
		return nil, err
	}
	h := toHost(dr)
	return &h, nil
}

func findDropletByID(ctx context.Context, c *godo.Client, id string) (*godo.Droplet, error) {
	n, err := dropletID(id)
	if err != nil {
		return nil, err
	}
	dr, _, err := c.Droplets.Get(ctx, n)
	if err != nil {
		return nil, apiError(err)
	}
	return dr, nil
}

func dropletID(id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return 0, &cloud.APIError{Cloud: cloud.DigitalOcean, Kind: cloud.ErrInvalid, Message: fmt.Sprintf("%q is not a droplet id (a positive integer)", id)}
	}
	return n, nil
}

// ListHosts lists every droplet carrying tag, 200 to a page.
func (d *Driver) ListHosts(ctx context.Context, tag string) ([]cloud.Host, error) {
	var out []cloud.Host
	opt := &godo.ListOptions{Page: 1, PerPage: listPageSize}
	for {
		drs, resp, err := d.client.Droplets.ListByTag(ctx, tag, opt)
		if err != nil {
			return nil, apiError(err)
		}
		for i := range drs {
			out = append(out, toHost(&drs[i]))
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			return out, nil
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, fmt.Errorf("reading the droplet list's page links: %w", err)
		}
		opt.Page = page + 1
	}
}

// RenameHost renames a droplet and waits for the action.
func (d *Driver) RenameHost(ctx context.Context, id, name string) error {
	n, err := dropletID(id)
	if err != nil {
		return err
	}
	a, _, err := d.client.DropletActions.Rename(ctx, n, name)
	if err != nil {
		return apiError(err)
	}
	return d.waitActionCompleted(ctx, a)
}

// TagHost adds and removes tags; tags are created as needed.
func (d *Driver) TagHost(ctx context.Context, id string, add, remove []string) error {
	res := []godo.Resource{{ID: id, Type: godo.DropletResourceType}}
	for _, t := range add {
		if _, _, err := d.client.Tags.Create(ctx, &godo.TagCreateRequest{Name: t}); err != nil && !isStatus(err, http.StatusConflict) {
			return apiError(err)
		}
		if _, err := d.client.Tags.TagResources(ctx, t, &godo.TagResourcesRequest{Resources: res}); err != nil {
			return apiError(err)
		}
	}
	for _, t := range remove {
		if _, err := d.client.Tags.UntagResources(ctx, t, &godo.UntagResourcesRequest{Resources: res}); err != nil && !isStatus(err, http.StatusNotFound) {
			return apiError(err)
		}
	}
	return nil
}

// DeleteHost deletes a droplet; a missing one is not an error.
func (d *Driver) DeleteHost(ctx context.Context, id string) error {
	n, err := dropletID(id)
	if err != nil {
		return err
	}
	if _, err := d.client.Droplets.Delete(ctx, n); err != nil && !isStatus(err, http.StatusNotFound) {
		return apiError(err)
	}
	return nil
}

func toHost(dr *godo.Droplet) cloud.Host {
	h := cloud.Host{
		ID:     strconv.Itoa(dr.ID),
		Name:   dr.Name,
		Size:   dr.SizeSlug,
		Status: statusOf(dr.Status),
		Tags:   slices.Clone(dr.Tags),
	}
	if dr.Region != nil {
		h.Region = dr.Region.Slug
	}
	if dr.Image != nil {
		h.Image = dr.Image.Slug
		if h.Image == "" && dr.Image.ID != 0 {
			h.Image = strconv.Itoa(dr.Image.ID)
		}
	}
	if dr.Networks != nil {
		for _, n := range dr.Networks.V4 {
			switch n.Type {
			case "public":
				if h.PublicIPv4 == "" {
					h.PublicIPv4 = n.IPAddress
				}
			case "private":
				if h.PrivateIPv4 == "" {
					h.PrivateIPv4 = n.IPAddress
				}
			}
		}
	}
	if t, err := time.Parse(time.RFC3339, dr.Created); err == nil {
		h.CreatedAt = t
	}
	return h
}

func statusOf(s string) cloud.HostStatus {
	switch s {
	case "new":
		return cloud.HostPending
	case "active":
		return cloud.HostActive
	case "off":
		return cloud.HostOff
	case "archive":
		return cloud.HostDeleting
	}
	return cloud.HostStatus(s)
}

// apiError turns godo's error into a *cloud.APIError, keeping the vendor's
// message and request id.
func apiError(err error) error {
	var er *godo.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return err
	}
	e := &cloud.APIError{Cloud: cloud.DigitalOcean, StatusCode: er.Response.StatusCode, Message: er.Message, RequestID: er.RequestID}
	switch code := er.Response.StatusCode; {
	case code == http.StatusNotFound:
		e.Kind, e.Code = cloud.ErrNotFound, "not_found"
	case code == http.StatusConflict:
		e.Kind, e.Code = cloud.ErrConflict, "conflict"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Kind, e.Code = cloud.ErrUnauthorized, "unauthorized"
		if e.Message == "" {
			e.Message = "the token was refused; check digitalocean.token or DIGITALOCEAN_TOKEN"
		}
	case code == http.StatusTooManyRequests:
		e.Kind, e.Code = cloud.ErrThrottled, "too_many_requests"
	case code == http.StatusUnprocessableEntity:
		e.Kind, e.Code = cloud.ErrInvalid, "unprocessable_entity"
		if strings.Contains(strings.ToLower(e.Message), "limit") {
			e.Kind = cloud.ErrQuota
		}
	case code >= 500:
		e.Code = "server_error"
	}
	return e
}

func isStatus(err error, code int) bool {
	var er *godo.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == code
}

// offeringsCache holds the vendor's catalog for the driver's lifetime (one
// Terraform run); a failed load is retried by the next caller.
type offeringsCache struct {
	mu  sync.Mutex
	off *cloud.Offerings
}

// Offerings lists sizes, regions and distribution images.
func (d *Driver) Offerings(ctx context.Context) (*cloud.Offerings, error) {
	d.offers.mu.Lock()
	defer d.offers.mu.Unlock()
	if d.offers.off != nil {
		return d.offers.off, nil
	}
	off := &cloud.Offerings{}
	opt := &godo.ListOptions{Page: 1, PerPage: listPageSize}
	if err := eachPage(opt, func() (*godo.Response, error) {
		sizes, resp, err := d.client.Sizes.List(ctx, opt)
		for _, s := range sizes {
			off.Sizes = append(off.Sizes, cloud.Size{Slug: s.Slug, VCPUs: s.Vcpus, MemoryMB: s.Memory, DiskGB: s.Disk, PriceMonthly: s.PriceMonthly, Regions: s.Regions, Available: s.Available})
		}
		return resp, err
	}); err != nil {
		return nil, fmt.Errorf("listing DigitalOcean sizes: %w", err)
	}
	opt = &godo.ListOptions{Page: 1, PerPage: listPageSize}
	if err := eachPage(opt, func() (*godo.Response, error) {
		regions, resp, err := d.client.Regions.List(ctx, opt)
		for _, r := range regions {
			off.Regions = append(off.Regions, cloud.Region{Slug: r.Slug, Name: r.Name, Available: r.Available})
		}
		return resp, err
	}); err != nil {
		return nil, fmt.Errorf("listing DigitalOcean regions: %w", err)
	}
	opt = &godo.ListOptions{Page: 1, PerPage: listPageSize}
	if err := eachPage(opt, func() (*godo.Response, error) {
		images, resp, err := d.client.Images.ListDistribution(ctx, opt)
		for _, im := range images {
			if im.Slug != "" {
				off.Images = append(off.Images, cloud.Image{Slug: im.Slug, Name: im.Name, Distribution: im.Distribution})
			}
		}
		return resp, err
	}); err != nil {
		return nil, fmt.Errorf("listing DigitalOcean images: %w", err)
	}
	d.offers.off = off
	return off, nil
}

func eachPage(opt *godo.ListOptions, page func() (*godo.Response, error)) error {
	for {
		resp, err := page()
		if err != nil {
			return apiError(err)
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			return nil
		}
		opt.Page++
	}
}
