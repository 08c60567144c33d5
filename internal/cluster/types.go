package cluster

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// State is everything the caller persists for a cluster (Terraform state).
// Everything else — hosts, addresses, nodes, roles, the leader — is
// observed. The credentials are secret: store them in sensitive
// attributes only.
type State struct {
	// UID names the cluster in every host's tags. Set once, never changes.
	UID string
	// SwarmID is the swarm's ID once it has been initialised, "" before.
	SwarmID string
	// Credentials is the cluster's TLS material.
	Credentials Credentials
}

// Credentials is a cluster's TLS material, PEM encoded: the CA that signs
// every host engine's server certificate and the client certificate the
// provider presents to every engine. CAKeyPEM and ClientKeyPEM are secret.
type Credentials struct {
	CACertPEM     string
	CAKeyPEM      string
	ClientCertPEM string
	ClientKeyPEM  string
}

// AddressKind picks one of a host's IPv4 addresses.
type AddressKind string

const (
	// AddressPrivate is the host's address on the vendor's private network
	// (VPC).
	AddressPrivate AddressKind = "private"
	// AddressPublic is the host's public address.
	AddressPublic AddressKind = "public"
)

func (k AddressKind) valid() bool { return k == "" || k == AddressPrivate || k == AddressPublic }

// of returns the host's address of this kind, the other one when the host
// has none of this kind.
func (k AddressKind) of(h cloud.Host, def AddressKind) string {
	if k == "" {
		k = def
	}
	a, b := h.PrivateIPv4, h.PublicIPv4
	if k == AddressPublic {
		a, b = b, a
	}
	if a != "" {
		return a
	}
	return b
}

// HostsSpec is what a group's hosts are made of. Region, Size and Image are
// vendor-native values: the caller resolves portable ones through the
// catalog before it gets here.
type HostsSpec struct {
	Count int
	// Cloud is the vendor the hosts should be on, for plans that compare a
	// view with a spec (View.OutdatedMembers); "" compares no vendor. The
	// engine puts hosts where the group's driver is.
	Cloud   cloud.Name
	Region  string
	Size    string
	Image   string
	SSHKeys []string
	// UserData is the user's own user data, merged into Haddock's
	// (cloudinit.Render). Optional.
	UserData string
	// Tags are extra vendor tags for the hosts. Optional.
	Tags []string
	// Labels are the swarm node labels (placement constraints
	// "node.labels.<key>") of every node of the group. Haddock owns them:
	// Apply sets them exactly, removing others.
	Labels map[string]string
	// LoadBalancers are the load balancers ("<cloud>/<vendor id>", of the
	// group's vendor) whose targets the group's hosts are (see
	// loadbalancers.go): a host
	// is registered once its tasks run, and deregistered, the
	// deregistration waited for, before it is drained or deleted.
	// FormerLoadBalancers are those the group left (of its vendor, or of
	// one a migration leaves): its hosts are taken out of them. Both change
	// in place.
	LoadBalancers       []string
	FormerLoadBalancers []string
}

// Settings are the swarm-wide settings of a cluster.
type Settings struct {
	// DefaultAddrPool and SubnetSize: where overlay networks' subnets come
	// from. Empty means Docker's 10.0.0.0/8 in /24s. Fixed at creation:
	// changing them means a new cluster.
	DefaultAddrPool []string
	SubnetSize      uint32
	// Autolock encrypts the managers' Raft keys at rest; a restarted
	// manager must then be unlocked with the key Cluster.UnlockKey reads.
	Autolock bool
	// TaskHistoryLimit is how many finished tasks are kept per slot; 0 is
	// Docker's default (5).
	TaskHistoryLimit int64
	// HeartbeatPeriod is the dispatcher's heartbeat period
	// (Dispatcher.HeartbeatPeriod): a node is marked down when nothing came
	// from it for 3 × (period ± 0.5 s). 0 leaves the swarm's value
	// (Docker's default 5 s).
	HeartbeatPeriod time.Duration
	// EncryptOverlayByDefault is recorded, not applied: Docker has no
	// swarm-wide default for overlay encryption, it is an option of each
	// overlay network ("encrypted"). Whoever creates overlay networks for
	// this cluster (stacks) applies it with OverlayDriverOptions.
	EncryptOverlayByDefault bool
	// Advertise is the address the managers advertise to the swarm:
	// AddressPrivate (the default) keeps swarm traffic on the vendor's
	// private network. Use AddressPublic only when node groups run where
	// the private network does not reach (another vendor, without a VPN
	// between them). Node groups advertise the same kind the managers do.
	Advertise AddressKind
}

