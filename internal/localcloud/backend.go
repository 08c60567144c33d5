package localcloud

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// HostBackend is what stands behind hosts and pool addresses: the core and
// the vendor APIs keep all bookkeeping (ids, statuses, actions, tags,
// pagination) and ask the backend only for the machine-level effects. The
// in-memory backend (NewMemoryBackend, the default) does nothing but hand out
// addresses; a network-namespace backend can create real hosts.
//
// The server calls Provision and Destroy from their own goroutines, never
// while holding its lock, and never concurrently for the same host: Destroy
// waits for Provision to return. AssignIP, UnassignIP, AllocateIP and
// ReleaseIP are called from the request handler and should be quick.
type HostBackend interface {
	// Provision creates a host and returns its addresses. The host is
	// pending until Provision returns (and the configured boot delay has
	// passed), running after. An error removes the host (its API fails the
	// create, as a failed create does on a vendor).
	Provision(ctx context.Context, req HostRequest) (HostAddrs, error)
	// Destroy removes a host Provision created. Reserved IPs assigned to it
	// have been unassigned before the call.
	Destroy(ctx context.Context, hostID int) error
	// AllocateIP reserves a public address in region for the address pool
	// (a reserved IP, an Elastic IP).
	AllocateIP(ctx context.Context, region string) (netip.Addr, error)
	// ReleaseIP gives back an address AllocateIP returned; it is unassigned.
	ReleaseIP(ctx context.Context, ip netip.Addr) error
	// AssignIP routes ip to host hostID. The ip may currently be assigned to
	// another host: the backend moves it (UnassignIP is not called first).
	AssignIP(ctx context.Context, ip netip.Addr, hostID int) error
	// UnassignIP detaches ip from whatever host holds it.
	UnassignIP(ctx context.Context, ip netip.Addr) error
}

// PowerController is optionally implemented by a HostBackend whose hosts can
// be powered off and on. Server.PowerHost calls it, in the background, with
// one of the power actions; it returns once the host is really off or on.
// An error leaves the host as it was (the API marks its action errored).
type PowerController interface {
	Power(ctx context.Context, hostID int, action string) error
}

// Power actions (PowerController, Server.PowerHost).
const (
	// PowerOff cuts the power: every process of the host dies at once.
	PowerOff = "power_off"
	// Shutdown stops the host cleanly: its services get to stop first.
	Shutdown = "shutdown"
	// PowerOn boots a host that is off (or failed) with the same disk.
	PowerOn = "power_on"
	// Reboot is a Shutdown, then a PowerOn.
	Reboot = "reboot"
	// PowerCycle is a PowerOff, then a PowerOn.
	PowerCycle = "power_cycle"
)

// PowerLeavesOff reports whether power action leaves a host off; ok is
// false when action is not a power action.
func PowerLeavesOff(action string) (off, ok bool) {
	switch action {
	case PowerOff, Shutdown:
		return true, true
	case PowerOn, Reboot, PowerCycle:
		return false, true
	}
	return false, false
}

// FaultInjector is optionally implemented by a HostBackend whose hosts can
// fail; the /_localcloud/hosts controls (Server.FailHost, PartitionHost,
// HealHost) need it.
type FaultInjector interface {
	// Fail breaks the host as a hardware fault would: its processes are
	// killed at once, nothing shuts down cleanly, and its addresses stop
	// answering. A power action that turns it on (PowerOn, Reboot,
	// PowerCycle) brings it back with its disk.
	Fail(ctx context.Context, hostID int) error
	// Partition cuts the host off from the other hosts (not from the
	// machine localcloud runs on); Heal undoes it.
	Partition(ctx context.Context, hostID int) error
	Heal(ctx context.Context, hostID int) error
}

// HostRequestChecker is implemented by backends that refuse some host
// requests before anything is created (real hosts refuse user data that
// would give a host's root the machine's): the API answers the create with
// a client error naming what is wrong.
type HostRequestChecker interface {
	CheckHostRequest(req HostRequest) error
}

// HostRequest is one host to provision. Region, Size and Image are as the
// host's API spells them, already validated against its catalog.
type HostRequest struct {
	ID int
	// API is the name of the API creating the host (Host.API): with
	// Region, the host's private network (a backend gives hosts of the
	// same API and region private addresses that reach each other).
	API      string
	Name     string
	Region   string
	Size     string
	Image    string
	VCPUs    int
	MemoryMB int
	DiskGB   int
	IPv6     bool
	SSHKeys  []string // public keys, resolved from ids/fingerprints
	Tags     []string
	UserData string
}

// HostAddrs are a provisioned host's addresses. PublicIPv4 and PrivateIPv4
// carry the prefix length the host reports as its netmask. PublicIPv6 is
// only set when the request asked for IPv6.
type HostAddrs struct {
	PublicIPv4    netip.Prefix
	PublicGateway netip.Addr
	PrivateIPv4   netip.Prefix
	PublicIPv6    netip.Prefix
	IPv6Gateway   netip.Addr
}

