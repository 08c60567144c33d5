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
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
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
// ten specs that differ only in name. A create is not repeated blindly
// (see createBatch). On an error, the droplets created so far come back
// with it.
func (d *Driver) CreateHosts(ctx context.Context, specs []cloud.HostSpec) ([]cloud.Host, error) {
	var out []cloud.Host
	for _, batch := range batches(specs) {
		hosts, err := d.createBatch(ctx, batch)
		out = append(out, hosts...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// createClockSkew is how much earlier than the local clock a droplet of
// this call may say it was created: DigitalOcean's clock against ours.
const createClockSkew = 2 * time.Minute

// createBatch creates the droplets of one batch. DigitalOcean may have
// created them even when it answers 5xx or the connection breaks, so after
// such a failure it waits a backoff, looks them up (findCreated: by name,
// the batch's tags, region, size and image, created since the first
// attempt) and creates again only those not found, at most HTTPRetryMax
// times. The hosts come back in the batch's order.
func (d *Driver) createBatch(ctx context.Context, batch []cloud.HostSpec) ([]cloud.Host, error) {
	start := time.Now()
	found := make([]*cloud.Host, len(batch))
	pending := make([]int, len(batch)) // indexes into batch still to create
	for i := range batch {
		pending[i] = i
	}
	for attempt := 0; ; attempt++ {
		drs, err := d.postDroplets(ctx, batch[0], namesOf(batch, pending))
		for i := range drs {
			if i < len(pending) {
				h := toHost(&drs[i])
				found[pending[i]] = &h
			}
		}
		if err == nil {
			return collectHosts(found), nil
		}
		if !maybeCreated(ctx, err) {
			return collectHosts(found), fmt.Errorf("creating droplets %s: %w", strings.Join(namesOf(batch, pending), ", "), apiError(err))
		}
		if serr := wait.Sleep(ctx, backoff(d.cfg.RetryWaitMin, d.cfg.RetryWaitMax, attempt, nil)); serr != nil {
			return collectHosts(found), ambiguousCreate(batch, pending, err, serr)
		}
		var lerr error
		pending, lerr = d.findCreated(ctx, batch, pending, start, found)
		if lerr != nil {
			return collectHosts(found), ambiguousCreate(batch, pending, err, lerr)
		}
		if len(pending) == 0 {
			return collectHosts(found), nil
		}
		if attempt >= d.cfg.HTTPRetryMax {
			return collectHosts(found), ambiguousCreate(batch, pending, err, nil)
		}
		tflog.SubsystemWarn(ctx, logSubsystem, "creating droplets again after a failure the server may have acted on", map[string]any{"names": namesOf(batch, pending), "error": err.Error()})
	}
}

// postDroplets sends one create for names, all like spec but for the name.
func (d *Driver) postDroplets(ctx context.Context, s cloud.HostSpec, names []string) ([]godo.Droplet, error) {
	tags, keys := withManagedTag(s.Tags), sshKeys(s.SSHKeys)
	if len(names) == 1 {
		dr, _, err := d.client.Droplets.Create(ctx, &godo.DropletCreateRequest{
			Name: names[0], Region: s.Region, Size: s.Size, Image: image(s.Image),
			SSHKeys: keys, Tags: tags, UserData: s.UserData,
		})
		if err != nil {
			return nil, err
		}
		return []godo.Droplet{*dr}, nil
	}
	drs, _, err := d.client.Droplets.CreateMultiple(ctx, &godo.DropletMultiCreateRequest{
		Names: names, Region: s.Region, Size: s.Size, Image: image(s.Image),
		SSHKeys: keys, Tags: tags, UserData: s.UserData,
	})
	return drs, err
}

// maybeCreated reports whether DigitalOcean may have acted on a create
// that failed with err: a 5xx (but 501), a broken connection or an answer
// that could not be read. A 4xx (429 included: the server did not act; the
// HTTP client retried it already) and the caller's context ending are not.
func maybeCreated(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode >= 500 && er.Response.StatusCode != http.StatusNotImplemented
	}
	return true
}

// findCreated looks for the droplets of batch[pending] DigitalOcean made
// despite a failed answer: per name, a droplet carrying every tag of the
// batch, in its region, of its size, created since start (less
// createClockSkew) and not claimed yet. It records them in found and
// returns the indexes still without a droplet. Two candidates for one spec
// are an error: Haddock cannot tell which one it made.
func (d *Driver) findCreated(ctx context.Context, batch []cloud.HostSpec, pending []int, start time.Time, found []*cloud.Host) ([]int, error) {
	claimed := map[string]bool{}
	for _, h := range found {
		if h != nil {
			claimed[h.ID] = true
		}
	}
	s := batch[0]
	want := withManagedTag(s.Tags)
	since := start.Add(-createClockSkew)
	candidates := map[string][]cloud.Host{} // by name
	var rest []int
	for _, i := range pending {
		name := batch[i].Name
		if _, ok := candidates[name]; !ok {
			drs, err := d.listDropletsByName(ctx, name)
			if err != nil {
				return pending, fmt.Errorf("looking up droplets named %q: %w", name, err)
			}
			list := []cloud.Host{}
			for j := range drs {
				h := toHost(&drs[j])
				if h.Region == s.Region && h.Size == s.Size && h.CreatedAt.After(since) &&
					!claimed[h.ID] && containsAll(h.Tags, want) {
					list = append(list, h)
				}
			}
			candidates[name] = list
		}
		switch list := candidates[name]; {
		case len(list) == 0:
			rest = append(rest, i)
		case len(list) > 1 && countName(batch, pending, name) < len(list):
			ids := make([]string, len(list))
			for j, h := range list {
				ids[j] = h.ID
			}
			return pending, fmt.Errorf("droplets %s are all named %q with this host's tags and were created within minutes; "+
				"Haddock cannot tell which one it made: delete the extra ones and import the one to keep", strings.Join(ids, ", "), name)
		default:
			h := list[0]
			candidates[name] = list[1:]
			found[i] = &h
		}
	}
	return rest, nil
}

func (d *Driver) listDropletsByName(ctx context.Context, name string) ([]godo.Droplet, error) {
	var out []godo.Droplet
	opt := &godo.ListOptions{Page: 1, PerPage: listPageSize}
	err := eachPage(opt, func() (*godo.Response, error) {
		drs, resp, err := d.client.Droplets.ListByName(ctx, name, opt)
		out = append(out, drs...)
		return resp, err
	})
	return out, err
}

// ambiguousCreate is the error of a create that may have made droplets
// Haddock could not find: it says where to look.
func ambiguousCreate(batch []cloud.HostSpec, pending []int, err, last error) error {
	msg := fmt.Sprintf("creating droplets %s: %v", strings.Join(namesOf(batch, pending), ", "), apiError(err))
	if last != nil {
		msg += fmt.Sprintf("; then %v", last)
	}
	return fmt.Errorf("%s. DigitalOcean may have created them anyway: look for droplets with these names tagged %s "+
		"and delete them (or import them) before applying again", msg, strings.Join(withManagedTag(batch[0].Tags), ", "))
}

func namesOf(batch []cloud.HostSpec, idx []int) []string {
	names := make([]string, len(idx))
	for k, i := range idx {
		names[k] = batch[i].Name
	}
	return names
}

func countName(batch []cloud.HostSpec, idx []int, name string) int {
	n := 0
	for _, i := range idx {
		if batch[i].Name == name {
			n++
		}
	}
	return n
}

func collectHosts(found []*cloud.Host) []cloud.Host {
	var out []cloud.Host
	for _, h := range found {
		if h != nil {
			out = append(out, *h)
		}
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
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
	drs, err := allPages(func(opt *godo.ListOptions) ([]godo.Droplet, *godo.Response, error) {
		return d.client.Droplets.ListByTag(ctx, tag, opt)
	})
	if err != nil {
		return nil, err
	}
	out := make([]cloud.Host, len(drs))
	for i := range drs {
		out[i] = toHost(&drs[i])
	}
	return out, nil
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

// allPages lists every item of a paginated list, listPageSize to a page,
// following the response's links.
func allPages[T any](list func(opt *godo.ListOptions) ([]T, *godo.Response, error)) ([]T, error) {
	var out []T
	opt := &godo.ListOptions{Page: 1, PerPage: listPageSize}
	for {
		items, resp, err := list(opt)
		if err != nil {
			return nil, apiError(err)
		}
		out = append(out, items...)
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() {
			return out, nil
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, fmt.Errorf("reading a list's page links: %w", err)
		}
		opt.Page = page + 1
	}
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

// createFindingAgain sends a create the HTTP client never repeats (a
// repeat after a 5xx DigitalOcean acted on would make a second one). After
// a failure DigitalOcean may have acted on, appeared lists what the create
// could have made since it began: one is taken as the create's, with none
// the create is sent again, and several are an error (several returns it):
// Haddock cannot tell which is its own. what names the resource in logs.
func createFindingAgain[T any](ctx context.Context, d *Driver, what string, create func() (T, error), appeared func(createErr error) ([]T, error), several func(createErr error, n int) error) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		v, err := create()
		if err == nil {
			return v, nil
		}
		if !maybeCreated(ctx, err) || attempt >= d.cfg.HTTPRetryMax {
			return zero, apiError(err)
		}
		if serr := wait.Sleep(ctx, backoff(d.cfg.RetryWaitMin, d.cfg.RetryWaitMax, attempt, nil)); serr != nil {
			return zero, apiError(err)
		}
		made, lerr := appeared(err)
		if lerr != nil {
			return zero, lerr
		}
		switch len(made) {
		case 1:
			tflog.SubsystemWarn(ctx, logSubsystem, "found the "+what+" a failed create made", map[string]any{"error": err.Error()})
			return made[0], nil
		case 0:
			tflog.SubsystemWarn(ctx, logSubsystem, "creating the "+what+" again after a failure the server may have acted on", map[string]any{"error": err.Error()})
		default:
			return zero, several(err, len(made))
		}
	}
}
