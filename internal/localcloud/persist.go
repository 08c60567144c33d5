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
	"time"

	"golang.org/x/sys/unix"
)

// Files localcloud keeps in Config.StateDir. A HostBackend may keep its own
// files in the same directory under other names (the netns backend keeps
// netns-state.json and hosts/).
const (
	StateFile = "localcloud-state.json"
	LockFile  = "localcloud.lock"

	stateVersion = 2
)

// Restorer is optionally implemented by a HostBackend whose hosts outlive
// the Server (real hosts). When Config.StateDir holds saved state, Open
// calls Restore once, before serving, with what the state says exists:
// hosts maps every provisioned host's id to its addresses, reserved maps
// every pool address to the host id holding it (0: unassigned). The
// backend brings those hosts back, re-routes the addresses as the map
// says, and removes any host of its own that hosts does not list (a host
// deleted, or being created, when localcloud stopped). An error is logged
// (Config.Logf) and does not stop Open: the hosts stay listed, and the
// APIs can delete them.
type Restorer interface {
	Restore(ctx context.Context, hosts map[int]HostAddrs, reserved map[netip.Addr]int) error
}

// state is the hosts and addresses; Server.mu guards it.
type state struct {
	nextHost int
	hosts    map[int]*Host
	addrs    map[netip.Addr]*Address
}

func (st *state) init() {
	st.nextHost = 410000000
	st.hosts = map[int]*Host{}
	st.addrs = map[netip.Addr]*Address{}
}

// savedState is the JSON form of the state file (version 2): the hosts and
// addresses in neutral terms, and each API's own records under its name.
type savedState struct {
	Version   int                        `json:"version"`
	SavedAt   time.Time                  `json:"saved_at"`
	NextHost  int                        `json:"next_host"`
	Hosts     []savedHost                `json:"hosts"`
	Addresses []savedAddress             `json:"addresses"`
	APIs      map[string]json.RawMessage `json:"apis"`
}

