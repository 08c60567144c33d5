package digitalocean

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// labelRE is one label of a hostname. The spec's droplet name pattern
// (^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$) lets through "-a" and "a..b";
// DigitalOcean wants hostnames, so names are checked label by label.
var labelRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

const (
	maxBatch    = 10
	maxUserData = 64 << 10
)

func validHostname(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, l := range strings.Split(n, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

type createDropletReq struct {
	Name             *string           `json:"name"`
	Names            *[]string         `json:"names"`
	Region           string            `json:"region"`
	Size             string            `json:"size"`
	Image            json.RawMessage   `json:"image"`
	SSHKeys          []json.RawMessage `json:"ssh_keys"`
	Backups          bool              `json:"backups"`
	IPv6             bool              `json:"ipv6"`
	Monitoring       bool              `json:"monitoring"`
	UserData         string            `json:"user_data"`
	Volumes          []json.RawMessage `json:"volumes"`
	Tags             []string          `json:"tags"`
	VPCUUID          string            `json:"vpc_uuid"`
	PublicNetworking *bool             `json:"public_networking"`
}

// dropletPlan is a validated create request.
type dropletPlan struct {
	names   []string
	region  region
	size    size
	image   image
	sshKeys []string
	tags    []string
}

// validateCreate checks a create request as DigitalOcean does; msg is the
// 422 message when it fails. Call with s.mu held (it resolves SSH keys and
// counts droplets against the limit).
func (a *API) validateCreate(req *createDropletReq, now time.Time) (p dropletPlan, msg string) {
	switch {
	case req.Name != nil && req.Names != nil:
		return p, "Specify either name or names, not both."
	case req.Names != nil:
		p.names = *req.Names
		if len(p.names) == 0 {
			return p, "Names must contain at least one name."
		}
		if len(p.names) > maxBatch {
			return p, fmt.Sprintf("You can only create up to %d Droplets at once.", maxBatch)
		}
	case req.Name != nil && *req.Name != "":
		p.names = []string{*req.Name}
	default:
		return p, "Name is required."
	}
	for _, n := range p.names {
		if !validHostname(n) {
			return p, fmt.Sprintf("Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -): %q", n)
		}
	}
	if req.Size == "" {
		return p, "Size is required."
	}
	sz, ok := findSize(req.Size)
	if !ok {
		return p, "You specified an invalid size for Droplet creation."
	}
	p.size = sz
	if p.region, msg = resolveRegion(req.Region, sz); msg != "" {
		return p, msg
	}
	img := string(bytes.Trim(req.Image, `"`))
	if len(req.Image) == 0 || img == "null" || img == "" {
		return p, "Image is required."
	}
	if p.image, ok = findImage(img); !ok {
		return p, "You specified an invalid image for Droplet creation."
	}
	for _, raw := range req.SSHKeys {
		v := string(bytes.Trim(raw, `"`))
		k := a.keyByIDOrFingerprint(v)
		if k == nil {
			return p, fmt.Sprintf("SSH key %s could not be found.", v)
		}
		p.sshKeys = append(p.sshKeys, k.publicKey)
	}
	for _, t := range req.Tags {
		if !validTagName(t) {
			return p, fmt.Sprintf("Tag %q is invalid: tags may contain letters, numbers, colons, dashes and underscores.", t)
		}
	}
	p.tags = req.Tags
	if len(req.UserData) > maxUserData {
		return p, "User data must not exceed 64 KiB."
	}
	if len(req.Volumes) > 0 {
		return p, fmt.Sprintf("Volume %s could not be found.", bytes.Trim(req.Volumes[0], `"`))
	}
	if req.VPCUUID != "" && req.VPCUUID != vpcUUID(p.region.Slug) {
		return p, fmt.Sprintf("VPC %s could not be found in region %s.", req.VPCUUID, p.region.Slug)
	}
	if req.PublicNetworking != nil && !*req.PublicNetworking {
		return p, "localcloud does not support droplets without public networking."
	}
	if n := len(a.liveDroplets(now)); n+len(p.names) > a.cfg.DropletLimit {
		return p, fmt.Sprintf("Creating %d Droplet(s) will exceed your Droplet limit of %d.", len(p.names), a.cfg.DropletLimit)
	}
	return p, ""
}

// resolveRegion picks the region for a create: an exact slug, a slug prefix
// such as "nyc", or "" for any region offering the size.
func resolveRegion(slug string, sz size) (region, string) {
	if r, ok := findRegion(slug); ok {
		switch {
		case !r.Available:
			return r, "Region is not available."
		case !sz.offers(r.Slug):
			return r, "Size is not available in this region."
		}
		return r, ""
	}
	if strings.ContainsAny(slug, "0123456789") {
		return region{}, "You specified an invalid region for Droplet creation."
	}
	for _, r := range regions {
		if strings.HasPrefix(r.Slug, slug) && sz.offers(r.Slug) {
			return r, ""
		}
	}
	return region{}, "You specified an invalid region for Droplet creation."
}

func (a *API) createDroplets(w http.ResponseWriter, r *http.Request) {
	var req createDropletReq
	if !decodeBody(w, r, &req) {
		return
	}
	if err := a.s.CheckHostRequest(localcloud.HostRequest{UserData: req.UserData}); err != nil {
		ew(w).unprocessable("user_data refused: %s", err)
		return
	}
	now, base := a.s.Now(), baseURL(r)
	a.s.Lock()
	p, msg := a.validateCreate(&req, now)
	if msg != "" {
		a.s.Unlock()
		ew(w).unprocessable("%s", msg)
		return
	}
	canon := make([]string, len(p.tags))
	for i, t := range p.tags {
		canon[i] = a.ensureTag(t).name
	}
	var created []*localcloud.Host
	var out []dropletJSON
	var acts []actionLinkJSON
	var reqs []localcloud.HostRequest
	for _, name := range p.names {
		h := &localcloud.Host{
			API: Name, Name: name, Region: p.region.Slug, Size: p.size.Slug, Image: p.image.Slug,
			UserData: req.UserData, CreatedAt: now,
		}
		a.s.AddHost(h)
		info := &dropletInfo{ipv6: req.IPv6, monitoring: req.Monitoring, backups: req.Backups}
		a.st.droplets[h.ID] = info
		for _, t := range canon {
			h.AddTag(t)
			a.ensureTag(t).lastTagged = h.ID
		}
		ac := a.newAction("create", "droplet", h.ID, p.region, now)
		info.createAction = ac.id
		created = append(created, h)
		out = append(out, a.renderDroplet(droplet{h, info}, now))
		acts = append(acts, actionLink(base, ac, "create"))
		reqs = append(reqs, localcloud.HostRequest{
			Name: name, Region: p.region.Slug, Size: p.size.Slug, Image: p.image.Slug,
			VCPUs: p.size.VCPUs, MemoryMB: p.size.MemoryMB, DiskGB: p.size.DiskGB, IPv6: req.IPv6,
			SSHKeys: p.sshKeys, Tags: append([]string{}, h.Tags...), UserData: req.UserData,
		})
	}
	a.s.Unlock()

	// A firewall naming the droplets' tags gets to the backend before
	// they are provisioned, for a backend that keeps rules for hosts it
	// is still creating; it is pushed again once they are.
	a.fw.Sync(false)
	for i, h := range created {
		a.s.Provision(h, reqs[i])
	}
	links := map[string]any{"actions": acts}
	if req.Names != nil {
		writeJSON(w, http.StatusAccepted, map[string]any{"droplets": out, "links": links})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"droplet": out[0], "links": links})
}

func (a *API) listDroplets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tagName, name, typ := q.Get("tag_name"), q.Get("name"), q.Get("type")
	if tagName != "" && (name != "" || typ != "") {
		ew(w).unprocessable("tag_name can not be combined with name or type.")
		return
	}
	now := a.s.Now()
	a.s.Lock()
	out := []dropletJSON{}
	if typ != "gpus" { // no GPU sizes here
		for _, d := range a.liveDroplets(now) {
			if tagName != "" && !d.HasTag(tagName) {
				continue
			}
			if name != "" && !strings.EqualFold(d.Name, name) {
				continue
			}
			out = append(out, a.renderDroplet(d, now))
		}
	}
	a.s.Unlock()
	writeList(w, r, "droplets", out)
}

