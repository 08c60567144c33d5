package swarm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// This file holds the engine operations Haddock builds on, each returning
// Haddock's own types: the engine's info, and the swarm's life cycle (Init,
// Join, Leave, JoinTokens, SwarmInfo, UpdateSwarm, UnlockKey, Unlock). Node
// operations are in swarm_nodes.go and draining in swarm_drain.go; the SDK
// methods they use are listed in swarmEngine (swarm.go).

// LocalNodeState is a node's Swarm state as the engine reports it.
type LocalNodeState string

const (
	NodeInactive LocalNodeState = "inactive"
	NodePending  LocalNodeState = "pending"
	NodeActive   LocalNodeState = "active"
	NodeError    LocalNodeState = "error"
	NodeLocked   LocalNodeState = "locked"
)

// Info is what Haddock uses of an engine's /info.
type Info struct {
	ID              string
	Name            string // the host's hostname
	ServerVersion   string
	OperatingSystem string
	OSType          string
	Architecture    string
	KernelVersion   string
	NCPU            int
	MemTotal        int64
	Labels          []string
	Swarm           SwarmInfo
}

// SwarmInfo is the engine's view of its Swarm membership.
type SwarmInfo struct {
	NodeID           string
	NodeAddr         string
	LocalNodeState   LocalNodeState
	ControlAvailable bool // the node is a manager
	ClusterID        string
	Managers         int
	Nodes            int
	Error            string
}

// Info returns the engine's state. The first call negotiates the API
// version.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	in, err := c.api.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading info of docker engine %s at %s: %w", c.identity, c.host, err)
	}
	out := &Info{
		ID:              in.ID,
		Name:            in.Name,
		ServerVersion:   in.ServerVersion,
		OperatingSystem: in.OperatingSystem,
		OSType:          in.OSType,
		Architecture:    in.Architecture,
		KernelVersion:   in.KernelVersion,
		NCPU:            in.NCPU,
		MemTotal:        in.MemTotal,
		Labels:          append([]string(nil), in.Labels...),
		Swarm: SwarmInfo{
			NodeID:           in.Swarm.NodeID,
			NodeAddr:         in.Swarm.NodeAddr,
			LocalNodeState:   LocalNodeState(in.Swarm.LocalNodeState),
			ControlAvailable: in.Swarm.ControlAvailable,
			Managers:         in.Swarm.Managers,
			Nodes:            in.Swarm.Nodes,
			Error:            in.Swarm.Error,
		},
	}
	if in.Swarm.Cluster != nil {
		out.Swarm.ClusterID = in.Swarm.Cluster.ID
	}
	return out, nil
}

// Swarm ports.
const (
	// SwarmPort is the managers' Raft and API port.
	SwarmPort = 2377
	// DefaultListenAddr is where a node listens for Swarm traffic.
	DefaultListenAddr = "0.0.0.0:2377"
)

// InitOptions configure Init.
type InitOptions struct {
	// AdvertiseAddr is the address other nodes reach this manager at,
	// "ip" or "ip:port" (port 2377 by default). Required when the host has
	// several addresses, which cloud hosts usually have: use the private
	// address.
	AdvertiseAddr string
	// ListenAddr defaults to 0.0.0.0:2377.
	ListenAddr string
	// DefaultAddrPool lists the CIDRs overlay networks are allocated
	// from; empty means Docker's 10.0.0.0/8. Pick ranges that do not
	// overlap the hosts' own networks.
	DefaultAddrPool []string
	// SubnetSize is the prefix length of each overlay network taken from
	// DefaultAddrPool; 0 means 24.
	SubnetSize uint32
	// Autolock encrypts the managers' Raft keys at rest: a restarted
	// manager stays locked until Unlock is called with UnlockKey's key.
	Autolock bool
	// TaskHistoryLimit is how many finished tasks are kept per slot; 0
	// means the engine's default (5), a negative value keeps them all.
	TaskHistoryLimit int64
	// DataPathPort is the overlay (VXLAN) UDP port; 0 means 4789.
	DataPathPort uint32
}

