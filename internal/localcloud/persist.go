package localcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Files localcloud keeps in Config.StateDir. A HostBackend may keep its own
// files in the same directory under other names (the netns backend keeps
// netns-state.json and hosts/).
const (
	StateFile = "localcloud-state.json"
	LockFile  = "localcloud.lock"

	stateVersion = 1
)

// Restorer is optionally implemented by a HostBackend whose hosts outlive
// the Server (real hosts). When Config.StateDir holds saved state, Open
// calls Restore once, before serving, with what the state says exists:
// hosts maps every provisioned droplet's id to its addresses, reserved maps
// every reserved IP to the droplet id holding it (0: unassigned). The
// backend brings those hosts back, re-routes the reserved IPs as the map
// says, and removes any host of its own that hosts does not list (a
// droplet deleted, or being created, when localcloud stopped). An error is
// logged (Config.Logf) and does not stop Open: the droplets stay listed,
// and the API can delete them.
type Restorer interface {
	Restore(ctx context.Context, hosts map[int]HostAddrs, reserved map[netip.Addr]int) error
}

// savedState is the JSON form of state.
type savedState struct {
	Version     int            `json:"version"`
	SavedAt     time.Time      `json:"saved_at"`
	NextDroplet int            `json:"next_droplet"`
	NextAction  int            `json:"next_action"`
	NextKey     int            `json:"next_key"`
	Droplets    []savedDroplet `json:"droplets"`
	Keys        []savedKey     `json:"ssh_keys"`
	Tags        []savedTag     `json:"tags"`
	Actions     []savedAction  `json:"actions"`
	ReservedIPs []savedRIP     `json:"reserved_ips"`
}

type savedDroplet struct {
	ID           int        `json:"id"`
	Name         string     `json:"name"`
	Region       string     `json:"region"`
	Size         string     `json:"size"`
	Image        string     `json:"image"`
	Tags         []string   `json:"tags"`
	CreatedAt    time.Time  `json:"created_at"`
	IPv6         bool       `json:"ipv6,omitempty"`
	Monitoring   bool       `json:"monitoring,omitempty"`
	Backups      bool       `json:"backups,omitempty"`
	CreateAction int        `json:"create_action"`
	Provisioned  bool       `json:"provisioned"`
	Addrs        savedAddrs `json:"addrs"`
	Off          bool       `json:"off,omitempty"`
	DeletedAt    time.Time  `json:"deleted_at,omitzero"`
}

