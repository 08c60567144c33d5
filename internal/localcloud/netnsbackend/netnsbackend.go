// Package netnsbackend puts localcloud's droplets on real hosts: it is a
// localcloud.HostBackend (and Restorer) backed by a netns.Manager, so every
// droplet is a network namespace with its own dockerd, started the way
// cloud-init would start it on a real droplet from the droplet's user data.
//
// What each seam call does:
//
//   - Provision parses the user data with cloudinit.Parse (plain
//     #cloud-config or MIME multipart), writes its write_files into the
//     host's root, takes the host's /etc/docker/daemon.json from them, sets
//     the cloud-config hostname (default: the droplet's name) and starts
//     dockerd; it returns once dockerd answers on its unix socket. runcmd,
//     bootcmd, packages, users and every other key are not executed. User
//     data without a daemon.json gives a plain dockerd listening on its
//     unix socket only, no TCP. User data cloud-init could not parse fails
//     the droplet (its create action errors) rather than booting a host
//     nothing can reach.
//
//   - Every host's dockerd also trusts localcloud's registry (RegistryAddr,
//     the bridge's gateway port 5000, plain HTTP; see package registry):
//     the daemon.json it runs with gets "insecure-registries" and
//     "registry-mirrors" entries for it, added to those the user data's
//     daemon.json lists. A droplet without a daemon.json gets a daemon.json
//     holding only those.
//
//   - The droplet's public IPv4 is the host's address on the bridge
//     (netns.Config.Subnet), its gateway the bridge's. Its private IPv4 is
//     a second address on eth0 in the VPC of its API and region
//     (netns.HostSpec.VPC): only hosts of the same API and region reach
//     it. Load balancers and databases, appliances in no VPC, are handed
//     the targets' and clients' public addresses instead. There is no
//     IPv6: a droplet created with ipv6 lists no v6 network.
//
//   - Reserved IPs are allocated from netns.Config.ReservedPrefix (its
//     network and broadcast addresses excepted) and routed by the Manager:
//     assigned, the address is on the host's eth0 and the machine routes it
//     there, so a connection from the machine to the reserved IP reaches
//     the host that holds it now.
//
//   - Destroy removes the host and everything it started.
//
//   - Restore (after localcloud restarted on the same state directory)
//     removes the hosts of droplets that no longer exist, restarts the
//     dockerds of the others (netns.Manager.Restore) and puts the reserved
//     IPs back where the API state says.
//
//   - Power (localcloud.PowerController) acts on the host: power_off
//     kills its processes at once, shutdown stops dockerd cleanly, and
//     either takes its address down (namespace, data-root and files stay);
//     power_on starts dockerd again on the same data-root, so containers
//     come back as their restart policies say; reboot and power_cycle are
//     both in turn. A host that is off stays off across a restart.
//
//   - Fail, Partition and Heal (localcloud.FaultInjector) serve the
//     /_localcloud/hosts controls: Fail is a power_off the API does not
//     see, Partition drops what the bridge forwards between the host and
//     the other hosts (netns.Manager.Partition).
//
//   - SetHostFirewall (localcloud.FirewallBackend) puts a packet filter
//     on the host's link (netns.Manager.SetFirewall): what arrives from
//     the network is dropped unless a rule admits it or it answers the
//     host's own connections, published ports and reserved IPs included;
//     it survives power cycles and restarts.
//
// SSH keys are not installed: hosts run dockerd only, no sshd.
package netnsbackend

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloudinit"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/localcloud/netns"
)

var (
	_ localcloud.HostBackend     = (*Backend)(nil)
	_ localcloud.Restorer        = (*Backend)(nil)
	_ localcloud.PowerController = (*Backend)(nil)
	_ localcloud.FaultInjector   = (*Backend)(nil)
)

// cleanupTimeout bounds the clean-up of a host whose Provision failed.
const cleanupTimeout = 2 * time.Minute

// Backend is the real-host HostBackend. Its methods are safe for concurrent
// use.
type Backend struct {
	m        *netns.Manager
	stateDir string
	subnet   netip.Prefix
	reserved netip.Prefix
	logf     func(format string, args ...any)

	mu        sync.Mutex
	allocated map[netip.Addr]bool // reserved IPs handed out
}

