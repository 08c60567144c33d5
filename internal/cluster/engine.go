package cluster

import (
	"context"
	"time"

	"github.com/haddockhq/terraform-provider-haddock/internal/swarm"
)

// Engine is one host's Docker Engine as the orchestration drives it: the
// swarm operations of internal/swarm, which *swarm.Client implements. The
// manager-side operations (JoinTokens, Nodes, Demote, RemoveNode, ...) must
// be called on a manager's engine. Tests substitute an in-memory swarm.
type Engine interface {
	WaitReady(ctx context.Context, interval time.Duration) error
	Init(ctx context.Context, opts swarm.InitOptions) (string, error)
	JoinTokens(ctx context.Context) (worker, manager string, err error)
	Join(ctx context.Context, opts swarm.JoinOptions) error
	Leave(ctx context.Context, force bool) error
	SwarmInfo(ctx context.Context) (*swarm.Cluster, error)
	UpdateSwarm(ctx context.Context, u swarm.SwarmUpdate) error
	UnlockKey(ctx context.Context) (string, error)
	Nodes(ctx context.Context) ([]swarm.Node, error)
	SetAvailability(ctx context.Context, nodeID string, a swarm.Availability) error
	SetLabels(ctx context.Context, nodeID string, labels map[string]string) error
	Promote(ctx context.Context, nodeID string) error
	Demote(ctx context.Context, nodeID string) error
	RemoveNode(ctx context.Context, nodeID string, force bool) error
	DrainNodes(ctx context.Context, nodeIDs []string, timeout time.Duration) error
	WaitNodeSettled(ctx context.Context, nodeID string, stable, timeout time.Duration) error
	PublishedPorts(ctx context.Context) ([]swarm.PublishedPort, error)
	Close() error
}

var _ Engine = (*swarm.Client)(nil)

// Dialer returns an Engine for an endpoint. It should not contact the
// engine (the host may still be booting): callers use WaitReady.
type Dialer func(ctx context.Context, ep swarm.Endpoint) (Engine, error)

// DialEngine is the default Dialer: swarm.Connect, mutual TLS verified by
// the cluster CA and the host's identity.
func DialEngine(ctx context.Context, ep swarm.Endpoint) (Engine, error) {
	c, err := swarm.Connect(ctx, ep)
	if err != nil {
		return nil, err
	}
	return c, nil
}
