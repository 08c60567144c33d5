package digitalocean

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
)

// state is DigitalOcean's own bookkeeping beside the core's hosts and
// addresses; the server's lock (localcloud.Server.Lock) guards it.
type state struct {
	nextAction int
	nextKey    int

	droplets map[int]*dropletInfo // by host id
	keys     map[int]*sshKey
	tags     map[string]*tag // by lower-cased name
	actions  map[int]*action
	lbs      map[string]*loadBalancer
	dbs      map[string]*dbCluster
	fws      map[string]*firewall
	projects map[string]*project   // but the default one
	assigned map[string]assignment // by urn; none: the default project
	// The databases' CA, made on first use (dbCA).
	dbCACert, dbCAKey string
}

func (st *state) init() {
	st.nextAction = 2100000000
	st.nextKey = 41000000
	st.droplets = map[int]*dropletInfo{}
	st.keys = map[int]*sshKey{}
	st.tags = map[string]*tag{}
	st.actions = map[int]*action{}
	st.lbs = map[string]*loadBalancer{}
	st.dbs = map[string]*dbCluster{}
	st.fws = map[string]*firewall{}
	st.projects = map[string]*project{}
	st.assigned = map[string]assignment{}
}

// droplet is a core host as DigitalOcean shows it: the neutral record and
// what only DigitalOcean has.
type droplet struct {
	*localcloud.Host
	*dropletInfo
}

// dropletInfo is what a droplet has beyond its host record.
type dropletInfo struct {
	ipv6         bool
	monitoring   bool
	backups      bool
	createAction int
	// disk is the disk's size in GB after a resize; 0 means the size's.
	disk int
}

func (d droplet) region() region {
	r, _ := findRegion(d.Region)
	return r
}

func (d droplet) size() size {
	sz, _ := findSize(d.Size)
	return sz
}

// diskGB is the droplet's disk: its size's, or what a resize left.
func (d droplet) diskGB() int {
	if d.disk > 0 {
		return d.disk
	}
	return d.size().DiskGB
}

// resize gives d size sz: its CPUs and memory, and its disk too when disk
// is set (a permanent resize); otherwise the disk stays as it is. Call with
// the lock held.
func (d droplet) resize(sz size, disk bool) {
	d.disk = d.diskGB()
	if disk {
		d.disk = sz.DiskGB
	}
	d.Size = sz.Slug
}

func (d droplet) image() image {
	im, _ := findImage(d.Image)
	return im
}

type sshKey struct {
	id          int
	name        string
	publicKey   string
	fingerprint string
}

type tag struct {
	name       string
	lastTagged int // droplet id
}

type action struct {
	id           int
	typ          string
	resourceType string // "droplet" or "reserved_ip"
	resourceID   int
	ip           netip.Addr // reserved_ip actions
	region       region
	startedAt    time.Time
	completedAt  time.Time // zero while unknown (create actions before provisioning)
	errored      bool
}

// dropletOf is h as a droplet. Call with the lock held.
func (a *API) dropletOf(h *localcloud.Host) droplet {
	info := a.st.droplets[h.ID]
	if info == nil {
		info = &dropletInfo{}
		a.st.droplets[h.ID] = info
	}
	return droplet{h, info}
}

// getDroplet returns a droplet clients can see, ok false when there is
// none. Call with the lock held.
func (a *API) getDroplet(id int, now time.Time) (droplet, bool) {
	h := a.s.Host(id, now)
	if h == nil || h.API != Name {
		return droplet{}, false
	}
	return a.dropletOf(h), true
}

// liveDroplets lists visible droplets by id. Call with the lock held.
func (a *API) liveDroplets(now time.Time) []droplet {
	hs := a.s.Hosts(Name, now)
	out := make([]droplet, len(hs))
	for i, h := range hs {
		out[i] = a.dropletOf(h)
	}
	return out
}

// dropletStatus is the core's host status in DigitalOcean's words.
func (a *API) dropletStatus(d droplet, now time.Time) string {
	switch a.s.HostStatus(d.Host, now) {
	case localcloud.HostPending:
		return "new"
	case localcloud.HostOff:
		return "off"
	}
	if a.fw.Waiting(d.ID) {
		return "new" // a firewall names it; its rules are on their way
	}
	return "active"
}

func (ac *action) status(now time.Time) string {
	switch {
	case ac.errored:
		return "errored"
	case !ac.completedAt.IsZero() && !now.Before(ac.completedAt):
		return "completed"
	}
	return "in-progress"
}