func (o InitOptions) validate() error {
	for _, p := range o.DefaultAddrPool {
		pfx, err := netip.ParsePrefix(p)
		if err != nil || !pfx.Addr().Is4() {
			return fmt.Errorf("default address pool %q is not an IPv4 CIDR", p)
		}
		if o.SubnetSize != 0 && int(o.SubnetSize) < pfx.Bits() {
			return fmt.Errorf("subnet size /%d is larger than the default address pool %s", o.SubnetSize, p)
		}
	}
	if o.SubnetSize != 0 && o.SubnetSize > 29 {
		return fmt.Errorf("subnet size /%d leaves no room for tasks; use /29 or shorter", o.SubnetSize)
	}
	if o.DataPathPort != 0 && (o.DataPathPort < 1024 || o.DataPathPort > 49151) {
		return fmt.Errorf("data path port %d must be between 1024 and 49151", o.DataPathPort)
	}
	return nil
}

// Init makes this engine the first manager of a new swarm and returns the
// swarm's ID. It is idempotent: when the engine already is a manager of a
// swarm, it returns that swarm's ID and changes nothing (UpdateSwarm
// changes settings). It fails when the engine is a worker, is joining a
// swarm, or is locked.
func (c *Client) Init(ctx context.Context, opts InitOptions) (string, error) {
	api, err := c.swarm()
	if err != nil {
		return "", err
	}
	if err := opts.validate(); err != nil {
		return "", fmt.Errorf("initialising swarm on %s: %w", c.identity, err)
	}
	if id, done, err := c.initialised(ctx, api); done || err != nil {
		return id, err
	}
	req := swarm.InitRequest{
		ListenAddr:       opts.ListenAddr,
		AdvertiseAddr:    opts.AdvertiseAddr,
		DataPathPort:     opts.DataPathPort,
		AutoLockManagers: opts.Autolock,
		DefaultAddrPool:  opts.DefaultAddrPool,
		SubnetSize:       opts.SubnetSize,
	}
	if req.ListenAddr == "" {
		req.ListenAddr = DefaultListenAddr
	}
	if opts.TaskHistoryLimit != 0 {
		req.Spec.Orchestration.TaskHistoryRetentionLimit = &opts.TaskHistoryLimit
	}
	// SwarmInit returns the node ID, not the swarm's: the swarm ID is read
	// back afterwards.
	if _, initErr := api.SwarmInit(ctx, req); initErr != nil {
		// A lost response or a concurrent Init may have succeeded.
		if id, done, _ := c.initialised(ctx, api); done {
			return id, nil
		}
		return "", fmt.Errorf("initialising swarm on %s at %s: %w", c.identity, c.host, initErr)
	}
	sw, err := api.SwarmInspect(ctx)
	if err != nil {
		return "", fmt.Errorf("initialising swarm on %s: reading the new swarm: %w", c.identity, err)
	}
	return sw.ID, nil
}

// initialised reports whether the engine already is a manager of a swarm
// (done, with the swarm's ID), or why Init cannot run on it.
func (c *Client) initialised(ctx context.Context, api swarmEngine) (id string, done bool, err error) {
	in, err := api.Info(ctx)
	if err != nil {
		return "", false, fmt.Errorf("initialising swarm on %s at %s: %w", c.identity, c.host, err)
	}
	sw := in.Swarm
	switch LocalNodeState(sw.LocalNodeState) {
	case NodeInactive, NodeError:
		return "", false, nil
	case NodeActive:
		if !sw.ControlAvailable {
			return "", false, fmt.Errorf("initialising swarm on %s: the engine is a worker of another swarm (managers %s); Leave it first",
				c.identity, peerAddrs(sw.RemoteManagers))
		}
		if sw.Cluster != nil && sw.Cluster.ID != "" {
			return sw.Cluster.ID, true, nil
		}
		s, err := api.SwarmInspect(ctx)
		if err != nil {
			return "", false, fmt.Errorf("initialising swarm on %s: reading its swarm: %w", c.identity, err)
		}
		return s.ID, true, nil
	case NodeLocked:
		return "", false, fmt.Errorf("initialising swarm on %s: the engine belongs to a swarm that is locked (autolock); Unlock it with the swarm's unlock key", c.identity)
	case NodePending:
		return "", false, fmt.Errorf("initialising swarm on %s: the engine is joining a swarm (managers %s); wait for it, or Leave it first",
			c.identity, peerAddrs(sw.RemoteManagers))
	}
	return "", false, fmt.Errorf("initialising swarm on %s: unexpected swarm state %q", c.identity, sw.LocalNodeState)
}