// savedHost is a Host. Its field names are those version 1 gave a droplet,
// so version 1's droplets read as hosts.
type savedHost struct {
	ID          int        `json:"id"`
	API         string     `json:"api"`
	Name        string     `json:"name"`
	Region      string     `json:"region"`
	Size        string     `json:"size"`
	Image       string     `json:"image"`
	Tags        []string   `json:"tags"`
	UserData    string     `json:"user_data,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	Provisioned bool       `json:"provisioned"`
	Addrs       savedAddrs `json:"addrs"`
	Off         bool       `json:"off,omitempty"`
	Faulted     bool       `json:"faulted,omitempty"`
	Partitioned bool       `json:"partitioned,omitempty"`
	DeletedAt   time.Time  `json:"deleted_at,omitzero"`
}

type savedAddrs struct {
	PublicIPv4    netip.Prefix `json:"public_ipv4,omitzero"`
	PublicGateway netip.Addr   `json:"public_gateway,omitzero"`
	PrivateIPv4   netip.Prefix `json:"private_ipv4,omitzero"`
	PublicIPv6    netip.Prefix `json:"public_ipv6,omitzero"`
	IPv6Gateway   netip.Addr   `json:"ipv6_gateway,omitzero"`
}

type savedAddress struct {
	IP     netip.Addr `json:"ip"`
	API    string     `json:"api"`
	Region string     `json:"region"`
	HostID int        `json:"host_id,omitempty"`
}

// snapshot returns the state in its saved form. Call with s.mu held.
func (s *Server) snapshot() (savedState, error) {
	st := &s.st
	out := savedState{
		Version: stateVersion, NextHost: st.nextHost, Hosts: []savedHost{}, Addresses: []savedAddress{},
		APIs: map[string]json.RawMessage{},
	}
	for _, h := range st.hosts {
		out.Hosts = append(out.Hosts, savedHost{
			ID: h.ID, API: h.API, Name: h.Name, Region: h.Region, Size: h.Size, Image: h.Image,
			Tags: append([]string{}, h.Tags...), UserData: h.UserData, CreatedAt: h.CreatedAt,
			Provisioned: h.Provisioned, Addrs: savedAddrs(h.Addrs), Off: h.Off, DeletedAt: h.DeletedAt,
			Faulted: h.Faulted, Partitioned: h.Partitioned,
		})
	}
	slices.SortFunc(out.Hosts, func(a, b savedHost) int { return a.ID - b.ID })
	for _, a := range st.addrs {
		out.Addresses = append(out.Addresses, savedAddress{a.IP, a.API, a.Region, a.HostID})
	}
	slices.SortFunc(out.Addresses, func(a, b savedAddress) int { return a.IP.Compare(b.IP) })
	for _, a := range s.apis {
		b, err := json.Marshal(a.SaveState())
		if err != nil {
			return out, fmt.Errorf("API %s: %w", a.Name(), err)
		}
		out.APIs[a.Name()] = b
	}
	return out, nil
}

// restore rebuilds the state from its saved form, then every API's
// records. The state must be fresh (init). provisionDone channels are
// closed: nothing is provisioning.
func (s *Server) restore(in savedState) error {
	st := &s.st
	st.nextHost = in.NextHost
	for _, sh := range in.Hosts {
		done := make(chan struct{})
		close(done)
		st.hosts[sh.ID] = &Host{
			ID: sh.ID, API: sh.API, Name: sh.Name, Region: sh.Region, Size: sh.Size, Image: sh.Image,
			Tags: append([]string{}, sh.Tags...), UserData: sh.UserData, CreatedAt: sh.CreatedAt,
			Provisioned: sh.Provisioned, Addrs: HostAddrs(sh.Addrs), Off: sh.Off, DeletedAt: sh.DeletedAt,
			Faulted: sh.Faulted, Partitioned: sh.Partitioned,
			provisionDone: done,
		}
	}
	for _, a := range in.Addresses {
		st.addrs[a.IP] = &Address{IP: a.IP, API: a.API, Region: a.Region, HostID: a.HostID}
	}
	for _, a := range s.apis {
		if err := a.LoadState(in.APIs[a.Name()]); err != nil {
			return fmt.Errorf("API %s: %w", a.Name(), err)
		}
	}
	return nil
}

// settle turns the state as a stopped localcloud left it into one a new
// process can serve: a host still being provisioned when localcloud
// stopped failed (its API hears of it with ErrInterrupted), a deleted host
// is gone, and addresses held by either are unassigned. It returns the
// hosts that failed, by id.
func (s *Server) settle(now time.Time) (failed []int) {
	st := &s.st
	var interrupted []*Host
	for id, h := range st.hosts {
		switch {
		case !h.DeletedAt.IsZero():
		case !h.Provisioned:
			failed = append(failed, id)
			h.Failed = true
			interrupted = append(interrupted, h)
		default:
			continue
		}
		delete(st.hosts, id)
		for _, a := range st.addrs {
			if a.HostID == id {
				a.HostID = 0
			}
		}
	}
	slices.Sort(failed)
	for _, h := range interrupted {
		if a := s.apiNamed(h.API); a != nil {
			a.HostProvisioned(h, ErrInterrupted, now)
		}
	}
	return failed
}

// loadState reads the saved state in dir; ok is false when there is none.
// A version 1 file (written before the vendor APIs had their own folders,
// DigitalOcean's records at the top level) is migrated.
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
	if in.Version == 1 {
		in, err = migrateV1(b)
		if err != nil {
			return in, false, fmt.Errorf("localcloud: reading state %s: %w", path, err)
		}
	}
	if in.Version != stateVersion {
		return in, false, fmt.Errorf("localcloud: state %s has version %d, this build reads %d and 1", path, in.Version, stateVersion)
	}
	return in, true, nil
}

// v1API is the API whose records a version 1 state file holds: there was
// only DigitalOcean's.
const v1API = "digitalocean"

// migrateV1 reads a version 1 state file: its droplets are hosts, its
// reserved IPs addresses, and the whole file is DigitalOcean's records (the
// digitalocean API reads its own fields from it, under the same names).
func migrateV1(b []byte) (savedState, error) {
	var v1 struct {
		SavedAt     time.Time   `json:"saved_at"`
		NextDroplet int         `json:"next_droplet"`
		Droplets    []savedHost `json:"droplets"`
		ReservedIPs []struct {
			IP        netip.Addr `json:"ip"`
			Region    string     `json:"region"`
			DropletID int        `json:"droplet_id"`
		} `json:"reserved_ips"`
	}
	if err := json.Unmarshal(b, &v1); err != nil {
		return savedState{}, err
	}
	out := savedState{
		Version: stateVersion, SavedAt: v1.SavedAt, NextHost: v1.NextDroplet, Hosts: v1.Droplets,
		APIs: map[string]json.RawMessage{v1API: b},
	}
	for i := range out.Hosts {
		out.Hosts[i].API = v1API
	}
	for _, r := range v1.ReservedIPs {
		out.Addresses = append(out.Addresses, savedAddress{IP: r.IP, API: v1API, Region: r.Region, HostID: r.DropletID})
	}
	return out, nil
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
	snap, err := s.snapshot()
	s.mu.Unlock()
	snap.SavedAt = s.now().UTC()
	var b []byte
	if err == nil {
		b, err = json.MarshalIndent(snap, "", "  ")
	}
	if err == nil {
		err = writeFileAtomic(filepath.Join(s.stateDir, StateFile), append(b, '\n'))
	}
	if err != nil {
		s.Logf("localcloud: saving state: %v", err)
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
// locks the directory, loads the state saved there (if any, migrating an
// older file), settles it (hosts that were still being provisioned when
// localcloud stopped failed, deleted ones are gone) and, when the backend
// is a Restorer, has it bring
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
	s.mu.Lock()
	if ok {
		err = s.restore(in)
	}
	if err != nil {
		s.st.init()
		s.mu.Unlock()
		return fail(fmt.Errorf("localcloud: state %s: %w", filepath.Join(dir, StateFile), err))
	}
	for _, id := range s.settle(s.now()) {
		s.Logf("localcloud: host %d was still being provisioned when localcloud stopped: its creation failed", id)
	}
	hosts := map[int]HostAddrs{}
	for id, h := range s.st.hosts {
		hosts[id] = h.Addrs
	}
	reserved := map[netip.Addr]int{}
	for ip, a := range s.st.addrs {
		reserved[ip] = a.HostID
	}
	s.mu.Unlock()
	if r, isRestorer := s.backend.(Restorer); isRestorer {
		if err := r.Restore(ctx, hosts, reserved); err != nil {
			s.Logf("localcloud: restoring hosts: %v", err)
		}
	}
	s.saveMu.Lock()
	s.stateDir, s.lock = dir, lock
	s.saveMu.Unlock()
	s.persist()
	return s, nil
}
