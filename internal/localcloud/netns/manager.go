package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// cleanupTimeout bounds the clean-up after a failed Provision, which runs
// even when the caller's context has ended.
const cleanupTimeout = 2 * time.Minute

// Manager runs real hosts. Its methods are safe for concurrent use.
//
// Locks are taken in this order: a host's lock, netMu, neighMu, mu.
type Manager struct {
	cfg           Config
	tools         tools
	storageDriver string
	dockerdMajor  int
	// neighDir holds the kernel's neighbour table limits (neighSysctlDir;
	// a test points it elsewhere).
	neighDir string

	hostLocksMu sync.Mutex
	hostLocks   map[string]*sync.Mutex

	netMu    sync.Mutex // serializes changes to the machine's network
	netReady bool       // ensureNetwork ran in this process
	// partitionsClear: no partition rule is in FORWARD (known since the
	// last sync in this process).
	partitionsClear bool
	// neighMu serializes changes to the neighbour table's limits, which
	// concurrent Provisions would otherwise each read and raise.
	neighMu sync.Mutex

	mu         sync.Mutex // guards what follows
	st         *state
	daemons    map[string]*daemon
	netnsNoted bool
	// earlyFirewalls are rules set for IDs no host had yet (SetFirewall).
	earlyFirewalls map[string][]FirewallRule
}

// Host is a provisioned host.
type Host struct {
	ID       string
	Hostname string
	// IPv4 is the host's address on the bridge; Gateway is the bridge's.
	IPv4    netip.Addr
	Gateway netip.Addr
	// PrivateIPv4 is the host's private (VPC) address, with the VPC's
	// prefix length; invalid when the host has none (HostSpec.VPC).
	PrivateIPv4 netip.Prefix
	// ReservedIPs are the reserved IPs assigned to the host, sorted.
	ReservedIPs []netip.Addr
	// Netns names the host's network namespace; NetnsPath is its file.
	Netns     string
	NetnsPath string
	// DockerSocket is the unix socket of the host's dockerd.
	DockerSocket string
	// Dir is the host's directory under StateDir.
	Dir string
	// PID is the dockerd's process ID, 0 when it does not run.
	PID     int
	Created time.Time
	// Off: powered off (PowerOff) and not powered on since.
	Off bool
	// Partitioned: cut off from the other hosts (Partition) and not healed
	// since.
	Partitioned bool
	// Appliance: a machine without dockerd (HostSpec.Appliance).
	Appliance bool
}

// New returns a manager for cfg, with the hosts of the state found in
// StateDir (not running until Restore). It fails with one line saying what
// is missing when the machine cannot run real hosts (see Check). It changes
// nothing on the machine but StateDir.
func New(cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t, err := checkTools(cfg)
	if err != nil {
		return nil, err
	}
	st, err := loadState(cfg)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:       cfg,
		tools:     t,
		hostLocks: map[string]*sync.Mutex{},
		st:        st,
		daemons:   map[string]*daemon{},
		neighDir:  neighSysctlDir,
	}
	m.storageDriver = cfg.StorageDriver
	if m.storageDriver == "" {
		if m.storageDriver, err = chooseStorageDriver(cfg.StateDir); err != nil {
			return nil, err
		}
	}
	m.dockerdMajor = dockerdMajor(context.Background(), t.dockerd)
	return m, nil
}

// StorageDriver is the storage driver hosts get when their daemon.json sets
// none.
func (m *Manager) StorageDriver() string { return m.storageDriver }

func (m *Manager) hostLock(id string) *sync.Mutex {
	m.hostLocksMu.Lock()
	defer m.hostLocksMu.Unlock()
	l := m.hostLocks[id]
	if l == nil {
		l = new(sync.Mutex)
		m.hostLocks[id] = l
	}
	return l
}

// updateState changes the state and saves it. The caller must not hold m.mu.
func (m *Manager) updateState(f func(*state)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.st)
	return m.st.save(m.cfg.StateDir)
}

