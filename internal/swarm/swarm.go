package swarm

// This file holds the Swarm side of the engine seam (swarmEngine), Haddock's
// own node and cluster types, their conversion from the SDK's, and the
// polling and retry helpers the operations share. The operations themselves
// are in operations.go (init, join, leave, cluster settings),
// swarm_nodes.go (nodes, roles, waiters) and swarm_drain.go (draining).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/haddockhq/terraform-provider-haddock/internal/wait"
)

// swarmEngine is the part of the Docker SDK the Swarm operations use, on
// top of engineAPI. It is a separate interface so that client.go stays as
// it is; *client.Client satisfies it (checked below), and Client.swarm
// reaches it.
type swarmEngine interface {
	engineAPI
	SwarmInit(ctx context.Context, req swarm.InitRequest) (string, error)
	SwarmJoin(ctx context.Context, req swarm.JoinRequest) error
	SwarmLeave(ctx context.Context, force bool) error
	SwarmInspect(ctx context.Context) (swarm.Swarm, error)
	SwarmUpdate(ctx context.Context, version swarm.Version, spec swarm.Spec, flags swarm.UpdateFlags) error
	SwarmGetUnlockKey(ctx context.Context) (swarm.UnlockKeyResponse, error)
	SwarmUnlock(ctx context.Context, req swarm.UnlockRequest) error
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	NodeInspectWithRaw(ctx context.Context, nodeID string) (swarm.Node, []byte, error)
	NodeUpdate(ctx context.Context, nodeID string, version swarm.Version, spec swarm.NodeSpec) error
	NodeRemove(ctx context.Context, nodeID string, options swarm.NodeRemoveOptions) error
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
}

var _ swarmEngine = (*client.Client)(nil)

// swarm returns the engine as a swarmEngine. Connect always builds one; the
// error only guards against a test double that implements engineAPI alone.
func (c *Client) swarm() (swarmEngine, error) {
	s, ok := c.api.(swarmEngine)
	if !ok {
		return nil, fmt.Errorf("docker client for %s does not support swarm operations", c.host)
	}
	return s, nil
}

// ErrNotFound is wrapped by errors for a node that does not exist.
var ErrNotFound = errors.New("not found")

// NodeRole is a node's role in the swarm.
type NodeRole string

const (
	RoleManager NodeRole = "manager"
	RoleWorker  NodeRole = "worker"
)

// Availability is whether the scheduler may place tasks on a node.
type Availability string

const (
	// AvailabilityActive: new tasks may be placed on the node.
	AvailabilityActive Availability = "active"
	// AvailabilityPause: no new tasks, running tasks stay.
	AvailabilityPause Availability = "pause"
	// AvailabilityDrain: no new tasks, running tasks are moved elsewhere.
	AvailabilityDrain Availability = "drain"
)

func (a Availability) valid() bool {
	return a == AvailabilityActive || a == AvailabilityPause || a == AvailabilityDrain
}

// NodeState is a node's state as the managers see it.
type NodeState string

const (
	NodeStateUnknown      NodeState = "unknown"
	NodeStateDown         NodeState = "down"
	NodeStateReady        NodeState = "ready"
	NodeStateDisconnected NodeState = "disconnected"
)

// Reachability is a manager's Raft reachability as the leader sees it.
type Reachability string

const (
	ReachabilityUnknown     Reachability = "unknown"
	ReachabilityUnreachable Reachability = "unreachable"
	ReachabilityReachable   Reachability = "reachable"
)

// ManagerStatus is the Raft side of a manager.
type ManagerStatus struct {
	Leader       bool
	Reachability Reachability
	// Addr is the manager's Raft address, "ip:2377".
	Addr string
}