// New returns a Backend running hosts with cfg (see netns.Config; StateDir
// is required, and is usually localcloud's own Config.StateDir). It fails
// with netns.Check's one-line message when the machine cannot run real
// hosts. logf, when not nil, gets one line per host provisioned.
func New(cfg netns.Config, logf func(format string, args ...any)) (*Backend, error) {
	m, err := netns.New(cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = netns.DefaultSubnet
	}
	if !cfg.ReservedPrefix.IsValid() {
		cfg.ReservedPrefix = netns.DefaultReservedPrefix
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Backend{
		m:         m,
		stateDir:  cfg.StateDir,
		subnet:    cfg.Subnet.Masked(),
		reserved:  cfg.ReservedPrefix.Masked(),
		logf:      logf,
		allocated: map[netip.Addr]bool{},
	}, nil
}

// Manager returns the netns.Manager behind the backend.
func (b *Backend) Manager() *netns.Manager { return b.m }

// Stop stops every host's dockerd and keeps the rest (namespaces, bridge,
// state) for the next localcloud on the same state directory to restore.
// Call it after the localcloud Server has closed.
func (b *Backend) Stop(ctx context.Context) error { return b.m.Stop(ctx) }

// Down removes every host (load balancers and databases too), the
// bridge, the rules and the Manager's state, and the databases' data.
func (b *Backend) Down(ctx context.Context) error {
	if err := b.m.Down(ctx); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(b.stateDir, pgDirName)); err != nil {
		return fmt.Errorf("localcloud down: removing the databases' data: %w", err)
	}
	_ = os.Remove(b.stateDir) // only when empty
	return nil
}

// HostID is the netns host ID of a droplet: its id in decimal.
func HostID(dropletID int) string { return strconv.Itoa(dropletID) }

// Spec turns a droplet's request into the host cloud-init would make of it:
// hostname and write_files from the user data (see the package
// documentation), daemon.json from write_files.
func Spec(req localcloud.HostRequest) (netns.HostSpec, error) {
	doc, err := cloudinit.Parse(req.UserData)
	if err != nil {
		return netns.HostSpec{}, err
	}
	spec := netns.HostSpec{ID: HostID(req.ID), Hostname: hostname(doc.Hostname, req.Name)}
	if req.Region != "" {
		spec.VPC = netns.VPCName(req.API, req.Region)
	}
	// The entries apply in order: a later one for the same path replaces
	// the file, or adds to it with append; the mode is the last entry's.
	byPath := map[string]int{}
	for _, e := range doc.Files {
		p := filePath(e.Path)
		i, ok := byPath[p]
		if !ok {
			i = len(spec.Files)
			byPath[p] = i
			spec.Files = append(spec.Files, netns.File{Path: p})
		}
		f := &spec.Files[i]
		if !e.Append {
			f.Content = nil
		}
		f.Content = append(f.Content, e.Content...)
		f.Mode = e.Permissions.Perm()
	}
	if i, ok := byPath[cloudinit.DaemonConfigPath]; ok {
		spec.DaemonJSON = spec.Files[i].Content
	}
	return spec, nil
}

// CheckHostRequest refuses user data that does not parse or whose
// daemon.json a host may not run (netns.CheckDaemonJSON): the API fails the
// create with it.
func (b *Backend) CheckHostRequest(req localcloud.HostRequest) error {
	spec, err := Spec(req)
	if err != nil {
		return err
	}
	return netns.CheckDaemonJSON(spec.DaemonJSON)
}

// filePath is where cloud-init writes a write_files path: relative paths
// are relative to /.
func filePath(p string) string {
	return filepath.Clean("/" + p)
}

// hostname is the host's hostname: the cloud-config's, else the droplet's
// name, as cloud-init sets it on DigitalOcean. A name longer than a Linux
// hostname may be (64) is cut to its first label.
func hostname(fromUserData, dropletName string) string {
	h := fromUserData
	if h == "" {
		h = dropletName
	}
	if len(h) > 64 {
		h, _, _ = strings.Cut(h, ".")
		if len(h) > 63 {
			h = h[:63]
		}
	}
	return h
}

