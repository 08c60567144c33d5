package swarm

import (
	"context"
	"fmt"
)

// This file holds the engine operations Haddock builds on, each returning
// Haddock's own types. Swarm init, join, leave and join-token retrieval
// belong here: extend engineAPI with the SDK methods they need (SwarmInit,
// SwarmJoin, SwarmLeave, SwarmInspect), keep the SDK types in this file, and
// convert results to types like Info and SwarmInfo below.

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