// JoinTokens returns the swarm's worker and manager join tokens. It must
// run against a manager. The tokens are secret and are fetched over mTLS
// whenever a node joins: callers should not store them.
func (c *Client) JoinTokens(ctx context.Context) (worker, manager string, err error) {
	api, err := c.swarm()
	if err != nil {
		return "", "", err
	}
	sw, err := api.SwarmInspect(ctx)
	if err != nil {
		return "", "", fmt.Errorf("reading join tokens from %s at %s: %w", c.identity, c.host, err)
	}
	return sw.JoinTokens.Worker, sw.JoinTokens.Manager, nil
}

// JoinOptions configure Join.
type JoinOptions struct {
	// RemoteAddrs are managers of the swarm, "ip" or "ip:port" (2377 by
	// default).
	RemoteAddrs []string
	// Token is the worker or manager join token (JoinTokens): it decides
	// the role the node joins with. Secret.
	Token string
	// AdvertiseAddr is the address other nodes reach this one at.
	AdvertiseAddr string
	// ListenAddr defaults to 0.0.0.0:2377.
	ListenAddr string
}

// Join makes this engine a member of the swarm whose managers are
// opts.RemoteAddrs. It is idempotent: when the engine already belongs to
// that swarm (the token's CA matches the swarm's, or one of RemoteAddrs is
// among its managers) it returns nil, whatever the role; Promote and Demote
// change roles. When the engine belongs to another swarm it fails and says
// so. A join that Docker continues in the background is waited for until
// ctx ends.
func (c *Client) Join(ctx context.Context, opts JoinOptions) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	if len(opts.RemoteAddrs) == 0 {
		return fmt.Errorf("joining %s to a swarm: no manager addresses", c.identity)
	}
	if strings.TrimSpace(opts.Token) == "" {
		return fmt.Errorf("joining %s to a swarm: no join token", c.identity)
	}
	done, err := c.joined(ctx, api, opts)
	if done || err != nil {
		return err
	}
	req := swarm.JoinRequest{
		ListenAddr:    opts.ListenAddr,
		AdvertiseAddr: opts.AdvertiseAddr,
		RemoteAddrs:   opts.RemoteAddrs,
		JoinToken:     opts.Token,
	}
	if req.ListenAddr == "" {
		req.ListenAddr = DefaultListenAddr
	}
	joinErr := api.SwarmJoin(ctx, req)
	if joinErr == nil {
		return nil
	}
	// "Timeout was reached before node joined. The attempt to join the
	// swarm will continue in the background": wait for it. Any other
	// failure leaves the engine out of the swarm (inactive, or in the
	// error state with the reason).
	err = wait.Until(ctx, polling("the join to complete"), func(ctx context.Context) (bool, string, error) {
		in, err := api.Info(ctx)
		if err != nil {
			return false, "", wait.Retry(err)
		}
		state := LocalNodeState(in.Swarm.LocalNodeState)
		switch state {
		case NodePending:
			return false, string(state), nil
		case NodeActive, NodeLocked:
			_, err := c.joined(ctx, api, opts)
			return true, string(state), err
		}
		if in.Swarm.Error != "" {
			return true, "", fmt.Errorf("joining %s to the swarm at %s: %w (engine: %s)", c.identity, strings.Join(opts.RemoteAddrs, ", "), joinErr, in.Swarm.Error)
		}
		return true, "", fmt.Errorf("joining %s to the swarm at %s: %w", c.identity, strings.Join(opts.RemoteAddrs, ", "), joinErr)
	})
	if timedOut(err) {
		return fmt.Errorf("joining %s to the swarm at %s: %w; join error: %w", c.identity, strings.Join(opts.RemoteAddrs, ", "), err, joinErr)
	}
	return err
}