// MemoryBackend is the default HostBackend: no hosts, only addresses, from
// documentation and benchmarking ranges that route nowhere:
//
//	host public IPv4     198.18.0.0/16 (gateway 198.18.0.1)
//	pool addresses       198.19.0.0/16
//	host private IPv4    10.116.0.0/16 (one default VPC per region)
//	host public IPv6     2001:db8::/32, one /64 per host
//
// It also tracks which host holds each reserved IP (see Assignment).
type MemoryBackend struct {
	mu       sync.Mutex
	next     uint32 // host counter, for public/private/IPv6 addresses
	nextIP   uint32 // reserved IP counter
	hosts    map[int]bool
	assigned map[netip.Addr]int // reserved ip -> host
	reserved map[netip.Addr]bool
	lbs      map[string]netip.Addr // load balancer id -> address
	// firewalls are the rules last set per host (SetHostFirewall).
	firewalls map[int][]FirewallRule
}

// NewMemoryBackend returns an empty in-memory backend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{hosts: map[int]bool{}, assigned: map[netip.Addr]int{}, reserved: map[netip.Addr]bool{}, lbs: map[string]netip.Addr{}}
}

var errPoolExhausted = errors.New("address pool exhausted")

// Provision implements HostBackend.
func (b *MemoryBackend) Provision(_ context.Context, req HostRequest) (HostAddrs, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next >= 65000 {
		return HostAddrs{}, errPoolExhausted
	}
	b.next++
	n := b.next + 1 // .0.1 is the gateway
	a := HostAddrs{
		PublicIPv4:    netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)}), 16),
		PublicGateway: netip.AddrFrom4([4]byte{198, 18, 0, 1}),
		PrivateIPv4:   netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 116, byte(n >> 8), byte(n)}), 16),
	}
	if req.IPv6 {
		a.PublicIPv6 = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, byte(n >> 8), byte(n), 15: 1}), 64)
		a.IPv6Gateway = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
	}
	b.hosts[req.ID] = true
	return a, nil
}

// Destroy implements HostBackend.
func (b *MemoryBackend) Destroy(_ context.Context, hostID int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.hosts, hostID)
	for ip, h := range b.assigned {
		if h == hostID {
			delete(b.assigned, ip)
		}
	}
	return nil
}

// AllocateIP implements HostBackend.
func (b *MemoryBackend) AllocateIP(_ context.Context, _ string) (netip.Addr, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nextIP >= 65000 {
		return netip.Addr{}, errPoolExhausted
	}
	b.nextIP++
	n := b.nextIP + 1
	ip := netip.AddrFrom4([4]byte{198, 19, byte(n >> 8), byte(n)})
	b.reserved[ip] = true
	return ip, nil
}

// ReleaseIP implements HostBackend.
func (b *MemoryBackend) ReleaseIP(_ context.Context, ip netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.reserved, ip)
	delete(b.assigned, ip)
	return nil
}

// AssignIP implements HostBackend.
func (b *MemoryBackend) AssignIP(_ context.Context, ip netip.Addr, hostID int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.reserved[ip] {
		return fmt.Errorf("%s is not a reserved IP", ip)
	}
	if !b.hosts[hostID] {
		return fmt.Errorf("host %d does not exist", hostID)
	}
	b.assigned[ip] = hostID
	return nil
}

// UnassignIP implements HostBackend.
func (b *MemoryBackend) UnassignIP(_ context.Context, ip netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.assigned, ip)
	return nil
}

// Restore implements Restorer: the hosts and reserved IPs of a saved state
// are taken as handed out, and new ones are numbered after them.
func (b *MemoryBackend) Restore(_ context.Context, hosts map[int]HostAddrs, reserved map[netip.Addr]int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, a := range hosts {
		b.hosts[id] = true
		if n, ok := memIndex(a.PublicIPv4.Addr(), 18); ok {
			b.next = max(b.next, n)
		}
	}
	for ip, id := range reserved {
		b.reserved[ip] = true
		if id != 0 {
			b.assigned[ip] = id
		}
		if n, ok := memIndex(ip, 19); ok {
			b.nextIP = max(b.nextIP, n)
		}
	}
	return nil
}

// memIndex is the counter value that handed out ip in 198.<second>.0.0/16
// (the counters start at 1 and address n+1).
func memIndex(ip netip.Addr, second byte) (uint32, bool) {
	if !ip.Is4() {
		return 0, false
	}
	v := ip.As4()
	n := uint32(v[2])<<8 | uint32(v[3])
	if v[0] != 198 || v[1] != second || n < 2 {
		return 0, false
	}
	return n - 1, true
}

// Assignment reports which host holds ip, for tests.
func (b *MemoryBackend) Assignment(ip netip.Addr) (hostID int, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	hostID, ok = b.assigned[ip]
	return hostID, ok
}