// OverlayDriverOptions returns the driver options an overlay network
// created for a cluster with these settings should carry: "encrypted" when
// EncryptOverlayByDefault is set (IPsec between the nodes of the network).
func (s Settings) OverlayDriverOptions() map[string]string {
	if s.EncryptOverlayByDefault {
		return map[string]string{"encrypted": ""}
	}
	return map[string]string{}
}

// ClusterSpec is the desired state of a cluster: its managers and settings.
type ClusterSpec struct {
	// Name prefixes the managers' host names: "<name>-manager-<n>".
	Name     string
	Managers HostsSpec
	Settings Settings
	// RollingUpdate tunes the replacement of out-of-date managers
	// (MaxSurge is always 1 for them).
	RollingUpdate RollingUpdate
	// DrainTimeout bounds the drain of a manager being replaced; default
	// Options.DrainTimeout.
	DrainTimeout time.Duration
	// Firewall is the cluster's firewall (firewall.go); nil leaves the
	// firewalls as they are.
	Firewall *FirewallPolicy
}

// GroupSpec is the desired state of a node group of workers.
type GroupSpec struct {
	// Name identifies the group within its cluster (tags, engine label).
	// Lower-case letters, digits and hyphens; not "manager".
	Name string
	// HostNamePrefix names the hosts "<prefix>-<n>"; default Name.
	HostNamePrefix string
	HostsSpec
	// Availability of every node of the group; default active.
	Availability swarm.Availability
	// DrainTimeout bounds the drain before nodes are removed when the group
	// shrinks or rolls; default Options.DrainTimeout.
	DrainTimeout time.Duration
	// RollingUpdate tunes the replacement of out-of-date hosts.
	RollingUpdate RollingUpdate
	// Firewall is the cluster's firewall policy, which the group keeps at
	// its place and the managers' (firewall.go); nil leaves it alone.
	Firewall *FirewallPolicy
}

// RollingUpdate tunes how hosts whose spec (region, size, image, SSH keys,
// user data) changed are replaced: a batch at a time, each batch created
// and joined before the hosts it replaces are drained and removed, so
// capacity never drops below the group's count.
type RollingUpdate struct {
	// MaxSurge is how many replacements a node group creates at once
	// (default 1). Managers always go one at a time: Raft changes
	// membership one by one.
	MaxSurge int
	// Monitor is how long the group must stay healthy after a batch's old
	// hosts are drained, before they are removed (default 0).
	Monitor time.Duration
}

// Validate checks the settings against a group of count hosts.
func (u RollingUpdate) Validate(count int) error {
	if u.MaxSurge < 0 {
		return fmt.Errorf("rolling update: max_surge %d is negative", u.MaxSurge)
	}
	if count > 0 && u.MaxSurge > count {
		return fmt.Errorf("rolling update: max_surge %d is more than the group's %d hosts", u.MaxSurge, count)
	}
	if u.Monitor < 0 {
		return fmt.Errorf("rolling update: monitor %s is negative", u.Monitor)
	}
	return nil
}