// Provision implements localcloud.HostBackend.
func (b *Backend) Provision(ctx context.Context, req localcloud.HostRequest) (localcloud.HostAddrs, error) {
	start := time.Now()
	spec, err := Spec(req)
	if err != nil {
		return localcloud.HostAddrs{}, err
	}
	if err := netns.CheckDaemonJSON(spec.DaemonJSON); err != nil {
		return localcloud.HostAddrs{}, err
	}
	if spec.DaemonJSON, err = withRegistry(spec.DaemonJSON, b.RegistryAddr()); err != nil {
		return localcloud.HostAddrs{}, err
	}
	h, err := b.m.Provision(ctx, spec)
	if err != nil {
		// The Manager cleans up after a failed Provision; should its
		// clean-up have failed, the host is still known: try again.
		if !errors.Is(err, netns.ErrExists) {
			if _, gerr := b.m.Get(spec.ID); gerr == nil {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
				defer cancel()
				if derr := b.m.Destroy(cctx, spec.ID); derr != nil && !errors.Is(derr, netns.ErrNotFound) {
					err = errors.Join(err, fmt.Errorf("cleaning up: %w", derr))
				}
			}
		}
		return localcloud.HostAddrs{}, err
	}
	b.logf("localcloud: droplet %d provisioned: hostname %s, address %s, ready in %s",
		req.ID, h.Hostname, h.IPv4, time.Since(start).Round(time.Millisecond))
	return b.addrs(h), nil
}

func (b *Backend) addrs(h netns.Host) localcloud.HostAddrs {
	p := netip.PrefixFrom(h.IPv4, b.subnet.Bits())
	priv := h.PrivateIPv4
	if !priv.IsValid() {
		priv = p // a host made before private networks existed
	}
	return localcloud.HostAddrs{PublicIPv4: p, PublicGateway: h.Gateway, PrivateIPv4: priv}
}

// publicOf maps the hosts' private addresses to their public ones. Load
// balancers and databases are appliances on the bridge, in no VPC: they
// reach hosts, and see them, at their public addresses.
func (b *Backend) publicOf() map[netip.Addr]netip.Addr {
	out := map[netip.Addr]netip.Addr{}
	for _, h := range b.m.List() {
		if h.PrivateIPv4.IsValid() {
			out[h.PrivateIPv4.Addr()] = h.IPv4
		}
	}
	return out
}

// Destroy implements localcloud.HostBackend.
func (b *Backend) Destroy(ctx context.Context, hostID int) error {
	err := b.m.Destroy(ctx, HostID(hostID))
	if errors.Is(err, netns.ErrNotFound) {
		return nil
	}
	return err
}

// Power implements localcloud.PowerController on the host itself
// (netns.Manager.PowerOff and PowerOn): power_off kills every process of
// the host at once, shutdown stops dockerd cleanly (its containers first),
// and either takes the host's address off the network; power_on starts
// dockerd again on the same data-root. reboot is a shutdown then a
// power_on, power_cycle a power_off then a power_on. It returns once the
// host is off, or its dockerd answers.
func (b *Backend) Power(ctx context.Context, hostID int, action string) error {
	id := HostID(hostID)
	switch action {
	case localcloud.PowerOff, localcloud.PowerCycle:
		if err := b.m.PowerOff(ctx, id, false); err != nil {
			return err
		}
	case localcloud.Shutdown, localcloud.Reboot:
		if err := b.m.PowerOff(ctx, id, true); err != nil {
			return err
		}
	case localcloud.PowerOn:
	default:
		return fmt.Errorf("unknown power action %q", action)
	}
	if off, _ := localcloud.PowerLeavesOff(action); off {
		return nil
	}
	return b.m.PowerOn(ctx, id)
}

// Fail implements localcloud.FaultInjector: the host loses power as in
// power_off (netns.Manager.PowerOff, not clean).
func (b *Backend) Fail(ctx context.Context, hostID int) error {
	return b.m.PowerOff(ctx, HostID(hostID), false)
}