func (m *Manager) lookup(id string) (*hostState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hs := m.st.Hosts[id]
	if hs == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return hs, nil
}

// Provision creates a host and returns once its dockerd answers.
func (m *Manager) Provision(ctx context.Context, spec HostSpec) (Host, error) {
	if err := spec.normalize(); err != nil {
		return Host{}, fmt.Errorf("provisioning host: %w", err)
	}
	if err := m.checkSocketPaths(spec.ID); err != nil && !spec.Appliance { // an appliance runs no dockerd
		return Host{}, fmt.Errorf("provisioning host %s: %w", spec.ID, err)
	}
	hl := m.hostLock(spec.ID)
	hl.Lock()
	defer hl.Unlock()

	m.mu.Lock()
	if _, ok := m.st.Hosts[spec.ID]; ok {
		m.mu.Unlock()
		return Host{}, fmt.Errorf("provisioning host %s: %w", spec.ID, ErrExists)
	}
	ip, err := m.allocIP()
	if err != nil {
		m.mu.Unlock()
		return Host{}, fmt.Errorf("provisioning host %s: %w", spec.ID, err)
	}
	hs := &hostState{
		ID:        spec.ID,
		Hostname:  spec.Hostname,
		IPv4:      ip,
		Veth:      m.vethName(ip),
		Created:   time.Now().UTC(),
		Appliance: spec.Appliance,
	}
	if spec.VPC != "" {
		priv, err := m.privateAddr(spec.VPC, ip)
		if err != nil {
			m.mu.Unlock()
			return Host{}, fmt.Errorf("provisioning host %s: %w", spec.ID, err)
		}
		hs.VPC, hs.PrivateIPv4 = spec.VPC, priv
	}
	m.takeEarlyFirewall(hs)
	m.st.Hosts[spec.ID] = hs
	err = m.st.save(m.cfg.StateDir)
	m.mu.Unlock()

	if err == nil {
		err = m.provision(ctx, hs, spec)
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := m.teardownHost(cctx, hs); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", cerr))
		}
		return Host{}, fmt.Errorf("provisioning host %s: %w", spec.ID, err)
	}
	m.cfg.Logger.Info("host provisioned", "host", hs.ID, "ipv4", hs.IPv4)
	return m.host(hs), nil
}

func (m *Manager) provision(ctx context.Context, hs *hostState, spec HostSpec) error {
	cgroupParent, err := m.writeHostFiles(hs, spec)
	if err != nil {
		return err
	}
	if err := m.updateState(func(*state) { hs.CgroupParent = cgroupParent }); err != nil {
		return err
	}
	// Before the host joins the others' gossip: one more host may take
	// the machine's neighbour table past its limit.
	if err := m.raiseNeighbourLimits(); err != nil {
		return err
	}
	m.netMu.Lock()
	err = m.ensureNetworkLocked(ctx)
	if err == nil {
		err = m.setupHostNetLocked(ctx, hs)
	}
	m.netMu.Unlock()
	if err == nil {
		// Before anything listens in the host.
		err = m.applyFirewall(ctx, hs)
	}
	if err != nil || hs.Appliance {
		return err
	}
	return m.startDaemon(ctx, hs)
}