// Options tune the orchestration. The zero value takes the defaults.
type Options struct {
	// Dial opens a host's Docker Engine; default DialEngine (mutual TLS).
	// Tests and benchmarks substitute fakes.
	Dial Dialer
	// PollInterval is how often a host list is read while hosts are waited
	// for; one list call per poll serves every host waited for. Default 2s.
	PollInterval time.Duration
	// EnginePollInterval is how often an engine is pinged while it boots
	// and the node list read while nodes join or leave. Default 1s.
	EnginePollInterval time.Duration
	// Concurrency is how many hosts are created per CreateHosts call and
	// booted and joined at once: a wave. Default 64, so 50 hosts boot in
	// one wave.
	Concurrency int
	// BootTimeout bounds, per host, the wait from its creation until its
	// engine answers over mutual TLS. Default 15m.
	BootTimeout time.Duration
	// JoinTimeout bounds the wait for a joined node to be ready (and, for
	// a manager, reachable in Raft). Default 5m.
	JoinTimeout time.Duration
	// DrainTimeout is GroupSpec.DrainTimeout's default. Default 10m.
	DrainTimeout time.Duration
	// LeaveTimeout bounds Leave on a node being removed; a node that does
	// not leave in time is removed anyway (its host is deleted next).
	// Default 1m.
	LeaveTimeout time.Duration
	// EngineAddress is the address the provider dials engines at: public
	// (default), or private when it runs inside the vendor's network.
	EngineAddress AddressKind
	// CertValidity is the validity of new engine server certificates;
	// default 5 years (the CA's is 10).
	CertValidity time.Duration
}