// ensureTag returns the tag called name (case-insensitively), creating it.
// Call with the lock held.
func (a *API) ensureTag(name string) *tag {
	k := strings.ToLower(name)
	t := a.st.tags[k]
	if t == nil {
		t = &tag{name: name}
		a.st.tags[k] = t
	}
	return t
}

// exactTag finds a tag by its canonical name, as URLs must spell it.
func (a *API) exactTag(name string) *tag {
	t := a.st.tags[strings.ToLower(name)]
	if t == nil || t.name != name {
		return nil
	}
	return t
}

func (a *API) newAction(typ, resourceType string, resourceID int, reg region, now time.Time) *action {
	a.st.nextAction++
	ac := &action{id: a.st.nextAction, typ: typ, resourceType: resourceType, resourceID: resourceID, region: reg, startedAt: now}
	a.st.actions[ac.id] = ac
	return ac
}

// ipResourceID is how DigitalOcean numbers reserved IPs in actions: the
// address as a 32-bit integer.
func ipResourceID(ip netip.Addr) int {
	b := ip.As4()
	return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
}

// HostProvisioned implements localcloud.API: the droplet's create action
// completes when the droplet turns active, or errors with the droplet.
func (a *API) HostProvisioned(h *localcloud.Host, err error, now time.Time) {
	info := a.st.droplets[h.ID]
	if info == nil {
		return
	}
	ac := a.st.actions[info.createAction]
	if ac == nil {
		return
	}
	if err != nil {
		ac.errored, ac.completedAt = true, now
		delete(a.st.droplets, h.ID)
		return
	}
	// Databases whose firewall names this droplet or its tags let it in.
	a.s.Background(func(context.Context) { a.dropletsChanged() })
	a.firewallProvisioned(h)
	ac.completedAt = now
	if boot := a.s.ReadyAt(h); boot.After(now) {
		ac.completedAt = boot
	}
}

// savedState is the JSON form of state, DigitalOcean's part of the state
// file. Its field names are those of the version 1 state file, which was
// all DigitalOcean's, so the core hands that file over as it is.
type savedState struct {
	NextAction int                   `json:"next_action"`
	NextKey    int                   `json:"next_key"`
	Droplets   []savedDroplet        `json:"droplets"`
	Keys       []savedKey            `json:"ssh_keys"`
	Tags       []savedTag            `json:"tags"`
	Actions    []savedAction         `json:"actions"`
	LBs        []savedLB             `json:"load_balancers,omitempty"`
	DBs        []savedDB             `json:"databases,omitempty"`
	Firewalls  []savedFirewall       `json:"firewalls,omitempty"`
	DBCACert   string                `json:"databases_ca_cert,omitempty"`
	DBCAKey    string                `json:"databases_ca_key,omitempty"`
	Projects   []savedProject        `json:"projects,omitempty"`
	Assigned   map[string]assignment `json:"project_resources,omitempty"`
}

type savedDroplet struct {
	ID           int  `json:"id"`
	IPv6         bool `json:"ipv6,omitempty"`
	Monitoring   bool `json:"monitoring,omitempty"`
	Backups      bool `json:"backups,omitempty"`
	CreateAction int  `json:"create_action"`
	DiskGB       int  `json:"disk_gb,omitempty"`
}

type savedKey struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
}

type savedTag struct {
	Name       string `json:"name"`
	LastTagged int    `json:"last_tagged,omitempty"`
}