type savedAddrs struct {
	PublicIPv4    netip.Prefix `json:"public_ipv4,omitzero"`
	PublicGateway netip.Addr   `json:"public_gateway,omitzero"`
	PrivateIPv4   netip.Prefix `json:"private_ipv4,omitzero"`
	PublicIPv6    netip.Prefix `json:"public_ipv6,omitzero"`
	IPv6Gateway   netip.Addr   `json:"ipv6_gateway,omitzero"`
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

type savedRIP struct {
	IP        netip.Addr `json:"ip"`
	Region    string     `json:"region"`
	DropletID int        `json:"droplet_id,omitempty"`
}

// snapshot returns the state in its saved form. Call with s.mu held.
func (st *state) snapshot() savedState {
	out := savedState{
		Version: stateVersion, NextDroplet: st.nextDroplet, NextAction: st.nextAction, NextKey: st.nextKey,
		Droplets: []savedDroplet{}, Keys: []savedKey{}, Tags: []savedTag{}, Actions: []savedAction{}, ReservedIPs: []savedRIP{},
	}
	for _, d := range st.droplets {
		out.Droplets = append(out.Droplets, savedDroplet{
			ID: d.id, Name: d.name, Region: d.region.Slug, Size: d.size.Slug, Image: d.image.Slug,
			Tags: append([]string{}, d.tags...), CreatedAt: d.createdAt, IPv6: d.ipv6, Monitoring: d.monitoring,
			Backups: d.backups, CreateAction: d.createAction, Provisioned: d.provisioned, Off: d.off, DeletedAt: d.deletedAt,
			Addrs: savedAddrs(d.addrs),
		})
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
	for _, a := range st.actions {
		out.Actions = append(out.Actions, savedAction{
			ID: a.id, Type: a.typ, ResourceType: a.resourceType, ResourceID: a.resourceID, IP: a.ip,
			Region: a.region.Slug, StartedAt: a.startedAt, CompletedAt: a.completedAt, Errored: a.errored,
		})
	}
	slices.SortFunc(out.Actions, func(a, b savedAction) int { return a.ID - b.ID })
	for _, ip := range st.rips {
		out.ReservedIPs = append(out.ReservedIPs, savedRIP{ip.ip, ip.region.Slug, ip.dropletID})
	}
	slices.SortFunc(out.ReservedIPs, func(a, b savedRIP) int { return a.IP.Compare(b.IP) })
	return out
}

// restore rebuilds the state from its saved form. The state must be fresh
// (init). provisionDone channels are closed: nothing is provisioning.
func (st *state) restore(in savedState) error {
	st.nextDroplet, st.nextAction, st.nextKey = in.NextDroplet, in.NextAction, in.NextKey
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
	for _, sd := range in.Droplets {
		reg, err := regionOf(sd.Region)
		if err != nil {
			return fmt.Errorf("droplet %d: %w", sd.ID, err)
		}
		sz, ok := findSize(sd.Size)
		if !ok {
			return fmt.Errorf("droplet %d: unknown size %q", sd.ID, sd.Size)
		}
		im, ok := findImage(sd.Image)
		if !ok {
			return fmt.Errorf("droplet %d: unknown image %q", sd.ID, sd.Image)
		}
		done := make(chan struct{})
		close(done)
		st.droplets[sd.ID] = &droplet{
			id: sd.ID, name: sd.Name, region: reg, size: sz, image: im, tags: append([]string{}, sd.Tags...),
			createdAt: sd.CreatedAt, ipv6: sd.IPv6, monitoring: sd.Monitoring, backups: sd.Backups,
			createAction: sd.CreateAction, provisioned: sd.Provisioned, provisionDone: done, off: sd.Off,
			deletedAt: sd.DeletedAt,
			addrs:     HostAddrs(sd.Addrs),
		}
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
		st.actions[sa.ID] = &action{
			id: sa.ID, typ: sa.Type, resourceType: sa.ResourceType, resourceID: sa.ResourceID, ip: sa.IP,
			region: reg, startedAt: sa.StartedAt, completedAt: sa.CompletedAt, errored: sa.Errored,
		}
	}
	for _, r := range in.ReservedIPs {
		reg, err := regionOf(r.Region)
		if err != nil {
			return fmt.Errorf("reserved IP %s: %w", r.IP, err)
		}
		st.rips[r.IP] = &reservedIP{ip: r.IP, region: reg, dropletID: r.DropletID}
	}
	return nil
}

// settle turns the state as a stopped localcloud left it into one a new
// process can serve: a droplet still being created when localcloud stopped
// failed (its create action errored, the droplet gone, as a failed create
// is on DigitalOcean), a deleted droplet is gone, and reserved IPs held by
// either are unassigned. It returns the droplets that failed, by id.
func (st *state) settle(now time.Time) (failed []int) {
	for id, d := range st.droplets {
		switch {
		case !d.deletedAt.IsZero():
		case !d.provisioned:
			failed = append(failed, id)
			if a := st.actions[d.createAction]; a != nil {
				a.errored, a.completedAt = true, now
			}
		default:
			continue
		}
		delete(st.droplets, id)
		for _, ip := range st.rips {
			if ip.dropletID == id {
				ip.dropletID = 0
			}
		}
	}
	slices.Sort(failed)
	return failed
}

// loadState reads the saved state in dir; ok is false when there is none.
func loadState(dir string) (in savedState, ok bool, err error) {
	path := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return in, false, nil
	}
	if err != nil {
		return in, false, fmt.Errorf("localcloud: reading state: %w", err)
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, false, fmt.Errorf("localcloud: reading state %s: %w", path, err)
	}
	if in.Version != stateVersion {
		return in, false, fmt.Errorf("localcloud: state %s has version %d, this build reads %d", path, in.Version, stateVersion)
	}
	return in, true, nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, synced, then renamed over path, so a reader (or a crash)
// never sees a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// persist saves the state when Config.StateDir is set. It must be called
// without s.mu held; saves are ordered, so the file always ends with the
// latest state.
func (s *Server) persist() {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.stateDir == "" {
		return
	}
	s.mu.Lock()
	snap := s.st.snapshot()
	s.mu.Unlock()
	snap.SavedAt = s.now().UTC()
	b, err := json.MarshalIndent(snap, "", "  ")
	if err == nil {
		err = writeFileAtomic(filepath.Join(s.stateDir, StateFile), append(b, '\n'))
	}
	if err != nil {
		s.logf("localcloud: saving state: %v", err)
	}
}

// StateLock is an exclusive lock on a state directory: one localcloud at a
// time serves (or removes) the state there.
type StateLock struct{ f *os.File }

// LockStateDir creates dir if needed and locks it. It fails at once, saying
// so, when another process holds the lock.
func LockStateDir(dir string) (*StateLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localcloud: creating state directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localcloud: locking state directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("localcloud: state directory %s is in use by another localcloud", dir)
		}
		return nil, fmt.Errorf("localcloud: locking state directory: %w", err)
	}
	return &StateLock{f: f}, nil
}