func (a *API) getDropletHandler(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	now := a.s.Now()
	a.s.Lock()
	d, ok := a.getDroplet(id, now)
	var out dropletJSON
	if ok {
		out = a.renderDroplet(d, now)
	}
	a.s.Unlock()
	if !ok {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"droplet": out})
}

func (a *API) deleteDroplet(w http.ResponseWriter, r *http.Request) {
	defer a.fw.SyncLater()
	defer a.dropletsChanged()
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	if !a.s.DestroyHosts(func(now time.Time) []*localcloud.Host {
		if d, ok := a.getDroplet(id, now); ok {
			return []*localcloud.Host{d.Host}
		}
		return nil
	}) {
		ew(w).notFound()
		return
	}
	noContent(w, true)
}

func (a *API) deleteDropletsByTag(w http.ResponseWriter, r *http.Request) {
	defer a.fw.SyncLater()
	defer a.dropletsChanged()
	tagName := r.URL.Query().Get("tag_name")
	if tagName == "" {
		ew(w).unprocessable("tag_name is required to delete Droplets by tag.")
		return
	}
	if !a.s.DestroyHosts(func(now time.Time) []*localcloud.Host {
		if a.st.tags[strings.ToLower(tagName)] == nil {
			return nil
		}
		hs := []*localcloud.Host{}
		for _, d := range a.liveDroplets(now) {
			if d.HasTag(tagName) {
				hs = append(hs, d.Host)
			}
		}
		return hs
	}) {
		ew(w).notFound()
		return
	}
	noContent(w, true)
}