// joined reports whether the engine already is in the swarm opts describe
// (done), or why it cannot join it.
func (c *Client) joined(ctx context.Context, api swarmEngine, opts JoinOptions) (done bool, err error) {
	in, err := api.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("joining %s to a swarm: %w", c.identity, err)
	}
	sw := in.Swarm
	switch LocalNodeState(sw.LocalNodeState) {
	case NodeInactive, NodeError:
		return false, nil
	case NodeLocked:
		return false, fmt.Errorf("joining %s to a swarm: the engine belongs to a swarm that is locked (autolock); Unlock it first", c.identity)
	case NodePending:
		// A previous join still running: let SwarmJoin report it, or
		// the wait in Join see it through.
		return false, nil
	}
	trustRoot := ""
	clusterID := ""
	if sw.Cluster != nil {
		trustRoot = sw.Cluster.TLSInfo.TrustRoot
		clusterID = sw.Cluster.ID
	}
	if trustRoot != "" && tokenMatchesCA(opts.Token, trustRoot) {
		return true, nil
	}
	if overlaps(peerAddrList(sw.RemoteManagers), opts.RemoteAddrs) {
		return true, nil
	}
	which := "another swarm"
	if clusterID != "" {
		which = "swarm " + clusterID
	}
	role := "worker"
	if sw.ControlAvailable {
		role = "manager"
	}
	return false, fmt.Errorf("joining %s to the swarm at %s: the engine already is a %s of %s (managers %s); Leave it first",
		c.identity, strings.Join(opts.RemoteAddrs, ", "), role, which, peerAddrs(sw.RemoteManagers))
}

// tokenMatchesCA reports whether a join token ("SWMTKN-1-<digest>-<secret>",
// the digest being the SHA-256 of the swarm's root CA certificate PEM in
// base 36) was issued by the swarm whose root CA is trustRootPEM.
func tokenMatchesCA(token, trustRootPEM string) bool {
	parts := strings.Split(strings.TrimSpace(token), "-")
	if len(parts) != 4 || parts[0] != "SWMTKN" || parts[1] != "1" {
		return false
	}
	var got big.Int
	if _, ok := got.SetString(parts[2], 36); !ok {
		return false
	}
	sum := sha256.Sum256([]byte(trustRootPEM))
	var want big.Int
	want.SetBytes(sum[:])
	return got.Cmp(&want) == 0
}

func peerAddrList(ps []swarm.Peer) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Addr)
	}
	return out
}

func peerAddrs(ps []swarm.Peer) string {
	if len(ps) == 0 {
		return "unknown"
	}
	return strings.Join(peerAddrList(ps), ", ")
}

// overlaps reports whether two lists of Swarm addresses share one, port
// 2377 assumed where none is given.
func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if normalizeSwarmAddr(x) == normalizeSwarmAddr(y) {
				return true
			}
		}
	}
	return false
}

func normalizeSwarmAddr(a string) string {
	a = strings.TrimSpace(a)
	if h, p, err := net.SplitHostPort(a); err == nil {
		return net.JoinHostPort(h, p)
	}
	return net.JoinHostPort(strings.Trim(a, "[]"), fmt.Sprint(SwarmPort))
}

// Leave takes this engine out of its swarm; it runs on the node leaving.
// It is idempotent: an engine in no swarm is left alone. A manager should
// be demoted first (Demote, from another manager): Docker refuses to let a
// manager leave without force, and a forced leave of a manager can cost
// the swarm its quorum.
func (c *Client) Leave(ctx context.Context, force bool) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	in, err := api.Info(ctx)
	if err != nil {
		return fmt.Errorf("leaving swarm on %s at %s: %w", c.identity, c.host, err)
	}
	if LocalNodeState(in.Swarm.LocalNodeState) == NodeInactive {
		return nil
	}
	leaveErr := api.SwarmLeave(ctx, force)
	if leaveErr == nil {
		return nil
	}
	if in, err := api.Info(ctx); err == nil && LocalNodeState(in.Swarm.LocalNodeState) == NodeInactive {
		return nil
	}
	if in.Swarm.ControlAvailable && !force {
		return fmt.Errorf("leaving swarm on %s: %w; the engine is a manager: Demote it from another manager first (force leaves anyway, at the risk of losing quorum)", c.identity, leaveErr)
	}
	return fmt.Errorf("leaving swarm on %s at %s: %w", c.identity, c.host, leaveErr)
}