// host returns the public view of a host.
func (m *Manager) host(hs *hostState) Host {
	h := Host{
		ID:           hs.ID,
		Hostname:     hs.Hostname,
		IPv4:         hs.IPv4,
		Gateway:      m.gateway(),
		Netns:        m.netnsName(hs.ID),
		NetnsPath:    m.netnsPath(hs.ID),
		DockerSocket: filepath.Join(m.hostDir(hs.ID), dockerSock),
		Dir:          m.hostDir(hs.ID),
		Created:      hs.Created,
	}
	if hs.PrivateIPv4.IsValid() {
		h.PrivateIPv4 = netip.PrefixFrom(hs.PrivateIPv4, m.vpcBits())
	}
	m.mu.Lock()
	h.Off, h.Partitioned, h.Appliance = hs.Off, hs.Partitioned, hs.Appliance
	for ip, id := range m.st.Reserved {
		if id == hs.ID {
			h.ReservedIPs = append(h.ReservedIPs, ip)
		}
	}
	m.mu.Unlock()
	sort.Slice(h.ReservedIPs, func(i, j int) bool { return h.ReservedIPs[i].Less(h.ReservedIPs[j]) })
	if d := m.findDaemon(hs); d != nil {
		h.PID = d.pid
	}
	return h
}

// Get returns a host.
func (m *Manager) Get(id string) (Host, error) {
	hs, err := m.lookup(id)
	if err != nil {
		return Host{}, err
	}
	return m.host(hs), nil
}

// List returns the hosts, sorted by ID.
func (m *Manager) List() []Host {
	m.mu.Lock()
	hss := make([]*hostState, 0, len(m.st.Hosts))
	for _, hs := range m.st.Hosts {
		hss = append(hss, hs)
	}
	m.mu.Unlock()
	sort.Slice(hss, func(i, j int) bool { return hss[i].ID < hss[j].ID })
	hosts := make([]Host, len(hss))
	for i, hs := range hss {
		hosts[i] = m.host(hs)
	}
	return hosts
}

// Destroy removes a host: its dockerd and everything it started, mounts
// under its directory, its namespace, veth, reserved IP routes, cgroups and
// directory. Its reserved IPs become unassigned. An unknown ID gives
// ErrNotFound.
func (m *Manager) Destroy(ctx context.Context, id string) error {
	return m.withHost(id, func(hs *hostState) error {
		if err := m.teardownHost(ctx, hs); err != nil {
			return fmt.Errorf("destroying host %s: %w", id, err)
		}
		m.cfg.Logger.Info("host destroyed", "host", id)
		return nil
	})
}

// withHost runs f on host id holding the host's lock; an unknown ID gives
// ErrNotFound.
func (m *Manager) withHost(id string, f func(*hostState) error) error {
	hl := m.hostLock(id)
	hl.Lock()
	defer hl.Unlock()
	hs, err := m.lookup(id)
	if err != nil {
		return err
	}
	return f(hs)
}

// teardownHost removes everything of a host and drops it from the state.
// The caller holds the host's lock. On error the host stays in the state,
// so that Destroy or Down can try again.
func (m *Manager) teardownHost(ctx context.Context, hs *hostState) error {
	var errs []error
	if err := m.stopHost(ctx, hs); err != nil {
		errs = append(errs, err)
	}
	dir := m.hostDir(hs.ID)
	if err := m.unmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	m.netMu.Lock()
	m.mu.Lock()
	var reserved []netip.Addr
	for ip, id := range m.st.Reserved {
		if id == hs.ID {
			reserved = append(reserved, ip)
		}
	}
	m.mu.Unlock()
	if err := m.teardownHostNetLocked(ctx, hs, reserved); err != nil {
		errs = append(errs, err)
	}
	if err := m.setPartitionLocked(ctx, hs, false); err != nil {
		errs = append(errs, err)
	}
	m.netMu.Unlock()
	if err := m.removeCgroups(hs); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing host directory: %w", err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return m.updateState(func(st *state) {
		delete(st.Hosts, hs.ID)
		delete(m.earlyFirewalls, hs.ID)
		for _, ip := range reserved {
			delete(st.Reserved, ip)
		}
	})
}