// Node is a member of the swarm, as the managers see it.
type Node struct {
	ID       string
	Hostname string
	// Role is the desired role: it changes as soon as Promote or Demote
	// is asked, while ManagerStatus follows once Raft has changed.
	Role         NodeRole
	Availability Availability
	State        NodeState
	// StateMessage explains State, e.g. "heartbeat failure".
	StateMessage string
	// Addr is the address the managers see the node at.
	Addr string
	// ManagerStatus is nil for a node that is not a Raft member.
	ManagerStatus *ManagerStatus
	// Labels are the node's swarm labels (SetLabels); EngineLabels are
	// the engine's own (daemon.json "labels"), read-only here.
	Labels        map[string]string
	EngineLabels  map[string]string
	EngineVersion string
	NanoCPUs      int64
	MemoryBytes   int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// IsManager reports whether the node is a Raft member.
func (n Node) IsManager() bool { return n.ManagerStatus != nil }

// IsLeader reports whether the node is the Raft leader.
func (n Node) IsLeader() bool { return n.ManagerStatus != nil && n.ManagerStatus.Leader }

func (n Node) String() string {
	if n.Hostname == "" {
		return n.ID
	}
	return n.Hostname + " (" + n.ID + ")"
}

func nodeFromAPI(in swarm.Node) Node {
	n := Node{
		ID:            in.ID,
		Hostname:      in.Description.Hostname,
		Role:          NodeRole(in.Spec.Role),
		Availability:  Availability(in.Spec.Availability),
		State:         NodeState(in.Status.State),
		StateMessage:  in.Status.Message,
		Addr:          in.Status.Addr,
		Labels:        maps.Clone(in.Spec.Labels),
		EngineLabels:  maps.Clone(in.Description.Engine.Labels),
		EngineVersion: in.Description.Engine.EngineVersion,
		NanoCPUs:      in.Description.Resources.NanoCPUs,
		MemoryBytes:   in.Description.Resources.MemoryBytes,
		CreatedAt:     in.CreatedAt,
		UpdatedAt:     in.UpdatedAt,
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if in.ManagerStatus != nil {
		n.ManagerStatus = &ManagerStatus{
			Leader:       in.ManagerStatus.Leader,
			Reachability: Reachability(in.ManagerStatus.Reachability),
			Addr:         in.ManagerStatus.Addr,
		}
	}
	return n
}

// sortNodes orders nodes by hostname, then ID.
func sortNodes(ns []Node) {
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].Hostname != ns[j].Hostname {
			return ns[i].Hostname < ns[j].Hostname
		}
		return ns[i].ID < ns[j].ID
	})
}

// Cluster is the swarm's cluster-wide state (SwarmInfo). Join tokens are
// not part of it: JoinTokens fetches them when needed.
type Cluster struct {
	ID        string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Autolock: managers' Raft keys are encrypted at rest and a restarted
	// manager must be unlocked with the unlock key (UnlockKey, Unlock).
	Autolock bool
	// TaskHistoryLimit is how many finished tasks are kept per slot.
	TaskHistoryLimit int64
	// HeartbeatPeriod is the dispatcher's heartbeat period
	// (Dispatcher.HeartbeatPeriod; Docker's default 5 s).
	HeartbeatPeriod        time.Duration
	DefaultAddrPool        []string
	SubnetSize             uint32
	DataPathPort           uint32
	RootRotationInProgress bool
}

func clusterFromAPI(in swarm.ClusterInfo) *Cluster {
	c := &Cluster{
		ID:                     in.ID,
		CreatedAt:              in.CreatedAt,
		UpdatedAt:              in.UpdatedAt,
		Autolock:               in.Spec.EncryptionConfig.AutoLockManagers,
		HeartbeatPeriod:        in.Spec.Dispatcher.HeartbeatPeriod,
		DefaultAddrPool:        append([]string(nil), in.DefaultAddrPool...),
		SubnetSize:             in.SubnetSize,
		DataPathPort:           in.DataPathPort,
		RootRotationInProgress: in.RootRotationInProgress,
	}
	if l := in.Spec.Orchestration.TaskHistoryRetentionLimit; l != nil {
		c.TaskHistoryLimit = *l
	}
	return c
}

// Poll intervals of the waiters: they start at pollMin and back off to
// pollMax, so a change that completes in a moment is seen at once and a
// long wait does not hammer the managers. Tests shorten them.
var (
	pollMin = 250 * time.Millisecond
	pollMax = 2 * time.Second
)

// polling is how the waiters poll (wait.Until): backing off from pollMin
// to pollMax. A check hands a transient error (an engine restarting, a
// connection reset) to wait.Retry; any other error ends the wait.
func polling(what string) wait.Options {
	return wait.Options{What: what, Interval: pollMin, MaxInterval: pollMax}
}

// timedOut reports whether err is a wait that ran out (a *wait.TimeoutError,
// which names the last state and error), not an error a check returned.
func timedOut(err error) bool {
	var te *wait.TimeoutError
	return errors.As(err, &te)
}

// permanent reports whether an error from a manager will not go away by
// waiting: the engine is not (or no longer) a manager, or not in a swarm.
// Other errors ("the swarm does not have a leader" during an election,
// connection resets) are retried by the waiters.
func permanent(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not a swarm manager") || strings.Contains(msg, "not part of a swarm")
}

// outOfSequence reports whether an update lost a race with another update
// of the same object, and should be retried on a fresh version.
func outOfSequence(err error) bool {
	return err != nil && strings.Contains(err.Error(), "update out of sequence")
}

// maxUpdateAttempts bounds the retries of an update that keeps losing races.
const maxUpdateAttempts = 5