func (o Options) withDefaults() Options {
	if o.Dial == nil {
		o.Dial = DialEngine
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.EnginePollInterval <= 0 {
		o.EnginePollInterval = time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.BootTimeout <= 0 {
		o.BootTimeout = 15 * time.Minute
	}
	if o.JoinTimeout <= 0 {
		o.JoinTimeout = 5 * time.Minute
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Minute
	}
	if o.LeaveTimeout <= 0 {
		o.LeaveTimeout = time.Minute
	}
	if o.EngineAddress == "" {
		o.EngineAddress = AddressPublic
	}
	if o.CertValidity <= 0 {
		o.CertValidity = certValidity
	}
	return o
}

// Member is one host of a group and its swarm node, as observed: from one
// tag-filtered host list and one node list.
type Member struct {
	Group string
	// The host as the vendor lists it. HostID is "" when the host is gone
	// (deleted out of band) while its node is still in the swarm.
	HostID      string
	Name        string
	Cloud       cloud.Name
	Status      cloud.HostStatus
	PublicIPv4  string
	PrivateIPv4 string
	CreatedAt   time.Time
	// Region, Size and Image as the vendor reports them (vendor-native),
	// and the hash of the spec the host was built from (its spec tag; ""
	// for hosts created before Haddock recorded it). See SpecDiff.
	Region   string
	Size     string
	Image    string
	SpecHash string
	// UID is the host's uid (tag), Identity its TLS identity.
	UID      string
	Identity string

	// The swarm node; NodeID is "" when the host is not in the swarm (not
	// joined yet, or its join failed) or when no manager answered.
	NodeID    string
	Hostname  string
	Role      swarm.NodeRole
	Leader    bool
	Reachable bool // a manager the leader reaches
	// Advertised is the address the node advertises to the swarm (a
	// manager's Raft address, else the address the managers see it at).
	Advertised   string
	State        swarm.NodeState
	Availability swarm.Availability
	Labels       map[string]string
	// NodeCreatedAt orders nodes for removal (newest first).
	NodeCreatedAt time.Time
}

// Outdated says what differs between the member's host and want (see
// SpecDiff), nil when it is up to date or has no host.
func (m Member) Outdated(want HostsSpec) []string {
	if m.HostID == "" {
		return nil
	}
	return specDiffAt(m.Cloud, cloud.Host{Region: m.Region, Size: m.Size, Image: m.Image, Tags: []string{SpecTag(m.SpecHash)}}, want)
}

// HostMissing reports a node whose host is gone.
func (m Member) HostMissing() bool { return m.HostID == "" }

// Joined reports whether the host has a node in the swarm.
func (m Member) Joined() bool { return m.NodeID != "" }

// IsManager reports whether the node is a Raft member.
func (m Member) IsManager() bool { return m.Role == swarm.RoleManager && m.NodeID != "" }

// Healthy reports a host that is active and whose node is ready.
func (m Member) Healthy() bool {
	return m.HostID != "" && m.Status == cloud.HostActive && m.NodeID != "" && m.State == swarm.NodeStateReady
}

// Problem says what is wrong with the member, "" when it is healthy. It is
// meant for plan diagnostics.
func (m Member) Problem() string {
	switch {
	case m.HostID == "":
		return fmt.Sprintf("host %s was deleted outside Haddock; its node %s is %s (apply replaces it)", m.display(), m.NodeID, m.State)
	case m.Status == cloud.HostError:
		return fmt.Sprintf("host %s failed at the vendor (status error; apply replaces it)", m.display())
	case m.Status != cloud.HostActive:
		return fmt.Sprintf("host %s is %s", m.display(), m.Status)
	case m.NodeID == "":
		return fmt.Sprintf("host %s is not in the swarm (apply joins it)", m.display())
	case m.State != swarm.NodeStateReady:
		return fmt.Sprintf("node %s of host %s is %s", m.NodeID, m.display(), m.State)
	case m.Role == swarm.RoleManager && !m.Reachable:
		return fmt.Sprintf("manager %s is unreachable in Raft", m.display())
	}
	return ""
}

func (m Member) display() string {
	switch {
	case m.Name != "" && m.HostID != "":
		return fmt.Sprintf("%s (%s %s)", m.Name, m.Cloud, m.HostID)
	case m.Name != "":
		return m.Name
	case m.Hostname != "":
		return m.Hostname
	}
	return m.UID
}

// View is a group as observed.
type View struct {
	ClusterUID string
	Group      string
	// Members are sorted by name; members whose host is gone come last.
	Members []Member
	// StaleNodes are the ids of nodes Apply removes: former nodes of a
	// host that joined the swarm again. Nodes of deleted hosts are
	// Members without a host.
	StaleNodes []string
	// SwarmError says why node fields are empty: no manager answered.
	SwarmError error
}

// Hosts returns the members that have a host.
func (v *View) Hosts() []Member {
	var out []Member
	for _, m := range v.Members {
		if m.HostID != "" {
			out = append(out, m)
		}
	}
	return out
}

// Ready counts healthy members.
func (v *View) Ready() int {
	n := 0
	for _, m := range v.Members {
		if m.Healthy() {
			n++
		}
	}
	return n
}

// Problems lists what is wrong with the group, for diagnostics. When the
// swarm could not be read, only the hosts' own problems are listed.
func (v *View) Problems() []string {
	var out []string
	if v.SwarmError != nil {
		out = append(out, "the swarm could not be read: "+v.SwarmError.Error())
	}
	for _, m := range v.Members {
		if v.SwarmError != nil && m.Status == cloud.HostActive {
			continue // "not in the swarm" would be a guess
		}
		if p := m.Problem(); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ClusterView is a cluster as observed: its managers and, when a manager
// answered, the swarm's settings.
type ClusterView struct {
	View
	// SwarmID is the swarm's ID as a manager reports it ("" when none
	// answered).
	SwarmID string
	// Leader is the name of the leader's host, "" when unknown.
	Leader string
	// Settings are the swarm's settings as a manager reports them
	// (EncryptOverlayByDefault and Advertise are not observable and are
	// left zero); nil when no manager answered.
	Settings *Settings
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

func validateHostsSpec(what string, s HostsSpec) error {
	if s.Count < 0 {
		return fmt.Errorf("%s: count %d is negative", what, s.Count)
	}
	if s.Region == "" || s.Size == "" || s.Image == "" {
		return fmt.Errorf("%s: region, size and image are required (vendor-native values)", what)
	}
	for k := range s.Labels {
		if k == "" {
			return fmt.Errorf("%s: a node label has an empty key", what)
		}
	}
	for _, t := range s.Tags {
		if t == cloud.ManagedTag || strings.HasPrefix(t, "haddock-") {
			return fmt.Errorf("%s: tag %q is reserved: Haddock records clusters, groups, roles and identities in tags starting with \"haddock-\"", what, t)
		}
	}
	return nil
}

func validateSettings(s Settings) error {
	if !s.Advertise.valid() {
		return fmt.Errorf("advertise address %q must be %q or %q", s.Advertise, AddressPrivate, AddressPublic)
	}
	for _, p := range s.DefaultAddrPool {
		pfx, err := netip.ParsePrefix(p)
		if err != nil || !pfx.Addr().Is4() {
			return fmt.Errorf("default address pool %q is not an IPv4 CIDR", p)
		}
	}
	return nil
}