type savedAction struct {
	ID           int        `json:"id"`
	Type         string     `json:"type"`
	ResourceType string     `json:"resource_type"`
	ResourceID   int        `json:"resource_id"`
	IP           netip.Addr `json:"ip,omitzero"`
	Region       string     `json:"region,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	CompletedAt  time.Time  `json:"completed_at,omitzero"`
	Errored      bool       `json:"errored,omitempty"`
}

// SaveState implements localcloud.API. The first save after a load
// also pushes every droplet's firewall rules again
// (localcloud.FirewallPusher.Saved).
func (a *API) SaveState() any {
	st := &a.st
	a.fw.Saved()
	out := savedState{
		NextAction: st.nextAction, NextKey: st.nextKey,
		Droplets: []savedDroplet{}, Keys: []savedKey{}, Tags: []savedTag{}, Actions: []savedAction{},
	}
	for id, d := range st.droplets {
		out.Droplets = append(out.Droplets, savedDroplet{id, d.ipv6, d.monitoring, d.backups, d.createAction, d.disk})
	}
	slices.SortFunc(out.Droplets, func(a, b savedDroplet) int { return a.ID - b.ID })
	for _, k := range st.keys {
		out.Keys = append(out.Keys, savedKey{k.id, k.name, k.publicKey, k.fingerprint})
	}
	slices.SortFunc(out.Keys, func(a, b savedKey) int { return a.ID - b.ID })
	for _, t := range st.tags {
		out.Tags = append(out.Tags, savedTag{t.name, t.lastTagged})
	}
	slices.SortFunc(out.Tags, func(a, b savedTag) int { return strings.Compare(a.Name, b.Name) })
	for _, ac := range st.actions {
		out.Actions = append(out.Actions, savedAction{
			ID: ac.id, Type: ac.typ, ResourceType: ac.resourceType, ResourceID: ac.resourceID, IP: ac.ip,
			Region: ac.region.Slug, StartedAt: ac.startedAt, CompletedAt: ac.completedAt, Errored: ac.errored,
		})
	}
	slices.SortFunc(out.Actions, func(a, b savedAction) int { return a.ID - b.ID })
	out.LBs = a.saveLBs()
	out.DBs, out.DBCACert, out.DBCAKey = a.saveDBs(), st.dbCACert, st.dbCAKey
	out.Firewalls = a.saveFirewalls()
	out.Projects, out.Assigned = a.saveProjects(a.s.Now())
	return out
}

// LoadState implements localcloud.API. It checks the droplets' and
// reserved IPs' slugs against the catalog.
func (a *API) LoadState(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var in savedState
	if err := json.Unmarshal(raw, &in); err != nil {
		return err
	}
	st := &a.st
	st.nextAction, st.nextKey = in.NextAction, in.NextKey
	regionOf := func(slug string) (region, error) {
		if slug == "" {
			return region{}, nil
		}
		r, ok := findRegion(slug)
		if !ok {
			return r, fmt.Errorf("unknown region %q", slug)
		}
		return r, nil
	}
	for _, h := range a.s.Hosts(Name, time.Time{}) {
		if _, err := regionOf(h.Region); err != nil {
			return fmt.Errorf("droplet %d: %w", h.ID, err)
		}
		if _, ok := findSize(h.Size); !ok {
			return fmt.Errorf("droplet %d: unknown size %q", h.ID, h.Size)
		}
		if _, ok := findImage(h.Image); !ok {
			return fmt.Errorf("droplet %d: unknown image %q", h.ID, h.Image)
		}
	}
	for _, ip := range a.s.Addresses(Name) {
		if _, err := regionOf(ip.Region); err != nil {
			return fmt.Errorf("reserved IP %s: %w", ip.IP, err)
		}
	}
	for _, sd := range in.Droplets {
		st.droplets[sd.ID] = &dropletInfo{ipv6: sd.IPv6, monitoring: sd.Monitoring, backups: sd.Backups, createAction: sd.CreateAction, disk: sd.DiskGB}
	}
	for _, k := range in.Keys {
		st.keys[k.ID] = &sshKey{id: k.ID, name: k.Name, publicKey: k.PublicKey, fingerprint: k.Fingerprint}
	}
	for _, t := range in.Tags {
		st.tags[strings.ToLower(t.Name)] = &tag{name: t.Name, lastTagged: t.LastTagged}
	}
	for _, sa := range in.Actions {
		reg, err := regionOf(sa.Region)
		if err != nil {
			return fmt.Errorf("action %d: %w", sa.ID, err)
		}
		ac := &action{
			id: sa.ID, typ: sa.Type, resourceType: sa.ResourceType, resourceID: sa.ResourceID, ip: sa.IP,
			region: reg, startedAt: sa.StartedAt, completedAt: sa.CompletedAt, errored: sa.Errored,
		}
		if _, power := localcloud.PowerLeavesOff(ac.typ); power && ac.completedAt.IsZero() && !ac.errored {
			// localcloud stopped while the host was being powered: the
			// action errored and the host is as the state says.
			ac.errored, ac.completedAt = true, ac.startedAt
		}
		st.actions[sa.ID] = ac
	}
	st.dbCACert, st.dbCAKey = in.DBCACert, in.DBCAKey
	a.loadDBs(in.DBs)
	if err := a.loadLBs(in.LBs); err != nil {
		return err
	}
	if err := a.loadProjects(in.Projects, in.Assigned); err != nil {
		return err
	}
	return a.loadFirewalls(in.Firewalls)
}