// AssignIP assigns a reserved IP from Config.ReservedPrefix to a host,
// moving it from the host that had it: the new host gets the address first,
// then the machine's route switches to it, then the former host loses it.
func (m *Manager) AssignIP(ctx context.Context, ip netip.Addr, id string) error {
	if !m.cfg.ReservedPrefix.Contains(ip) {
		return fmt.Errorf("assigning %s: not in the reserved IP range %s", ip, m.cfg.ReservedPrefix)
	}
	hl := m.hostLock(id)
	hl.Lock()
	defer hl.Unlock()
	hs, err := m.lookup(id)
	if err != nil {
		return fmt.Errorf("assigning %s: %w", ip, err)
	}
	m.netMu.Lock()
	defer m.netMu.Unlock()
	m.mu.Lock()
	prev := m.st.Reserved[ip]
	m.mu.Unlock()
	if err := m.reservedAddrLocked(ctx, ip, hs); err != nil {
		return err
	}
	if err := m.updateState(func(st *state) { st.Reserved[ip] = id }); err != nil {
		return err
	}
	if prev != "" && prev != id {
		if err := m.dropReservedAddr(ctx, ip, prev); err != nil {
			return err
		}
	}
	if err := m.syncPartitionRulesLocked(ctx); err != nil {
		return err
	}
	m.cfg.Logger.Info("reserved IP assigned", "ip", ip, "host", id, "from", prev)
	return nil
}

// UnassignIP takes a reserved IP off its host. An IP assigned to no host is
// not an error.
func (m *Manager) UnassignIP(ctx context.Context, ip netip.Addr) error {
	m.netMu.Lock()
	defer m.netMu.Unlock()
	m.mu.Lock()
	id := m.st.Reserved[ip]
	m.mu.Unlock()
	if id == "" {
		return nil
	}
	if err := m.delRoute(ctx, ip); err != nil {
		return err
	}
	if err := m.dropReservedAddr(ctx, ip, id); err != nil {
		return err
	}
	if err := m.updateState(func(st *state) { delete(st.Reserved, ip) }); err != nil {
		return err
	}
	return m.syncPartitionRulesLocked(ctx)
}