// Partition implements localcloud.FaultInjector (netns.Manager.Partition).
func (b *Backend) Partition(ctx context.Context, hostID int) error {
	return b.m.Partition(ctx, HostID(hostID))
}

// Heal implements localcloud.FaultInjector (netns.Manager.Heal).
func (b *Backend) Heal(ctx context.Context, hostID int) error {
	return b.m.Heal(ctx, HostID(hostID))
}

// AllocateIP implements localcloud.HostBackend: the lowest free address of
// the reserved prefix. Region does not matter: hosts share one network.
func (b *Backend) AllocateIP(_ context.Context, _ string) (netip.Addr, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first, last := b.reserved.Addr(), lastAddr(b.reserved)
	if b.reserved.Bits() < 31 {
		first, last = first.Next(), last.Prev()
	}
	for a := first; a.IsValid() && b.reserved.Contains(a); a = a.Next() {
		if !b.allocated[a] {
			b.allocated[a] = true
			return a, nil
		}
		if a == last {
			break
		}
	}
	return netip.Addr{}, fmt.Errorf("no reserved IP left in %s", b.reserved)
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= uint32(1)<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ReleaseIP implements localcloud.HostBackend.
func (b *Backend) ReleaseIP(ctx context.Context, ip netip.Addr) error {
	if err := b.m.UnassignIP(ctx, ip); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.allocated, ip)
	b.mu.Unlock()
	return nil
}

// AssignIP implements localcloud.HostBackend: the Manager puts ip on the
// host and routes it there, then takes it off the host that had it.
func (b *Backend) AssignIP(ctx context.Context, ip netip.Addr, hostID int) error {
	return b.m.AssignIP(ctx, ip, HostID(hostID))
}

// UnassignIP implements localcloud.HostBackend.
func (b *Backend) UnassignIP(ctx context.Context, ip netip.Addr) error {
	return b.m.UnassignIP(ctx, ip)
}

// Restore implements localcloud.Restorer.
func (b *Backend) Restore(ctx context.Context, hosts map[int]localcloud.HostAddrs, reserved map[netip.Addr]int) error {
	b.mu.Lock()
	for ip := range reserved {
		b.allocated[ip] = true
	}
	b.mu.Unlock()

	want := map[string]bool{}
	for id := range hosts {
		want[HostID(id)] = true
	}
	var errs []error
	for _, h := range b.m.List() {
		if want[h.ID] || h.Appliance {
			continue // load balancers are their APIs' to keep or delete
		}
		if err := b.m.Destroy(ctx, h.ID); err != nil {
			errs = append(errs, fmt.Errorf("removing host %s of no droplet: %w", h.ID, err))
		} else {
			b.logf("localcloud: removed host %s: its droplet is gone", h.ID)
		}
	}
	if err := b.m.Restore(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := b.restoreLoadBalancers(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := b.restoreDatabases(ctx); err != nil {
		errs = append(errs, err)
	}

	have := map[string]netns.Host{}
	for _, h := range b.m.List() {
		if h.Appliance {
			continue
		}
		have[h.ID] = h
	}
	for id, a := range hosts {
		h, ok := have[HostID(id)]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("droplet %d has no host any more (delete it)", id))
		case a.PublicIPv4.Addr() != h.IPv4:
			errs = append(errs, fmt.Errorf("droplet %d: its host has address %s, the droplet says %s", id, h.IPv4, a.PublicIPv4.Addr()))
		}
	}
	// Reserved IPs go where the API state says.
	for _, h := range have {
		for _, ip := range h.ReservedIPs {
			if HostID(reserved[ip]) != h.ID || reserved[ip] == 0 {
				if err := b.m.UnassignIP(ctx, ip); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for ip, id := range reserved {
		if id == 0 {
			continue
		}
		h, ok := have[HostID(id)]
		if !ok || containsAddr(h.ReservedIPs, ip) {
			continue
		}
		if err := b.m.AssignIP(ctx, ip, h.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}