// Release unlocks the state directory.
func (l *StateLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// RemoveState removes localcloud's own files from dir (the saved state and
// the lock file; the caller should hold the lock), then dir itself when
// that leaves it empty. A backend's files are the backend's to remove.
func RemoveState(dir string) error {
	var errs []error
	for _, name := range []string{StateFile, LockFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("localcloud: removing state: %w", err)
	}
	_ = os.Remove(dir) // only when empty
	return nil
}

// Open returns a Server for cfg, like New. When cfg.StateDir is set it
// locks the directory, loads the state saved there (if any), settles it
// (droplets that were still being created when localcloud stopped failed,
// deleted ones are gone) and, when the backend is a Restorer, has it bring
// the hosts back; from then on the state is saved there after every change
// and on Close. Without a StateDir, Open is New.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	dir := cfg.StateDir
	cfg.StateDir = ""
	s := New(cfg)
	if dir == "" {
		return s, nil
	}
	if !filepath.IsAbs(dir) {
		var err error
		if dir, err = filepath.Abs(dir); err != nil {
			return nil, fmt.Errorf("localcloud: state directory: %w", err)
		}
	}
	lock, err := LockStateDir(dir)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		_ = s.Close()
		_ = lock.Release()
		return nil, err
	}
	in, ok, err := loadState(dir)
	if err != nil {
		return fail(err)
	}
	if ok {
		if err := s.st.restore(in); err != nil {
			s.st.init()
			return fail(fmt.Errorf("localcloud: state %s: %w", filepath.Join(dir, StateFile), err))
		}
	}
	for _, id := range s.st.settle(s.now()) {
		s.logf("localcloud: droplet %d was still being created when localcloud stopped: its create action failed", id)
	}
	if r, isRestorer := s.backend.(Restorer); isRestorer {
		hosts := map[int]HostAddrs{}
		for id, d := range s.st.droplets {
			hosts[id] = d.addrs
		}
		reserved := map[netip.Addr]int{}
		for addr, ip := range s.st.rips {
			reserved[addr] = ip.dropletID
		}
		if err := r.Restore(ctx, hosts, reserved); err != nil {
			s.logf("localcloud: restoring hosts: %v", err)
		}
	}
	s.saveMu.Lock()
	s.stateDir, s.lock = dir, lock
	s.saveMu.Unlock()
	s.persist()
	return s, nil
}