// Restore brings back every host of the state, after localcloud stopped or
// crashed: it re-creates the bridge, namespaces, veths, addresses, routes
// and rules that are missing, adopts each dockerd that still runs and
// answers, and restarts the others. Hosts are restored concurrently.
func (m *Manager) Restore(ctx context.Context) error {
	m.mu.Lock()
	hss := make([]*hostState, 0, len(m.st.Hosts))
	for _, hs := range m.st.Hosts {
		hss = append(hss, hs)
	}
	m.mu.Unlock()
	if len(hss) == 0 {
		return nil
	}
	m.netMu.Lock()
	err := m.ensureNetworkLocked(ctx)
	m.netMu.Unlock()
	if err == nil {
		// After a reboot the kernel is back at its defaults.
		err = m.raiseNeighbourLimits()
	}
	if err != nil {
		return fmt.Errorf("restoring localcloud network: %w", err)
	}
	errs := make([]error, len(hss))
	var wg sync.WaitGroup
	for i, hs := range hss {
		wg.Go(func() {
			if err := m.restoreHost(ctx, hs); err != nil {
				errs[i] = fmt.Errorf("restoring host %s: %w", hs.ID, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (m *Manager) restoreHost(ctx context.Context, hs *hostState) error {
	hl := m.hostLock(hs.ID)
	hl.Lock()
	defer hl.Unlock()
	m.netMu.Lock()
	err := m.setupHostNetLocked(ctx, hs)
	if err == nil {
		m.mu.Lock()
		var reserved []netip.Addr
		for ip, id := range m.st.Reserved {
			if id == hs.ID {
				reserved = append(reserved, ip)
			}
		}
		m.mu.Unlock()
		for _, ip := range reserved {
			if err = m.reservedAddrLocked(ctx, ip, hs); err != nil {
				break
			}
		}
	}
	m.netMu.Unlock()
	if err == nil {
		// A namespace that survived still has it; a new one gets it
		// before the host's dockerd starts.
		err = m.applyFirewall(ctx, hs)
	}
	if err != nil {
		return err
	}
	if hs.Off {
		// Powered off: whatever is left of it goes, nothing starts.
		return m.stopHost(ctx, hs)
	}
	if hs.Appliance {
		return nil // its owner restarts what runs in it
	}
	if d := m.findDaemon(hs); d != nil {
		if pingDocker(ctx, filepath.Join(m.hostDir(hs.ID), dockerSock)) == nil {
			m.mu.Lock()
			if m.daemons[hs.ID] == nil {
				m.daemons[hs.ID] = d
			}
			m.mu.Unlock()
			m.cfg.Logger.Info("host adopted", "host", hs.ID, "pid", d.pid)
			return nil
		}
	}
	// Whatever is left of the former daemon goes before a new one starts.
	if err := m.stopHost(ctx, hs); err != nil {
		return err
	}
	if err := m.startDaemon(ctx, hs); err != nil {
		return err
	}
	m.cfg.Logger.Info("host restored", "host", hs.ID)
	return nil
}

// Stop stops every host's dockerd and leaves the rest (namespaces, bridge,
// state) for Restore.
func (m *Manager) Stop(ctx context.Context) error {
	return m.eachHost(func(hs *hostState) error {
		hl := m.hostLock(hs.ID)
		hl.Lock()
		defer hl.Unlock()
		if err := m.stopHost(ctx, hs); err != nil {
			return fmt.Errorf("stopping host %s: %w", hs.ID, err)
		}
		return nil
	})
}

// Down removes everything: every host, the bridge, the FORWARD rules, the
// reserved prefix's route and the state, and puts back the neighbour table
// limits the manager raised. It works from the state file and the
// configuration, so it also cleans up after a crash.
func (m *Manager) Down(ctx context.Context) error {
	err := m.eachHost(func(hs *hostState) error {
		hl := m.hostLock(hs.ID)
		hl.Lock()
		defer hl.Unlock()
		if err := m.teardownHost(ctx, hs); err != nil {
			return fmt.Errorf("destroying host %s: %w", hs.ID, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("localcloud down: %w", err)
	}
	m.netMu.Lock()
	err = m.teardownNetworkLocked(ctx)
	m.netMu.Unlock()
	// The hosts are gone, so the limits go back even when the network's
	// teardown failed; before the state goes, which records them.
	err = errors.Join(err, m.putBackNeighbourLimits())
	if err != nil {
		return fmt.Errorf("localcloud down: %w", err)
	}
	m.mu.Lock()
	m.st = newState(m.cfg)
	m.netnsNoted = false
	m.earlyFirewalls = nil
	m.mu.Unlock()
	var errs []error
	for _, p := range []string{filepath.Join(m.cfg.StateDir, stateFile), filepath.Join(m.cfg.StateDir, hostsDir)} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(m.cfg.StateDir) // only when empty: it may hold others' files
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("localcloud down: removing state: %w", err)
	}
	m.cfg.Logger.Info("localcloud down")
	return nil
}

// eachHost runs f for every host concurrently and joins the errors.
func (m *Manager) eachHost(f func(*hostState) error) error {
	m.mu.Lock()
	hss := make([]*hostState, 0, len(m.st.Hosts))
	for _, hs := range m.st.Hosts {
		hss = append(hss, hs)
	}
	m.mu.Unlock()
	errs := make([]error, len(hss))
	var wg sync.WaitGroup
	for i, hs := range hss {
		wg.Go(func() { errs[i] = f(hs) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// InHost runs fn on an OS thread inside the host's network namespace:
// sockets fn opens (net.Listen, net.Dial) belong to the host and keep
// working from any goroutine afterwards. Goroutines fn starts do not run in
// the namespace.
func (m *Manager) InHost(id string, fn func() error) error {
	if _, err := m.lookup(id); err != nil {
		return err
	}
	return inNetns(m.netnsPath(id), fn)
}
