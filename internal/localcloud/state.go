package localcloud

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// state is everything the API remembers; Server.mu guards it.
type state struct {
	nextDroplet int
	nextAction  int
	nextKey     int

	droplets map[int]*droplet
	keys     map[int]*sshKey
	tags     map[string]*tag // by lower-cased name
	actions  map[int]*action
	rips     map[netip.Addr]*reservedIP
}

func (st *state) init() {
	st.nextDroplet = 410000000
	st.nextAction = 2100000000
	st.nextKey = 41000000
	st.droplets = map[int]*droplet{}
	st.keys = map[int]*sshKey{}
	st.tags = map[string]*tag{}
	st.actions = map[int]*action{}
	st.rips = map[netip.Addr]*reservedIP{}
}

type droplet struct {
	id         int
	name       string
	region     region
	size       size
	image      image
	tags       []string // canonical tag names, in tagging order
	createdAt  time.Time
	ipv6       bool
	monitoring bool
	backups    bool

	createAction  int
	provisioned   bool          // Provision returned successfully
	provisionDone chan struct{} // closed when Provision returned, either way
	failed        bool          // Provision failed
	addrs         HostAddrs
	off           bool
	deletedAt     time.Time
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

type reservedIP struct {
	ip        netip.Addr
	region    region
	dropletID int // 0 when unassigned
}

// droplet lifecycle, computed from timestamps at read time

func (s *Server) dropletVisible(d *droplet, now time.Time) bool {
	return d.deletedAt.IsZero() || now.Before(d.deletedAt.Add(s.cfg.DeleteDelay))
}

func (s *Server) dropletStatus(d *droplet, now time.Time) string {
	if !d.provisioned || now.Before(d.createdAt.Add(s.cfg.BootDelay)) {
		return "new"
	}
	if d.off {
		return "off"
	}
	return "active"
}

func (a *action) status(now time.Time) string {
	switch {
	case a.errored:
		return "errored"
	case !a.completedAt.IsZero() && !now.Before(a.completedAt):
		return "completed"
	}
	return "in-progress"
}

// getDroplet returns a droplet clients can see, nil when there is none.
// Call with s.mu held.
func (s *Server) getDroplet(id int, now time.Time) *droplet {
	d := s.st.droplets[id]
	if d == nil {
		return nil
	}
	if !s.dropletVisible(d, now) {
		delete(s.st.droplets, id)
		return nil
	}
	return d
}

// liveDroplets lists visible droplets by id. Call with s.mu held.
func (s *Server) liveDroplets(now time.Time) []*droplet {
	out := make([]*droplet, 0, len(s.st.droplets))
	for id, d := range s.st.droplets {
		if !s.dropletVisible(d, now) {
			delete(s.st.droplets, id)
			continue
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *droplet) int { return a.id - b.id })
	return out
}

func (d *droplet) hasTag(name string) bool {
	for _, t := range d.tags {
		if strings.EqualFold(t, name) {
			return true
		}
	}
	return false
}

func (d *droplet) addTag(name string) {
	if !d.hasTag(name) {
		d.tags = append(d.tags, name)
	}
}

func (d *droplet) removeTag(name string) {
	d.tags = slices.DeleteFunc(d.tags, func(t string) bool { return strings.EqualFold(t, name) })
}

// ensureTag returns the tag called name (case-insensitively), creating it.
// Call with s.mu held.
func (s *Server) ensureTag(name string) *tag {
	k := strings.ToLower(name)
	t := s.st.tags[k]
	if t == nil {
		t = &tag{name: name}
		s.st.tags[k] = t
	}
	return t
}

// exactTag finds a tag by its canonical name, as URLs must spell it.
func (s *Server) exactTag(name string) *tag {
	t := s.st.tags[strings.ToLower(name)]
	if t == nil || t.name != name {
		return nil
	}
	return t
}

func (s *Server) newAction(typ, resourceType string, resourceID int, reg region, now time.Time) *action {
	s.st.nextAction++
	a := &action{id: s.st.nextAction, typ: typ, resourceType: resourceType, resourceID: resourceID, region: reg, startedAt: now}
	s.st.actions[a.id] = a
	return a
}

// ipResourceID is how DigitalOcean numbers reserved IPs in actions: the
// address as a 32-bit integer.
func ipResourceID(ip netip.Addr) int {
	b := ip.As4()
	return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
}
