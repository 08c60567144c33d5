package localcloud

import (
	"bytes"
	"encoding/json"
	"fmt"
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
func (s *Server) validateCreate(req *createDropletReq, now time.Time) (p dropletPlan, msg string) {
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
		k := s.keyByIDOrFingerprint(v)
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
	if n := len(s.liveDroplets(now)); n+len(p.names) > s.cfg.DropletLimit {
		return p, fmt.Sprintf("Creating %d Droplet(s) will exceed your Droplet limit of %d.", len(p.names), s.cfg.DropletLimit)
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

func (s *Server) createDroplets(w http.ResponseWriter, r *http.Request) {
	var req createDropletReq
	if !decodeBody(w, r, &req) {
		return
	}
	now, base := s.now(), baseURL(r)
	s.mu.Lock()
	p, msg := s.validateCreate(&req, now)
	if msg != "" {
		s.mu.Unlock()
		ew(w).unprocessable("%s", msg)
		return
	}
	canon := make([]string, len(p.tags))
	for i, t := range p.tags {
		canon[i] = s.ensureTag(t).name
	}
	var created []*droplet
	var out []dropletJSON
	var acts []actionLinkJSON
	var reqs []HostRequest
	for _, name := range p.names {
		s.st.nextDroplet++
		d := &droplet{
			id: s.st.nextDroplet, name: name, region: p.region, size: p.size, image: p.image, createdAt: now,
			ipv6: req.IPv6, monitoring: req.Monitoring, backups: req.Backups, provisionDone: make(chan struct{}),
		}
		for _, t := range canon {
			d.addTag(t)
			s.ensureTag(t).lastTagged = d.id
		}
		a := s.newAction("create", "droplet", d.id, d.region, now)
		d.createAction = a.id
		s.st.droplets[d.id] = d
		created = append(created, d)
		out = append(out, s.renderDroplet(d, now))
		acts = append(acts, actionLink(base, a, "create"))
		reqs = append(reqs, HostRequest{
			ID: d.id, Name: name, Region: p.region.Slug, Size: p.size.Slug, Image: p.image.Slug,
			VCPUs: p.size.VCPUs, MemoryMB: p.size.MemoryMB, DiskGB: p.size.DiskGB, IPv6: req.IPv6,
			SSHKeys: p.sshKeys, Tags: append([]string{}, d.tags...), UserData: req.UserData,
		})
	}
	s.mu.Unlock()

	for i, d := range created {
		s.provision(d, reqs[i])
	}
	links := map[string]any{"actions": acts}
	if req.Names != nil {
		writeJSON(w, http.StatusAccepted, map[string]any{"droplets": out, "links": links})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"droplet": out[0], "links": links})
}

// provision runs Backend.Provision for d in the background.
func (s *Server) provision(d *droplet, req HostRequest) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		addrs, err := s.backend.Provision(s.ctx, req)
		s.provisioned(d, addrs, err)
		s.persist()
	}()
}

// provisioned records the outcome of d's Provision.
func (s *Server) provisioned(d *droplet, addrs HostAddrs, err error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(d.provisionDone)
	a := s.st.actions[d.createAction]
	if err != nil {
		s.logf("localcloud: provisioning droplet %d (%s): %v", d.id, d.name, err)
		d.failed = true
		a.errored, a.completedAt = true, now
		if s.st.droplets[d.id] == d {
			delete(s.st.droplets, d.id)
		}
		return
	}
	d.provisioned, d.addrs = true, addrs
	a.completedAt = now
	if boot := d.createdAt.Add(s.cfg.BootDelay); boot.After(now) {
		a.completedAt = boot
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

func (s *Server) listDroplets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tagName, name, typ := q.Get("tag_name"), q.Get("name"), q.Get("type")
	if tagName != "" && (name != "" || typ != "") {
		ew(w).unprocessable("tag_name can not be combined with name or type.")
		return
	}
	now := s.now()
	s.mu.Lock()
	out := []dropletJSON{}
	if typ != "gpus" { // no GPU sizes here
		for _, d := range s.liveDroplets(now) {
			if tagName != "" && !d.hasTag(tagName) {
				continue
			}
			if name != "" && !strings.EqualFold(d.name, name) {
				continue
			}
			out = append(out, s.renderDroplet(d, now))
		}
	}
	s.mu.Unlock()
	writeList(w, r, "droplets", out)
}

func (s *Server) getDropletHandler(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	now := s.now()
	s.mu.Lock()
	d := s.getDroplet(id, now)
	var out dropletJSON
	if d != nil {
		out = s.renderDroplet(d, now)
	}
	s.mu.Unlock()
	if d == nil {
		ew(w).notFound()
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"droplet": out})
}

func (s *Server) deleteDroplet(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		ew(w).notFound()
		return
	}
	if !s.destroy(func(now time.Time) []*droplet {
		if d := s.getDroplet(id, now); d != nil {
			return []*droplet{d}
		}
		return nil
	}) {
		ew(w).notFound()
		return
	}
	noContent(w, true)
}

func (s *Server) deleteDropletsByTag(w http.ResponseWriter, r *http.Request) {
	tagName := r.URL.Query().Get("tag_name")
	if tagName == "" {
		ew(w).unprocessable("tag_name is required to delete Droplets by tag.")
		return
	}
	if !s.destroy(func(now time.Time) []*droplet {
		if s.st.tags[strings.ToLower(tagName)] == nil {
			return nil
		}
		ds := []*droplet{}
		for _, d := range s.liveDroplets(now) {
			if d.hasTag(tagName) {
				ds = append(ds, d)
			}
		}
		return ds
	}) {
		ew(w).notFound()
		return
	}
	noContent(w, true)
}

// destroy deletes the droplets pick returns (called with s.mu held; nil
// means not found): they are marked deleted, their reserved IPs
// unassigned, and Backend.Destroy runs in the background once provisioning
// is over. It reports false when pick returned nil.
func (s *Server) destroy(pick func(now time.Time) []*droplet) bool {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	now := s.now()
	s.mu.Lock()
	ds := pick(now)
	if ds == nil {
		s.mu.Unlock()
		return false
	}
	var unassign []*reservedIP
	var doomed []*droplet
	for _, d := range ds {
		if !d.deletedAt.IsZero() {
			continue // already being deleted
		}
		d.deletedAt = now
		doomed = append(doomed, d)
		for _, ip := range s.st.rips {
			if ip.dropletID == d.id {
				ip.dropletID = 0
				unassign = append(unassign, ip)
			}
		}
	}
	s.mu.Unlock()
	for _, ip := range unassign {
		if err := s.backend.UnassignIP(s.ctx, ip.ip); err != nil {
			s.logf("localcloud: unassigning reserved IP %s: %v", ip.ip, err)
		}
	}
	for _, d := range doomed {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-d.provisionDone:
			case <-s.ctx.Done():
				return
			}
			s.mu.Lock()
			failed := d.failed
			s.mu.Unlock()
			if failed {
				return
			}
			if err := s.backend.Destroy(s.ctx, d.id); err != nil {
				s.logf("localcloud: destroying droplet %d (%s): %v", d.id, d.name, err)
			}
		}()
	}
	return true
}