// SwarmInfo returns the swarm's cluster-wide state. It must run against a
// manager.
func (c *Client) SwarmInfo(ctx context.Context) (*Cluster, error) {
	api, err := c.swarm()
	if err != nil {
		return nil, err
	}
	sw, err := api.SwarmInspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading swarm from %s at %s: %w", c.identity, c.host, err)
	}
	return clusterFromAPI(sw.ClusterInfo), nil
}

// SwarmUpdate is a change to the swarm's settings; nil fields are left as
// they are.
type SwarmUpdate struct {
	Autolock         *bool
	TaskHistoryLimit *int64
	// HeartbeatPeriod is the dispatcher's heartbeat period
	// (Dispatcher.HeartbeatPeriod).
	HeartbeatPeriod *time.Duration
	// RotateWorkerToken and RotateManagerToken replace a join token; nodes
	// already in the swarm are not affected.
	RotateWorkerToken  bool
	RotateManagerToken bool
}

// UpdateSwarm changes the swarm's settings. It must run against a manager.
// A change that races with another update is retried on the new version.
func (c *Client) UpdateSwarm(ctx context.Context, u SwarmUpdate) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		sw, err := api.SwarmInspect(ctx)
		if err != nil {
			return fmt.Errorf("updating swarm through %s: %w", c.identity, err)
		}
		spec := sw.Spec
		if u.Autolock != nil {
			spec.EncryptionConfig.AutoLockManagers = *u.Autolock
		}
		if u.TaskHistoryLimit != nil {
			spec.Orchestration.TaskHistoryRetentionLimit = u.TaskHistoryLimit
		}
		if u.HeartbeatPeriod != nil {
			spec.Dispatcher.HeartbeatPeriod = *u.HeartbeatPeriod
		}
		flags := swarm.UpdateFlags{RotateWorkerToken: u.RotateWorkerToken, RotateManagerToken: u.RotateManagerToken}
		err = api.SwarmUpdate(ctx, sw.Version, spec, flags)
		if err == nil {
			return nil
		}
		if !outOfSequence(err) || attempt == maxUpdateAttempts {
			return fmt.Errorf("updating swarm %s through %s: %w", sw.ID, c.identity, err)
		}
	}
}

// UnlockKey returns the key that unlocks a restarted manager of an
// autolocked swarm; empty when autolock is off. Secret.
func (c *Client) UnlockKey(ctx context.Context) (string, error) {
	api, err := c.swarm()
	if err != nil {
		return "", err
	}
	r, err := api.SwarmGetUnlockKey(ctx)
	if err != nil {
		return "", fmt.Errorf("reading unlock key from %s: %w", c.identity, err)
	}
	return r.UnlockKey, nil
}

// Unlock unlocks this engine's manager after a restart of an autolocked
// swarm. An engine that is not locked is left alone.
func (c *Client) Unlock(ctx context.Context, key string) error {
	api, err := c.swarm()
	if err != nil {
		return err
	}
	in, err := api.Info(ctx)
	if err != nil {
		return fmt.Errorf("unlocking swarm on %s: %w", c.identity, err)
	}
	if LocalNodeState(in.Swarm.LocalNodeState) != NodeLocked {
		return nil
	}
	if err := api.SwarmUnlock(ctx, swarm.UnlockRequest{UnlockKey: key}); err != nil {
		return fmt.Errorf("unlocking swarm on %s: %w", c.identity, err)
	}
	return nil
}
